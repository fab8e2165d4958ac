//! The headless front end, through the binary: the last line of a failed
//! run, and the hint under a wait when nothing can ask it.

use std::process::{Command, Stdio};

use crate::common::{BIN, Live};

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/run/{name}.yaml",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// SPEC §4: "The last headless line of a failed run names the failed steps
/// and their log files".
#[test]
fn the_last_line_of_a_failed_run_names_the_failed_steps_and_their_logs() {
    let state = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args([
        "run",
        &fixture("finding_fail"),
        "--headless",
        "--json",
        "--state-dir",
    ])
    .arg(state.path())
    .stdin(Stdio::null());
    let done = Live::spawn(cmd).finish();
    done.expect(1, "failed");
    let last = done.stderr.lines().last().unwrap_or_default();
    let run = done.run_id();
    let log = state.path().join("runs").join(run).join("logs/test.log");
    assert!(
        last.starts_with(&format!("✗ run {run} failed in ")),
        "{last}"
    );
    assert!(last.contains(": 2 failed: "), "{last}");
    let test = format!("test (exit 101, {})", log.display());
    assert!(last.contains(&test), "{test} in {last}");
    assert!(last.contains("clippy (exit 2, no output)"), "{last}");
    assert!(
        !last.contains("after"),
        "a skipped step did not fail: {last}"
    );
    // The file named is the step's log.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("test result: FAILED"), "{text}");
}

#[test]
fn a_run_that_succeeds_ends_as_before() {
    let state = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args([
        "run",
        &fixture("basic"),
        "--headless",
        "--json",
        "--state-dir",
    ])
    .arg(state.path())
    .stdin(Stdio::null());
    let done = Live::spawn(cmd).finish();
    done.expect(0, "succeeded");
    let last = done.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("run ") && last.contains(" succeeded in "),
        "{last}"
    );
}

/// With no terminal on stdin, each wait says the command that decides it;
/// the test types exactly those commands, from "another terminal".
#[test]
fn a_wait_with_no_terminal_says_the_command_that_decides_it() {
    let state = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args([
        "run",
        &fixture("finding_wait"),
        "--headless",
        "--json",
        "--state-dir",
    ])
    .arg(state.path())
    .stdin(Stdio::null());
    let mut live = Live::spawn(cmd);
    let run = live.run_id();
    let flag = format!("--state-dir {}", state.path().display());
    let other = |args: &str| {
        let words: Vec<&str> = args.split(' ').collect();
        let status = Command::new(BIN).args(&words[1..]).status().unwrap();
        assert!(status.success(), "{args}");
    };
    live.wait_for("question_asked", |e| e["type"] == "question_asked");
    let answer = format!("signalbox answer {run} name-it Orca {flag}");
    other(&answer);
    live.wait_for("approval_requested", |e| e["type"] == "approval_requested");
    let approve = format!("signalbox approve {run} gate {flag}");
    other(&approve);
    let done = live.finish();
    done.expect(0, "succeeded");
    assert_eq!(done.one("question_answered", "name-it")["by"], "socket");
    let hint_answer = format!("signalbox answer {run} name-it TEXT {flag}");
    let hint_approve = format!("signalbox approve {run} gate {flag}");
    let hint_reject = format!("signalbox reject {run} gate {flag}");
    for hint in [hint_answer, hint_approve, hint_reject] {
        assert!(done.stderr.contains(&hint), "{hint} in:\n{}", done.stderr);
    }
    // The hint comes right under the line that says the wait opened.
    let lines: Vec<&str> = done.stderr.lines().collect();
    let asked = lines
        .iter()
        .position(|l| l.contains("asks: Code name?"))
        .unwrap();
    assert!(lines[asked + 1].contains("signalbox answer"), "{lines:#?}");
}

/// A flag that decides a wait, or `--auto-approve`, leaves nothing to hint.
#[test]
fn no_hint_for_a_wait_a_flag_decides() {
    let state = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["run", &fixture("finding_wait"), "--headless", "--json"])
        .args([
            "--answer",
            "name-it=Orca",
            "--approve",
            "gate",
            "--state-dir",
        ])
        .arg(state.path())
        .stdin(Stdio::null());
    let done = Live::spawn(cmd).finish();
    done.expect(0, "succeeded");
    assert!(!done.stderr.contains("another terminal"), "{}", done.stderr);
    let mut cmd = Command::new(BIN);
    cmd.args(["run", &fixture("finding_wait"), "--headless", "--json"])
        .args(["--auto-approve", "--answer", "name-it=Orca", "--state-dir"])
        .arg(state.path())
        .stdin(Stdio::null());
    let done = Live::spawn(cmd).finish();
    done.expect(0, "succeeded");
    assert!(!done.stderr.contains("another terminal"), "{}", done.stderr);
}
