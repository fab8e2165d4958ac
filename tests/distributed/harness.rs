//! What the distributed tests share: a real nats-server on a free loopback
//! port ([`NatsServer`]), `signalbox worker` processes ([`Worker`]), a
//! folder to run workflows in ([`Lab`]), and the checks every scenario
//! ends with ([`invariants`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, BIN, Live};

/// The lease every process here is given: short, so a lost worker is
/// found within a few seconds.
pub const LEASE: &str = "2s";

/// The first line of every step's command: the oracle that an attempt ran
/// at most once (`>>` appends with O_APPEND, so lines never mix).
pub const MARK: &str = r#"echo "$SIGNALBOX_STEP $SIGNALBOX_ATTEMPT $$" >> "$ORACLE""#;

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

/// A nats-server with JetStream, its store in a folder of its own; killed
/// when dropped.
pub struct NatsServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
    url: String,
    port: u16,
}

impl NatsServer {
    /// Starts one, or says the test is skipped and gives `None` when no
    /// binary is named (a failure under CI, which installs one).
    pub fn start() -> Option<NatsServer> {
        let bin = match std::env::var_os("SIGNALBOX_NATS_SERVER").filter(|v| !v.is_empty()) {
            Some(bin) => PathBuf::from(bin),
            None if std::env::var_os("CI").is_some() => {
                panic!("nats-server is needed: .ci/run installs it and sets SIGNALBOX_NATS_SERVER")
            }
            None => {
                eprintln!("skipped: SIGNALBOX_NATS_SERVER is not set");
                return None;
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let mut server = NatsServer {
            bin,
            dir,
            child: None,
            url: String::new(),
            port: 0,
        };
        let child = server.spawn(None);
        let ports = server
            .dir
            .path()
            .join(format!("nats-server_{}.ports", child.id()));
        server.child = Some(child);
        let text = wait_until("the server's ports file", Duration::from_secs(10), || {
            std::fs::read_to_string(&ports)
                .ok()
                .filter(|t| t.contains("nats://"))
        });
        let value: Value = serde_json::from_str(&text).unwrap();
        server.url = value["nats"][0].as_str().unwrap().to_string();
        server.port = server.url.rsplit(':').next().unwrap().parse().unwrap();
        Some(server)
    }

    fn spawn(&self, port: Option<u16>) -> Child {
        let port = port.map_or("-1".to_string(), |p| p.to_string());
        let d = self.dir.path();
        Command::new(&self.bin)
            .args(["-a", "127.0.0.1", "-p", &port, "--ports_file_dir"])
            .arg(d)
            .args(["-js", "-sd"])
            .arg(d.join("js"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("server.log")).unwrap())
            .spawn()
            .expect("nats-server starts")
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// `kill -9`, and reaped.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same store, and waits
    /// until it takes connections.
    pub fn restart(&mut self) {
        self.kill9();
        self.child = Some(self.spawn(Some(self.port)));
        let addr = format!("127.0.0.1:{}", self.port);
        wait_until("the restarted server", Duration::from_secs(10), || {
            std::net::TcpStream::connect(&addr).ok()
        });
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

// ---------------------------------------------------------------------------
// Workers
// ---------------------------------------------------------------------------

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
        let child = Command::new(BIN)
            .args(["worker", "--pool", pool, "--nats", url, "--id", id])
            .args(["--jobs", &jobs.to_string(), "--state-dir"])
            .arg(state)
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

// ---------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------

/// A folder for one scenario: the workflow, the state dir the runs and the
/// workers use, and the oracle file every step appends to.
pub struct Lab {
    pub work: common::work::Work,
    pub url: String,
    /// `SIGNALBOX_LEASE` of the runs and workers started here.
    pub lease: &'static str,
}

impl Lab {
    pub fn new(nats: &NatsServer) -> Lab {
        Lab {
            work: common::work::Work::new(),
            url: nats.url().to_string(),
            lease: LEASE,
        }
    }

    pub fn state(&self) -> PathBuf {
        self.work.state()
    }

    /// Where every step writes `STEP ATTEMPT PID` when it starts.
    pub fn oracle(&self) -> PathBuf {
        self.work.dir().join("oracle")
    }

    /// A worker of `pool` with its own state dir (as on its own machine).
    pub fn worker(&self, pool: &str, id: &str, jobs: usize) -> Worker {
        let state = self.work.dir().join(format!("w-{id}"));
        Worker::spawn(&self.url, pool, id, jobs, &state, self.lease)
    }

    /// `yaml` with `ORACLE` in its `env` (a `name:` line comes first).
    pub fn workflow(&self, yaml: &str) -> String {
        format!("{yaml}\nenv: {{ ORACLE: '{}' }}\n", self.oracle().display())
    }

    /// `signalbox ARGS --nats URL --state-dir D`, lease 2 s, run here.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .args(["--nats", &self.url, "--state-dir"])
            .arg(self.state())
            .env("SIGNALBOX_LEASE", self.lease)
            .current_dir(self.work.dir())
            .stdin(Stdio::null());
        cmd
    }

    /// `run FILE --headless --json` of `yaml` (written as `name`.yaml).
    pub fn start_as(&self, name: &str, yaml: &str) -> Live {
        let file = self
            .work
            .write_as(&format!("{name}.yaml"), &self.workflow(yaml));
        let mut cmd = self.command(&["run", "--headless", "--json"]);
        cmd.arg(file);
        Live::spawn(cmd)
    }

    pub fn start(&self, yaml: &str) -> Live {
        self.start_as("wf", yaml)
    }

    /// `resume ID --headless --json`.
    pub fn resume(&self, id: &str) -> Live {
        Live::spawn(self.command(&["resume", id, "--headless", "--json"]))
    }

    /// The oracle's lines: how many times each (step, attempt) started.
    pub fn executions(&self) -> BTreeMap<(String, u64), usize> {
        let text = std::fs::read_to_string(self.oracle()).unwrap_or_default();
        let mut seen = BTreeMap::new();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let (Some(step), Some(attempt)) = (words.next(), words.next()) else {
                panic!("an oracle line that is not `STEP ATTEMPT PID`: {line:?}");
            };
            *seen
                .entry((step.to_string(), attempt.parse().unwrap()))
                .or_insert(0) += 1;
        }
        seen
    }

    /// No attempt ran twice.
    pub fn at_most_once(&self) {
        for ((step, attempt), n) in self.executions() {
            assert_eq!(n, 1, "{step} attempt {attempt} ran {n} times");
        }
    }
}

/// A scenario that failed shows what the workers said and what every
/// process logged.
impl Drop for Lab {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let mut files = Vec::new();
        let mut dirs = vec![self.work.dir().to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if path.is_dir() && name != "runs" {
                    dirs.push(path);
                } else if name.ends_with(".stderr") || name.starts_with("signalbox.log") {
                    files.push(path);
                }
            }
        }
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            eprintln!("==== {}\n{text}", file.display());
        }
    }
}

/// The checks every scenario ends with, on run `id`'s journal: exactly one
/// end (step_succeeded / step_failed / step_retrying / step_cancelled) per
/// attempt that started, and no process left that carries the run's id.
pub fn invariants(lab: &Lab, id: &str) {
    let journal = lab.work.journal(id);
    let dump = common::dump(&journal);
    let mut started: BTreeMap<(String, u64), usize> = BTreeMap::new();
    let mut ended: BTreeMap<(String, u64), usize> = BTreeMap::new();
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    for e in &journal {
        let step = e["step"].as_str().unwrap_or("").to_string();
        let attempt = match e["type"].as_str().unwrap_or("") {
            "step_started" => {
                let a = e["attempt"].as_u64().unwrap();
                *started.entry((step.clone(), a)).or_insert(0) += 1;
                last.insert(step, a);
                continue;
            }
            "step_succeeded" | "step_retrying" => e["attempt"].as_u64().unwrap(),
            "step_failed" => e["attempts"].as_u64().unwrap(),
            // Cancelled while queued: no attempt started, none ends.
            "step_cancelled" => match last.get(&step) {
                Some(a) => *a,
                None => continue,
            },
            _ => continue,
        };
        *ended.entry((step, attempt)).or_insert(0) += 1;
    }
    for (key, n) in &started {
        assert_eq!(n, &1, "{key:?} started {n} times\n{dump}");
        assert_eq!(
            ended.get(key),
            Some(&1),
            "{key:?} ends {:?} times\n{dump}",
            ended.get(key)
        );
    }
    for key in ended.keys() {
        assert!(
            started.contains_key(key),
            "{key:?} ended, never started\n{dump}"
        );
    }
    no_process_left(id);
}

/// No live process has `SIGNALBOX_RUN_ID=<id>` (waits up to 5 s for the
/// last ones to go).
pub fn no_process_left(id: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = common::marked("SIGNALBOX_RUN_ID", id);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes of run {id} left: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls `probe` every 20 ms until it gives something; panics after `limit`.
pub fn wait_until<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "no {what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The worker a step's attempt started on, from its `step_started`.
pub fn worker_of(e: &Value) -> String {
    e["worker"]
        .as_str()
        .unwrap_or_else(|| panic!("no worker in {e}"))
        .to_string()
}

/// `type` of `step`, attempt `attempt`.
pub fn is_attempt(e: &Value, ty: &str, step: &str, attempt: u64) -> bool {
    common::is(e, ty, step) && e["attempt"] == attempt
}
