//! A four-eyes gate at the headless prompt, on a terminal in tmux: the
//! prompt says how far the gate is ("needs 2 approvals", "1 of 2
//! approvals (sbx-second)"), is not asked again of the user who approved
//! there, and a gate that refuses the run's own user is not asked at all:
//! a line says who must approve it. And a key on the run's own screen
//! counts as that user, once.

use crate::common::BIN;
use crate::common::tmux::{journal, tmux_session};

/// `signalbox run FILE --headless --allow sbx-second` on a terminal.
fn command(place: &super::Place) -> String {
    format!(
        "{BIN} run {file} --headless --allow {second} --state-dir {state}; echo \"EXIT=$?\"; sleep 60",
        file = place.file.display(),
        second = super::SECOND,
        state = place.state.display(),
    )
}

/// The screen's lines after the first that holds `marker`.
fn after<'a>(screen: &'a str, marker: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = screen.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no {marker:?} on\n{screen}"));
    lines[at + 1..].to_vec()
}

#[test]
fn the_prompt_says_how_far_a_gate_is_and_asks_its_user_once() {
    let Some((session, _tmp)) = tmux_session("sb-four-eyes-prompt") else {
        return;
    };
    let second = super::second_user();
    let place = super::place(&super::gated("approvers: 2"));
    session.start(&command(&place));
    session.wait_for("approve gate? needs 2 approvals [y/n]", 20);
    let id = journal(&place.state)[0]["run"]
        .as_str()
        .unwrap()
        .to_string();
    let me = super::me();
    session.type_text("y");
    session.keys(&["Enter"]);
    let mine = format!("◆ gate approved by {me} (prompt): 1 of 2 approvals");
    let screen = session.wait_for(&mine, 10);
    let later = after(&screen, &mine);
    assert!(
        later.iter().all(|l| !l.contains("approve gate?")),
        "asked again after approving it:\n{screen}"
    );
    match second {
        Some(second) => {
            let out = super::as_second(second, &["approve", &id, "gate"]);
            super::took(&out, "the second's");
            session.wait_for("EXIT=0", 20);
            let events = journal(&place.state);
            let resolved = events
                .iter()
                .find(|e| e["type"] == "approval_resolved")
                .unwrap();
            assert_eq!(resolved["user"], super::SECOND);
        }
        None => {
            super::took(&place.by_me(&["reject", &id, "gate"]), "the rejection");
            session.wait_for("EXIT=1", 20);
        }
    }
}

#[test]
fn a_resumed_runs_prompt_does_not_ask_again_the_user_who_approved_before() {
    let Some((session, _tmp)) = tmux_session("sb-four-eyes-resume") else {
        return;
    };
    let place = super::place(&super::gated("approvers: 2"));
    // The run, then (once it is gone) its resume, on one terminal.
    let state = place.state.display();
    session.start(&format!(
        "{BIN} run {file} --headless --state-dir {state}; echo \"EXIT=$?\"; {BIN} resume $(ls {state}/runs) --headless --state-dir {state}; echo \"EXIT2=$?\"; sleep 60",
        file = place.file.display(),
    ));
    session.wait_for("approve gate? needs 2 approvals [y/n]", 20);
    let id = journal(&place.state)[0]["run"]
        .as_str()
        .unwrap()
        .to_string();
    session.type_text("y");
    session.keys(&["Enter"]);
    session.wait_for("1 of 2 approvals", 10);
    // The run's process dies with the gate open and one approval taken.
    let lock = place.state.join("runs").join(&id).join("lock");
    let pid = std::fs::read_to_string(&lock).unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-9", pid.trim()])
        .status()
        .unwrap();
    assert!(killed.success(), "no run process {pid} to kill");
    session.wait_for("EXIT=137", 10);
    let me = super::me();
    let screen = session.wait_for(
        &format!("gate: 1 of 2 approvals ({me}) · you approved it before the run was resumed"),
        20,
    );
    let resumed = after(&screen, "EXIT=137");
    assert!(
        resumed.iter().all(|l| !l.contains("approve gate?")),
        "asked again after approving it:\n{screen}"
    );
    super::took(&place.by_me(&["reject", &id, "gate"]), "the rejection");
    session.wait_for("EXIT2=1", 20);
}

#[test]
fn the_prompt_shows_another_users_approval_and_takes_the_last_one() {
    let Some(second) = super::second_user() else {
        return;
    };
    let Some((session, _tmp)) = tmux_session("sb-four-eyes-other") else {
        return;
    };
    let place = super::place(&super::gated("approvers: 2"));
    session.start(&command(&place));
    session.wait_for("approve gate? needs 2 approvals [y/n]", 20);
    let id = journal(&place.state)[0]["run"]
        .as_str()
        .unwrap()
        .to_string();
    super::took(
        &super::as_second(second, &["approve", &id, "gate"]),
        "the second's",
    );
    session.wait_for(
        &format!("approve gate? 1 of 2 approvals ({}) [y/n]", super::SECOND),
        10,
    );
    session.type_text("y");
    session.keys(&["Enter"]);
    session.wait_for("EXIT=0", 20);
    let events = journal(&place.state);
    let resolved = events
        .iter()
        .find(|e| e["type"] == "approval_resolved")
        .unwrap();
    assert_eq!(resolved["user"], super::me().as_str());
    assert_eq!(resolved["by"], "prompt");
}

#[test]
fn a_gate_that_refuses_the_runs_user_is_not_asked_at_its_prompt() {
    let Some((session, _tmp)) = tmux_session("sb-four-eyes-self") else {
        return;
    };
    let place = super::place(&super::gated("self_approve: false"));
    session.start(&command(&place));
    let me = super::me();
    let line = format!(
        "`gate` needs an approval from someone other than {me}, who started the run: another user approves it with `signalbox approve"
    );
    let screen = session.wait_for(&line, 20);
    assert!(!screen.contains("approve gate? "), "{screen}");
    let id = journal(&place.state)[0]["run"]
        .as_str()
        .unwrap()
        .to_string();
    super::took(&place.by_me(&["reject", &id, "gate"]), "the rejection");
    session.wait_for("EXIT=1", 20);
}

#[test]
fn a_key_on_the_screen_and_then_the_socket_count_once() {
    let Some((session, _tmp)) = tmux_session("sb-four-eyes-key") else {
        return;
    };
    let place = super::place(&super::gated("approvers: 2"));
    session.start_sized(
        &format!(
            "{BIN} run {file} --state-dir {state}; echo \"EXIT=$?\"; sleep 60",
            file = place.file.display(),
            state = place.state.display(),
        ),
        100,
        30,
    );
    session.wait_for("needs 2 approvals", 20);
    session.keys(&["a"]);
    let me = super::me();
    session.wait_for(&format!("1 of 2 approvals ({me})"), 10);
    let id = journal(&place.state)[0]["run"]
        .as_str()
        .unwrap()
        .to_string();
    let again = place.by_me(&["approve", &id, "gate"]);
    super::refused(
        &again,
        &format!("{me} has already approved `gate` (1 of 2 approvals)"),
    );
    super::took(&place.by_me(&["reject", &id, "gate"]), "the rejection");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let events = loop {
        let events = journal(&place.state);
        if events.iter().any(|e| e["type"] == "run_finished") {
            break events;
        }
        assert!(std::time::Instant::now() < deadline, "the run did not end");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let progress: Vec<_> = (events.iter())
        .filter(|e| e["type"] == "approval_progress")
        .collect();
    assert_eq!(progress.len(), 1, "{progress:?}");
    assert_eq!(progress[0]["by"], "keyboard");
    assert_eq!(progress[0]["user"], me.as_str());
}
