#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Screens on a live run, through the binary in real terminals (tmux): the
//! run's own screen detaches and the run outlives its terminal; `attach`
//! puts any number of screens on it, each seeing what the others do;
//! `--read-only` sends nothing; `events --follow` and `logs --follow` end
//! with the run; nothing is left running.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::tmux::*;

/// Two waits in a row, then a step that prints: long enough to attach and
/// act, and nothing times out.
const TWO_WAITS: &str = "name: att\nsteps:\n  build:\n    run: echo building\n  notes:\n    needs: [build]\n    ask: { question: \"Headline?\" }\n  gate:\n    needs: [notes]\n    approval: { prompt: \"Ship it?\" }\n  ship:\n    needs: [gate]\n    run: echo shipped {{ answers.notes }}\n";

fn signalbox(args: &[&str], state: &Path) -> std::process::Output {
    Command::new(common::BIN)
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .output()
        .unwrap()
}

/// `run FILE --detach`: the run id it printed.
fn detached(file: &Path, state: &Path) -> String {
    let out = signalbox(&["run", file.to_str().unwrap(), "--detach"], state);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The shell line that runs signalbox `args` in `dir`, then says its code.
fn line(dir: &Path, args: &str, state: &Path) -> String {
    format!(
        "cd {} && {} {args} --state-dir {}; echo \"EXIT=$?\"; sleep 60",
        dir.display(),
        common::BIN,
        state.display()
    )
}

fn run_id(state: &Path) -> String {
    let runs = std::fs::read_dir(state.join("runs")).unwrap();
    let ids: Vec<String> = runs
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(ids.len(), 1, "one run: {ids:?}");
    ids[0].clone()
}

fn count(events: &[serde_json::Value], kind: &str) -> usize {
    events.iter().filter(|e| e["type"] == kind).count()
}

/// The processes of signalbox that name `state` (the run's own process,
/// screens), not the shells around them.
fn ours(state: &Path) -> Vec<String> {
    let state = state.to_string_lossy().into_owned();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.starts_with(common::BIN) && c.contains(&state))
        .collect()
}

/// The pids of the processes that drive a run of `state` for its screens.
fn drivers(state: &Path) -> Vec<String> {
    let state = state.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            std::fs::read(e.path().join("cmdline")).is_ok_and(|c| {
                let c = String::from_utf8_lossy(&c);
                c.contains("--detached-run") && c.contains(&state)
            })
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Waits for the run's processes to be gone: `ps` shows nothing of it,
/// neither its steps nor its own process nor a screen.
fn wait_gone(run_id: &str, state: &Path) {
    for _ in 0..100 {
        if processes_of(run_id).is_empty() && ours(state).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("left running: {:?} {:?}", processes_of(run_id), ours(state));
}

#[test]
fn the_runs_own_screen_detaches_and_the_run_is_finished_from_another_terminal() {
    let Some((first, dir)) = tmux_session("own") else {
        return;
    };
    let state = dir.path().join("state");
    std::fs::write(dir.path().join("wf.yaml"), TWO_WAITS).unwrap();
    first.start_sized(&line(dir.path(), "run wf.yaml", &state), 100, 30);
    first.wait_for("Headline?", 20);
    first.keys(&["d"]);
    let screen = first.wait_for("EXIT=", 10);
    assert!(screen.contains("EXIT=0"), "detaching exits 0: {screen}");
    assert!(
        screen.contains("signalbox attach"),
        "says how to come back: {screen}"
    );
    let id = run_id(&state);
    // The terminal that started it goes away; the run waits on.
    first.tmux(&["kill-server"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(&journal(&state), "run_finished"), 0);

    let Some((second, _d2)) = tmux_session("other") else {
        return;
    };
    second.start_sized(&line(dir.path(), "attach", &state), 100, 30);
    second.wait_for("Headline?", 20);
    second.keys(&["w", "Enter"]);
    second.type_text("Fixes");
    second.keys(&["Enter"]);
    second.wait_for("Ship it?", 10);
    // Detach, and attach again: the screen is rebuilt from the journal.
    second.keys(&["q"]);
    let screen = second.wait_for("EXIT=", 10);
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert_eq!(count(&journal(&state), "run_finished"), 0, "q detached");
    second.tmux(&["kill-server"]);
    // Its server takes a moment to go before another can start there.
    std::thread::sleep(Duration::from_millis(500));
    second.start_sized(&line(dir.path(), &format!("attach {id}"), &state), 100, 30);
    second.wait_for("Ship it?", 20);
    second.keys(&["a"]);
    let screen = second.wait_for("succeeded in", 20);
    assert!(screen.contains("att"), "{screen}");
    second.keys(&["q"]);
    let screen = second.wait_for("EXIT=", 10);
    assert!(screen.contains("EXIT=0"), "the run's own code: {screen}");
    let events = journal(&state);
    let answered = events
        .iter()
        .find(|e| e["type"] == "question_answered")
        .unwrap();
    assert_eq!(answered["by"], "keyboard", "{answered}");
    assert!(answered["user"].is_string(), "{answered}");
    let approved = events
        .iter()
        .find(|e| e["type"] == "approval_resolved")
        .unwrap();
    assert_eq!(approved["by"], "keyboard", "{approved}");
    wait_gone(&id, &state);
}

#[test]
fn two_screens_at_once_each_sees_what_the_other_does() {
    let (Some((one, dir)), Some((two, _d2))) = (tmux_session("one"), tmux_session("two")) else {
        return;
    };
    let state = dir.path().join("state");
    std::fs::write(dir.path().join("wf.yaml"), TWO_WAITS).unwrap();
    let id = detached(&dir.path().join("wf.yaml"), &state);
    one.start_sized(&line(dir.path(), &format!("attach {id}"), &state), 100, 30);
    two.start_sized(&line(dir.path(), &format!("attach {id}"), &state), 100, 30);
    one.wait_for("Headline?", 20);
    two.wait_for("Headline?", 20);
    one.wait_for("2 screens", 10);
    // `two` opens the question's text box; `one` answers it first.
    two.keys(&["w", "Enter"]);
    two.type_text("half typed");
    one.keys(&["w", "Enter"]);
    one.type_text("From one");
    one.keys(&["Enter"]);
    let seen = two.wait_for("Ship it?", 10);
    assert!(!seen.contains("half typed"), "the box closed: {seen}");
    assert!(seen.contains("answered by"), "says who answered: {seen}");
    // `two` approves (its selection was cleared when the box closed);
    // `one` sees the run go on.
    two.keys(&["w", "a"]);
    one.wait_for("shipped", 20);
    two.wait_for("succeeded in", 20);
    one.keys(&["q"]);
    two.keys(&["q"]);
    assert!(one.wait_for("EXIT=", 10).contains("EXIT=0"));
    assert!(two.wait_for("EXIT=", 10).contains("EXIT=0"));
    wait_gone(&id, &state);
}

#[test]
fn a_read_only_screen_sends_nothing() {
    let Some((tmux, dir)) = tmux_session("ro") else {
        return;
    };
    let state = dir.path().join("state");
    std::fs::write(dir.path().join("wf.yaml"), TWO_WAITS).unwrap();
    let id = detached(&dir.path().join("wf.yaml"), &state);
    tmux.start_sized(
        &line(dir.path(), &format!("attach {id} --read-only"), &state),
        100,
        30,
    );
    tmux.wait_for("Headline?", 20);
    tmux.keys(&["w", "Enter"]);
    tmux.type_text("nope");
    tmux.keys(&["Enter", "C", "y"]);
    tmux.wait_for("read-only", 10);
    std::thread::sleep(Duration::from_millis(300));
    let events = journal(&state);
    assert_eq!(count(&events, "question_answered"), 0, "{events:?}");
    assert_eq!(count(&events, "run_finished"), 0, "{events:?}");
    tmux.keys(&["q"]);
    assert!(tmux.wait_for("EXIT=", 10).contains("EXIT=0"));
    // The run is still there to finish.
    for args in [
        vec!["answer", &id, "notes", "x"],
        vec!["approve", &id, "gate"],
    ] {
        let out = signalbox(&args, &state);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    wait_journal(&state, "run_finished", 20);
    wait_gone(&id, &state);
}

#[test]
fn events_follow_into_head_and_logs_follow_end_with_the_run() {
    let Some((tmux, dir)) = tmux_session("follow") else {
        return;
    };
    let state = dir.path().join("state");
    std::fs::write(dir.path().join("wf.yaml"), TWO_WAITS).unwrap();
    let id = detached(&dir.path().join("wf.yaml"), &state);
    let follow = format!(
        "cd {} && {bin} events {id} --follow --state-dir {s} | head -n 3; echo \"HEAD=$?\"; {bin} logs {id} --follow --state-dir {s}; echo \"EXIT=$?\"; sleep 60",
        dir.path().display(),
        bin = common::BIN,
        s = state.display()
    );
    tmux.start_sized(&follow, 120, 40);
    // `| head` ends at once with its three lines, however long the run waits.
    let screen = tmux.wait_for("HEAD=0", 10);
    assert!(screen.contains("run_started"), "{screen}");
    assert!(
        screen.contains("build | building"),
        "logs, so far: {screen}"
    );
    for args in [
        vec!["answer", &id, "notes", "Fixes"],
        vec!["approve", &id, "gate"],
    ] {
        let out = signalbox(&args, &state);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let screen = tmux.wait_for("EXIT=", 20);
    assert!(screen.contains("ship | shipped Fixes"), "{screen}");
    assert!(
        screen.contains("EXIT=0"),
        "ends with the run's code: {screen}"
    );
    wait_gone(&id, &state);
}

#[test]
fn attach_without_a_run_picks_the_only_live_one_or_lists_them() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let wf = tmp.path().join("wf.yaml");
    std::fs::write(&wf, TWO_WAITS).unwrap();
    let out = signalbox(&["attach"], &state);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no live run"));
    let ids: Vec<String> = (0..2)
        .map(|_| {
            let out = signalbox(&["run", wf.to_str().unwrap(), "--detach"], &state);
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        })
        .collect();
    let out = signalbox(&["attach"], &state);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for id in &ids {
        assert!(stderr.contains(id.as_str()), "lists {id}: {stderr}");
    }
    // Not a terminal: told to use `events --follow`, not a hang.
    let out = signalbox(&["attach", &ids[0]], &state);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("events RUN --follow"));
    for id in &ids {
        for args in [
            vec!["answer", id, "notes", "x"],
            vec!["approve", id, "gate"],
        ] {
            // Each is taken once its wait is open; a busy machine may not
            // have got there yet.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while signalbox(&args, &state).status.code() != Some(0) {
                assert!(std::time::Instant::now() < deadline, "{args:?} never taken");
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
    for id in &ids {
        let out = signalbox(&["events", id, "--follow"], &state);
        assert_eq!(out.status.code(), Some(0));
        wait_gone(id, &state);
    }
}

#[tokio::test]
async fn a_stream_asked_for_as_the_run_ends_gets_the_rest_from_its_journal() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let state = tempfile::tempdir().unwrap();
    let wf = signalbox::workflow::load_str(
        "name: end\nsteps:\n  a:\n    run: echo one\n  b:\n    needs: [a]\n    run: echo two\n",
        "end.yaml",
    )
    .unwrap();
    let options = signalbox::engine::RunOptions {
        state_dir: state.path().to_path_buf(),
        ..Default::default()
    };
    let run = signalbox::engine::Run::new(wf, options).unwrap();
    let handle = run.handle();
    let server = signalbox::socket::serve(handle.clone(), &handle.dir).unwrap();
    let outcome = run.start().await;
    assert_eq!(outcome.status, signalbox::engine::RunStatus::Succeeded);
    // The run's events are over; its process has not gone yet, and a
    // follower comes back for the end of them.
    let journal = std::fs::read_to_string(handle.dir.join("events.jsonl")).unwrap();
    let want: Vec<&str> = journal.lines().skip(2).collect();
    let stream = tokio::net::UnixStream::connect(handle.dir.join("control.sock"))
        .await
        .unwrap();
    let (read, mut write) = stream.into_split();
    write
        .write_all(b"{\"command\":\"attach\",\"protocol\":1,\"from_seq\":3}\n")
        .await
        .unwrap();
    let mut lines = tokio::io::BufReader::new(read).lines();
    let mut got = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        got.push(line);
    }
    assert!(got[0].contains("\"ctl\":\"hello\""), "{got:?}");
    assert_eq!(
        &got[1..got.len() - 1],
        &want[..],
        "every line from seq 3, once"
    );
    assert_eq!(
        got.last().unwrap(),
        "{\"ctl\":\"bye\",\"reason\":\"run_finished\"}"
    );
    server.close().await;
}

#[test]
fn a_screen_whose_run_died_says_so_and_leaves_with_1() {
    let Some((tmux, dir)) = tmux_session("died") else {
        return;
    };
    let state = dir.path().join("state");
    std::fs::write(dir.path().join("wf.yaml"), TWO_WAITS).unwrap();
    let id = detached(&dir.path().join("wf.yaml"), &state);
    tmux.start_sized(&line(dir.path(), &format!("attach {id}"), &state), 100, 30);
    tmux.wait_for("Headline?", 20);
    let drivers = drivers(&state);
    assert_eq!(
        drivers.len(),
        1,
        "one process drives the run: {:?}",
        ours(&state)
    );
    let killed = Command::new("kill")
        .args(["-KILL", &drivers[0]])
        .status()
        .unwrap();
    assert!(killed.success());
    let screen = tmux.wait_for("lost the run", 10);
    assert!(screen.contains("q leaves"), "{screen}");
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("EXIT=", 10);
    assert!(screen.contains("EXIT=1"), "{screen}");
    assert!(
        screen.contains(&format!("signalbox resume {id}")),
        "{screen}"
    );
    wait_gone(&id, &state);
}

#[test]
fn r_on_a_failed_step_of_a_finished_run_carries_the_run_on_on_the_same_screen() {
    let Some((tmux, dir)) = tmux_session("rfinished") else {
        return;
    };
    let state = dir.path().join("state");
    let fixed = dir.path().join("fixed");
    let wf = format!(
        "name: fix\nsteps:\n  build:\n    run: echo built\n  deploy:\n    needs: [build]\n    run: test -e {}\n",
        fixed.display()
    );
    std::fs::write(dir.path().join("wf.yaml"), wf).unwrap();
    tmux.start_sized(&line(dir.path(), "run wf.yaml", &state), 100, 30);
    tmux.wait_for("failed in", 20);
    std::fs::write(&fixed, "").unwrap();
    tmux.keys(&["n", "R"]);
    tmux.wait_for("The run goes on", 10);
    tmux.keys(&["y"]);
    // The run's own end on the status line (`build succeeded in` is in
    // the log from before the retry).
    let screen = tmux.wait_for("fix ✓ succeeded in", 20);
    assert!(
        !screen.contains("EXIT="),
        "the same screen, back on the run: {screen}"
    );
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("EXIT=", 10);
    assert!(screen.contains("EXIT=0"), "the run's new outcome: {screen}");
    let events = journal(&state);
    let retried = events.iter().find(|e| e["type"] == "dag_modified").unwrap();
    assert_eq!(retried["action"], "retry", "{retried}");
    assert_eq!(retried["by"], "keyboard", "{retried}");
    let built = events
        .iter()
        .filter(|e| e["type"] == "step_succeeded" && e["step"] == "build")
        .count();
    assert_eq!(built, 1, "build ran once");
    wait_gone(&run_id(&state), &state);
}
