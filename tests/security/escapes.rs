//! Text a step, a var, an answer, an output or a journal chose never drives
//! the operator's terminal (SPEC §6); answers no environment can carry are
//! refused where they are given (SPEC §2 choices); a step's output file is
//! read within bounds, one bad line costing only itself (SPEC §2 outputs).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;

use crate::common::{self, BIN, Live};

/// The issue's payload: set the terminal's title, then write its clipboard.
const OSC: &str = r"\033]0;pwned\007\033]52;c;ZWNobyBoaQ==\007";
/// The same, as `printf` leaves it.
const OSC_RAW: &str = "\x1b]0;pwned\x07\x1b]52;c;ZWNobyBoaQ==\x07";
/// The same, as a terminal must be shown it.
const OSC_SHOWN: &str = r"\x1b]0;pwned\x07\x1b]52;c;ZWNobyBoaQ==\x07";

fn write_workflow(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("wf.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn signalbox(state: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("SIGNALBOX_STATE_DIR", state);
    cmd
}

/// No byte a terminal obeys: C0 other than newline and tab, DEL, and the
/// C1 characters (as UTF-8, `\xc2\x80`..`\xc2\x9f`).
fn assert_inert(what: &str, bytes: &[u8]) {
    let raw = bytes
        .iter()
        .position(|&b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f);
    let c1 = bytes
        .windows(2)
        .position(|w| w[0] == 0xc2 && (0x80..=0x9f).contains(&w[1]));
    assert!(
        raw.is_none() && c1.is_none(),
        "{what} holds a raw control character at {:?}:\n{}",
        raw.or(c1),
        String::from_utf8_lossy(bytes)
    );
}

const APPROVAL: &str = r#"
name: esc
steps:
  a:
    run: |
      printf 'k=OSC\n' >> "$SIGNALBOX_OUTPUT"
      printf 'said OSC \302\233 2J\n'
  gate:
    needs: [a]
    approval: { prompt: "ship {{ steps.a.outputs.k }}?" }
  b:
    needs: [gate]
    run: 'false'
"#;

/// A step's output in an approval prompt, and its printed lines: headless
/// lines, `replay` to a pipe, and the failure's error all show them escaped.
#[test]
fn an_osc_payload_from_a_step_never_reaches_headless_lines_or_replay() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let wf = write_workflow(dir.path(), &APPROVAL.replace("OSC", OSC));
    let out = signalbox(&state)
        .args(["run", "--headless", "--approve", "gate"])
        .arg(&wf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("ship {OSC_SHOWN}?")),
        "the prompt is shown escaped:\n{stderr}"
    );
    assert!(stderr.contains(r"\u{9b} 2J"), "{stderr}");
    assert_inert("headless stderr", &out.stderr);

    // The journal keeps the value exactly.
    let runs: Vec<_> = std::fs::read_dir(state.join("runs")).unwrap().collect();
    let run = runs[0].as_ref().unwrap().path();
    let journal = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    let prompt = journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["type"] == "approval_requested")
        .unwrap();
    assert_eq!(prompt["prompt"], format!("ship {OSC_RAW}?"));
    assert_inert("the journal", journal.as_bytes());

    let replay = signalbox(&state).arg("replay").arg(&run).output().unwrap();
    assert_eq!(replay.status.code(), Some(0), "{replay:?}");
    let shown = String::from_utf8_lossy(&replay.stdout);
    assert!(shown.contains(&format!("ship {OSC_SHOWN}?")), "{shown}");
    assert_inert("replay", &replay.stdout);
}

/// A `--var` holding escapes, through a question, headless and `--json`.
#[test]
fn a_var_with_escapes_through_a_question_is_shown_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let wf = write_workflow(
        dir.path(),
        "name: q\nvars: { v: x }\nsteps:\n  q:\n    ask: { question: \"name for {{ vars.v }}?\", default: \"{{ vars.v }}\" }\n",
    );
    let value = format!("{OSC_RAW}\u{9b}31m");
    let out = signalbox(&state)
        .args(["run", "--json", "--auto-approve", "--var"])
        .arg(format!("v={value}"))
        .arg(&wf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("name for {OSC_SHOWN}\\u{{9b}}31m?")),
        "{stderr}"
    );
    assert_inert("headless stderr", &out.stderr);
    // `--json` is exact: the same value, in JSON's own escapes.
    assert_inert("--json", &out.stdout);
    let asked = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["type"] == "question_asked")
        .unwrap();
    assert_eq!(asked["question"], format!("name for {value}?"));
}

/// `runs` over a run folder someone else wrote, and error messages that
/// quote what the user typed.
#[test]
fn runs_and_error_messages_show_hostile_text_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let run = state.join("runs").join("evil\x1b]0;x\x07");
    std::fs::create_dir_all(&run).unwrap();
    let started = serde_json::json!({
        "seq": 1, "ts": "2026-01-01T00:00:00.000Z", "run": "r", "type": "run_started",
        "workflow": format!("w{OSC_RAW}"), "steps": 1, "resumed": false,
    });
    std::fs::write(run.join("events.jsonl"), format!("{started}\n")).unwrap();
    let out = signalbox(&state).arg("runs").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains(r"evil\x1b]0;x\x07"), "{shown}");
    assert!(shown.contains(r"w\x1b]0;pwned"), "{shown}");
    assert_inert("runs", &out.stdout);

    let out = signalbox(&state)
        .args(["replay", &format!("nope{OSC_RAW}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains(OSC_SHOWN));
    assert_inert("replay's error", &out.stderr);

    let wf = write_workflow(
        dir.path(),
        "name: c\nsteps:\n  q:\n    ask: { question: pick, choices: [a, b] }\n",
    );
    let out = signalbox(&state)
        .args(["run", "--headless", "--answer"])
        .arg(format!("q={OSC_RAW}"))
        .arg(&wf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not one of the choices"), "{stderr}");
    assert!(stderr.contains(OSC_SHOWN), "{stderr}");
    assert_inert("--answer's error", &out.stderr);
}

/// The screen: the same payload in a prompt, a question's choices and
/// default, and a log line, drawn on a `TestBackend`.
#[test]
fn the_screen_shows_escapes_in_prompts_choices_and_log_lines() {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use signalbox::engine::event::Stream;
    use signalbox::engine::{Envelope, Event, Published};
    use signalbox::tui::model::Model;
    use signalbox::tui::update::{Msg, update};
    use signalbox::tui::view::view;

    let wf = signalbox::workflow::load_str(
        "name: s\nsteps:\n  a: { run: 'true' }\n  gate: { approval: { prompt: x } }\n  q: { ask: { question: y } }\n",
        "s.yaml",
    )
    .unwrap();
    let mut m = Model::new(&wf);
    let events = [
        Event::StepOutput {
            step: "a".into(),
            stream: Stream::Stdout,
            line: format!("out {OSC_RAW}"),
        },
        Event::ApprovalRequested {
            step: "gate".into(),
            wait: "w1".into(),
            prompt: format!("ship {OSC_RAW}?"),
            timeout_ms: 60_000,
        },
        Event::QuestionAsked {
            step: "q".into(),
            wait: "w2".into(),
            question: "q\x1b[2J?".into(),
            choices: vec!["c\u{9b}1".into(), "d".into()],
            default: Some("d".into()),
        },
    ];
    for (seq, event) in events.into_iter().enumerate() {
        let envelope = Envelope {
            seq: seq as u64 + 1,
            ts: "2026-01-01T00:00:00.000Z".into(),
            run: "s-1".into(),
            event,
        };
        let line = String::new();
        update(&mut m, Msg::Event(Published { envelope, line }.into()));
    }
    let mut t = Terminal::new(TestBackend::new(160, 40)).unwrap();
    update(&mut m, Msg::Resize(160, 40));
    t.draw(|f| view(&m, f)).unwrap();
    let screen = t.backend().to_string();
    for shown in [
        format!("out {OSC_SHOWN}"),
        format!("ship {OSC_SHOWN}?"),
        r"q\x1b[2J?".to_string(),
    ] {
        assert!(
            screen.contains(&shown),
            "{shown} is not on the screen:\n{screen}"
        );
    }
    // The question's detail, with its choices.
    update(
        &mut m,
        Msg::Key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char('w'),
        )),
    );
    update(
        &mut m,
        Msg::Key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Down,
        )),
    );
    t.draw(|f| view(&m, f)).unwrap();
    let screen = t.backend().to_string();
    assert!(screen.contains(r"c\u{9b}1"), "choices:\n{screen}");
    let cells = t.backend().buffer().content();
    assert!(
        cells.iter().all(|c| !c.symbol().contains(char::is_control)),
        "no cell holds a control character"
    );
}

const ASK: &str = r#"
name: ans
vars: { v: "" }
steps:
  q:
    ask: { question: "name?", timeout: 60s }
  after:
    needs: [q]
    run: printf '%s' {{ answers.q }} | wc -c
"#;

/// One JSON command on the run's socket, and its one-line reply (a command
/// that ends the run still gets its reply before the socket goes).
fn send_raw(socket: &Path, line: &str) -> String {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream.write_all(line.as_bytes()).unwrap();
    stream.write_all(b"\n").unwrap();
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).unwrap();
    reply
}

/// A NUL byte or a 200 KB answer over the socket is refused with its
/// reason, the wait stays open, and the next `run` step still starts.
#[test]
fn answers_no_environment_can_carry_are_refused_on_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let wf = write_workflow(dir.path(), ASK);
    let mut cmd = signalbox(&state);
    cmd.args(["run", "--json"]).arg(&wf);
    let mut live = Live::spawn(cmd);
    let id = live.run_id();
    live.wait_for("question_asked", |e| e["type"] == "question_asked");
    let socket = state.join("runs").join(&id).join("control.sock");
    let answer = |text: &str| {
        let command = serde_json::json!({
            "command": "answer", "step": "q", "text": text, "by": "socket",
        });
        send_raw(&socket, &command.to_string())
    };
    let reply = answer("a\0b");
    assert!(
        reply.starts_with("refused: ") && reply.contains("NUL byte"),
        "{reply}"
    );
    let reply = answer(&"x".repeat(200_000));
    assert!(
        reply.starts_with("refused: ") && reply.contains("at most 64 KiB"),
        "{reply}"
    );
    assert_eq!(answer("fine"), "ok\n");
    let done = live.finish();
    done.expect(0, "succeeded");
    assert_eq!(done.lines("after", "output"), ["4"], "{}", done.dump());
}

/// The same rule at the command line: `--answer` and `--var` (exit 2).
#[test]
fn answers_and_vars_too_big_for_an_environment_are_refused_as_flags() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let wf = write_workflow(dir.path(), ASK);
    let big = "x".repeat(70_000);
    for (flag, key) in [("--answer", "q"), ("--var", "v")] {
        let out = signalbox(&state)
            .args(["run", "--headless", flag])
            .arg(format!("{key}={big}"))
            .arg(&wf)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("at most 64 KiB"), "{flag}: {stderr}");
        assert!(!state.join("runs").exists(), "{flag}: nothing ran");
    }
}

const OUTPUTS: &str = r#"
name: outs
steps:
  s:
    run: |
      printf 'a=1\nbad=\377\376\nb=two\n' >> "$SIGNALBOX_OUTPUT"
      printf 'big=' >> "$SIGNALBOX_OUTPUT"
      head -c 3000000 /dev/zero | tr '\0' x >> "$SIGNALBOX_OUTPUT"
      printf '\nc=3\n' >> "$SIGNALBOX_OUTPUT"
  t:
    needs: [s]
    run: echo "b is {{ steps.s.outputs.b }}"
"#;

/// One invalid UTF-8 line costs only itself, reported with its line on the
/// step's log and in `signalbox.log`; a value is cut at 1 MiB.
#[test]
fn an_invalid_output_line_drops_only_itself_and_a_value_is_cut_at_1_mib() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let wf = write_workflow(dir.path(), OUTPUTS);
    let mut cmd = signalbox(&state);
    cmd.args(["run", "--json"]).arg(&wf);
    let done = Live::spawn(cmd).finish();
    done.expect(0, "succeeded");
    let outputs = &done.one("step_succeeded", "s")["outputs"];
    assert_eq!(outputs["a"], "1", "{}", done.dump());
    assert_eq!(outputs["b"], "two");
    assert_eq!(outputs["c"], "3");
    assert_eq!(outputs["big"].as_str().unwrap().len(), 1 << 20);
    assert!(outputs.get("bad").is_none());
    assert_eq!(done.lines("t", "output"), ["b is two"]);
    let said = done.lines("s", "output").join("\n");
    assert!(said.contains("line 2 is not valid UTF-8"), "{said}");
    assert!(said.contains("`big` (line 4) is cut at 1 MiB"), "{said}");
    let run = state.join("runs").join(done.run_id());
    let log = std::fs::read_to_string(run.join("logs/s.log")).unwrap();
    assert!(log.contains("line 2 is not valid UTF-8"), "{log}");
    let diagnostics = std::fs::read_to_string(state.join("signalbox.log")).unwrap();
    assert!(
        diagnostics.contains("step s: $SIGNALBOX_OUTPUT line 2 is not valid UTF-8"),
        "{diagnostics}"
    );
}

/// A 100 MB output file is read in bounded memory: the run's peak RSS,
/// read while it waits after the step, stays far below the file's size.
#[test]
fn a_huge_output_file_is_read_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let wf = write_workflow(
        dir.path(),
        r#"
name: huge
steps:
  s:
    run: |
      printf 'big=' >> "$SIGNALBOX_OUTPUT"
      head -c 100000000 /dev/zero | tr '\0' x >> "$SIGNALBOX_OUTPUT"
      printf '\n' >> "$SIGNALBOX_OUTPUT"
  gate:
    needs: [s]
    approval: { prompt: "go?" }
"#,
    );
    let mark = common::marker();
    let mut cmd = signalbox(&state);
    cmd.env("SBX_ESCAPES_MARK", &mark)
        .args(["run", "--json"])
        .arg(&wf);
    let mut live = Live::spawn(cmd);
    live.wait_for("approval_requested", |e| e["type"] == "approval_requested");
    let pid = common::marked("SBX_ESCAPES_MARK", &mark)
        .into_iter()
        .find(|(_, cmd)| cmd.starts_with(BIN))
        .map(|(pid, _)| pid)
        .expect("the signalbox process");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let hwm_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    live.signal("TERM");
    let done = live.finish();
    assert!(
        hwm_kb < 64 * 1024,
        "peak RSS {hwm_kb} kB for a 100 MB output file"
    );
    let outputs = &done.one("step_succeeded", "s")["outputs"];
    assert_eq!(outputs["big"].as_str().unwrap().len(), 1 << 20);
}

/// A choice is matched ignoring case and surrounding spaces, on the socket
/// and as a flag, and journaled as the workflow spells it.
#[test]
fn an_answer_takes_the_choice_as_spelled_whatever_its_case() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let wf = write_workflow(
        dir.path(),
        "name: pick\nsteps:\n  q:\n    ask: { question: notes?, choices: [Bug fixes, New] }\n  r:\n    ask: { question: more?, choices: [Bug fixes, New], timeout: 60s }\n",
    );
    let mut cmd = signalbox(&state);
    cmd.args(["run", "--json", "--answer", "q= bug FIXES "])
        .arg(&wf);
    let mut live = Live::spawn(cmd);
    let id = live.run_id();
    live.wait_for("question_asked", |e| common::is(e, "question_asked", "r"));
    let socket = state.join("runs").join(&id).join("control.sock");
    let command = r#"{"command":"answer","step":"r","text":"  NEW","by":"socket"}"#;
    assert_eq!(send_raw(&socket, command), "ok\n");
    let done = live.finish();
    done.expect(0, "succeeded");
    assert_eq!(done.one("question_answered", "q")["answer"], "Bug fixes");
    assert_eq!(done.one("question_answered", "r")["answer"], "New");
}
