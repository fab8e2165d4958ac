//! A small HTTP/1.1 responder for the metrics: `GET /metrics` (the
//! Prometheus text format 0.0.4), `GET /` (a line pointing there), 404 for
//! any other path and 405 for any other method; every response closes its
//! connection. A client is bounded whatever it does: its request head is
//! read into 8 KiB at most, it has 5 seconds in all, and at most
//! [`CONNECTIONS`] are open at once (one more takes the place of the oldest
//! that has not sent its request yet), so a hostile client cannot grow
//! memory or keep a scraper out, and nothing here is held by the run.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinSet};

/// The most a request head may hold.
pub const HEAD_LIMIT: usize = 8 * 1024;

/// How long a client has, from its connection to the end of the response.
pub const CLIENT_TIME: Duration = Duration::from_secs(5);

/// Connections served at once.
pub const CONNECTIONS: usize = 16;

/// The `Content-Type` of the classic text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

const INDEX: &str = "signalbox: the run's Prometheus metrics are at /metrics\n";

/// Serves `registry` on `listener` until dropped (aborted): each
/// connection is a task of the set, which goes with it. When
/// [`CONNECTIONS`] are open, the oldest that has not yet sent a whole
/// request head gives way to the new one: idle connections, however many
/// and however often opened again, cannot keep a scraper out (a scraper
/// sends its request as soon as it connects).
pub async fn serve(listener: TcpListener, registry: Arc<Registry>) {
    let mut clients = JoinSet::new();
    // Open connections, oldest first: each one's task, and whether it is
    // still reading its head.
    let mut open: VecDeque<(AbortHandle, Arc<AtomicBool>)> = VecDeque::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            // Reap finished connections as they go.
            Some(_) = clients.join_next(), if !clients.is_empty() => continue,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, say: wait a little rather than spin.
                tracing::warn!("metrics: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        open.retain(|(task, _)| !task.is_finished());
        if open.len() >= CONNECTIONS {
            let idle = open
                .iter()
                .position(|(_, reading)| reading.load(Ordering::Acquire));
            match idle.and_then(|i| open.remove(i)) {
                Some((task, _)) => task.abort(),
                // Every one is being answered, which is quick: this one is
                // closed at once, unread.
                None => {
                    drop(stream);
                    continue;
                }
            }
        }
        let registry = registry.clone();
        let reading = Arc::new(AtomicBool::new(true));
        let flag = reading.clone();
        let task = clients.spawn(async move {
            let _ = tokio::time::timeout(CLIENT_TIME, answer(stream, &registry, &flag)).await;
        });
        open.push_back((task, reading));
    }
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Ask {
    Metrics,
    Index,
    NotFound,
    NotAllowed,
    Bad,
    TooLarge,
}

async fn answer(
    mut stream: TcpStream,
    registry: &Registry,
    reading: &AtomicBool,
) -> std::io::Result<()> {
    let mut head = [0u8; HEAD_LIMIT];
    let mut len = 0;
    let ask = loop {
        if len == head.len() {
            break Ask::TooLarge;
        }
        let n = stream.read(&mut head[len..]).await?;
        if n == 0 {
            // Closed before the head was whole: nothing to answer.
            return Ok(());
        }
        len += n;
        if let Some(end) = head_end(&head[..len]) {
            break parse(&head[..end]);
        }
    };
    reading.store(false, Ordering::Release);
    let head_only = head.starts_with(b"HEAD ");
    let response = respond(&ask, registry, head_only);
    stream.write_all(&response).await?;
    stream.shutdown().await
}

/// Where the head ends (`\r\n\r\n` or `\n\n`), if it did.
fn head_end(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = bytes.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The request line of a whole head.
fn parse(head: &[u8]) -> Ask {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let Ok(line) = std::str::from_utf8(line) else {
        return Ask::Bad;
    };
    let mut words = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Ask::Bad;
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() {
        return Ask::Bad;
    }
    let path = target.split('?').next().unwrap_or_default();
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => Ask::Metrics,
        ("GET" | "HEAD", "/") => Ask::Index,
        ("GET" | "HEAD", _) => Ask::NotFound,
        _ => Ask::NotAllowed,
    }
}

fn respond(ask: &Ask, registry: &Registry, head_only: bool) -> Vec<u8> {
    let (status, kind, body) = match ask {
        Ask::Metrics => {
            let mut body = String::with_capacity(16 * 1024);
            match prometheus_client::encoding::prometheus_text::encode(&mut body, registry) {
                Ok(()) => ("200 OK", TEXT_FORMAT, body),
                Err(_) => (
                    "500 Internal Server Error",
                    "text/plain",
                    "cannot encode the metrics\n".to_string(),
                ),
            }
        }
        Ask::Index => ("200 OK", "text/plain", INDEX.to_string()),
        Ask::NotFound => (
            "404 Not Found",
            "text/plain",
            "not found: the metrics are at /metrics\n".to_string(),
        ),
        Ask::NotAllowed => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET is served\n".to_string(),
        ),
        Ask::Bad => ("400 Bad Request", "text/plain", "bad request\n".to_string()),
        Ask::TooLarge => (
            "431 Request Header Fields Too Large",
            "text/plain",
            "the request head is over 8 KiB\n".to_string(),
        ),
    };
    let allow = match ask {
        Ask::NotAllowed => "Allow: GET, HEAD\r\n",
        _ => "",
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_as_they_are_answered() {
        let cases: &[(&[u8], Ask)] = &[
            (b"GET /metrics HTTP/1.1\r\nHost: x\r\n", Ask::Metrics),
            (b"GET /metrics?x=1 HTTP/1.0", Ask::Metrics),
            (b"HEAD / HTTP/1.1", Ask::Index),
            (b"GET /other HTTP/1.1", Ask::NotFound),
            (b"POST /metrics HTTP/1.1", Ask::NotAllowed),
            (b"DELETE / HTTP/1.1", Ask::NotAllowed),
            (b"GET /metrics", Ask::Bad),
            (b"GET /metrics SPDY/3", Ask::Bad),
            (b"\xff\xfe /metrics HTTP/1.1", Ask::Bad),
            (b"GET  /metrics HTTP/1.1", Ask::Bad),
        ];
        for (line, want) in cases {
            assert_eq!(&parse(line), want, "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn a_head_ends_at_its_blank_line() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest"), Some(20));
        assert_eq!(head_end(b"GET / HTTP/1.1\n\n"), Some(14));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n"), None);
    }

    #[test]
    fn a_response_says_its_length_and_closes() {
        let r = Registry::default();
        let text = String::from_utf8(respond(&Ask::NotAllowed, &r, false)).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
            "{text}"
        );
        assert!(text.contains("Connection: close\r\n"), "{text}");
        assert!(text.contains("Allow: GET, HEAD\r\n"), "{text}");
        let body = text.split("\r\n\r\n").nth(1).unwrap();
        assert!(text.contains(&format!("Content-Length: {}\r\n", body.len())));
        let head = String::from_utf8(respond(&Ask::Index, &r, true)).unwrap();
        assert!(head.ends_with("\r\n\r\n"), "{head}");
    }
}
