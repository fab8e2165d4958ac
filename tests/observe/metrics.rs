//! `--metrics ADDR`: a live run scraped over HTTP, each metric checked
//! against what the run's journal says at the time; a resumed run's
//! counters cover its whole journal; bad addresses and hostile clients.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::work::Work;

/// Succeeds, fails, retries, times out, opens a breaker that then refuses,
/// asks a question (answered by flag), runs two hooks, and waits at `gate`
/// (then at `last`) for an approval.
const OBSERVED: &str = r#"
name: observed
breakers:
  reg: { failures: 2, cooldown: 1h }
hooks:
  - name: ok-hook
    on: [approval_requested]
    run: "true"
  - name: bad-hook
    on: [question_answered]
    run: exit 3
steps:
  fine:
    run: "true"
  flaky:
    retry: { attempts: 3, delay: 10ms, jitter: none }
    run: '[ "$SIGNALBOX_ATTEMPT" -ge 2 ]'
  broken:
    run: exit 4
    on_failure: continue
  slow:
    timeout: 200ms
    run: sleep 30
    on_failure: continue
  pub:
    breaker: reg
    retry: { attempts: 4, delay: 10ms, jitter: none }
    run: exit 1
    fallback: {}
  notes:
    ask: { question: "Headline?", default: "fixes" }
  gate:
    needs: [fine, flaky, pub, notes]
    approval: { prompt: "Ship?" }
  after:
    needs: [gate]
    run: "true"
  last:
    needs: [after]
    approval: { prompt: "Done?" }
"#;

// ---------------------------------------------------------------------------
// HTTP and the text format
// ---------------------------------------------------------------------------

/// One HTTP/1.1 request; the status line and the body.
fn request(addr: SocketAddr, raw: &str) -> (String, String) {
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

fn get(addr: SocketAddr, path: &str) -> (String, String) {
    request(addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"))
}

/// The run's metrics address, once `<run>/metrics.addr` says it.
fn addr_of(w: &Work, run: &str) -> SocketAddr {
    let file = w.run_dir(run).join("metrics.addr");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
    text.trim().parse().unwrap()
}

#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
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

struct Scrape {
    body: String,
    samples: Vec<Sample>,
    types: BTreeMap<String, String>,
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
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
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
fn settled(w: &Work, run: &str, addr: SocketAddr) -> (Scrape, Vec<Value>) {
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

// ---------------------------------------------------------------------------
// What the journal says the metrics must be
// ---------------------------------------------------------------------------

/// The metrics as SPEC §8 and the journal define them, worked out here
/// from the journal's lines alone (and the workflow's step kinds).
#[derive(Debug, Default)]
struct Expected {
    steps: BTreeMap<String, f64>,
    finished: BTreeMap<String, f64>,
    attempts: BTreeMap<String, f64>,
    timed_attempts: f64,
    retries: f64,
    waits_open: BTreeMap<String, f64>,
    waits: BTreeMap<(String, String), f64>,
    breakers: BTreeMap<String, String>,
    hooks: BTreeMap<String, f64>,
    events: f64,
}

fn expected(journal: &[Value], steps: &[&str], waits: &[&str], breakers: &[&str]) -> Expected {
    let mut status: BTreeMap<String, String> = steps
        .iter()
        .map(|s| (s.to_string(), "pending".into()))
        .collect();
    let mut started: BTreeMap<String, bool> = BTreeMap::new();
    let mut open: BTreeMap<String, String> = BTreeMap::new();
    let mut x = Expected::default();
    for b in breakers {
        x.breakers.insert(b.to_string(), "closed".into());
    }
    let attempt = |x: &mut Expected, outcome: &str, timed: bool| {
        *x.attempts.entry(outcome.into()).or_default() += 1.0;
        if timed {
            x.timed_attempts += 1.0;
        }
    };
    for e in journal {
        x.events = e["seq"].as_f64().unwrap();
        let step = e["step"].as_str().unwrap_or_default().to_string();
        let is_run = !waits.contains(&step.as_str());
        let error = e["error"].as_str().unwrap_or_default();
        let refused = error.starts_with("breaker ") && error.ends_with(" is open");
        let mut set = |s: &str| {
            status.insert(step.clone(), s.into());
        };
        match e["type"].as_str().unwrap() {
            "step_ready" => set("ready"),
            "step_started" => {
                started.insert(step.clone(), true);
                set("running");
            }
            "step_retrying" | "step_failed" => {
                let was = started.remove(&step).unwrap_or(false);
                if is_run && refused {
                    attempt(&mut x, "refused", false);
                } else if is_run && was && error.starts_with("timed out") {
                    attempt(&mut x, "timed_out", true);
                } else if is_run && was {
                    attempt(&mut x, "failed", true);
                }
                if e["type"] == "step_retrying" {
                    x.retries += 1.0;
                    set("retrying");
                } else {
                    set("failed");
                    *x.finished.entry("failed".into()).or_default() += 1.0;
                }
            }
            "step_succeeded" => {
                let was = started.remove(&step).unwrap_or(false);
                if is_run {
                    match (e["fallback"].as_bool().unwrap(), was) {
                        (false, true) => attempt(&mut x, "succeeded", true),
                        (true, true) => attempt(&mut x, "failed", true),
                        (true, false) => attempt(&mut x, "refused", false),
                        (false, false) => {}
                    }
                }
                set("succeeded");
                *x.finished.entry("succeeded".into()).or_default() += 1.0;
            }
            kind @ ("step_skipped" | "step_cancelled") => {
                let word = if kind == "step_skipped" {
                    "skipped"
                } else {
                    "cancelled"
                };
                open.remove(&step);
                set(word);
                *x.finished.entry(word.into()).or_default() += 1.0;
            }
            "approval_requested" => {
                open.insert(step.clone(), "approval".into());
                set("waiting");
            }
            "question_asked" => {
                open.insert(step.clone(), "question".into());
                set("waiting");
            }
            kind @ ("approval_resolved" | "question_answered") => {
                open.remove(&step);
                let k = if kind == "approval_resolved" {
                    "approval"
                } else {
                    "question"
                };
                let by = e["by"].as_str().unwrap().to_string();
                *x.waits.entry((k.into(), by)).or_default() += 1.0;
            }
            "breaker_changed" => {
                let b = e["breaker"].as_str().unwrap().to_string();
                x.breakers.insert(b, e["state"].as_str().unwrap().into());
            }
            "hook_finished" => {
                let outcome = match e["error"].as_str() {
                    None => "ok",
                    Some(t) if t.starts_with("timed out") => "timed_out",
                    Some(_) => "failed",
                };
                *x.hooks.entry(outcome.into()).or_default() += 1.0;
            }
            "run_finished" => open.clear(),
            _ => {}
        }
    }
    for s in status.values() {
        *x.steps.entry(s.clone()).or_default() += 1.0;
    }
    for kind in open.values() {
        *x.waits_open.entry(kind.clone()).or_default() += 1.0;
    }
    x
}

/// Every metric of SPEC §8, its type and values, against `x`.
fn check(s: &Scrape, x: &Expected, steps: usize) {
    let types = [
        ("signalbox_steps", "gauge"),
        ("signalbox_steps_finished_total", "counter"),
        ("signalbox_attempts_total", "counter"),
        ("signalbox_attempt_duration_seconds", "histogram"),
        ("signalbox_retries_total", "counter"),
        ("signalbox_waits_open", "gauge"),
        ("signalbox_wait_duration_seconds", "histogram"),
        ("signalbox_breaker_state", "gauge"),
        ("signalbox_events_total", "counter"),
        ("signalbox_subscribers_dropped_total", "counter"),
        ("signalbox_journal_sync_duration_seconds", "histogram"),
        ("signalbox_hooks_total", "counter"),
    ];
    let want: BTreeMap<String, String> = types
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    assert_eq!(s.types, want, "{}", s.body);
    let get = |m: &BTreeMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(0.0);
    let mut sum = 0.0;
    for st in [
        "pending",
        "ready",
        "running",
        "retrying",
        "waiting",
        "succeeded",
        "failed",
        "skipped",
        "cancelled",
    ] {
        let v = s.value("signalbox_steps", &[("status", st)]);
        assert_eq!(v, get(&x.steps, st), "steps{{status={st}}}\n{}", s.body);
        sum += v;
    }
    assert_eq!(sum, steps as f64, "the statuses sum to the step count");
    for st in ["succeeded", "failed", "skipped", "cancelled"] {
        let v = s.value("signalbox_steps_finished_total", &[("status", st)]);
        assert_eq!(v, get(&x.finished, st), "steps_finished_total{{{st}}}");
    }
    for o in ["succeeded", "failed", "timed_out", "refused"] {
        let v = s.value("signalbox_attempts_total", &[("outcome", o)]);
        assert_eq!(v, get(&x.attempts, o), "attempts_total{{{o}}}\n{}", s.body);
    }
    assert_eq!(
        s.value("signalbox_attempt_duration_seconds_count", &[]),
        x.timed_attempts
    );
    assert_eq!(
        s.value(
            "signalbox_attempt_duration_seconds_bucket",
            &[("le", "+Inf")]
        ),
        x.timed_attempts
    );
    assert_eq!(s.value("signalbox_retries_total", &[]), x.retries);
    for k in ["approval", "question"] {
        let v = s.value("signalbox_waits_open", &[("kind", k)]);
        assert_eq!(v, get(&x.waits_open, k), "waits_open{{{k}}}");
        for by in ["keyboard", "socket", "flag", "prompt", "timeout"] {
            let v = s.value(
                "signalbox_wait_duration_seconds_count",
                &[("kind", k), ("by", by)],
            );
            let want = x.waits.get(&(k.into(), by.into())).copied().unwrap_or(0.0);
            assert_eq!(v, want, "wait_duration_seconds_count{{{k},{by}}}");
        }
    }
    for (b, state) in &x.breakers {
        for st in ["closed", "open", "half_open"] {
            let v = s.value("signalbox_breaker_state", &[("breaker", b), ("state", st)]);
            assert_eq!(v, f64::from(st == state), "breaker_state{{{b},{st}}}");
        }
    }
    assert_eq!(s.value("signalbox_events_total", &[]), x.events);
    assert_eq!(s.value("signalbox_subscribers_dropped_total", &[]), 0.0);
    // Every event the run acted on was synced before its effect: some syncs.
    assert!(s.value("signalbox_journal_sync_duration_seconds_count", &[]) >= 1.0);
    for o in ["ok", "timed_out", "failed"] {
        let v = s.value("signalbox_hooks_total", &[("outcome", o)]);
        assert_eq!(v, get(&x.hooks, o), "hooks_total{{{o}}}");
    }
}

/// No label holds a run id, a wait id or an attempt number; every series
/// names the workflow.
fn no_ids(s: &Scrape, journal: &[Value], workflow: &str) {
    let run = journal[0]["run"].as_str().unwrap();
    assert!(!s.body.contains(run), "the run id is in the body");
    let waits: Vec<&str> = journal.iter().filter_map(|e| e["wait"].as_str()).collect();
    assert!(!waits.is_empty());
    for sample in &s.samples {
        assert_eq!(
            sample.labels.get("workflow").map(String::as_str),
            Some(workflow)
        );
        for (k, v) in &sample.labels {
            assert!(!waits.contains(&v.as_str()), "{k}={v} is a wait id");
            if k != "le" {
                assert!(v.parse::<f64>().is_err(), "{k}={v} is a number");
            }
        }
    }
}

/// `promtool check metrics` on the body; skipped (or failed under `CI`)
/// without promtool.
fn promtool(body: &str) {
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

const STEPS: [&str; 9] = [
    "fine", "flaky", "broken", "slow", "pub", "notes", "gate", "after", "last",
];
const WAITS: [&str; 3] = ["notes", "gate", "last"];

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

#[test]
fn a_live_run_is_scraped_and_every_metric_agrees_with_its_journal() {
    let w = Work::new();
    let mut live = w.start(
        OBSERVED,
        &["--metrics", "127.0.0.1:0", "--answer", "notes=hi"],
    );
    let run = live.run_id();
    // Quiet: `gate` open, `slow` timed out, both hooks ended.
    live.wait_for("gate's approval", |e| e["type"] == "approval_requested");
    live.wait_for("slow's timeout", |e| {
        e["type"] == "step_failed" && e["step"] == "slow"
    });
    for hook in ["ok-hook", "bad-hook"] {
        live.wait_for(hook, |e| e["type"] == "hook_finished" && e["hook"] == hook);
    }
    let addr = addr_of(&w, &run);
    let (s, journal) = settled(&w, &run, addr);
    let x = expected(&journal, &STEPS, &WAITS, &["reg"]);
    // The run did what this test is about.
    for o in ["succeeded", "failed", "timed_out", "refused"] {
        assert!(
            x.attempts.get(o).copied().unwrap_or(0.0) >= 1.0,
            "no {o} attempt"
        );
    }
    assert_eq!(x.breakers["reg"], "open");
    check(&s, &x, STEPS.len());
    no_ids(&s, &journal, "observed");
    promtool(&s.body);

    let ok = w.cli(&["approve", &run, "gate"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let asked = live.wait_for("last's approval", |e| {
        e["type"] == "approval_requested" && e["step"] == "last"
    });
    live.wait_for("the hook on it", |e| {
        e["type"] == "hook_finished" && e["on_seq"] == asked["seq"]
    });
    let (s2, journal) = settled(&w, &run, addr);
    let x2 = expected(&journal, &STEPS, &WAITS, &["reg"]);
    check(&s2, &x2, STEPS.len());
    // The approval moved: by socket, and two more steps succeeded.
    let by_socket = &[("kind", "approval"), ("by", "socket")];
    assert_eq!(
        s.value("signalbox_wait_duration_seconds_count", by_socket),
        0.0
    );
    assert_eq!(
        s2.value("signalbox_wait_duration_seconds_count", by_socket),
        1.0
    );
    let ok = |s: &Scrape| s.value("signalbox_steps_finished_total", &[("status", "succeeded")]);
    assert_eq!(ok(&s2), ok(&s) + 2.0);
    promtool(&s2.body);

    let done = w.cli(&["reject", &run, "last"]);
    assert!(done.status.success());
    live.finish().expect(1, "failed");
    // The listener went with the run.
    assert!(TcpStream::connect(addr).is_err(), "still listening");
}

#[test]
fn a_resumed_run_counts_its_whole_journal() {
    let w = Work::new();
    let yaml = r#"
name: resumed
steps:
  first:
    run: "true"
  long:
    needs: [first]
    run: sleep 30
"#;
    let mut live = w.start(yaml, &["--metrics", "127.0.0.1:0"]);
    let run = live.run_id();
    live.wait_for("long started", |e| {
        e["type"] == "step_started" && e["step"] == "long"
    });
    live.kill9();
    let cmd = w.command(&["resume", &run, "--headless", "--json", "--metrics", ":0"]);
    let mut again = crate::common::Live::spawn(cmd);
    again.wait_for("the resumed run_started", |e| e["type"] == "run_started");
    again.wait_for("long started again", |e| {
        e["type"] == "step_started" && e["step"] == "long"
    });
    let addr = addr_of(&w, &run);
    let (s, journal) = settled(&w, &run, addr);
    // The first process's events are counted too.
    let x = expected(&journal, &["first", "long"], &["-"], &[]);
    assert_eq!(x.attempts["succeeded"], 1.0);
    assert_eq!(
        s.value("signalbox_attempts_total", &[("outcome", "succeeded")]),
        1.0
    );
    assert_eq!(s.value("signalbox_steps", &[("status", "succeeded")]), 1.0);
    assert_eq!(s.value("signalbox_steps", &[("status", "running")]), 1.0);
    assert_eq!(s.value("signalbox_events_total", &[]), x.events);
    let resumed_at = journal
        .iter()
        .find(|e| e["type"] == "run_started" && e["resumed"] == true)
        .unwrap()["seq"]
        .as_f64()
        .unwrap();
    assert!(x.events > resumed_at && resumed_at > 1.0);
    again.signal("TERM");
    let done = again.finish();
    assert_eq!(done.code, Some(130), "{}", done.dump());
}

#[test]
fn a_port_in_use_is_refused_before_anything_runs() {
    let w = Work::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let flag = format!("127.0.0.1:{port}");
    let done = w.run(
        "name: x\nsteps:\n  a:\n    run: touch ran\n",
        &["--metrics", &flag],
    );
    assert_eq!(done.code, Some(2), "{}", done.dump());
    assert!(
        done.stderr
            .contains(&format!("--metrics {flag}: cannot listen there")),
        "{}",
        done.stderr
    );
    assert!(done.events.is_empty());
    assert!(!w.dir().join("ran").exists(), "a step ran");
    let runs = std::fs::read_dir(w.state().join("runs"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(runs, 0, "a run folder was left");
    // And an address that is not one: bad usage too.
    let bad = w.run(
        "name: x\nsteps:\n  a:\n    run: 'true'\n",
        &["--metrics", "nowhere:80"],
    );
    assert_eq!(bad.code, Some(2));
    assert!(
        bad.stderr.contains("--metrics takes HOST:PORT"),
        "{}",
        bad.stderr
    );
}

#[test]
fn hostile_clients_neither_stop_the_run_nor_other_scrapes() {
    let w = Work::new();
    let yaml = "name: hostile\nsteps:\n  gate:\n    approval: { prompt: ok? }\n  after:\n    needs: [gate]\n    run: 'true'\n";
    let mut live = w.start(yaml, &["--metrics", "127.0.0.1:0"]);
    let run = live.run_id();
    live.wait_for("the approval", |e| e["type"] == "approval_requested");
    let addr = addr_of(&w, &run);

    // Methods and paths.
    let (status, _) = request(addr, "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    let (status, _) = get(addr, "/nope");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, body) = get(addr, "/");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("/metrics"), "{body}");

    // 1 MiB of header: cut off at 8 KiB.
    let mut big = TcpStream::connect(addr).unwrap();
    big.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
    head.resize(1 << 20, b'a');
    let _ = big.write_all(&head);
    let mut answer = Vec::new();
    let _ = big.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );

    // 100 connections that say nothing, held open.
    let idle: Vec<TcpStream> = (0..100)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect();
    assert!(!idle.is_empty());
    // Another scrape gets through: at once, or once the idle ones time out.
    let deadline = Instant::now() + Duration::from_secs(15);
    let body = loop {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out).into_owned();
        if text.starts_with("HTTP/1.1 200 OK") {
            break text;
        }
        assert!(Instant::now() < deadline, "no scrape got through");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(body.contains("signalbox_waits_open{workflow=\"hostile\",kind=\"approval\"} 1"));

    // The run goes on, with the idle connections still open.
    let ok = w.cli(&["approve", &run, "gate"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    live.finish().expect(0, "succeeded");
    drop(idle);
}
