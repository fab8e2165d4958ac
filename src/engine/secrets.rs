//! Secret values: read from signalbox's environment or from files when a
//! run starts or resumes, held only in memory, handed only to the processes
//! whose `run` or `env` names them, and masked everywhere else (see
//! [`mask`](super::mask)). Nothing here is ever written under the state dir.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::mask::Masker;
use crate::workflow::{SecretSource, Workflow};

/// The most a secret file may hold: a secret is a key or a token, and the
/// file is read whole into memory.
pub const MAX_SECRET: usize = 1 << 20;

/// A run's secret values by name, and the masker of them. Its `Debug`
/// shows names only.
#[derive(Default, Clone)]
pub struct Secrets {
    values: BTreeMap<String, String>,
    mask: Arc<Masker>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.values.keys()).finish()
    }
}

impl Secrets {
    /// Reads every secret `workflows` declare (the run's workflow, and the
    /// one an edit is about to apply), relative paths from `workdir`. Every
    /// one that cannot be read is said, one per line.
    pub fn read<'a>(
        workflows: impl IntoIterator<Item = &'a Workflow>,
        workdir: &Path,
    ) -> Result<Secrets, String> {
        let mut values = BTreeMap::new();
        let mut problems = Vec::new();
        for wf in workflows {
            for (name, source) in &wf.secrets {
                if values.contains_key(name) {
                    continue;
                }
                match read_one(source, workdir) {
                    Ok(value) => {
                        values.insert(name.clone(), value);
                    }
                    Err(why) => problems.push(format!("secret `{name}`: {why}")),
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems.join("\nerror: "));
        }
        let mask = Arc::new(Masker::new(values.values().map(String::as_str)));
        Ok(Secrets { values, mask })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The masker of these values, shared by the bus and the attempts.
    pub fn masker(&self) -> &Arc<Masker> {
        &self.mask
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The secrets' values.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.values.values().map(String::as_str)
    }

    /// The secrets none of whose lines is long enough to be masked
    /// ([`MIN_LEN`](super::mask::MIN_LEN) bytes): they reach the steps
    /// that name them, and show wherever those print them.
    pub fn unmasked(&self) -> Vec<&str> {
        let short = |v: &str| v.split('\n').all(|l| l.len() < super::mask::MIN_LEN);
        (self.values.iter())
            .filter(|(_, v)| short(v))
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// The environment variables `wf`'s secrets are read from: a process
    /// signalbox starts inherits none of them (a step gets a secret only
    /// as its `run` or `env` names it).
    pub fn env_vars(&self, wf: &Workflow) -> Vec<String> {
        wf.secrets
            .values()
            .filter_map(|s| match s {
                SecretSource::Env(var) => Some(var.clone()),
                SecretSource::File(_) => None,
            })
            .collect()
    }
}

impl super::scheduler::Scheduler {
    /// The run's secrets from now on: masked in every event, in the
    /// attempts' logs and outputs, and in `signalbox.log`.
    pub(super) fn set_secrets(&mut self, secrets: Secrets) {
        self.bus.set_mask(secrets.mask.clone());
        super::mask::set_log_mask(secrets.mask.clone());
        self.secrets = secrets;
    }

    /// Reads the secrets of a run picked up again (resume, retry, edit of
    /// a finished run), and of the edit about to apply, from the folder the
    /// run started in.
    pub(super) fn read_secrets(&mut self) -> Result<(), super::EngineError> {
        let params =
            super::run_dir::read_params(&self.dir.path).map_err(super::EngineError::Resume)?;
        let workdir = match (params, &self.options.workdir) {
            (Some(p), _) => p.workdir,
            (None, Some(w)) => w.clone(),
            (None, None) => std::env::current_dir().unwrap_or_default(),
        };
        let editing = self.editing.as_ref().map(|p| &p.wf);
        let secrets = Secrets::read(std::iter::once(&self.wf).chain(editing), &workdir)
            .map_err(super::EngineError::Secrets)?;
        self.set_secrets(secrets);
        Ok(())
    }

    /// Before a live edit applies: the secrets `wf` declares that the run
    /// does not hold yet, read now (this process's environment, the run's
    /// folder); one that cannot be read refuses the edit.
    pub(super) fn secrets_for(&mut self, wf: &Workflow) -> Result<(), String> {
        if wf
            .secrets
            .keys()
            .all(|k| self.secrets.values.contains_key(k))
        {
            return Ok(());
        }
        let params = super::run_dir::read_params(&self.dir.path)?;
        let workdir = params
            .map(|p| p.workdir)
            .or_else(|| self.options.workdir.clone())
            .unwrap_or_default();
        let new = Secrets::read([wf], &workdir)?;
        let mut values = self.secrets.values.clone();
        for (k, v) in new.values {
            values.entry(k).or_insert(v);
        }
        let mask = Arc::new(Masker::new(values.values().map(String::as_str)));
        self.set_secrets(Secrets { values, mask });
        Ok(())
    }
}

fn read_one(source: &SecretSource, workdir: &Path) -> Result<String, String> {
    let (value, from) = match source {
        SecretSource::Env(var) => match std::env::var_os(var) {
            None => {
                return Err(format!(
                    "the environment variable {var} is not set; set it where signalbox starts"
                ));
            }
            Some(v) => (
                v.into_string().map_err(|_| {
                    format!("the environment variable {var} does not hold valid UTF-8")
                })?,
                format!("the environment variable {var}"),
            ),
        },
        SecretSource::File(written) => {
            let path = file_path(written, workdir)?;
            let mut text = read_file(&path)
                .map_err(|e| format!("cannot read {} (`{written}`): {e}", path.display()))?;
            if text.ends_with('\n') {
                text.pop();
            }
            (text, format!("the file {}", path.display()))
        }
    };
    if value.is_empty() {
        return Err(format!("{from} is empty; a secret needs a value"));
    }
    if value.contains('\0') {
        return Err(format!(
            "{from} holds a NUL byte, which no environment variable can carry"
        ));
    }
    Ok(value)
}

/// `~` or `~/...` from `$HOME`; a relative path from `workdir`.
fn file_path(written: &str, workdir: &Path) -> Result<PathBuf, String> {
    let home = || {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| format!("`{written}` starts with `~`, and $HOME is not set"))
    };
    let path = match written.strip_prefix('~') {
        Some("") => home()?,
        Some(rest) if rest.starts_with('/') => home()?.join(&rest[1..]),
        _ => PathBuf::from(written),
    };
    Ok(workdir.join(path))
}

/// The whole file, at most [`MAX_SECRET`] bytes, as UTF-8.
fn read_file(path: &Path) -> std::io::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_SECRET as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > MAX_SECRET {
        return Err(std::io::Error::other(
            "it holds more than 1 MiB, the most a secret may",
        ));
    }
    String::from_utf8(bytes).map_err(|_| std::io::Error::other("it is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_home_path_and_a_relative_one() {
        let work = Path::new("/w");
        assert_eq!(file_path("/etc/k", work).unwrap(), PathBuf::from("/etc/k"));
        assert_eq!(file_path("k/x", work).unwrap(), PathBuf::from("/w/k/x"));
        assert_eq!(file_path("~x", work).unwrap(), PathBuf::from("/w/~x"));
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            let home = PathBuf::from(home);
            assert_eq!(file_path("~", work).unwrap(), home);
            assert_eq!(file_path("~/a/b", work).unwrap(), home.join("a/b"));
        }
    }

    #[test]
    fn a_file_loses_one_trailing_newline_and_an_empty_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), "v4lue\n\n").unwrap();
        std::fs::write(dir.path().join("e"), "\n").unwrap();
        let read = |p: &str| read_one(&SecretSource::File(p.into()), dir.path());
        assert_eq!(read("k").unwrap(), "v4lue\n");
        let e = read("e").unwrap_err();
        assert!(e.contains("is empty"), "{e}");
        let e = read("missing").unwrap_err();
        assert!(e.contains("cannot read") && e.contains("missing"), "{e}");
    }
}
