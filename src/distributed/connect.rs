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

/// Checks a server address before anything connects: `nats://HOST:PORT`
/// (or `tls://`), or `HOST:PORT`; no spaces or control characters.
pub fn check(url: &str) -> Result<(), String> {
    if url.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "--nats {url:?}: not a server address such as nats://127.0.0.1:4222"
        ));
    }
    let rest = url
        .strip_prefix("nats://")
        .or_else(|| url.strip_prefix("tls://"))
        .unwrap_or(url);
    if rest.is_empty() || rest.contains('/') {
        return Err(format!(
            "--nats {url:?}: not a server address such as nats://127.0.0.1:4222"
        ));
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
    let client = async_nats::ConnectOptions::new()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_never_shown() {
        assert_eq!(shown("nats://bob:s3cret@h:4222"), "nats://bob:***@h:4222");
        assert_eq!(shown("bob:s3cret@h:4222"), "bob:***@h:4222");
        assert_eq!(shown("nats://token@h:4222"), "nats://***@h:4222");
        assert_eq!(shown("nats://h:4222"), "nats://h:4222");
    }
}
