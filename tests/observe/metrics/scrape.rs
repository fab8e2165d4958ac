//! Scraping a run: HTTP requests by hand, the text format parsed, and
//! promtool.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::work::Work;

// ---------------------------------------------------------------------------
// HTTP and the text format
// ---------------------------------------------------------------------------

/// One HTTP/1.1 request; the status line and the body.
pub fn request(addr: SocketAddr, raw: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, body.to_string())
}

pub fn get(addr: SocketAddr, path: &str) -> (String, String) {
    request(addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"))
}

/// The run's metrics address, once `<run>/metrics.addr` says it.
pub fn addr_of(w: &Work, run: &str) -> SocketAddr {
    let file = w.run_dir(run).join("metrics.addr");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
    text.trim().parse().unwrap()
}

#[derive(Debug)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The samples and each family's `# TYPE`.
fn parse(body: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
    let mut samples = Vec::new();
    let mut types = BTreeMap::new();
    for line in body.lines() {
        if let Some(t) = line.strip_prefix("# TYPE ") {
            let (name, kind) = t.split_once(' ').unwrap();
            types.insert(name.to_string(), kind.to_string());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k.to_string(), v.trim_matches('"').to_string())
            })
            .collect();
        let value = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap(),
        };
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    (samples, types)
}

pub struct Scrape {
    pub body: String,
    pub samples: Vec<Sample>,
    pub types: BTreeMap<String, String>,
}

impl Scrape {
    fn of(body: String) -> Scrape {
        let (samples, types) = parse(&body);
        Scrape {
            body,
            samples,
            types,
        }
    }

    /// The value of the one series of `name` with these labels (besides
    /// `workflow`); 0 when there is none.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<&Sample> = (self.samples.iter())
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(v))
            })
            .filter(|s| s.labels.len() == labels.len() + 1)
            .collect();
        assert!(found.len() <= 1, "{name} {labels:?}: {found:?}");
        found.first().map_or(0.0, |s| s.value)
    }
}

/// Scrapes until the metrics have folded the journal's last event (the
/// fold runs a little behind the journal), then returns both.
pub fn settled(w: &Work, run: &str, addr: SocketAddr) -> (Scrape, Vec<Value>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = get(addr, "/metrics");
        assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
        let scrape = Scrape::of(body);
        let journal = w.journal(run);
        let last = journal.last().unwrap()["seq"].as_f64().unwrap();
        if scrape.value("signalbox_events_total", &[]) == last {
            return (scrape, journal);
        }
        assert!(
            Instant::now() < deadline,
            "the metrics never caught up with seq {last}:\n{}",
            scrape.body
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `promtool check metrics` on the body; skipped (or failed under `CI`)
/// without promtool.
pub fn promtool(body: &str) {
    let spawned = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("promtool is missing: apt-get install prometheus (it carries promtool)")
        }
        Err(_) => {
            eprintln!(
                "skipping promtool check: promtool is not installed (apt-get install prometheus)"
            );
            return;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
