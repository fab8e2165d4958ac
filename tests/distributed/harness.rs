//! What the distributed tests share: a real nats-server on a free loopback
//! port ([`NatsServer`]), `signalbox worker` processes ([`Worker`]), a
//! folder to run workflows in ([`Lab`]), and the checks every scenario
//! ends with ([`invariants`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, BIN, Live};
pub use crate::server::NatsServer;
pub use crate::worker::{Worker, live_workers};

/// The lease every process here is given: short, so a lost worker is
/// found within a few seconds.
pub const LEASE: &str = "2s";

/// The first line of every step's command: the oracle that an attempt ran
/// at most once (`>>` appends with O_APPEND, so lines never mix).
pub const MARK: &str = r#"echo "$SIGNALBOX_STEP $SIGNALBOX_ATTEMPT $$" >> "$ORACLE""#;

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

    /// `resume ID --headless --json`, with no `--nats` and a
    /// `$SIGNALBOX_NATS` where no server is: the run goes on with the server
    /// it started with.
    pub fn resume(&self, id: &str) -> Live {
        let mut cmd = Command::new(BIN);
        cmd.args(["resume", id, "--headless", "--json", "--state-dir"])
            .arg(self.state())
            .env("SIGNALBOX_NATS", "nats://127.0.0.1:9")
            .env("SIGNALBOX_LEASE", self.lease)
            .current_dir(self.work.dir())
            .stdin(Stdio::null());
        Live::spawn(cmd)
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
