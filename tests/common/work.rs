//! A folder to run the binary in: workflow files written there, a state
//! dir under it, and the commands that drive runs kept in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::{BIN, Done, Live};

pub struct Work {
    tmp: tempfile::TempDir,
}

impl Default for Work {
    fn default() -> Self {
        Work::new()
    }
}

impl Work {
    pub fn new() -> Work {
        Work {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// The state dir every command here is given.
    pub fn state(&self) -> PathBuf {
        self.dir().join("state")
    }

    /// Writes `wf.yaml`.
    pub fn write(&self, yaml: &str) -> PathBuf {
        self.write_as("wf.yaml", yaml)
    }

    pub fn write_as(&self, name: &str, yaml: &str) -> PathBuf {
        let file = self.dir().join(name);
        std::fs::write(&file, yaml).unwrap();
        file
    }

    /// The binary with `args`, then `--state-dir`, run here, stdin closed.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .arg("--state-dir")
            .arg(self.state())
            .current_dir(self.dir())
            .stdin(Stdio::null());
        cmd
    }

    /// `run --headless --json` of `yaml` with `extra`, in progress.
    pub fn start(&self, yaml: &str, extra: &[&str]) -> Live {
        let file = self.write(yaml);
        let mut cmd = self.command(&["run", "--headless", "--json"]);
        cmd.arg(file).args(extra);
        Live::spawn(cmd)
    }

    /// `run --headless --json` of `yaml` with `extra`, to its end.
    pub fn run(&self, yaml: &str, extra: &[&str]) -> Done {
        self.start(yaml, extra).finish()
    }

    /// Any command (`--state-dir` added), to its end.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// The folder of run `id`.
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.state().join("runs").join(id)
    }

    /// Run `id`'s journal, parsed.
    pub fn journal(&self, id: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.run_dir(id).join("events.jsonl")).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// A file under this folder, which must exist.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir().join(name))
            .unwrap_or_else(|e| panic!("{name} was not written: {e}"))
    }

    /// The diagnostics log, empty when there is none yet.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state().join("signalbox.log")).unwrap_or_default()
    }
}
