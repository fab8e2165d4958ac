//! `--otlp URL` against a receiver on loopback.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use super::*;

// ---------------------------------------------------------------------------

/// What the receiver was sent.
struct Received {
    request_line: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A one-request OTLP/HTTP receiver on loopback answering `status`.
fn receiver(status: &'static str) -> (u16, std::thread::JoinHandle<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':').unwrap();
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
        let len: usize = headers["content-length"].parse().unwrap();
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        let answer =
            format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}");
        stream.write_all(answer.as_bytes()).unwrap();
        Received {
            request_line: request_line.trim_end().to_string(),
            headers,
            body,
        }
    });
    (port, handle)
}

fn finished_run(w: &Work) -> String {
    let done = run_to_end(w, ONE_STEP, &[]);
    assert_eq!(done.code, Some(0), "{}", done.dump());
    done.run_id().to_string()
}

#[test]
fn otlp_posts_the_same_request_to_the_receiver() {
    let w = Work::new();
    let id = finished_run(&w);
    let printed = w.cli(&["trace", &id]);
    let (port, received) = receiver("200 OK");
    let url = format!("http://127.0.0.1:{port}");
    let out = w.cli(&["trace", &id, "--otlp", &url]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(out.stdout.is_empty(), "sent, not printed");
    let got = received.join().unwrap();
    assert_eq!(got.request_line, "POST /v1/traces HTTP/1.1");
    assert_eq!(got.headers["content-type"], "application/json");
    assert_eq!(got.headers["host"], format!("127.0.0.1:{port}"));
    assert_eq!(got.body, printed.stdout.strip_suffix(b"\n").unwrap());
    assert!(
        stderr.contains("3 spans") && stderr.contains(&format!("{url}/v1/traces")),
        "says how many spans went where: {stderr}"
    );
}

#[test]
fn otlp_refused_or_unreachable_is_a_failure_and_https_is_bad_usage() {
    let w = Work::new();
    let id = finished_run(&w);

    let (port, received) = receiver("500 Internal Server Error");
    let out = w.cli(&["trace", &id, "--otlp", &format!("http://127.0.0.1:{port}")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("500 Internal Server Error"), "{stderr}");
    received.join().unwrap();

    // A port nobody listens on (bound, then let go).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = w.cli(&["trace", &id, "--otlp", &format!("http://127.0.0.1:{port}")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot send the trace") && stderr.contains("refused"),
        "{stderr}"
    );

    let out = w.cli(&["trace", &id, "--otlp", "https://collector.example:4318"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("Collector"), "{stderr}");

    let out = w.cli(&["trace", "no-such-run"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no run `no-such-run`"), "{stderr}");
}
