//! `signalbox worker` processes, as the distributed tests start them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::BIN;

/// A `signalbox worker` process; killed when dropped.
pub struct Worker {
    pub id: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Worker {
    /// Starts worker `id` of `pool` with `jobs` slots, and waits until
    /// `signalbox workers` lists it.
    pub fn spawn(
        url: &str,
        pool: &str,
        id: &str,
        jobs: usize,
        state: &Path,
        lease: &str,
    ) -> Worker {
        let worker = Worker::spawn_unlisted(url, pool, id, jobs, state, lease);
        let mut worker = worker;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !live_workers(url).iter().any(|w| w == id) {
            if let Some(status) = worker.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!(
                    "worker {id} ended with {status}; its stderr:\n{}",
                    worker.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "worker {id} was not listed within 10 s; its stderr:\n{}",
                worker.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        worker
    }

    /// Starts it without waiting to see it listed.
    pub fn spawn_unlisted(
        url: &str,
        pool: &str,
        id: &str,
        jobs: usize,
        state: &Path,
        lease: &str,
    ) -> Worker {
        std::fs::create_dir_all(state).unwrap();
        let log = state.join(format!("worker-{id}.stderr"));
        // `pool` may name several, comma-separated.
        let pools = pool.split(',').flat_map(|p| ["--pool", p]);
        let child = Command::new(BIN)
            .arg("worker")
            .args(pools)
            .args(["--nats", url, "--id", id])
            .args(["--jobs", &jobs.to_string(), "--state-dir"])
            // Relative, as `--state-dir` is when a user gives a name.
            .arg(state.file_name().unwrap_or(state.as_os_str()))
            .env("SIGNALBOX_LEASE", lease)
            .current_dir(state.parent().unwrap_or(state))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("signalbox worker starts");
        Worker {
            id: id.to_string(),
            child: Some(child),
            log,
        }
    }

    /// What it printed on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> String {
        self.child.as_ref().map(|c| c.id().to_string()).unwrap()
    }

    fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args(["-s", signal, &self.pid()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -s {signal} of worker {} failed", self.id);
    }

    /// `kill -9` the worker process (not its attempts' groups), reaped.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP: frozen, as a machine that hangs.
    pub fn stop(&self) {
        self.signal("STOP");
    }

    /// SIGCONT.
    pub fn cont(&self) {
        self.signal("CONT");
    }

    /// SIGTERM, then waits for its exit code (at most 15 s).
    pub fn terminate(&mut self) -> Option<i32> {
        self.signal("TERM");
        let mut child = self.child.take()?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("worker {} did not end within 15 s of SIGTERM", self.id);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_ref() {
            // A frozen worker takes no SIGKILL until... it does, but be sure.
            let _ = Command::new("kill")
                .args(["-s", "CONT", &child.id().to_string()])
                .status();
        }
        self.kill9();
    }
}

/// The ids `signalbox workers --nats URL --json` lists.
pub fn live_workers(url: &str) -> Vec<String> {
    let out = Command::new(BIN)
        .args(["workers", "--nats", url, "--json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if !out.status.success() {
        return Vec::new();
    }
    let Ok(Value::Array(list)) = serde_json::from_slice::<Value>(&out.stdout) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|w| w["id"].as_str().map(str::to_string))
        .collect()
}

/// A bad server address is refused before anything connects (exit 2),
/// named where it came from: the flag, or `SIGNALBOX_NATS`.
#[test]
fn a_bad_server_address_is_named_where_it_came_from() {
    let refused = |args: &[&str], env: Option<&str>| {
        let mut cmd = Command::new(BIN);
        cmd.args(args).env_remove("SIGNALBOX_NATS");
        if let Some(v) = env {
            cmd.env("SIGNALBOX_NATS", v);
        }
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = refused(&["workers"], Some("bogus://x"));
    assert!(e.starts_with("error: SIGNALBOX_NATS \"bogus://x\""), "{e}");
    let e = refused(&["workers", "--nats", "nats://h:0"], Some("nats://ok"));
    assert!(e.starts_with("error: --nats \"nats://h:0\""), "{e}");
    let e = refused(&["worker", "--pool", "p", "--nats", "http://h"], None);
    assert!(e.contains("not nats:// or tls://"), "{e}");
}
