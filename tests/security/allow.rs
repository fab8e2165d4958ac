//! SPEC §6 `--allow USER|@GROUP`: another local user reaches a run only
//! when named (or in a group named), only through its socket, found by the
//! run id alone, while the run folder stays private; and neither a folder
//! planted in the shared place nor a socket pretending to be the run's
//! fools the owner or the allowed user.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::files::{GATED, as_other, other_user, run_dir, signalbox, workflow};
use crate::common::{self, BIN, Live};

/// `signalbox run` of the gated workflow with `extra` flags, waiting at
/// its approval.
fn run_allowing(state: &Path, wf: &Path, extra: &[&str]) -> Live {
    let mark = common::marker();
    let mut args = vec!["run", "--headless", "--json", wf.to_str().unwrap()];
    args.extend_from_slice(extra);
    let mut live = Live::spawn(signalbox("true", &args, state, &mark));
    live.wait_for("approval_requested", |e| e["type"] == "approval_requested");
    live
}

/// `signalbox ARGS` as the other user, started in `/` (no state dir of
/// theirs has the run).
fn other_cmd((uid, gid): (u32, u32), args: &[&str]) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg("--clear-groups")
        .arg(BIN)
        .args(args)
        .current_dir("/")
        .stdin(Stdio::null());
    cmd
}

fn as_other_sbx(other: (u32, u32), args: &[&str]) -> Output {
    other_cmd(other, args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A group made for a test, with `sbx-other` in it or not.
fn group(name: &str, with_other: bool) -> u32 {
    let _ = Command::new("groupadd").args(["--system", name]).output();
    if with_other {
        let out = Command::new("gpasswd")
            .args(["-a", "sbx-other", name])
            .output()
            .unwrap();
        assert!(out.status.success(), "gpasswd: {}", stderr(&out));
    }
    let out = Command::new("getent")
        .args(["group", name])
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    line.split(':').nth(2).unwrap().trim().parse().unwrap()
}

/// The approval decided by the other user through the run id alone, with
/// a follower of theirs streaming the run to its end meanwhile.
fn other_approves_and_follows(other: (u32, u32), mut live: Live, state: &Path) {
    let id = live.run_id();
    let mut follow = other_cmd(other, &["events", &id, "--follow"]);
    follow.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut follower = Live::spawn(follow);
    follower.wait_for("the journal so far", |e| e["type"] == "approval_requested");
    let out = as_other_sbx(other, &["approve", &id, "gate"]);
    assert_eq!(out.status.code(), Some(0), "approve: {}", stderr(&out));
    let done = live.finish();
    done.expect(0, "succeeded");
    let resolved = done.one("approval_resolved", "gate");
    assert_eq!(resolved["user"], "sbx-other", "{}", done.dump());
    assert_eq!(resolved["by"], "socket");
    let followed = follower.finish();
    followed.expect(0, "succeeded");
    assert_eq!(
        followed.one("approval_resolved", "gate")["user"],
        "sbx-other"
    );
    assert_eq!(
        followed.events.len(),
        done.events.len(),
        "{}",
        followed.dump()
    );
    // What the run keeps stays the owner's alone.
    let dir = run_dir(state, &id);
    let mode = std::fs::metadata(&dir).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o700);
    for file in [
        "events.jsonl",
        "run.json",
        "logs/a.log",
        "control.sock.path",
    ] {
        let path = dir.join(file);
        let out = as_other(other, "cat", &[path.to_str().unwrap()]);
        assert!(!out.status.success(), "the allowed user read {file}");
    }
}

#[test]
fn another_user_is_refused_on_approve_and_on_follow_unless_allowed() {
    let Some(other) = other_user() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let wf = workflow(tmp.path(), GATED);
    // The run shares its socket, but only with a group sbx-other is not in.
    group("sbx-nobodys", false);
    let mut live = run_allowing(&state, &wf, &["--allow", "@sbx-nobodys"]);
    let id = live.run_id();
    let out = as_other_sbx(other, &["approve", &id, "gate"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("access not allowed"),
        "{}",
        stderr(&out)
    );
    let out = as_other_sbx(other, &["events", &id, "--follow"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("access not allowed"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty(), "a refused follower was sent events");
    // The owner still decides it.
    super::files::approve(&id, &state);
    let done = live.finish();
    done.expect(0, "succeeded");
    assert_eq!(done.one("approval_resolved", "gate")["user"], "root");
}

#[test]
fn an_allowed_user_approves_and_follows_by_the_run_id_alone() {
    let Some(other) = other_user() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let wf = workflow(tmp.path(), GATED);
    let live = run_allowing(&state, &wf, &["--allow", "sbx-other"]);
    other_approves_and_follows(other, live, &state);
}

#[test]
fn a_member_of_an_allowed_group_approves_and_follows() {
    let Some(other) = other_user() else { return };
    group("sbx-allowed", true);
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let wf = workflow(tmp.path(), GATED);
    // The other user's processes start without the group (--clear-groups):
    // the group database's membership is what counts.
    let live = run_allowing(&state, &wf, &["--allow", "@sbx-allowed"]);
    other_approves_and_follows(other, live, &state);
}

#[test]
fn events_without_follow_tells_an_allowed_user_to_follow() {
    let Some(other) = other_user() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let wf = workflow(tmp.path(), GATED);
    let mut live = run_allowing(&state, &wf, &["--allow", "sbx-other"]);
    let id = live.run_id();
    let out = as_other_sbx(other, &["events", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("--follow"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let out = as_other_sbx(other, &["reject", &id, "gate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    live.finish().expect(1, "failed");
}

#[test]
fn a_resumed_run_keeps_whom_it_allows() {
    let Some(other) = other_user() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let wf = workflow(tmp.path(), GATED);
    let mut live = run_allowing(&state, &wf, &["--allow", "sbx-other"]);
    let id = live.run_id();
    live.kill9();
    let mark = common::marker();
    let args = ["resume", id.as_str(), "--headless", "--json"];
    let mut resumed = Live::spawn(signalbox("true", &args, &state, &mark));
    resumed.wait_for("approval_requested", |e| e["type"] == "approval_requested");
    let out = as_other_sbx(other, &["approve", &id, "gate"]);
    assert_eq!(out.status.code(), Some(0), "approve: {}", stderr(&out));
    let done = resumed.finish();
    assert_eq!(done.code, Some(0), "{}", done.dump());
    assert_eq!(done.one("approval_resolved", "gate")["user"], "sbx-other");
}

#[test]
fn an_unknown_user_or_group_to_allow_is_refused_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let wf = workflow(tmp.path(), GATED);
    for (name, says) in [
        ("nobody-x", "no user `nobody-x`"),
        ("@nobody-x", "no group `nobody-x`"),
    ] {
        let mark = common::marker();
        let args = [
            "run",
            "--headless",
            "--json",
            wf.to_str().unwrap(),
            "--allow",
            name,
        ];
        let cmd = signalbox("true", &args, &state, &mark);
        Live::spawn(cmd).finish().expect_refused(says);
        assert!(
            !state.join("runs").exists(),
            "a run began for --allow {name}"
        );
    }
}

// ---------------------------------------------------------------------------
// Planted folders and sockets
// ---------------------------------------------------------------------------

/// Serializes the tests that make or plant the other user's shared folder.
static SHARED_999: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The other user's shared folder, removed when dropped.
struct Planted(PathBuf);

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_run_with_allow_refuses_a_shared_folder_it_cannot_trust() {
    let Some(other) = other_user() else { return };
    let _one = SHARED_999.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    // The run is the other user's: its shared folder is the one planted.
    std::os::unix::fs::chown(tmp.path(), Some(other.0), Some(other.1)).unwrap();
    let wf = workflow(tmp.path(), "name: quick\nsteps:\n  a:\n    run: echo hi\n");
    let state = tmp.path().join("state");
    let shared = Planted(PathBuf::from(format!("/tmp/signalbox-shared-{}", other.0)));
    let elsewhere = tmp.path().join("elsewhere");
    let plants: [(&str, &dyn Fn()); 3] = [
        ("belongs to user 0", &|| {
            std::fs::create_dir(&shared.0).unwrap()
        }),
        ("not a folder", &|| {
            std::fs::create_dir(&elsewhere).unwrap();
            std::os::unix::fs::chown(&elsewhere, Some(other.0), Some(other.1)).unwrap();
            std::os::unix::fs::symlink(&elsewhere, &shared.0).unwrap();
        }),
        ("others can write to it", &|| {
            std::fs::create_dir(&shared.0).unwrap();
            std::os::unix::fs::chown(&shared.0, Some(other.0), Some(other.1)).unwrap();
            let open = std::fs::Permissions::from_mode(0o777);
            std::fs::set_permissions(&shared.0, open).unwrap();
        }),
    ];
    for (says, plant) in plants {
        drop(Planted(shared.0.clone()));
        plant();
        let args = [
            "run",
            "--headless",
            wf.to_str().unwrap(),
            "--allow",
            "root",
            "--state-dir",
            state.to_str().unwrap(),
        ];
        let out = as_other(other, BIN, &args);
        assert_eq!(out.status.code(), Some(2), "{says}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{says}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("run quick"),
            "a run started: {}",
            stderr(&out)
        );
        // Nothing was made through the planted link.
        assert_eq!(std::fs::read_dir(&elsewhere).map_or(0, |d| d.count()), 0);
    }
}

/// A folder `/tmp/signalbox-shared-<uid>` of `uid`, `0711`, with a socket
/// for `run` in it, bound by this (root) process and given to `uid`.
fn plant_socket(uid: u32, run: &str) -> (Planted, std::os::unix::net::UnixListener) {
    let dir = Planted(PathBuf::from(format!("/tmp/signalbox-shared-{uid}")));
    drop(Planted(dir.0.clone()));
    std::fs::create_dir(&dir.0).unwrap();
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o711)).unwrap();
    let sock = dir.0.join(format!("{run}.sock"));
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::os::unix::fs::chown(&sock, Some(uid), None).unwrap();
    std::os::unix::fs::chown(&dir.0, Some(uid), None).unwrap();
    (dir, listener)
}

#[test]
fn a_socket_that_is_not_its_owners_is_not_talked_to() {
    let Some(other) = other_user() else { return };
    // A socket under a user's name that another process serves: the
    // allowed user's approve sends it nothing and says why.
    let run = "fake-20261201-000000-0001";
    let (_dir, listener) = plant_socket(4_000_000_001, run);
    let mut cmd = other_cmd(other, &["approve", run, "gate"]);
    let client = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    listener.set_nonblocking(true).unwrap();
    let give_up = std::time::Instant::now() + common::LIMIT;
    let mut conn = loop {
        match listener.accept() {
            Ok((conn, _)) => break conn,
            Err(_) if std::time::Instant::now() < give_up => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("the client never connected: {e}"),
        }
    };
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(common::LIMIT)).unwrap();
    let mut got = Vec::new();
    let _ = std::io::Read::read_to_end(&mut conn, &mut got);
    drop(conn);
    let out = client.wait_with_output().unwrap();
    assert!(
        got.is_empty(),
        "the client sent {:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not by user 4000000001"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn two_users_sharing_a_run_id_are_told_apart_or_refused() {
    let Some(other) = other_user() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let wf = workflow(tmp.path(), GATED);
    let mut live = run_allowing(&state, &wf, &["--allow", "sbx-other"]);
    let id = live.run_id();
    // Someone else serves the same run id.
    let (_dir, _listener) = plant_socket(4_000_000_002, &id);
    let out = as_other_sbx(other, &["approve", &id, "gate"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("more than one user"),
        "{}",
        stderr(&out)
    );
    // The owner's state dir (visible, not readable) says whose run it is.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let state_arg = state.to_str().unwrap();
    let out = as_other_sbx(other, &["approve", &id, "gate", "--state-dir", state_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let done = live.finish();
    done.expect(0, "succeeded");
    assert_eq!(done.one("approval_resolved", "gate")["user"], "sbx-other");
}

/// `run --detach` of `wf` with `extra`; the run id.
fn detached(state: &Path, wf: &Path, extra: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["run", wf.to_str().unwrap(), "--detach", "--state-dir"])
        .arg(state)
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn another_user_attaches_a_screen_only_when_allowed() {
    let Some((uid, gid)) = other_user() else {
        return;
    };
    let Some((tmux, _t)) = common::tmux::tmux_session("allow-attach") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let wf = workflow(tmp.path(), GATED);
    let attach = |id: &str| {
        format!(
            "setpriv --reuid={uid} --regid={gid} --clear-groups {BIN} attach {id}; echo EXIT=$?; sleep 60"
        )
    };
    // Shared, but not with this user: the socket itself says no.
    let closed = detached(&state, &wf, &["--allow", "nobody"]);
    tmux.start_sized(&attach(&closed), 100, 30);
    let screen = tmux.wait_for("EXIT=", 20);
    assert!(screen.contains("access not allowed"), "{screen}");
    assert!(screen.contains("EXIT=1"), "{screen}");
    tmux.tmux(&["kill-server"]);
    std::thread::sleep(std::time::Duration::from_millis(500));

    // Allowed: the whole screen, by the run id alone, and the key is theirs.
    let open = detached(&state, &wf, &["--allow", "sbx-other"]);
    tmux.start_sized(&attach(&open), 100, 30);
    tmux.wait_for("attached", 20);
    tmux.wait_for("gate", 20);
    tmux.keys(&["w", "a"]);
    tmux.wait_for("succeeded", 20);
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("EXIT=", 10);
    assert!(screen.contains("EXIT=0"), "{screen}");
    let journal = std::fs::read_to_string(run_dir(&state, &open).join("events.jsonl")).unwrap();
    let resolved = journal
        .lines()
        .find(|l| l.contains("\"approval_resolved\""))
        .unwrap();
    assert!(resolved.contains("\"by\":\"keyboard\""), "{resolved}");
    assert!(resolved.contains("\"user\":\"sbx-other\""), "{resolved}");
    // The first run is still there for its own user to finish.
    let out = Command::new(BIN)
        .args(["events", &closed, "--follow", "--state-dir"])
        .arg(&state)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let approved = Command::new(BIN)
        .args(["approve", &closed, "gate", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(approved.status.code(), Some(0), "{}", stderr(&approved));
    assert_eq!(out.wait_with_output().unwrap().status.code(), Some(0));
}
