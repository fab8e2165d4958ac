//! The editor `e` opens: which one (`$VISUAL`, else `$EDITOR`, else `vi`,
//! split on spaces as git does, so `EDITOR="code -w"` works), and the file
//! it edits: in a private folder of its own (0700) under the temp dir,
//! 0600, removed when done. The terminal is lent by the app loop.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The editor's program and its first arguments, from `$VISUAL` and
/// `$EDITOR` as given (empty ones do not count).
pub fn command(visual: Option<OsString>, editor: Option<OsString>) -> Vec<String> {
    [visual, editor]
        .into_iter()
        .flatten()
        .map(|v| v.to_string_lossy().into_owned())
        .map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|words| !words.is_empty())
        .unwrap_or_else(|| vec!["vi".to_string()])
}

/// The editor this process's environment names.
pub fn from_env() -> Vec<String> {
    command(std::env::var_os("VISUAL"), std::env::var_os("EDITOR"))
}

/// A file for the editor, in a folder only this user can enter; both go
/// when it is dropped.
pub struct Scratch {
    dir: PathBuf,
    pub file: PathBuf,
}

impl Scratch {
    /// `<tmp>/signalbox-edit-XXXXXXXX/<name>` holding `text`.
    pub fn new(name: &str, text: &str) -> std::io::Result<Scratch> {
        let tmp = std::env::temp_dir();
        let mut tries = 0;
        let dir = loop {
            let dir = tmp.join(format!("signalbox-edit-{:016x}", rand::random::<u64>()));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && tries < 8 => tries += 1,
                Err(e) => return Err(e),
            }
        };
        let scratch = Scratch {
            file: dir.join(name),
            dir,
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&scratch.file)?;
        f.write_all(text.as_bytes())?;
        Ok(scratch)
    }

    /// What the editor left in the file.
    pub fn read(&self) -> std::io::Result<String> {
        read_limited(&self.file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A workflow file's text, refusing one larger than any workflow may be;
/// never through a symlink.
pub fn read_limited(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let file = crate::engine::fsafe::open_read(path)?;
    let limit = crate::workflow::node::MAX_FILE_BYTES as u64 + 1;
    let mut text = String::new();
    file.take(limit).read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_editor_is_visual_then_editor_then_vi_split_on_spaces() {
        let os = |s: &str| Some(OsString::from(s));
        assert_eq!(command(os("code -w"), os("nano")), ["code", "-w"]);
        assert_eq!(command(os(" "), os("nano")), ["nano"]);
        assert_eq!(command(None, os("emacs  -nw")), ["emacs", "-nw"]);
        assert_eq!(command(None, None), ["vi"]);
    }

    #[test]
    fn the_scratch_file_is_private_and_goes_when_dropped() {
        use std::os::unix::fs::PermissionsExt;
        let s = Scratch::new("workflow.yaml", "name: x\n").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&s.file), 0o600);
        assert_eq!(mode(s.file.parent().unwrap()), 0o700);
        assert_eq!(s.read().unwrap(), "name: x\n");
        let file = s.file.clone();
        drop(s);
        assert!(!file.exists() && !file.parent().unwrap().exists());
    }
}
