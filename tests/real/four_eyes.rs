//! Four-eyes approvals (SPEC §1 "Four eyes", §3 `approval_progress`),
//! through the binary: `approvers: N` distinct users, `self_approve:
//! false`, the same user counting once however they approve, the flags,
//! and a resumed run keeping who approved. The second user is a real
//! local account (`sbx-second`), made when the tests run as root, who
//! reaches the run through `--allow` and its socket.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::common::{BIN, Done, Live};

/// The headless prompt on a terminal, in tmux.
mod prompt;
/// The wait queue and the log pane on `TestBackend`.
mod screen;

const SECOND: &str = "sbx-second";

/// `gate` between two steps, with its approval keys as given.
fn gated(approval: &str) -> String {
    format!(
        "name: four-eyes\nsteps:\n  a:\n    run: echo before\n  gate:\n    needs: [a]\n    approval: {{ prompt: \"Ship it?\", {approval} }}\n  b:\n    needs: [gate]\n    run: echo after\n"
    )
}

/// A run's folder and file.
struct Place {
    _tmp: tempfile::TempDir,
    state: PathBuf,
    file: PathBuf,
}

fn place(workflow: &str) -> Place {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("wf.yaml");
    std::fs::write(&file, workflow).unwrap();
    Place {
        state: tmp.path().join("state"),
        file,
        _tmp: tmp,
    }
}

impl Place {
    /// `signalbox ARGS --state-dir STATE`, headless, events on stdout.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .arg("--state-dir")
            .arg(&self.state)
            .stdin(Stdio::null());
        cmd
    }

    /// `signalbox run FILE EXTRA...`, until its gate waits.
    fn run(&self, extra: &[&str]) -> Live {
        let file = self.file.to_str().unwrap();
        let mut args = vec!["run", "--headless", "--json", file];
        args.extend_from_slice(extra);
        let mut live = Live::spawn(self.command(&args));
        live.wait_for("approval_requested", |e| e["type"] == "approval_requested");
        live
    }

    /// A one-shot command of the run's own user (`approve`, `reject`).
    fn by_me(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
}

/// The login name running the tests: the run's own user.
fn me() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn said(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn took(out: &Output, what: &str) {
    assert_eq!(out.status.code(), Some(0), "{what}: {}", said(out));
}

/// Refused by the run with exit 2, saying `words`.
fn refused(out: &Output, words: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", said(out));
    assert!(said(out).contains(words), "{}", said(out));
}

/// The uid and gid of [`SECOND`], made if missing. Without root there is
/// no second user to make or become: in CI (`CI` set) that fails the
/// test, since CI runs as root; elsewhere the test is skipped, saying so.
fn second_user() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "four-eyes tests need a second local user: run them as root (CI does), which makes `{SECOND}`"
        );
        eprintln!("skipped: a second local user needs root to create and become");
        return None;
    }
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, SECOND]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    // Tests in this binary make it one at a time.
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = MAKING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if id("-u").is_none() {
        let out = Command::new("useradd")
            .args(["--system", "--no-create-home", SECOND])
            .output()
            .unwrap();
        // Another test binary may have made it meanwhile.
        assert!(
            id("-u").is_some(),
            "useradd {SECOND}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Some((id("-u").unwrap(), id("-g").unwrap()))
}

/// `signalbox ARGS` as the second user, from `/`: they find the run by its
/// id alone, through the shared socket.
fn as_second((uid, gid): (u32, u32), args: &[&str]) -> Output {
    Command::new("setpriv")
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg("--clear-groups")
        .arg(BIN)
        .args(args)
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The keys of an event, sorted.
fn keys(e: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

/// The one `approval_progress` of `gate`, checked field by field.
fn progress<'a>(done: &'a Done, user: &str, by: &str) -> &'a Value {
    let p = done.one("approval_progress", "gate");
    assert_eq!(
        keys(p),
        [
            "approvals",
            "by",
            "needed",
            "run",
            "seq",
            "step",
            "ts",
            "type",
            "user",
            "wait"
        ],
        "{}",
        done.dump()
    );
    assert_eq!(p["wait"], "w1");
    assert_eq!(p["by"], by);
    assert_eq!(p["user"], user);
    assert_eq!(p["approvals"], 1);
    assert_eq!(p["needed"], 2);
    p
}

#[test]
fn two_local_users_approve_a_gate_that_needs_two() {
    let Some(second) = second_user() else { return };
    let place = place(&gated("approvers: 2"));
    let mut live = place.run(&["--allow", SECOND]);
    let id = live.run_id();
    took(
        &place.by_me(&["approve", &id, "gate"]),
        "the owner's approval",
    );
    let p = live.wait_for("approval_progress", |e| e["type"] == "approval_progress");
    assert_eq!(p["user"], me());
    took(
        &as_second(second, &["approve", &id, "gate"]),
        "the second's",
    );
    let done = live.finish();
    done.expect(0, "succeeded");
    progress(&done, &me(), "socket");
    let resolved = done.one("approval_resolved", "gate");
    assert_eq!(resolved["approved"], true);
    assert_eq!(resolved["user"], SECOND);
    assert_eq!(resolved["by"], "socket");
    assert_eq!(resolved["wait"], "w1", "the same wait stayed open");
    assert_eq!(done.all("approval_requested").len(), 1);
    assert!(done.pos("approval_progress", "gate") < done.pos("approval_resolved", "gate"));
    assert!(done.pos("approval_resolved", "gate") < done.pos("step_started", "b"));
}

#[test]
fn the_same_user_approving_twice_through_the_socket_counts_once() {
    let place = place(&gated("approvers: 2"));
    let mut live = place.run(&[]);
    let id = live.run_id();
    took(
        &place.by_me(&["approve", &id, "gate"]),
        "the first approval",
    );
    let again = place.by_me(&["approve", &id, "gate"]);
    refused(
        &again,
        &format!("{} has already approved `gate` (1 of 2 approvals)", me()),
    );
    // One rejection rejects, from anyone, even one who approved.
    took(&place.by_me(&["reject", &id, "gate"]), "the rejection");
    let done = live.finish();
    done.expect(1, "failed");
    progress(&done, &me(), "socket");
    let resolved = done.one("approval_resolved", "gate");
    assert_eq!(resolved["approved"], false);
    assert_eq!(resolved["user"], me());
    assert_eq!(done.one("step_failed", "gate")["error"], "rejected");
    assert!(!done.has("step_started", "b"));
}

#[test]
fn the_approve_flag_and_then_the_socket_count_once() {
    let place = place(&gated("approvers: 2"));
    let mut live = place.run(&["--approve", "gate"]);
    let id = live.run_id();
    live.wait_for("approval_progress", |e| e["type"] == "approval_progress");
    let again = place.by_me(&["approve", &id, "gate"]);
    refused(
        &again,
        &format!("{} has already approved `gate` (1 of 2 approvals)", me()),
    );
    took(&place.by_me(&["reject", &id, "gate"]), "the rejection");
    let done = live.finish();
    done.expect(1, "failed");
    progress(&done, &me(), "flag");
    assert!(
        done.stderr.contains(&format!(
            "warning: --approve gives `gate` 1 of its 2 approvals, as {}; it waits for 1 more from other users",
            me()
        )),
        "{}",
        done.stderr
    );
}

#[test]
fn self_approve_false_refuses_the_user_who_started_the_run_and_takes_another() {
    let Some(second) = second_user() else { return };
    let place = place(&gated("self_approve: false"));
    let mut live = place.run(&["--allow", SECOND]);
    let id = live.run_id();
    let mine = place.by_me(&["approve", &id, "gate"]);
    refused(
        &mine,
        &format!(
            "`gate` needs an approval from someone other than {}, who started the run",
            me()
        ),
    );
    took(
        &as_second(second, &["approve", &id, "gate"]),
        "the second's",
    );
    let done = live.finish();
    done.expect(0, "succeeded");
    assert!(!done.has("approval_progress", "gate"), "{}", done.dump());
    let resolved = done.one("approval_resolved", "gate");
    assert_eq!(resolved["approved"], true);
    assert_eq!(resolved["user"], SECOND);
}

#[test]
fn self_approve_false_takes_a_rejection_from_the_user_who_started_the_run() {
    let place = place(&gated("self_approve: false"));
    let mut live = place.run(&[]);
    let id = live.run_id();
    took(&place.by_me(&["reject", &id, "gate"]), "the rejection");
    let done = live.finish();
    done.expect(1, "failed");
    assert_eq!(done.one("approval_resolved", "gate")["approved"], false);
}

#[test]
fn the_flags_say_at_the_start_what_they_cannot_approve() {
    let place = place(&gated("self_approve: false"));
    let file = place.file.to_str().unwrap();
    let named = place.command(&["run", "--headless", "--json", file, "--approve", "gate"]);
    Live::spawn(named).finish().expect_refused(&format!(
        "error: --approve gate: `gate` needs an approval from someone other than {}, who runs signalbox; leave the flag out and have another user approve it",
        me()
    ));
    assert!(!place.state.join("runs").exists() || runs(&place.state).is_empty());
    // `--auto-approve` says so and the gate waits for someone else.
    let mut live = place.run(&["--auto-approve"]);
    let id = live.run_id();
    took(&place.by_me(&["reject", &id, "gate"]), "the rejection");
    let done = live.finish();
    done.expect(1, "failed");
    assert!(
        done.stderr.contains(&format!(
            "warning: --auto-approve cannot approve `gate`: `gate` needs an approval from someone other than {}, who runs signalbox, so it waits for them",
            me()
        )),
        "{}",
        done.stderr
    );
    assert_eq!(done.one("approval_resolved", "gate")["by"], "socket");
}

fn runs(state: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(state.join("runs"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn a_resumed_run_keeps_who_approved_its_gate() {
    let second = second_user();
    let place = place(&gated("approvers: 2"));
    let mut live = place.run(&["--allow", SECOND]);
    let id = live.run_id();
    took(
        &place.by_me(&["approve", &id, "gate"]),
        "the first approval",
    );
    live.wait_for("approval_progress", |e| e["type"] == "approval_progress");
    live.kill9();
    let args = [
        "resume",
        id.as_str(),
        "--headless",
        "--json",
        "--allow",
        SECOND,
    ];
    let mut resumed = Live::spawn(place.command(&args));
    let reopened = resumed.wait_for("the gate re-opened", |e| e["type"] == "approval_requested");
    assert_eq!(reopened["wait"], "w1");
    let again = place.by_me(&["approve", &id, "gate"]);
    refused(
        &again,
        &format!("{} has already approved `gate` (1 of 2 approvals)", me()),
    );
    let done = match second {
        Some(second) => {
            took(
                &as_second(second, &["approve", &id, "gate"]),
                "the second's",
            );
            let done = resumed.finish();
            done.expect(0, "succeeded");
            let resolved = done.one("approval_resolved", "gate");
            assert_eq!(
                (&resolved["user"], &resolved["wait"]),
                (&SECOND.into(), &"w1".into())
            );
            done
        }
        None => {
            took(&place.by_me(&["reject", &id, "gate"]), "the rejection");
            let done = resumed.finish();
            done.expect(1, "failed");
            done
        }
    };
    assert!(
        !done.has("approval_progress", "gate"),
        "the approval before the crash was not asked again: {}",
        done.dump()
    );
    let journal =
        std::fs::read_to_string(place.state.join("runs").join(&id).join("events.jsonl")).unwrap();
    assert_eq!(
        journal.matches("\"approval_progress\"").count(),
        1,
        "{journal}"
    );
}

#[test]
fn a_timeout_that_approves_approves_outright_whatever_the_count() {
    let place = place(&gated("approvers: 3, timeout: 1s, on_timeout: approve"));
    let live = place.run(&["--approve", "gate"]);
    let done = live.finish();
    done.expect(0, "succeeded");
    let p = done.one("approval_progress", "gate");
    assert_eq!((&p["approvals"], &p["needed"]), (&1.into(), &3.into()));
    let resolved = done.one("approval_resolved", "gate");
    assert_eq!(resolved["approved"], true);
    assert_eq!(resolved["by"], "timeout");
    assert!(resolved.get("user").is_none(), "{}", done.dump());
    assert!(done.has("step_succeeded", "b"));
}
