//! Reading back a run's revisions (`<run>/revisions/N.yaml`) for a resume
//! or a replay: the file the journaled `dag_modified` names, with the bytes
//! its `sha256` says, loaded with the run's `--var` values. Anything else
//! is damage: the run is never rebuilt from a file it did not run.

use std::collections::BTreeMap;

use crate::engine::run_dir::{self, RunDir};
use crate::workflow::Workflow;

/// Where a run's revisions are read from, and how they are loaded.
#[derive(Debug, Clone)]
pub struct RevisionSource {
    pub dir: RunDir,
    /// The run's `--var` values, applied as to the file it started with.
    pub vars: BTreeMap<String, String>,
}

impl RevisionSource {
    /// The run in `dir`, with the `--var` values its `run.json` keeps.
    pub fn of(dir: &RunDir) -> Result<RevisionSource, String> {
        let vars = run_dir::read_params(&dir.path)?
            .map(|p| p.vars)
            .unwrap_or_default();
        Ok(RevisionSource {
            dir: dir.clone(),
            vars,
        })
    }

    /// Revision `n`, checked against the `sha256` its event carries; the
    /// message says what is wrong with it.
    pub fn load(&self, n: u32, sha256: &str) -> Result<Workflow, String> {
        let rel = run_dir::revision_rel(n);
        let path = self.dir.path.join(&rel);
        let bytes = self
            .dir
            .read_revision(n)
            .map_err(|e| format!("revision {n} cannot be read from {}: {e}", path.display()))?;
        if run_dir::sha256_hex(&bytes) != sha256 {
            return Err(format!(
                "{} is not the revision {n} the journal names: its SHA-256 differs",
                path.display()
            ));
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("{} is not UTF-8 text", path.display()))?;
        super::plan::load_revision(&text, &path.display().to_string(), &self.vars)
            .map_err(|e| format!("{} does not load: {}", path.display(), first_line(&e)))
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}
