//! `--metrics ADDR`: a live run scraped over HTTP, each metric checked
//! against what the run's journal says at the time; a resumed run's
//! counters cover its whole journal; bad addresses and hostile clients.

mod expect;
mod scrape;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::work::Work;
use expect::{check, expected, no_ids};
use scrape::{Scrape, addr_of, get, promtool, request, settled};

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

    // 100 connections that say nothing, held open, and more opened again
    // before each scrape: every scrape still gets through, at once.
    let mut idle: Vec<TcpStream> = (0..100)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect();
    assert!(!idle.is_empty());
    let mut body = String::new();
    for round in 0..5 {
        idle.extend((0..20).filter_map(|_| TcpStream::connect(addr).ok()));
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        body = String::from_utf8_lossy(&out).into_owned();
        assert!(
            body.starts_with("HTTP/1.1 200 OK"),
            "scrape {round} behind {} idle connections: {body:?}",
            idle.len()
        );
    }
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

/// Fails at `build` the first time (no `go` file), runs on to `gate` once
/// retried with the file there.
const RETRIED: &str = r#"
name: retried
steps:
  build:
    run: test -e go
  gate:
    needs: [build]
    approval: { prompt: "Ship?" }
"#;

#[test]
fn a_retried_run_moves_its_steps_back_and_counts_both_processes() {
    let w = Work::new();
    let first = w.run(RETRIED, &[]);
    first.expect(1, "failed");
    let run = first.run_id().to_string();
    std::fs::write(w.dir().join("go"), "").unwrap();
    let cmd = w.command(&["retry", &run, "--headless", "--json", "--metrics", ":0"]);
    let mut live = crate::common::Live::spawn(cmd);
    live.wait_for("gate's approval", |e| e["type"] == "approval_requested");
    let addr = addr_of(&w, &run);
    let (s, journal) = settled(&w, &run, addr);
    let x = expected(&journal, &["build", "gate"], &["gate"], &[]);
    // The first process's failure and skip, and this one's success.
    assert_eq!(x.finished["failed"], 1.0);
    assert_eq!(x.finished["skipped"], 1.0);
    assert_eq!(x.finished["succeeded"], 1.0);
    assert!(
        journal
            .iter()
            .any(|e| e["type"] == "dag_modified" && e["action"] == "retry")
    );
    let status = |st: &str| s.value("signalbox_steps", &[("status", st)]);
    assert_eq!(status("succeeded"), 1.0);
    assert_eq!(status("waiting"), 1.0);
    assert_eq!(
        status("failed") + status("skipped") + status("pending"),
        0.0
    );
    for (st, n) in [("failed", 1.0), ("skipped", 1.0), ("succeeded", 1.0)] {
        let v = s.value("signalbox_steps_finished_total", &[("status", st)]);
        assert_eq!(v, n, "steps_finished_total{{{st}}}");
    }
    for (o, n) in [("failed", 1.0), ("succeeded", 1.0)] {
        assert_eq!(s.value("signalbox_attempts_total", &[("outcome", o)]), n);
    }
    assert_eq!(
        s.value("signalbox_waits_open", &[("kind", "approval")]),
        1.0
    );
    assert_eq!(s.value("signalbox_events_total", &[]), x.events);
    let ok = w.cli(&["approve", &run, "gate"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    live.finish().expect(0, "succeeded");
}

#[test]
fn a_detached_run_serves_its_metrics_at_the_address_it_wrote() {
    let w = Work::new();
    let file = w.write("name: away\nsteps:\n  gate:\n    approval: { prompt: ok? }\n");
    let out = w.cli(&[
        "run",
        file.to_str().unwrap(),
        "--detach",
        "--metrics",
        "127.0.0.1:0",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = String::from_utf8(out.stdout).unwrap().trim().to_string();
    // The id is said once the run can be reached: its metrics too.
    let addr = addr_of(&w, &run);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(w.run_dir(&run).join("metrics.addr"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = get(addr, "/metrics");
        assert_eq!(status, "HTTP/1.1 200 OK");
        if body.contains("signalbox_waits_open{workflow=\"away\",kind=\"approval\"} 1") {
            break;
        }
        assert!(Instant::now() < deadline, "the wait never showed:\n{body}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let done = w.cli(&["reject", &run, "gate"]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    // The run ends on its own, and its listener with it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "still listening after the run");
        std::thread::sleep(Duration::from_millis(50));
    }
    let journal = w.journal(&run);
    assert_eq!(journal.last().unwrap()["type"], "run_finished");
    let said = format!("metrics: http://{addr}/metrics");
    assert!(w.log().contains(&said), "the log does not say {said}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim(), said, "--detach says where the metrics are");
}

#[test]
fn an_address_beyond_this_machine_is_served_with_a_warning() {
    let w = Work::new();
    let done = w.run(
        "name: wide\nsteps:\n  a:\n    run: 'true'\n",
        &["--metrics", "0.0.0.0:0"],
    );
    done.expect(0, "succeeded");
    let run = done.run_id();
    let addr = std::fs::read_to_string(w.run_dir(run).join("metrics.addr")).unwrap();
    let addr = addr.trim();
    assert!(addr.starts_with("0.0.0.0:"), "{addr}");
    assert!(
        done.stderr
            .contains(&format!("metrics: http://{addr}/metrics")),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains(&format!(
            "warning: --metrics {addr} can be reached from other machines, and the metrics have no authentication"
        )),
        "{}",
        done.stderr
    );
    // The loopback address says nothing of the kind.
    let quiet = w.run(
        "name: near\nsteps:\n  a:\n    run: 'true'\n",
        &["--metrics", ":0"],
    );
    quiet.expect(0, "succeeded");
    assert!(!quiet.stderr.contains("warning"), "{}", quiet.stderr);
}
