//! Sending a trace to an OTLP/HTTP receiver: one `POST URL/v1/traces`
//! with the JSON body, over plain HTTP/1.1 on a std socket. One request a
//! run needs no client crate; `https://` is for a local OpenTelemetry
//! Collector to forward.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// How long connecting may take, and the whole exchange.
const CONNECT: Duration = Duration::from_secs(10);
const TOTAL: Duration = Duration::from_secs(10);
/// The most of a response read: its status line is what counts.
const MAX_RESPONSE: u64 = 64 * 1024;

/// Why a trace was not taken.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// The URL cannot be used (bad usage).
    #[error("{0}")]
    Url(String),
    /// The receiver could not be reached, or said no.
    #[error("{0}")]
    Failed(String),
}

/// An `http://` URL taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port` as given (brackets kept for IPv6), for `Host:`.
    pub authority: String,
    pub host: String,
    pub port: u16,
    /// The path traces go to: the URL's own, then `/v1/traces`.
    pub path: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, PostError> {
        // Nothing of the URL may end a line of the request: no spaces, no
        // control characters, nothing beyond ASCII (percent-encode them).
        if let Some(c) = url.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(PostError::Url(format!(
                "--otlp {}: a URL holds no {}; percent-encode it",
                crate::safe::line(url),
                match c {
                    ' ' => "spaces",
                    c if c.is_control() => "control characters",
                    _ => "characters beyond ASCII",
                }
            )));
        }
        let scheme = url.find("://").map(|i| url[..i].to_ascii_lowercase());
        let url = &match scheme.as_deref() {
            Some(s @ ("http" | "https")) => format!("{s}{}", &url[s.len()..]),
            _ => url.to_string(),
        };
        if url.starts_with("https://") {
            return Err(PostError::Url(format!(
                "--otlp {url}: https is not spoken here; send to a local OpenTelemetry Collector over http (e.g. --otlp http://127.0.0.1:4318) and let it forward over TLS"
            )));
        }
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(PostError::Url(format!(
                "--otlp {url}: not an http:// URL (e.g. --otlp http://127.0.0.1:4318)"
            )));
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if path.contains(['?', '#']) {
            return Err(PostError::Url(format!(
                "--otlp {url}: give the receiver's base URL, without a query"
            )));
        }
        let bad = || PostError::Url(format!("--otlp {url}: no host, or a bad port"));
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6.split_once(']').ok_or_else(bad)?;
                match after.strip_prefix(':') {
                    Some(p) => (host, p.parse().map_err(|_| bad())?),
                    None if after.is_empty() => (host, 80),
                    None => return Err(bad()),
                }
            }
            None => match authority.rsplit_once(':') {
                Some((host, p)) => (host, p.parse().map_err(|_| bad())?),
                None => (authority, 80),
            },
        };
        if authority.contains('@') {
            return Err(PostError::Url(format!(
                "--otlp {url}: no credentials in the URL (they would travel in clear); send to a local OpenTelemetry Collector and let it authenticate"
            )));
        }
        if host.is_empty() {
            return Err(bad());
        }
        // The full endpoint, given where the base was meant, is taken too.
        let path = path.trim_end_matches('/');
        let path = path.strip_suffix("/v1/traces").unwrap_or(path);
        Ok(Endpoint {
            authority: authority.to_string(),
            host: host.to_string(),
            port,
            path: format!("{path}/v1/traces"),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}{}", self.authority, self.path)
    }
}

/// POSTs `body` (OTLP/JSON) to the endpoint; the response's status line
/// when it is 2xx.
pub fn post(to: &Endpoint, body: &[u8]) -> Result<String, PostError> {
    let url = to.url();
    let failed =
        |what: String| PostError::Failed(format!("cannot send the trace to {url}: {what}"));
    let started = Instant::now();
    let addrs: Vec<_> = (to.host.as_str(), to.port)
        .to_socket_addrs()
        .map_err(|e| failed(format!("cannot resolve {}: {e}", to.host)))?
        .collect();
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let Some(mut stream) = stream else {
        let why = last.map_or_else(|| "no address".to_string(), |e| e.to_string());
        return Err(failed(format!(
            "{why} (is an OpenTelemetry Collector or other OTLP/HTTP receiver listening there?)"
        )));
    };
    let left = || {
        TOTAL
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(1))
    };
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            failed(format!("no answer within {}s", TOTAL.as_secs()))
        }
        _ => failed(e.to_string()),
    };
    stream.set_write_timeout(Some(left())).map_err(io)?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: signalbox/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        to.path,
        to.authority,
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    stream.write_all(head.as_bytes()).map_err(io)?;
    stream.write_all(body).map_err(io)?;
    stream.flush().map_err(io)?;
    let mut response = Vec::new();
    let mut limited = (&stream).take(MAX_RESPONSE);
    let mut buf = [0u8; 4096];
    // Only as much as the status line needs, within the time left.
    while !response.contains(&b'\n') {
        stream.set_read_timeout(Some(left())).map_err(io)?;
        match limited.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    let text = String::from_utf8_lossy(&response);
    let line = text.lines().next().unwrap_or("").trim_end().to_string();
    let code = line
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|c| c.parse::<u16>().ok());
    match code {
        Some(c) if (200..300).contains(&c) => Ok(line),
        Some(_) => Err(PostError::Failed(format!(
            "{url} refused the trace: {}",
            crate::safe::line(&line)
        ))),
        None if line.is_empty() => Err(failed("the receiver closed without an answer".into())),
        None => Err(failed(format!(
            "not an HTTP answer: {}",
            crate::safe::line(&line)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_is_a_base_url_that_traces_go_under() {
        let e = Endpoint::parse("http://127.0.0.1:4318").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("127.0.0.1", 4318));
        assert_eq!(e.path, "/v1/traces");
        assert_eq!(e.url(), "http://127.0.0.1:4318/v1/traces");
        let e = Endpoint::parse("http://collector/otlp/").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("collector", 80));
        assert_eq!(e.path, "/otlp/v1/traces");
        let e = Endpoint::parse("http://[::1]:4318/").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.authority.as_str()),
            ("::1", 4318, "[::1]:4318")
        );
        for bad in [
            "https://x",
            "ftp://x",
            "http://",
            "http://:80",
            "http://x:port",
            "http://u@x",
            "http://x/?a",
            "127.0.0.1:4318",
            "http://127.0.0.1:4318/x HTTP/1.1\r\nHost: evil\r\n\r\nGET /smuggled",
            "http://127.0.0.1:4318/a b",
            "http://127.0.0.1:4318/\u{e9}",
            "http://user:pw@127.0.0.1:4318",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        let e = Endpoint::parse("HTTP://127.0.0.1:4318/v1/traces").unwrap();
        assert_eq!(
            e.url(),
            "http://127.0.0.1:4318/v1/traces",
            "the endpoint taken whole"
        );
        assert!(
            Endpoint::parse("http://x/\r\n")
                .unwrap_err()
                .to_string()
                .contains("\\r\\n"),
            "shown escaped"
        );
        assert!(
            Endpoint::parse("https://x")
                .unwrap_err()
                .to_string()
                .contains("Collector")
        );
    }
}
