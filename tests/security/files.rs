//! SPEC §6 files and socket: what a run keeps is private whatever the umask,
//! nothing is written through a symlink, an untrustworthy state dir is
//! refused, another local user can neither read a run nor command it, and
//! the control socket survives idle crowds, endless lines and long paths.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{self, BIN, Live};

/// A wait the test resolves, between a step before it and one after that
/// prints (so it writes a log) and sets an output.
pub(super) const GATED: &str = r#"name: gated
steps:
  a:
    run: 'echo before; echo k=v >> "$SIGNALBOX_OUTPUT"'
  gate:
    needs: [a]
    approval: { prompt: "go?" }
  b:
    needs: [gate]
    run: 'echo after; echo k=w >> "$SIGNALBOX_OUTPUT"'
"#;

pub(super) fn workflow(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("wf.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `signalbox ARGS --state-dir STATE` as `sh -c PRELUDE; exec ...` (a
/// umask, a ulimit), headless, events on stdout, marked with `mark`.
pub(super) fn signalbox(prelude: &str, args: &[&str], state: &Path, mark: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{prelude}; exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .env("SBX_FILES_MARK", mark)
        .env("SIGNALBOX_LOG", "trace")
        .stdin(Stdio::null());
    cmd
}

pub(super) fn run_gated(prelude: &str, state: &Path, wf: &Path) -> (Live, String) {
    let mark = common::marker();
    let wf = wf.to_str().unwrap();
    let cmd = signalbox(prelude, &["run", "--headless", "--json", wf], state, &mark);
    let mut live = Live::spawn(cmd);
    live.wait_for("approval_requested", |e| e["type"] == "approval_requested");
    (live, mark)
}

fn cli(args: &[&str], state: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .output()
        .unwrap()
}

pub(super) fn approve(run: &str, state: &Path) {
    let out = cli(&["approve", run, "gate"], state);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "approve: {stderr}");
}

pub(super) fn run_dir(state: &Path, id: &str) -> PathBuf {
    state.join("runs").join(id)
}

/// Every folder under `root` (and `root`) `0700`, every file `0600`, every
/// socket `0600`; the paths that are not.
fn loose_modes(root: &Path) -> Vec<String> {
    let mut loose = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(path) = todo.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.mode() & 0o7777;
        let want = if meta.is_dir() { 0o700 } else { 0o600 };
        if mode != want || meta.file_type().is_symlink() {
            loose.push(format!("{} {mode:o}", path.display()));
        }
        if meta.is_dir() {
            todo.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
    }
    loose
}

#[test]
fn what_a_run_keeps_is_private_whatever_the_umask() {
    for umask in ["000", "022"] {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let wf = workflow(tmp.path(), GATED);
        let (mut live, _) = run_gated(&format!("umask {umask}"), &state, &wf);
        let id = live.run_id();
        let sock = run_dir(&state, &id).join("control.sock");
        assert!(
            std::fs::symlink_metadata(&sock)
                .unwrap()
                .file_type()
                .is_socket()
        );
        let loose = loose_modes(&state);
        assert!(loose.is_empty(), "umask {umask}, while live: {loose:#?}");
        approve(&id, &state);
        live.finish().expect(0, "succeeded");
        for kept in ["events.jsonl", "workflow.yaml", "run.json", "pids", "lock"] {
            assert!(run_dir(&state, &id).join(kept).is_file(), "{kept}");
        }
        for kept in ["logs/a.log", "logs/b.log", "outputs/a", "outputs/b"] {
            assert!(run_dir(&state, &id).join(kept).is_file(), "{kept}");
        }
        assert!(state.join("signalbox.log").is_file());
        let loose = loose_modes(&state);
        assert!(loose.is_empty(), "umask {umask}, after: {loose:#?}");
    }
}

#[test]
fn a_symlink_at_the_log_is_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let target = tmp.path().join("chosen-by-attacker");
    std::fs::write(&target, "").unwrap();
    std::os::unix::fs::symlink(&target, state.join("signalbox.log")).unwrap();
    let wf = workflow(tmp.path(), "name: quick\nsteps:\n  a:\n    run: echo hi\n");
    let mark = common::marker();
    let cmd = signalbox(
        "true",
        &["run", "--json", wf.to_str().unwrap()],
        &state,
        &mark,
    );
    Live::spawn(cmd).finish().expect(0, "succeeded");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "",
        "written through the symlink"
    );
}

#[test]
fn a_symlink_planted_at_a_run_folders_logs_is_not_followed_on_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let outside = tempfile::tempdir().unwrap();
    let wf = workflow(tmp.path(), GATED);
    let (mut live, _) = run_gated("true", &state, &wf);
    let id = live.run_id();
    live.kill9();
    let dir = run_dir(&state, &id);
    std::fs::remove_dir_all(dir.join("logs")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.join("logs")).unwrap();
    let mark = common::marker();
    let args = ["resume", &id, "--json", "--approve", "gate"];
    Live::spawn(signalbox("true", &args, &state, &mark))
        .finish()
        .expect(0, "succeeded");
    let written: Vec<_> = std::fs::read_dir(outside.path()).unwrap().collect();
    assert!(
        written.is_empty(),
        "logs written through the symlink: {written:?}"
    );
}

/// As [`GATED`], but no output: a step is given its output file by path
/// (`SIGNALBOX_OUTPUT`), which a swapped folder would redirect.
const GATED_LOGS: &str = r#"name: gated
steps:
  gate:
    approval: { prompt: "go?" }
  b:
    needs: [gate]
    run: 'echo after'
"#;

#[test]
fn a_run_made_under_the_umask_is_made_private_when_resumed() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let wf = workflow(tmp.path(), GATED);
    let (mut live, _) = run_gated("true", &state, &wf);
    let id = live.run_id();
    live.kill9();
    let dir = run_dir(&state, &id);
    let _ = std::fs::remove_file(dir.join("control.sock"));
    let loose = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    for folder in ["", "logs", "outputs"] {
        loose(&dir.join(folder), 0o755);
    }
    for file in ["events.jsonl", "pids", "logs/a.log", "run.json"] {
        loose(&dir.join(file), 0o644);
    }
    let mark = common::marker();
    let args = ["resume", &id, "--json", "--approve", "gate"];
    Live::spawn(signalbox("umask 022", &args, &state, &mark))
        .finish()
        .expect(0, "succeeded");
    let still = loose_modes(&dir);
    assert!(still.is_empty(), "{still:#?}");
}

#[test]
fn a_live_run_folder_swapped_for_a_symlink_is_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir(outside.path().join("logs")).unwrap();
    let wf = workflow(tmp.path(), GATED_LOGS);
    let (mut live, _) = run_gated("true", &state, &wf);
    let id = live.run_id();
    let dir = run_dir(&state, &id);
    let moved = dir.with_extension("moved");
    std::fs::rename(&dir, &moved).unwrap();
    std::os::unix::fs::symlink(outside.path(), &dir).unwrap();
    approve(moved.to_str().unwrap(), &state);
    live.finish().expect(0, "succeeded");
    let written: Vec<_> = std::fs::read_dir(outside.path().join("logs"))
        .unwrap()
        .collect();
    assert!(
        written.is_empty(),
        "logs written through the symlink: {written:?}"
    );
    let log = std::fs::read_to_string(moved.join("logs/b.log")).unwrap();
    assert_eq!(log, "after\n", "the log went on in the run's own folder");
}

#[test]
fn a_state_dir_others_can_write_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
    let wf = workflow(tmp.path(), "name: quick\nsteps:\n  a:\n    run: echo hi\n");
    let mark = common::marker();
    let cmd = signalbox(
        "true",
        &["run", "--json", wf.to_str().unwrap()],
        &state,
        &mark,
    );
    let done = Live::spawn(cmd).finish();
    done.expect_refused("chmod go-w");
    assert!(!state.join("runs").exists(), "nothing made in it");
}

// ---------------------------------------------------------------------------
// A second local user
// ---------------------------------------------------------------------------

/// The uid and gid of `sbx-other`, made if missing; none (with the reason
/// printed) when the tests do not run as root.
pub(super) fn other_user() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: a second local user needs root to create and become");
        return None;
    }
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, "sbx-other"]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    // Tests in this binary make it one at a time; another binary racing
    // this one fails to make it and then finds it made.
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = MAKING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if id("-u").is_none() {
        let _ = Command::new("useradd")
            .args(["--system", "--no-create-home", "sbx-other"])
            .output();
    }
    Some((
        id("-u").expect("sbx-other exists"),
        id("-g").expect("its group"),
    ))
}

/// `sh -c SCRIPT` as the other user.
pub(super) fn as_other((uid, gid): (u32, u32), program: &str, args: &[&str]) -> Output {
    Command::new("setpriv")
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg("--clear-groups")
        .arg(program)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn another_user_can_neither_read_a_run_nor_command_it() {
    let Some(other) = other_user() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let wf = workflow(tmp.path(), GATED);
    let (mut live, _) = run_gated("umask 022", &state, &wf);
    let id = live.run_id();
    let dir = run_dir(&state, &id);
    for file in ["events.jsonl", "logs/a.log", "outputs/a", "run.json"] {
        let path = dir.join(file);
        let out = as_other(other, "cat", &[path.to_str().unwrap()]);
        assert!(!out.status.success(), "another user read {file}");
    }
    for file in ["workflow.yaml", "pids"] {
        let script = format!("echo 'x' >> '{}'", dir.join(file).display());
        let out = as_other(other, "sh", &["-c", &script]);
        assert!(!out.status.success(), "another user changed {file}");
    }
    // Were the folders and the socket open to all (a careless chmod), the
    // socket still asks who is calling.
    for open in [tmp.path(), &state, &state.join("runs"), &dir] {
        std::fs::set_permissions(open, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let sock = dir.join("control.sock");
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o777)).unwrap();
    let state_arg = state.to_str().unwrap();
    let args = [
        "approve",
        dir.to_str().unwrap(),
        "gate",
        "--state-dir",
        state_arg,
    ];
    let out = as_other(other, BIN, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("access not allowed"), "{stderr}");
    let journal = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    assert!(!journal.contains("approval_resolved"), "{journal}");
    approve(&id, &state);
    let done = live.finish();
    done.expect(0, "succeeded");
    assert_eq!(done.one("approval_resolved", "gate")["by"], "socket");
}

#[test]
fn a_state_dir_of_another_user_is_refused() {
    let Some((uid, gid)) = other_user() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::os::unix::fs::chown(&state, Some(uid), Some(gid)).unwrap();
    let wf = workflow(tmp.path(), "name: quick\nsteps:\n  a:\n    run: echo hi\n");
    let mark = common::marker();
    let cmd = signalbox(
        "true",
        &["run", "--json", wf.to_str().unwrap()],
        &state,
        &mark,
    );
    Live::spawn(cmd).finish().expect_refused("belongs to user");
    assert!(!state.join("runs").exists());
}

// ---------------------------------------------------------------------------
// The control socket under load
// ---------------------------------------------------------------------------

/// Opens `n` connections that send nothing, on a thread, so a socket that
/// stopped accepting cannot hang the test; those that connected.
fn idle_crowd(sock: &Path, n: usize) -> Vec<UnixStream> {
    let (tx, rx) = std::sync::mpsc::channel();
    let sock = sock.to_path_buf();
    std::thread::spawn(move || {
        let crowd: Vec<UnixStream> = (0..n)
            .filter_map(|_| UnixStream::connect(&sock).ok())
            .collect();
        let _ = tx.send(crowd);
    });
    rx.recv_timeout(common::LIMIT).unwrap_or_default()
}

#[test]
fn the_socket_serves_on_after_a_crowd_of_idle_clients_and_few_descriptors() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let wf = workflow(tmp.path(), GATED);
    let (mut live, _) = run_gated("ulimit -n 64", &state, &wf);
    let id = live.run_id();
    let crowd = idle_crowd(&run_dir(&state, &id).join("control.sock"), 200);
    approve(&id, &state);
    drop(crowd);
    live.finish().expect(0, "succeeded");
}

#[test]
fn the_socket_serves_on_after_running_out_of_descriptors() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let wf = workflow(tmp.path(), GATED);
    let (mut live, mark) = run_gated("true", &state, &wf);
    let id = live.run_id();
    // Lowered once it serves, so the crowd exhausts it: accept fails.
    let (pid, _) = common::marked("SBX_FILES_MARK", &mark)[0].clone();
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    let limit = format!("--nofile={}:{}", open + 24, open + 24);
    let status = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &limit])
        .status()
        .unwrap();
    assert!(status.success(), "prlimit failed");
    let crowd = idle_crowd(&run_dir(&state, &id).join("control.sock"), 200);
    approve(&id, &state);
    drop(crowd);
    live.finish().expect(0, "succeeded");
    let log = std::fs::read_to_string(state.join("signalbox.log")).unwrap();
    assert!(
        log.contains("control socket: accept failed"),
        "not tried: {log}"
    );
}

/// The peak resident memory of the process marked `mark`, in bytes.
fn peak_rss(mark: &str) -> u64 {
    let found = common::marked("SBX_FILES_MARK", mark);
    let (pid, _) = found.first().expect("the run is alive");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap();
    kib * 1024
}

#[test]
fn an_endless_socket_line_is_refused_without_being_held() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let wf = workflow(tmp.path(), GATED);
    let (mut live, mark) = run_gated("true", &state, &wf);
    let id = live.run_id();
    let stream = UnixStream::connect(run_dir(&state, &id).join("control.sock")).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let feeder = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1024 * 1024];
        for _ in 0..300 {
            if writer.write_all(&chunk).is_err() {
                return;
            }
        }
        let _ = writer.shutdown(std::net::Shutdown::Write);
    });
    stream.set_read_timeout(Some(common::LIMIT)).unwrap();
    let mut reply = String::new();
    BufReader::new(&stream).read_line(&mut reply).unwrap();
    assert_eq!(reply, "error: message longer than 1 MiB\n");
    let _ = stream.shutdown(std::net::Shutdown::Both);
    feeder.join().unwrap();
    let peak = peak_rss(&mark);
    assert!(peak < 64 << 20, "the run's peak RSS: {} MiB", peak >> 20);
    approve(&id, &state);
    live.finish().expect(0, "succeeded");
}

#[test]
fn the_socket_refuses_what_it_does_not_take_and_closes_idle_clients() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let wf = workflow(tmp.path(), GATED);
    let (mut live, _) = run_gated("true", &state, &wf);
    let id = live.run_id();
    let sock = run_dir(&state, &id).join("control.sock");
    let mut talk = UnixStream::connect(&sock).unwrap();
    talk.set_read_timeout(Some(common::LIMIT)).unwrap();
    talk.write_all(b"{\"command\":\"shutdown\",\"step\":\"gate\"}\n")
        .unwrap();
    let mut reader = BufReader::new(talk.try_clone().unwrap());
    let mut reply = String::new();
    reader.read_line(&mut reply).unwrap();
    assert!(
        reply.starts_with("error: unknown command `shutdown`"),
        "{reply}"
    );
    let idle = UnixStream::connect(&sock).unwrap();
    idle.set_read_timeout(Some(common::LIMIT)).unwrap();
    let mut said = String::new();
    let _ = (&idle).read_to_string(&mut said);
    assert!(said.starts_with("error: no whole line"), "{said:?}");
    // So was `talk`, idle as long. `by` is the socket's whatever a client
    // says, so it may be left out.
    let mut talk = UnixStream::connect(&sock).unwrap();
    talk.set_read_timeout(Some(common::LIMIT)).unwrap();
    talk.write_all(b"{\"command\":\"approve\",\"step\":\"gate\"}\n")
        .unwrap();
    reply.clear();
    BufReader::new(&talk).read_line(&mut reply).unwrap();
    assert_eq!(reply, "ok\n");
    drop(talk);
    live.finish().expect(0, "succeeded");
}

// ---------------------------------------------------------------------------
// A state dir with a long path
// ---------------------------------------------------------------------------

/// `tmp/sss...` of 150 bytes.
fn long_state(tmp: &Path) -> PathBuf {
    let base = tmp.as_os_str().len() + 1;
    let state = tmp.join("s".repeat(150 - base));
    assert_eq!(state.as_os_str().len(), 150);
    state
}

#[test]
fn a_run_under_a_long_state_dir_path_is_reachable() {
    let tmp = tempfile::tempdir().unwrap();
    let state = long_state(tmp.path());
    let wf = workflow(tmp.path(), GATED);
    let (mut live, _) = run_gated("true", &state, &wf);
    let id = live.run_id();
    let record = run_dir(&state, &id).join("control.sock.path");
    let sock = std::fs::read_to_string(&record).unwrap();
    let meta = std::fs::symlink_metadata(sock.trim_end()).unwrap();
    assert!(meta.file_type().is_socket() && meta.mode() & 0o777 == 0o600);
    approve(&id, &state);
    live.finish().expect(0, "succeeded");
    assert!(
        !record.exists() && !Path::new(sock.trim_end()).exists(),
        "cleaned up"
    );
}

#[test]
fn a_run_that_cannot_serve_its_socket_does_not_start() {
    let tmp = tempfile::tempdir().unwrap();
    let state = long_state(tmp.path());
    let runtime = tmp.path().join("rt");
    std::fs::create_dir_all(runtime.join("signalbox")).unwrap();
    let open = std::fs::Permissions::from_mode(0o777);
    std::fs::set_permissions(runtime.join("signalbox"), open).unwrap();
    let wf = workflow(tmp.path(), GATED);
    let mark = common::marker();
    let mut cmd = signalbox(
        "true",
        &["run", "--json", wf.to_str().unwrap()],
        &state,
        &mark,
    );
    cmd.env("XDG_RUNTIME_DIR", &runtime);
    let done = Live::spawn(cmd).finish();
    assert_eq!(done.code, Some(2), "{}", done.dump());
    assert!(
        done.stderr.contains("too long for a Unix socket"),
        "{}",
        done.dump()
    );
    assert!(done.all("step_started").is_empty(), "{}", done.dump());
    let left: Vec<_> = std::fs::read_dir(state.join("runs")).unwrap().collect();
    assert!(left.is_empty(), "a run folder left to resume: {left:?}");
}
