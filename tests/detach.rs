#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A run beyond its terminal. `run --detach`: the run is checked here, goes
//! on in a session of its own, outlives the terminal that started it, and is
//! reached through its socket; and every operator's act is journaled with
//! who did it (`user`).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::tmux::*;

const GATED: &str = "name: det\nsteps:\n  build:\n    run: echo building\n  gate:\n    needs: [build]\n    approval: { prompt: \"Ship it?\" }\n  ship:\n    needs: [gate]\n    run: echo shipped\n";

/// Processes whose command line names `needle` (the run's state dir).
fn processes_naming(needle: &str) -> Vec<String> {
    processes_whose("cmdline", needle)
}

/// This test's own login name, as `id -un` says it.
fn login_name() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn signalbox(args: &[&str], state: &Path) -> std::process::Output {
    Command::new(common::BIN)
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .output()
        .unwrap()
}

#[test]
fn a_detached_run_outlives_the_terminal_that_started_it_and_is_approved_from_another() {
    let Some((tmux, dir)) = tmux_session("detach") else {
        return;
    };
    let state = dir.path().join("state");
    std::fs::write(dir.path().join("wf.yaml"), GATED).unwrap();
    tmux.start_sized(
        &format!(
            "cd {} && {} run wf.yaml --detach --state-dir {}; echo \"EXIT=$?\"; sleep 60",
            dir.path().display(),
            common::BIN,
            state.display()
        ),
        80,
        24,
    );
    let screen = tmux.wait_for("EXIT=", 20);
    assert!(screen.contains("EXIT=0"), "{screen}");
    let run_id = screen.lines().next().unwrap_or_default().trim().to_string();
    assert!(
        run_id.starts_with("det-"),
        "the first line is the run id: {screen}"
    );
    assert!(state.join("runs").join(&run_id).is_dir(), "{screen}");

    // The terminal goes away; the run waits on.
    wait_journal(&state, "approval_requested", 20);
    tmux.tmux(&["kill-server"]);
    std::thread::sleep(Duration::from_millis(300));
    let events = journal(&state);
    assert!(
        !events.iter().any(|e| e["type"] == "run_finished"),
        "{events:?}"
    );

    let out = signalbox(&["approve", &run_id, "gate"], &state);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = wait_journal(&state, "run_finished", 20);
    let end = events.iter().find(|e| e["type"] == "run_finished").unwrap();
    assert_eq!(end["status"], "succeeded", "{events:?}");
    let resolved = events
        .iter()
        .find(|e| e["type"] == "approval_resolved")
        .unwrap();
    assert_eq!(resolved["by"], "socket");
    assert_eq!(resolved["user"], login_name().as_str(), "{resolved}");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "step_succeeded" && e["step"] == "ship")
    );

    // Nothing is left running once the run has ended.
    let needle = state.display().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_naming(&needle).is_empty() {
        assert!(
            Instant::now() < deadline,
            "left running: {:?}",
            processes_naming(&needle)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn detach_checks_the_file_here_and_takes_no_json() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "name: det\nsteps:\n  a:\n    needs: [nope]\n    run: true\n",
    )
    .unwrap();
    let out = signalbox(&["run", bad.to_str().unwrap(), "--detach"], &state);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown step `nope`"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        !state.join("runs").exists()
            || std::fs::read_dir(state.join("runs"))
                .unwrap()
                .next()
                .is_none()
    );

    let good = dir.path().join("wf.yaml");
    std::fs::write(&good, GATED).unwrap();
    let out = signalbox(
        &["run", good.to_str().unwrap(), "--detach", "--json"],
        &state,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--json"));
}

#[test]
fn a_detached_run_prints_only_its_id_and_ends_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let wf = dir.path().join("wf.yaml");
    std::fs::write(
        &wf,
        "name: quick\nsteps:\n  a:\n    run: echo one\n  b:\n    needs: [a]\n    run: echo two\n",
    )
    .unwrap();
    let out = signalbox(&["run", wf.to_str().unwrap(), "--detach"], &state);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let id = stdout.trim();
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert!(id.starts_with("quick-"), "{stdout:?}");
    let events = wait_journal(&state, "run_finished", 20);
    assert!(events.iter().all(|e| e["run"] == id));
    assert_eq!(events.last().unwrap()["status"], "succeeded");
    let log = std::fs::read_to_string(state.join("runs").join(id).join("logs/b.log")).unwrap();
    assert!(log.contains("two"), "{log}");
}

#[test]
fn who_acted_is_journaled_for_a_flag_and_nobody_for_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let wf = dir.path().join("wf.yaml");
    std::fs::write(
        &wf,
        "name: who\nsteps:\n  gate:\n    approval: { prompt: go? }\n  late:\n    approval: { prompt: wait?, timeout: 100ms, on_timeout: approve }\n  notes:\n    ask: { question: notes?, default: none, timeout: 100ms }\n",
    )
    .unwrap();
    let out = signalbox(
        &[
            "run",
            wf.to_str().unwrap(),
            "--headless",
            "--approve",
            "gate",
        ],
        &state,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = journal(&state);
    let of = |step: &str, ty: &str| {
        events
            .iter()
            .find(|e| e["step"] == step && e["type"] == ty)
            .unwrap_or_else(|| panic!("no {ty} of {step}: {events:?}"))
            .clone()
    };
    let gate = of("gate", "approval_resolved");
    assert_eq!(gate["by"], "flag");
    assert_eq!(gate["user"], login_name().as_str(), "{gate}");
    for (step, ty) in [
        ("late", "approval_resolved"),
        ("notes", "question_answered"),
    ] {
        let e = of(step, ty);
        assert_eq!(e["by"], "timeout", "{e}");
        assert!(e.get("user").is_none(), "a timeout is nobody: {e}");
    }
}

/// The descriptors of process `pid` and what each points to.
fn fds_of(pid: &str) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_detached_run_holds_none_of_its_callers_descriptors_and_says_what_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let wf = dir.path().join("wf.yaml");
    std::fs::write(&wf, GATED).unwrap();
    let marker = dir.path().join("held-by-the-caller");
    // Descriptors 7 and 42 open across exec, as a caller's pipe or terminal would be.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "exec 7>'{m}' 42>'{m}'; '{bin}' run '{wf}' --detach --headless --state-dir '{state}'",
            m = marker.display(),
            bin = common::BIN,
            wf = wf.display(),
            state = state.display()
        ))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    wait_journal(&state, "approval_requested", 20);
    let needle = state.display().to_string();
    let pids = processes_naming(&needle);
    assert!(!pids.is_empty(), "the run is not running");
    for pid in &pids {
        let fds = fds_of(pid);
        assert!(
            !fds.iter().any(|f| f.contains("held-by-the-caller")),
            "the run holds its caller's file: {fds:?}"
        );
    }
    let out = signalbox(&["reject", &id, "gate"], &state);
    assert_eq!(out.status.code(), Some(0));
    wait_journal(&state, "run_finished", 20);

    // A state dir the run would refuse is refused here, with its reason.
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let out = Command::new(common::BIN)
        .args([
            "run",
            wf.to_str().unwrap(),
            "--detach",
            "--state-dir",
            open.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("chmod go-w"), "{stderr}");
}
