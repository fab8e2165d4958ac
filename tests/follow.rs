//! `events`, `logs` and `runs` on live and finished runs, through the
//! binary: following a run through its socket's attach stream prints every
//! journal line once, in seq order, and ends with the run and its code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, LIMIT, Live};
use serde_json::Value;

/// A state dir and a workflow file in a temporary folder.
struct Setup {
    tmp: tempfile::TempDir,
    file: PathBuf,
}

fn setup(yaml: &str) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("wf.yaml");
    std::fs::write(&file, yaml).unwrap();
    Setup { tmp, file }
}

impl Setup {
    fn state(&self) -> PathBuf {
        self.tmp.path().join("state")
    }

    /// A headless run with `--json`, nobody at a terminal: only the socket
    /// resolves its waits.
    fn run(&self) -> Live {
        let mut cmd = Command::new(BIN);
        cmd.args(["run", "--headless", "--json", "--state-dir"])
            .arg(self.state())
            .arg(&self.file)
            .stdin(Stdio::null());
        Live::spawn(cmd)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args).arg("--state-dir").arg(self.state());
        cmd.stdin(Stdio::null());
        cmd
    }

    fn cli(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn journal(&self, id: &str) -> Vec<u8> {
        std::fs::read(self.dir(id).join("events.jsonl")).unwrap()
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.state().join("runs").join(id)
    }

    fn approve(&self, id: &str, step: &str) {
        let out = self.cli(&["approve", id, step]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
}

/// Waits (at most [`LIMIT`]) for a process started with piped output.
fn finish(mut child: std::process::Child) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("the process did not end within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// The lines of a journal as bytes, each with its seq, and checked to be
/// 1, 2, 3... with no gap and no repeat.
fn seqs(bytes: &[u8]) -> Vec<u64> {
    let seqs: Vec<u64> = bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_slice::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let want: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, want, "every seq once, in order");
    seqs
}

const GATE: &str = r#"
name: gate
steps:
  build:
    run: "for i in 1 2 3; do echo built $i; done"
  gate:
    needs: [build]
    approval: { prompt: "Ship?" }
  ship:
    needs: [gate]
    run: "echo shipped"
"#;

#[test]
fn events_of_a_finished_run_are_its_journal() {
    let s = setup(GATE);
    let mut run = s.run();
    let id = run.run_id();
    run.wait_for("the gate", |e| e["type"] == "approval_requested");
    s.approve(&id, "gate");
    run.finish().expect(0, "succeeded");
    let out = s.cli(&["events", &id]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, s.journal(&id));
    // The run folder works as RUN too, and --follow ends at once with the
    // run's code.
    let dir = s.dir(&id);
    let follow = s.cli(&["events", dir.to_str().unwrap(), "--follow"]);
    assert_eq!(follow.status.code(), Some(0), "{follow:?}");
    assert_eq!(follow.stdout, s.journal(&id));
    let none = s.cli(&["events", "no-such-run"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no run `no-such-run`"));
}

/// A follower started while the run waits, the approval from a third
/// process: every line once, in order, then the run's exit code.
fn follow_through_a_gate(approve: bool, code: i32) {
    let s = setup(GATE);
    let mut run = s.run();
    let id = run.run_id();
    run.wait_for("the gate", |e| e["type"] == "approval_requested");
    let mut follower = Live::spawn(s.cmd(&["events", &id, "--follow"]));
    follower.wait_for("the gate, followed", |e| e["type"] == "approval_requested");
    let verb = if approve { "approve" } else { "reject" };
    let out = s.cli(&[verb, &id, "gate"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let ran = run.finish();
    let followed = follower.finish();
    assert_eq!(ran.code, Some(code), "{}", ran.dump());
    assert_eq!(followed.code, Some(code), "{}", followed.dump());
    assert!(followed.stderr.is_empty(), "{}", followed.stderr);
    seqs(&followed.stdout);
    assert_eq!(
        followed.stdout,
        s.journal(&id),
        "the journal, byte for byte"
    );
    assert_eq!(followed.stdout, ran.stdout, "what --json printed");
}

#[test]
fn a_follower_prints_every_line_once_and_ends_with_the_run() {
    follow_through_a_gate(true, 0);
}

#[test]
fn a_follower_exits_with_the_code_of_a_failed_run() {
    follow_through_a_gate(false, 1);
}

#[test]
fn a_follower_into_head_ends_cleanly_while_the_run_waits() {
    let s = setup(GATE);
    let mut run = s.run();
    let id = run.run_id();
    run.wait_for("the gate", |e| e["type"] == "approval_requested");
    let script = format!(
        "{BIN} events {id} --follow --state-dir {} | head -3; echo \"follower ${{PIPESTATUS[0]}}\" >&2",
        s.state().display()
    );
    // The run waits for a person: the follower must notice `head` is gone
    // without another line to write.
    let piped = finish(
        Command::new("bash")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = String::from_utf8_lossy(&piped.stdout);
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert_eq!(stderr, "follower 0\n", "no error for a closed stdout");
    assert_eq!(s.journal(&id)[..stdout.len()], *stdout.as_bytes());
    s.approve(&id, "gate");
    run.finish().expect(0, "succeeded");
}

#[test]
fn a_follower_that_starts_after_a_thousand_events_gets_them_all() {
    let s = setup(
        r#"
name: many
steps:
  talk:
    run: "seq 1 1200"
  gate:
    needs: [talk]
    approval: { prompt: "Go?" }
  after:
    needs: [gate]
    run: "echo after"
"#,
    );
    let mut run = s.run();
    let id = run.run_id();
    let asked = run.wait_for("the gate", |e| e["type"] == "approval_requested");
    assert!(asked["seq"].as_u64().unwrap() > 1000);
    let mut follower = Live::spawn(s.cmd(&["events", &id, "--follow"]));
    follower.wait_for("the gate, followed", |e| e["type"] == "approval_requested");
    s.approve(&id, "gate");
    run.finish().expect(0, "succeeded");
    let followed = follower.finish();
    assert_eq!(followed.code, Some(0), "{}", followed.dump());
    seqs(&followed.stdout);
    assert_eq!(followed.stdout, s.journal(&id));
}

#[test]
fn logs_print_a_step_its_output_or_every_step_prefixed() {
    let s = setup(GATE);
    let mut run = s.run();
    let id = run.run_id();
    run.wait_for("the gate", |e| e["type"] == "approval_requested");
    // Followed from before the gate opens to the run's end.
    let follower = s
        .cmd(&["logs", &id, "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut named = s
        .cmd(&["logs", &id, "ship", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `logs` prints nothing of the journal's other lines: nothing to wait
    // for but the stream itself, so give the approval once it is attached.
    let mut first = String::new();
    let build = s.cli(&["logs", &id, "build"]);
    assert_eq!(build.status.code(), Some(0), "{build:?}");
    assert_eq!(
        build.stdout,
        std::fs::read(s.dir(&id).join("logs/build.log")).unwrap()
    );
    s.approve(&id, "gate");
    run.finish().expect(0, "succeeded");
    let all = finish(follower);
    assert_eq!(all.status.code(), Some(0), "{all:?}");
    assert_eq!(
        String::from_utf8_lossy(&all.stdout),
        "build | built 1\nbuild | built 2\nbuild | built 3\nship | shipped\n"
    );
    BufReader::new(named.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first, "shipped\n");
    assert_eq!(finish(named).status.code(), Some(0));
    let whole = s.cli(&["logs", &id]);
    assert_eq!(whole.stdout, all.stdout, "the same, from the file");
    let unknown = s.cli(&["logs", &id, "nope"]);
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
}

#[test]
fn logs_show_a_step_its_control_characters_escaped() {
    let s = setup(
        r#"
name: hostile
steps:
  loud:
    run: printf 'a\033]0;owned\007b\n'
"#,
    );
    let ran = s.run().finish();
    ran.expect(0, "succeeded");
    let out = s.cli(&["logs", ran.run_id(), "loud"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "a\\x1b]0;owned\\x07b\n"
    );
}

#[test]
fn a_stopped_follower_does_not_slow_the_run_and_still_gets_every_line() {
    let s = setup(
        r#"
name: flood
steps:
  gate:
    approval: { prompt: "Go?" }
  flood:
    needs: [gate]
    run: "seq 1 100000"
"#,
    );
    let mut run = s.run();
    let id = run.run_id();
    run.wait_for("the gate", |e| e["type"] == "approval_requested");
    let mut follower = Live::spawn(s.cmd(&["events", &id, "--follow"]));
    follower.wait_for("the gate, followed", |e| e["type"] == "approval_requested");
    follower.signal("STOP");
    s.approve(&id, "gate");
    // The run ends while nobody reads the stream, with every event.
    let ran = run.finish();
    ran.expect(0, "succeeded");
    assert_eq!(ran.lines("flood", "output").len(), 100_000);
    let journal = s.journal(&id);
    assert_eq!(seqs(&journal).len(), ran.events.len());
    follower.signal("CONT");
    let followed = follower.finish();
    assert_eq!(followed.code, Some(0), "{}", followed.stderr);
    assert!(followed.stderr.is_empty(), "{}", followed.stderr);
    assert_eq!(followed.stdout, journal, "every line once, in order");
}

/// One line from a raw connection to the run's socket, within 10 s.
fn ask(dir: &Path, line: &str) -> (BufReader<std::os::unix::net::UnixStream>, String) {
    let mut stream = std::os::unix::net::UnixStream::connect(dir.join("control.sock")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut read = BufReader::new(stream);
    let mut reply = String::new();
    read.read_line(&mut reply).unwrap();
    (read, reply)
}

#[test]
fn the_attach_stream_says_hello_sends_history_then_live_lines() {
    let s = setup(GATE);
    let mut run = s.run();
    let id = run.run_id();
    let asked = run.wait_for("the gate", |e| e["type"] == "approval_requested");
    let head = asked["seq"].as_u64().unwrap();
    let (mut read, hello) = ask(
        &s.dir(&id),
        r#"{"command":"attach","protocol":1,"from_seq":3}"#,
    );
    let hello: Value = serde_json::from_str(&hello).unwrap();
    assert_eq!(hello["ctl"], "hello");
    assert_eq!(hello["protocol"], 1);
    assert_eq!(hello["run"], id.as_str());
    assert_eq!(hello["from_seq"], 3);
    let head_seq = hello["head_seq"].as_u64().unwrap();
    assert!(head_seq >= head, "{hello}");
    let journal = s.journal(&id);
    let lines: Vec<&[u8]> = journal.split(|&b| b == b'\n').collect();
    let mut got = Vec::new();
    loop {
        let mut line = String::new();
        read.read_line(&mut line).unwrap();
        if line.contains(r#""ctl":"live""#) {
            break;
        }
        got.push(line);
    }
    let want: Vec<String> = lines[2..head_seq as usize]
        .iter()
        .map(|l| format!("{}\n", String::from_utf8_lossy(l)))
        .collect();
    assert_eq!(got, want, "seq 3 to head_seq, byte for byte");
    s.approve(&id, "gate");
    let mut rest = Vec::new();
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).unwrap() == 0 {
            break;
        }
        rest.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    run.finish().expect(0, "succeeded");
    let bye = rest.pop().unwrap();
    assert_eq!(
        bye,
        serde_json::json!({"ctl": "bye", "reason": "run_finished"})
    );
    assert_eq!(rest[0]["seq"].as_u64(), Some(head_seq + 1));
    assert_eq!(rest.last().unwrap()["type"], "run_finished");
}

#[test]
fn an_unknown_protocol_gets_an_error_line_and_a_close() {
    let s = setup(GATE);
    let mut run = s.run();
    let id = run.run_id();
    run.wait_for("the gate", |e| e["type"] == "approval_requested");
    let (mut read, reply) = ask(&s.dir(&id), r#"{"command":"attach","protocol":99}"#);
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["ctl"], "error");
    let why = reply["error"].as_str().unwrap();
    assert!(why.contains("protocol 99 is not known"), "{why}");
    let mut more = String::new();
    assert_eq!(read.read_line(&mut more).unwrap(), 0, "closed: {more}");
    // One-shot commands are as they were.
    let (_, reply) = ask(&s.dir(&id), r#"{"command":"approve","step":"gate"}"#);
    assert_eq!(reply, "ok\n");
    run.finish().expect(0, "succeeded");
}

#[test]
fn runs_marks_the_live_run_and_not_the_finished_one() {
    let s = setup(GATE);
    let mut first = s.run();
    let done = first.run_id();
    first.wait_for("the gate", |e| e["type"] == "approval_requested");
    s.approve(&done, "gate");
    first.finish().expect(0, "succeeded");
    let mut live = s.run();
    let id = live.run_id();
    live.wait_for("the gate", |e| e["type"] == "approval_requested");
    let out = s.cli(&["runs", "--json"]);
    let rows: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let row = |run: &str| rows.iter().find(|r| r["id"] == run).unwrap().clone();
    assert_eq!(row(&id)["live"], true);
    assert_eq!(row(&id)["status"], "running");
    assert_eq!(row(&done)["live"], false);
    let table = String::from_utf8_lossy(&s.cli(&["runs"]).stdout).into_owned();
    let line = |run: &str| {
        table
            .lines()
            .find(|l| l.starts_with(run))
            .unwrap()
            .to_string()
    };
    assert!(line(&id).contains(" live "), "{table}");
    assert!(line(&done).contains(" succeeded "), "{table}");
    s.approve(&id, "gate");
    live.finish().expect(0, "succeeded");
}

/// The lines after `live` from an attached raw connection, to its close.
fn rest_of(read: &mut BufReader<std::os::unix::net::UnixStream>) -> Vec<Value> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).unwrap() == 0 {
            return lines;
        }
        lines.push(serde_json::from_str(&line).unwrap());
    }
}

#[test]
fn an_attached_client_sends_commands_and_hears_each_reply_by_its_id() {
    let s = setup(GATE);
    let mut run = s.run();
    let id = run.run_id();
    run.wait_for("the gate", |e| e["type"] == "approval_requested");
    let attach = |extra: &str| {
        let line = format!(r#"{{"command":"attach","protocol":1{extra}}}"#);
        let (read, hello) = ask(&s.dir(&id), &line);
        assert!(hello.contains(r#""ctl":"hello""#), "{hello}");
        read
    };
    let mut watcher = attach(r#","read_only":true"#);
    let mut actor = attach("");
    let send = |read: &mut BufReader<std::os::unix::net::UnixStream>, line: &str| {
        read.get_mut()
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
    };
    send(
        &mut watcher,
        r#"{"id":1,"command":"approve","step":"gate"}"#,
    );
    send(&mut actor, r#"{"id":7,"command":"approve","step":"nope"}"#);
    send(&mut actor, r#"{"id":8,"command":"approve","step":"gate"}"#);
    let watched = rest_of(&mut watcher);
    let acted = rest_of(&mut actor);
    run.finish().expect(0, "succeeded");
    let replies = |lines: &[Value]| -> Vec<Value> {
        lines
            .iter()
            .filter(|l| l["ctl"] == "reply")
            .cloned()
            .collect()
    };
    assert_eq!(
        replies(&watched),
        [serde_json::json!({"ctl": "reply", "id": 1, "refused": "read-only session"})]
    );
    let acted_replies = replies(&acted);
    assert_eq!(acted_replies.len(), 2, "{acted:?}");
    assert_eq!(acted_replies[0]["id"], 7);
    assert!(
        acted_replies[0]["refused"]
            .as_str()
            .unwrap()
            .contains("no step `nope`")
    );
    assert_eq!(
        acted_replies[1],
        serde_json::json!({"ctl": "reply", "id": 8, "ok": true})
    );
    let resolved: Vec<&Value> = acted
        .iter()
        .filter(|l| l["type"] == "approval_resolved")
        .collect();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0]["by"], "socket");
    for lines in [&watched, &acted] {
        assert_eq!(lines.last().unwrap()["reason"], "run_finished");
    }
}

#[test]
fn an_attached_client_sending_more_than_a_mib_is_told_so_and_closed() {
    let s = setup(GATE);
    let mut run = s.run();
    let id = run.run_id();
    run.wait_for("the gate", |e| e["type"] == "approval_requested");
    let (mut read, hello) = ask(&s.dir(&id), r#"{"command":"attach","protocol":1}"#);
    assert!(hello.contains(r#""ctl":"hello""#), "{hello}");
    let huge = format!(
        "{{\"command\":\"approve\",\"step\":\"{}\"}}\n",
        "x".repeat(2 << 20)
    );
    // The server may close before it has read it all.
    let _ = read.get_mut().write_all(huge.as_bytes());
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        match read.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => lines.push(line),
        }
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains(r#""ctl":"error""#) && l.contains("longer than 1 MiB")),
        "{lines:?}"
    );
    // The run is untouched, and still takes the gate.
    s.approve(&id, "gate");
    run.finish().expect(0, "succeeded");
}

/// A hook on `run_finished` journals its `hook_finished` after it: a
/// follower still ends with the run's own code, live and afterwards.
#[test]
fn a_follower_ends_with_the_runs_code_when_a_hook_journals_after_it() {
    let s = setup(
        r#"
name: hooked
hooks:
  - name: fin
    on: [run_finished]
    run: sleep 0.3
steps:
  gate:
    approval: { prompt: "Go?" }
  after:
    needs: [gate]
    run: "true"
"#,
    );
    let mut run = s.run();
    let id = run.run_id();
    run.wait_for("the gate", |e| e["type"] == "approval_requested");
    let follower = s
        .cmd(&["events", &id, "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    s.approve(&id, "gate");
    let live = finish(follower);
    run.finish();
    let types: Vec<String> = live
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<Value>(l).unwrap()["type"].to_string())
        .collect();
    assert_eq!(
        types.last().map(String::as_str),
        Some("\"hook_finished\""),
        "the hook's end is followed too: {types:?}"
    );
    assert_eq!(live.status.code(), Some(0), "{live:?}");
    for args in [["events", &id, "--follow"], ["logs", &id, "--follow"]] {
        let after = s.cli(&args);
        assert_eq!(
            after.status.code(),
            Some(0),
            "{args:?} of the finished run: {after:?}"
        );
    }
}

/// Output that cannot be written (a full disk) is an error, said; a
/// reader that left (`| head`) is not.
#[test]
fn events_that_cannot_be_written_out_are_an_error() {
    let s = setup("name: small\nsteps:\n  a:\n    run: \"true\"\n");
    let done = s.run().finish();
    let id = done.run_id().to_string();
    let full = std::fs::File::create("/dev/full").unwrap();
    let out = s.cmd(&["events", &id]).stdout(full).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot write the output"), "{stderr}");
}
