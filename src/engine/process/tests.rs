//! Tests of the process runner: real processes, short timeouts.
use super::*;
use std::time::Instant as StdInstant;

struct Outcome {
    exit: Result<Exit, SpawnError>,
    pgid: i32,
    out: Vec<String>,
    err: Vec<String>,
}

async fn run_with(spec: ProcessSpec, cancel: impl Future<Output = ()>) -> Outcome {
    let (mut pgid, mut out, mut err) = (0, Vec::new(), Vec::new());
    let exit = run(
        &spec,
        cancel,
        |s| pgid = s.pgid,
        |stream, line| match stream {
            Stream::Output | Stream::Stdout => out.push(line),
            Stream::Stderr => err.push(line),
        },
    )
    .await;
    Outcome {
        exit,
        pgid,
        out,
        err,
    }
}

async fn sh(command: &str) -> Outcome {
    let mut spec = ProcessSpec::new(command);
    spec.kill_grace = Duration::from_millis(200);
    run_with(spec, std::future::pending()).await
}

#[tokio::test]
async fn exit_codes() {
    assert_eq!(sh("true").await.exit.unwrap(), Exit::Code(0));
    assert_eq!(sh("false").await.exit.unwrap(), Exit::Code(1));
    assert_eq!(sh("exit 3").await.exit.unwrap(), Exit::Code(3));
    assert_eq!(sh("kill -9 $$").await.exit.unwrap(), Exit::Signal(9));
}

#[tokio::test]
async fn lines_in_order_per_stream() {
    let o = sh("echo a; echo b >&2; echo; echo c; printf 'é\\377\\nd'").await;
    assert_eq!(o.exit.unwrap(), Exit::Code(0));
    assert_eq!(o.out, ["a", "", "c", "é\u{fffd}", "d"]);
    assert_eq!(o.err, ["b"]);
    assert!(o.pgid > 1);
}

#[tokio::test]
async fn merged_output_keeps_the_order_written() {
    for _ in 0..20 {
        let mut spec = ProcessSpec::new("echo 1; echo 2 >&2; echo 3; echo 4 >&2; echo 5");
        spec.merged = true;
        let mut seen = Vec::new();
        let exit = run(
            &spec,
            std::future::pending(),
            |_| {},
            |stream, line| {
                seen.push((stream, line));
            },
        )
        .await;
        assert_eq!(exit.unwrap(), Exit::Code(0));
        let want: Vec<(Stream, String)> =
            (1..=5).map(|n| (Stream::Output, n.to_string())).collect();
        assert_eq!(seen, want);
    }
}

#[tokio::test]
async fn long_lines_are_split_at_64_kib() {
    let o = sh(
        "head -c 70000 /dev/zero | tr '\\0' a; echo; head -c 65536 /dev/zero | tr '\\0' b; echo",
    )
    .await;
    let lens: Vec<usize> = o.out.iter().map(String::len).collect();
    assert_eq!(lens, [MAX_LINE, 70000 - MAX_LINE, MAX_LINE]);
}

#[tokio::test]
async fn env_cwd_and_pgid_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = ProcessSpec::new("echo $GREETING; pwd; echo $$");
    spec.env = vec![("GREETING".into(), "hi".into())];
    spec.cwd = Some(dir.path().to_owned());
    let o = run_with(spec, std::future::pending()).await;
    let cwd = std::fs::canonicalize(dir.path()).unwrap();
    assert_eq!(o.out[..2], ["hi".to_owned(), cwd.display().to_string()]);
    assert_eq!(
        o.out[2],
        o.pgid.to_string(),
        "the shell leads its own group"
    );
}

#[tokio::test]
async fn timeout_escalates_to_sigkill() {
    let mut spec = ProcessSpec::new("trap '' TERM; sleep 100");
    spec.timeout = Some(Duration::from_millis(100));
    spec.kill_grace = Duration::from_millis(200);
    let start = StdInstant::now();
    let o = run_with(spec, std::future::pending()).await;
    assert_eq!(o.exit.unwrap(), Exit::TimedOut);
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(gone_soon(o.pgid));
}

#[tokio::test]
async fn cancel_terminates_the_group() {
    let mut spec = ProcessSpec::new("sleep 30 & sleep 30");
    spec.kill_grace = Duration::from_secs(5);
    let start = StdInstant::now();
    let o = run_with(spec, tokio::time::sleep(Duration::from_millis(100))).await;
    assert_eq!(o.exit.unwrap(), Exit::Cancelled);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "TERM suffices, no grace wait"
    );
    assert!(gone_soon(o.pgid));
}

#[tokio::test]
async fn background_jobs_do_not_outlive_the_step() {
    let mut spec = ProcessSpec::new("sleep 30 & echo started");
    spec.kill_grace = Duration::from_secs(5);
    let start = StdInstant::now();
    let o = run_with(spec, std::future::pending()).await;
    assert_eq!(o.exit.unwrap(), Exit::Code(0));
    assert_eq!(o.out, ["started"]);
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(gone_soon(o.pgid));
}

#[tokio::test]
async fn grandchild_holding_stdout_does_not_hang() {
    let start = StdInstant::now();
    let o = sh("(sleep 30) & exit 0").await;
    assert_eq!(o.exit.unwrap(), Exit::Code(0));
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(gone_soon(o.pgid));
}

#[tokio::test]
async fn process_escaping_the_group_only_delays_by_the_drain_bound() {
    // setsid moves the job out of the group, so only the drain bound ends reading.
    let start = StdInstant::now();
    let o =
        sh("command -v setsid >/dev/null || exit 0; setsid sleep 1 & sleep 0.05; echo done").await;
    assert_eq!(o.exit.unwrap(), Exit::Code(0));
    assert!(
        start.elapsed() < Duration::from_millis(800),
        "{:?}",
        start.elapsed()
    );
}

/// Where this system lets us (root on cgroup2), an attempt of a run runs in the run's
/// cgroup, which this process moved into; the run's end moves it back and removes it.
#[tokio::test]
async fn an_attempt_runs_in_its_runs_cgroup() {
    // As the signalbox binary does; cgroups are only for the subreaper.
    super::become_subreaper();
    if !cgroup::usable() {
        crate::safe::say!("skipped: no writable cgroup2 here");
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    let mut spec = ProcessSpec::new("grep '^0::' /proc/self/cgroup");
    spec.mark = Some(Mark {
        run: "unit-cg".into(),
        step: "s".into(),
        attempt: 1,
        output: folder.path().join("outputs/s").display().to_string(),
    });
    let o = run_with(spec, std::future::pending()).await;
    assert!(matches!(o.exit, Ok(Exit::Code(0))), "{:?}", o.exit);
    let line = o.out.first().cloned().unwrap_or_default();
    let rel = line.trim_start_matches("0::");
    let name = rel.rsplit('/').next().unwrap_or("");
    assert!(name.starts_with("signalbox-unit-cg."), "{line}");
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    assert!(
        own.contains(rel),
        "signalbox is not in the run's cgroup: {own}"
    );
    end_run("unit-cg", folder.path()).await;
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = cgroup::cgroup2_mount(&info)
        .unwrap()
        .join(rel.trim_start_matches('/'));
    // Other tests' attempts may still run in it, which keeps it.
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    if !own.contains(rel) {
        assert!(!dir.exists(), "{} is left", dir.display());
    }
}

#[tokio::test]
async fn dropping_run_kills_the_group() {
    let spec = ProcessSpec::new("sleep 30 & sleep 30");
    let pgid = std::cell::Cell::new(0);
    let attempt = run(
        &spec,
        std::future::pending(),
        |s| pgid.set(s.pgid),
        |_, _| {},
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(100), attempt)
            .await
            .is_err()
    );
    assert!(gone_soon(pgid.get()), "the group outlived the dropped run");
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn simple_commands_skip_the_shell() {
    for (command, program) in [("sleep 5", "sleep"), ("sleep 5; :", "sh")] {
        let (pgid, comm) = (
            std::cell::Cell::new(0),
            std::cell::RefCell::new(String::new()),
        );
        // The name changes late in exec, so look once it has surely finished, then cancel.
        let probe = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            *comm.borrow_mut() =
                std::fs::read_to_string(format!("/proc/{}/comm", pgid.get())).unwrap();
        };
        let exit = run(
            &ProcessSpec::new(command),
            probe,
            |s| pgid.set(s.pgid),
            |_, _| {},
        )
        .await;
        assert_eq!(exit.unwrap(), Exit::Cancelled);
        assert_eq!(comm.borrow().trim(), program, "{command}");
    }
}

#[tokio::test]
async fn missing_program_reports_like_sh() {
    let o = sh("no-such-program-signalbox --flag").await;
    assert_eq!(o.exit.unwrap(), Exit::Code(127));
    assert!(
        o.err
            .iter()
            .any(|l| l.contains("no-such-program-signalbox") && l.contains("not found"))
    );
}

#[tokio::test]
async fn spawn_errors_are_explained() {
    let mut spec = ProcessSpec::new("true");
    spec.cwd = Some("/no/such/dir".into());
    let e = run_with(spec, std::future::pending())
        .await
        .exit
        .unwrap_err();
    assert!(matches!(e, SpawnError::MissingCwd { .. }), "{e}");
    let mut spec = ProcessSpec::new("true");
    spec.shell = vec!["no-such-shell-signalbox".into(), "-c".into()];
    let e = run_with(spec, std::future::pending())
        .await
        .exit
        .unwrap_err();
    assert!(matches!(e, SpawnError::ShellNotFound { .. }), "{e}");
    let mut spec = ProcessSpec::new("true");
    spec.shell.clear();
    assert!(matches!(
        run_with(spec, std::future::pending()).await.exit,
        Err(SpawnError::EmptyShell)
    ));
}

#[tokio::test]
async fn terminate_group_is_safe_on_gone_groups() {
    let start = StdInstant::now();
    terminate_group(i32::MAX, Duration::from_secs(5)).await;
    assert!(start.elapsed() < Duration::from_millis(100));
    assert!(!group_alive(0) && !group_alive(1) && !group_alive(-4) && !group_alive(i32::MAX));
}

#[test]
fn simple_argv_accepts_plain_words() {
    let argv = |c| simple_argv(c).unwrap();
    assert_eq!(argv("true"), ["true"]);
    assert_eq!(argv("echo hello  world"), ["echo", "hello", "world"]);
    assert_eq!(argv("./build.sh --release\n"), ["./build.sh", "--release"]);
    assert_eq!(
        argv("make CC=gcc -j4 user@host:1,2+%"),
        ["make", "CC=gcc", "-j4", "user@host:1,2+%"]
    );
}

#[test]
fn simple_argv_refuses_shell_syntax() {
    for command in [
        "echo $HOME",
        "a && b",
        "echo \"x\"",
        "echo 'x'",
        "ls *.rs",
        "ls ?",
        "X=1 cmd",
        "cd /tmp",
        "echo a > f",
        "cat < f",
        "a | b",
        "a; b",
        "a &",
        "echo `x`",
        "echo \\n",
        "ls ~",
        "a\nb",
        "echo {a,b}",
        "# c",
        "exit 1",
        "export A",
        ". ./env",
        "",
        "   ",
        "if",
        "(x)",
    ] {
        assert_eq!(simple_argv(command), None, "{command:?}");
    }
}

#[allow(dead_code)]
fn run_is_send(spec: &ProcessSpec) -> impl Send + '_ {
    run(spec, async {}, |_| {}, |_, _| {})
}

/// Whether the group is gone within a second: a SIGKILLed process dies when
/// the kernel next schedules it, which on a loaded machine is not at once.
fn gone_soon(pgid: i32) -> bool {
    let deadline = StdInstant::now() + Duration::from_secs(1);
    while group_alive(pgid) {
        if StdInstant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}
