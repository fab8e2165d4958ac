//! `<run>/revisions/N.yaml`: each applied edit's workflow file, as the
//! operator gave it. Written whole and made durable (the file, then the
//! folders that name it) before the edit's `dag_modified` is journaled, so
//! an event never names a revision a crash lost. A file no event names
//! (a crash between the two) is never read, and the next edit replaces it.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use super::RunDir;
use crate::engine::fsafe::{self, How};

/// The revision's path inside the run folder.
pub fn revision_rel(n: u32) -> String {
    format!("revisions/{n}.yaml")
}

fn errno(e: nix::errno::Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

fn fsync_dir(fd: &OwnedFd) -> io::Result<()> {
    nix::unistd::fsync(fd.as_fd()).map_err(errno)
}

impl RunDir {
    /// The run folder's own descriptor, or one opened now.
    fn folder(&self) -> io::Result<std::sync::Arc<OwnedFd>> {
        match &self.fd {
            Some(fd) => Ok(fd.clone()),
            None => fsafe::open_dir(&self.path).map(std::sync::Arc::new),
        }
    }

    /// Writes revision `n` atomically and durably: `revisions/` made `0700`
    /// if missing (and the run folder synced so it stays), a temporary file
    /// written and synced, renamed over `N.yaml`, and `revisions/` synced.
    pub fn write_revision(&self, n: u32, bytes: &[u8]) -> io::Result<()> {
        let run = self.folder()?;
        let made = !fsafe::is_symlink_in(run.as_ref(), "revisions")
            && nix::sys::stat::fstatat(
                run.as_fd(),
                "revisions",
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .is_err();
        fsafe::make_dir_in(run.as_ref(), "revisions")?;
        if made {
            fsync_dir(&run)?;
        }
        let dir = fsafe::open_in_dir(run.as_ref(), "revisions")?;
        let name = format!("{n}.yaml");
        let tmp = format!("{n}.yaml.tmp");
        let mut f = fsafe::open_in(&dir, std::path::Path::new(&tmp), How::Replace)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        nix::fcntl::renameat(dir.as_fd(), tmp.as_str(), dir.as_fd(), name.as_str())
            .map_err(errno)?;
        fsync_dir(&dir)
    }

    /// The bytes of revision `n`, read without following a symlink.
    pub fn read_revision(&self, n: u32) -> io::Result<Vec<u8>> {
        let mut f = self.open_file(&revision_rel(n), How::Read)?;
        let meta = f.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a regular file",
            ));
        }
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

/// Hex SHA-256 of a revision's bytes, as `dag_modified` carries it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
