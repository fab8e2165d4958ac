//! Making and opening what signalbox keeps under its state dir without
//! trusting the file system's other users: folders `0700`, files `0600`
//! whatever the umask, nothing opened through a symlink, and files inside a
//! run folder opened relative to the folder's own descriptor, so a folder
//! swapped for a symlink mid-run is not followed. Also the state dir check:
//! one owned by another user, or writable by group or others, is refused.
//! Knows nothing of what the files hold.

use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;

/// Folders are readable by their owner alone.
pub const DIR_MODE: u32 = 0o700;
/// So are files.
pub const FILE_MODE: u32 = 0o600;

/// How a file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// Created if missing, appended to.
    Append,
    /// Created if missing, written from the start, not truncated.
    Write,
    /// Created, or truncated to nothing.
    Replace,
    /// Only read.
    Read,
}

impl How {
    fn flags(self) -> OFlag {
        match self {
            How::Append => OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_APPEND,
            How::Write => OFlag::O_WRONLY | OFlag::O_CREAT,
            How::Replace => OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC,
            // Never waits on a FIFO planted in place of a file.
            How::Read => OFlag::O_RDONLY | OFlag::O_NONBLOCK,
        }
    }
}

fn io_err(e: nix::errno::Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Opens a file at `path`, never through a symlink in its last component,
/// made `0600` if created.
pub fn open(path: &Path, how: How) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options
        // O_NONBLOCK: opening a FIFO planted here never waits (a regular
        // file ignores the flag).
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .mode(FILE_MODE);
    match how {
        How::Append => options.create(true).append(true),
        How::Write => options.create(true).write(true),
        How::Replace => options.create(true).write(true).truncate(true),
        How::Read => options.read(true),
    };
    private(options.open(path)?)
}

/// Opens a file under the state dir to read it: never through a symlink in
/// its last component, never a FIFO or a device.
pub fn open_read(path: &Path) -> io::Result<File> {
    open(path, How::Read)
}

/// The whole text of a small file of ours, opened as [`open_read`] opens
/// it (never through a symlink; a FIFO or device in its place is refused,
/// so it cannot block the reader).
pub fn read_text(path: &Path) -> io::Result<String> {
    let mut text = String::new();
    io::Read::read_to_string(&mut open_read(path)?, &mut text)?;
    Ok(text)
}

/// Whether `path` is a regular file and not a symlink: what a run folder's
/// kept files must be before they are read by path.
pub fn check_regular(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.file_type().is_file() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is not a regular file (a symlink or something else was put in its place)",
                path.display()
            ),
        ))
    }
}

/// A file of ours that others may read or write (made by an older version,
/// or under an odd umask) is made `0600`.
fn private(file: File) -> io::Result<File> {
    let stat = nix::sys::stat::fstat(&file).map_err(io_err)?;
    // A FIFO, a device or a socket planted in place of a file is refused:
    // reading or writing one could block the run for ever.
    if stat.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (something was put in its place)",
        ));
    }
    if stat.st_mode & 0o077 != 0 && stat.st_uid == nix::unistd::geteuid().as_raw() {
        nix::sys::stat::fchmod(&file, Mode::from_bits_truncate(FILE_MODE)).map_err(io_err)?;
    }
    Ok(file)
}

/// Opens the folder at `path` for use with [`open_in`]; a symlink in its
/// last component is refused.
pub fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(io_err)
}

/// Opens the folder `name` inside `dir`, refusing a symlink.
pub fn open_in_dir(dir: &impl AsFd, name: &str) -> io::Result<OwnedFd> {
    nix::fcntl::openat(
        dir.as_fd(),
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(io_err)
}

/// Opens `rel` (plain names, no `..`) inside the folder `dir`, following
/// no symlink on the way: each folder on the way and the file itself.
pub fn open_in(dir: &impl AsFd, rel: &Path, how: How) -> io::Result<File> {
    let names = plain_names(rel)?;
    let Some((last, folders)) = names.split_last() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty path"));
    };
    let mut held: Option<OwnedFd> = None;
    for name in folders {
        let at = match &held {
            Some(fd) => fd.as_fd(),
            None => dir.as_fd(),
        };
        let next = nix::fcntl::openat(
            at,
            *name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        );
        held = Some(next.map_err(io_err)?);
    }
    let at = match &held {
        Some(fd) => fd.as_fd(),
        None => dir.as_fd(),
    };
    let fd = nix::fcntl::openat(
        at,
        *last,
        how.flags() | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::from_bits_truncate(FILE_MODE),
    )
    .map_err(io_err)?;
    private(File::from(fd))
}

fn plain_names(rel: &Path) -> io::Result<Vec<&std::ffi::OsStr>> {
    rel.components()
        .map(|c| match c {
            Component::Normal(name) => Ok(name),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a plain relative path: {}", rel.display()),
            )),
        })
        .collect()
}

/// Makes the folder `name` inside `dir` (`0700`); one already there must
/// be a real folder of ours, and is made `0700`.
pub fn make_dir_in(dir: &impl AsFd, name: &str) -> io::Result<()> {
    match nix::sys::stat::mkdirat(dir.as_fd(), name, Mode::from_bits_truncate(DIR_MODE)) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => return Err(io_err(e)),
    }
    own_and_private(&open_in_dir(dir, name)?)
}

/// Makes the folder at `path` (`0700`, its missing parents as the umask
/// says); one already there must be a real folder of ours, made `0700`
/// (so not for a folder the user chose, such as the state dir).
pub fn make_dir(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    match fs::DirBuilder::new().mode(DIR_MODE).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    own_and_private(&open_dir(path)?)
}

/// A folder signalbox made must be ours; it is made `0700` (the umask may
/// have taken more, never less).
fn own_and_private(fd: &OwnedFd) -> io::Result<()> {
    let stat = nix::sys::stat::fstat(fd).map_err(io_err)?;
    if stat.st_uid != nix::unistd::geteuid().as_raw() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "it belongs to another user",
        ));
    }
    if stat.st_mode & 0o777 != DIR_MODE {
        nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(DIR_MODE)).map_err(io_err)?;
    }
    Ok(())
}

/// Whether `name` inside `dir` is a symlink (a missing one is not).
pub fn is_symlink_in(dir: &impl AsFd, name: &str) -> bool {
    nix::sys::stat::fstatat(dir.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .is_ok_and(|s| s.st_mode & libc::S_IFMT == libc::S_IFLNK)
}

/// Refuses a state dir another user could change: one owned by another
/// user, or writable by group or others. A missing one is made, `0700`.
/// The message says how to fix it.
pub fn check_state_dir(path: &Path) -> Result<(), String> {
    if fs::symlink_metadata(path).is_err() {
        make_dir(path).map_err(|e| format!("cannot make the state dir {}: {e}", path.display()))?;
    }
    let meta = fs::metadata(path)
        .map_err(|e| format!("cannot use the state dir {}: {e}", path.display()))?;
    // Nobody can change a read-only one, whatever its mode says; writing
    // to it fails later with that reason.
    let read_only = nix::sys::statvfs::statvfs(path)
        .is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY));
    state_dir_fault(&meta, nix::unistd::geteuid().as_raw(), read_only)
        .map(|why| why.replace("DIR", &path.display().to_string()))
        .map_or(Ok(()), Err)
}

/// Why a state dir with these metadata (on a read-only file system or not)
/// cannot be trusted by `uid`, with `DIR` standing for its path.
fn state_dir_fault(meta: &fs::Metadata, uid: u32, read_only: bool) -> Option<String> {
    if !meta.is_dir() {
        return Some("the state dir DIR is not a folder".to_string());
    }
    if meta.uid() != uid {
        return Some(format!(
            "the state dir DIR belongs to user {}, not to you (user {uid}): another user could read or change your runs; use a state dir of your own (--state-dir)",
            meta.uid()
        ));
    }
    let mode = meta.permissions().mode();
    if mode & 0o022 != 0 && !read_only {
        return Some(format!(
            "the state dir DIR can be written by other users (mode {:o}): run `chmod go-w DIR` or use another state dir",
            mode & 0o777
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_opened_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("logs")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("f"), dir.path().join("f")).unwrap();
        let fd = open_dir(dir.path()).unwrap();
        assert!(open_in(&fd, Path::new("logs/a.log"), How::Append).is_err());
        assert!(open_in(&fd, Path::new("f"), How::Append).is_err());
        assert!(open(&dir.path().join("f"), How::Append).is_err());
        assert!(open_in(&fd, Path::new("../x"), How::Append).is_err());
        assert!(fs::read_dir(outside.path()).unwrap().next().is_none());
        assert!(is_symlink_in(&fd, "logs"));
        assert!(make_dir_in(&fd, "logs").is_err());
    }

    #[test]
    fn made_files_and_folders_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let fd = open_dir(dir.path()).unwrap();
        make_dir_in(&fd, "logs").unwrap();
        open_in(&fd, Path::new("logs/a.log"), How::Append).unwrap();
        let mode = |p: &str| fs::metadata(dir.path().join(p)).unwrap().mode() & 0o777;
        assert_eq!(mode("logs"), 0o700);
        assert_eq!(mode("logs/a.log"), 0o600);
        fs::set_permissions(
            dir.path().join("logs/a.log"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        open_in(&fd, Path::new("logs/a.log"), How::Append).unwrap();
        assert_eq!(mode("logs/a.log"), 0o600, "made private again");
        fs::set_permissions(dir.path().join("logs"), fs::Permissions::from_mode(0o755)).unwrap();
        make_dir_in(&fd, "logs").unwrap();
        assert_eq!(mode("logs"), 0o700, "made private again");
    }

    #[test]
    fn a_state_dir_others_can_change_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let uid = nix::unistd::geteuid().as_raw();
        let meta = |mode: u32| {
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(mode)).unwrap();
            fs::metadata(dir.path()).unwrap()
        };
        assert_eq!(state_dir_fault(&meta(0o700), uid, false), None);
        assert_eq!(state_dir_fault(&meta(0o755), uid, false), None);
        let open = state_dir_fault(&meta(0o777), uid, false).unwrap();
        assert!(open.contains("chmod go-w DIR"), "{open}");
        assert!(state_dir_fault(&meta(0o720), uid, false).is_some());
        assert_eq!(state_dir_fault(&meta(0o777), uid, true), None, "read-only");
        let theirs = state_dir_fault(&meta(0o700), uid + 1, false).unwrap();
        assert!(theirs.contains("belongs to user"), "{theirs}");
    }
}
