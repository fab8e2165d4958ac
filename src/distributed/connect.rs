//! Reaching the NATS server: which one (`--nats`, else `$SIGNALBOX_NATS`,
//! else [`DEFAULT_SERVER`](super::wire::DEFAULT_SERVER)), and a client that
//! keeps reconnecting and says when it is up or down.

use tokio::sync::watch;

/// The server to use: `flag`, else `$SIGNALBOX_NATS`, else the default.
pub fn server(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| {
            std::env::var("SIGNALBOX_NATS")
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .unwrap_or_else(|| super::wire::DEFAULT_SERVER.to_string())
}

/// `url` as it may be shown or logged: a password in it (`nats://user:
/// password@host`) is `***`.
pub fn shown(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), url),
    };
    match rest.rsplit_once('@') {
        // `user:password@`, or a token alone (`token@`), which is secret.
        Some((user, host)) => match user.split_once(':') {
            Some((user, _)) => format!("{scheme}{user}:***@{host}"),
            None => format!("{scheme}***@{host}"),
        },
        None => url.to_string(),
    }
}

/// Checks a server address before anything connects: `[nats://|tls://]
/// [USER[:PASSWORD]@]HOST[:PORT]`, HOST a name, an IPv4 address or an IPv6
/// one in brackets, PORT 1 to 65535; several such, comma-separated, as NATS
/// takes them. Whether the host exists is the connection's business.
pub fn check(url: &str) -> Result<(), String> {
    // Named where it came from: the flag, or the environment.
    let from = match std::env::var("SIGNALBOX_NATS") {
        Ok(v) if v == url => "SIGNALBOX_NATS",
        _ => "--nats",
    };
    let bad = |why: &str| {
        Err(format!(
            "{from} {:?}: {why}; a server address is such as nats://127.0.0.1:4222",
            shown(url)
        ))
    };
    if url.is_empty() {
        return bad("empty");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("has a space or a control character");
    }
    for one in url.split(',') {
        let rest = match one.split_once("://") {
            Some(("nats" | "tls", rest)) => rest,
            Some((scheme, _)) => {
                let scheme: String = scheme.chars().take(20).collect();
                return bad(&format!("scheme {scheme:?} is not nats:// or tls://"));
            }
            None => one,
        };
        let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        let (host, port) = match host_port.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((h, "")) => (h, None),
                Some((h, p)) => match p.strip_prefix(':') {
                    Some(p) => (h, Some(p)),
                    None => return bad("an IPv6 address is [ADDR]:PORT"),
                },
                None => return bad("an IPv6 address is [ADDR]:PORT"),
            },
            None => match host_port.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (host_port, None),
            },
        };
        let named = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':');
        if host.is_empty() || !host.chars().all(named) {
            return bad("no host name or address in it");
        }
        if let Some(p) = port
            && !p.parse::<u16>().is_ok_and(|p| p > 0)
        {
            return bad("the port is not a number from 1 to 65535");
        }
    }
    Ok(())
}

/// A client of `url` that connects in the background and reconnects for
/// ever; `up` says whether it is connected now. `name` names this client
/// to the server (`signalbox run`, `signalbox worker w1`).
pub async fn client(
    url: &str,
    name: &str,
) -> Result<(async_nats::Client, watch::Receiver<bool>), String> {
    check(url)?;
    let (tx, rx) = watch::channel(false);
    let tx = std::sync::Arc::new(tx);
    let events = tx.clone();
    let mut options = async_nats::ConnectOptions::new();
    // NATS clients take the credentials in a URL themselves; this one does
    // not, so they are handed over here.
    match credentials(url) {
        Some((user, Some(password))) => options = options.user_and_password(user, password),
        Some((token, None)) => options = options.token(token),
        None => {}
    }
    let client = options
        .name(name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(std::time::Duration::from_secs(2))
        .event_callback(move |event| {
            let events = events.clone();
            async move {
                match event {
                    async_nats::Event::Connected => {
                        let _ = events.send(true);
                    }
                    async_nats::Event::Disconnected | async_nats::Event::Closed => {
                        let _ = events.send(false);
                    }
                    other => tracing::info!("nats: {other}"),
                }
            }
        })
        .connect(url)
        .await
        .map_err(|e| format!("cannot use NATS at {}: {e}", shown(url)))?;
    if client.connection_state() == async_nats::connection::State::Connected {
        let _ = tx.send(true);
    }
    Ok((client, rx))
}

/// The user and password (or the token alone) in the first address of
/// `url` that has them: `nats://user:password@host`, `nats://token@host`.
fn credentials(url: &str) -> Option<(String, Option<String>)> {
    url.split(',').find_map(|one| {
        let rest = one.split_once("://").map_or(one, |(_, r)| r);
        let (user, _) = rest.rsplit_once('@')?;
        Some(match user.split_once(':') {
            Some((user, password)) => (unescape(user), Some(unescape(password))),
            None => (unescape(user), None),
        })
    })
}

/// `%XX` in a URL's user part as the byte it stands for.
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_are_checked_before_anything_connects() {
        for good in [
            "nats://127.0.0.1:4222",
            "127.0.0.1:4222",
            "localhost",
            "tls://nats.example.com:4443",
            "nats://bob:s3cret@h:4222",
            "nats://[::1]:4222",
            "nats://a:4222,nats://b:4222",
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("nats://h 1:4222", "space"),
            ("http://h:4222", "scheme"),
            ("nats://h:99999", "port"),
            ("nats://h:0", "port"),
            ("nats://h:x", "port"),
            ("nats://:4222", "no host"),
            ("nats://h/path", "no host"),
            ("nats://[::1", "IPv6"),
        ] {
            let e = check(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let e = check("nats://bob:s3cret@h:99999").unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn credentials_come_from_the_url() {
        let pair = |u: &str, p: &str| Some((u.to_string(), Some(p.to_string())));
        assert_eq!(
            credentials("nats://bob:s3cret@h:4222"),
            pair("bob", "s3cret")
        );
        assert_eq!(credentials("bob:p%40ss@h"), pair("bob", "p@ss"));
        assert_eq!(credentials("nats://tok@h"), Some(("tok".into(), None)));
        assert_eq!(credentials("nats://h:1,nats://a:b@h:2"), pair("a", "b"));
        assert_eq!(credentials("nats://h:4222"), None);
    }

    #[test]
    fn a_password_is_never_shown() {
        assert_eq!(shown("nats://bob:s3cret@h:4222"), "nats://bob:***@h:4222");
        assert_eq!(shown("bob:s3cret@h:4222"), "bob:***@h:4222");
        assert_eq!(shown("nats://token@h:4222"), "nats://***@h:4222");
        assert_eq!(shown("nats://h:4222"), "nats://h:4222");
    }
}
