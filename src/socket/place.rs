//! Where a run's control socket lives, and making it private. Normally
//! `<run>/control.sock`; when that path is too long for a Unix socket (108
//! bytes with its NUL), a random name in a short per-user folder
//! (`$XDG_RUNTIME_DIR/signalbox/`, else `/tmp/signalbox-<uid>/`, `0700`,
//! ours, not a symlink), written down in `<run>/control.sock.path` for
//! `approve`, `reject` and `answer` to find. A run with `--allow` serves
//! it in its owner's shared folder instead (`shared`), also recorded; a
//! user who cannot read the run folder finds it there by the run id.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::socket::{AddressFamily, Backlog, SockFlag, SockType, UnixAddr};

use crate::engine::fsafe::{self, How};
use crate::engine::run_dir::RunDir;

pub const SOCKET: &str = "control.sock";
/// In the run folder when the socket lives elsewhere: its path, one line.
pub const RECORD: &str = "control.sock.path";
/// `sun_path` holds 108 bytes, the last a NUL.
const MAX_PATH: usize = 107;

/// Where the socket of the run in `dir` is to be made, and whether the run
/// folder must record it.
pub fn choose(dir: &Path) -> Result<(PathBuf, bool), String> {
    let inside = dir.join(SOCKET);
    if inside.as_os_str().len() <= MAX_PATH {
        return Ok((inside, false));
    }
    let short = short_dir()?;
    let name = format!("{:016x}.sock", rand::random::<u64>());
    let path = short.join(name);
    if path.as_os_str().len() > MAX_PATH {
        return Err(format!(
            "{} is too long a path for a Unix socket, and so is {}: set XDG_RUNTIME_DIR to a shorter folder",
            inside.display(),
            path.display()
        ));
    }
    Ok((path, true))
}

/// The short per-user folder, made `0700` if missing; one there must be a
/// real folder of ours that nobody else can enter.
fn short_dir() -> Result<PathBuf, String> {
    let uid = nix::unistd::geteuid().as_raw();
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|v| !v.is_empty())
        .map(|v| PathBuf::from(v).join("signalbox"))
        .filter(|p| p.as_os_str().len() < 60)
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/signalbox-{uid}")));
    let refuse = |why: String| {
        format!(
            "the run folder's path is too long for a Unix socket, and the short folder {} cannot hold it: {why}",
            base.display()
        )
    };
    match std::fs::DirBuilder::new().create(&base) {
        Ok(()) => std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| refuse(e.to_string()))?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(refuse(e.to_string())),
    }
    let meta = std::fs::symlink_metadata(&base).map_err(|e| refuse(e.to_string()))?;
    if !meta.is_dir() {
        return Err(refuse("it is not a folder (a symlink?)".into()));
    }
    if meta.uid() != uid {
        return Err(refuse(format!("it belongs to user {}", meta.uid())));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(refuse(format!(
            "other users can use it (mode {:o}): run `chmod 700 {}`",
            meta.mode() & 0o777,
            base.display()
        )));
    }
    Ok(base)
}

/// A listening socket at `path` with `mode` (`0600`: private) before it
/// listens: nobody can connect while it has the umask's mode.
pub fn bind(path: &Path, mode: u32) -> std::io::Result<std::os::unix::net::UnixListener> {
    let errno = |e: nix::errno::Errno| std::io::Error::from_raw_os_error(e as i32);
    let _ = std::fs::remove_file(path);
    let fd: OwnedFd = nix::sys::socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .map_err(errno)?;
    let addr = UnixAddr::new(path).map_err(errno)?;
    nix::sys::socket::bind(fd.as_raw_fd(), &addr).map_err(errno)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    nix::sys::socket::listen(&fd, Backlog::MAXCONN).map_err(errno)?;
    Ok(std::os::unix::net::UnixListener::from(fd))
}

/// Notes in the run folder where its socket is.
pub fn record(dir: &Path, path: &Path) -> std::io::Result<()> {
    let text = format!("{}\n", path.display());
    RunDir::at(String::new(), dir.to_path_buf()).write_atomic(RECORD, text.as_bytes())
}

/// Where the socket of the run in `dir` is: the recorded path, else
/// `<run>/control.sock`, else (a folder this user cannot enter, or none)
/// the socket its owner shares for the run id.
pub fn find(dir: &Path) -> PathBuf {
    match locate(dir) {
        Ok(Some(path)) => path,
        _ => dir.join(SOCKET),
    }
}

/// As `find`; none when no socket for the run is to be found, and why
/// not, when the shared ones are no one answer.
pub fn locate(dir: &Path) -> Result<Option<PathBuf>, String> {
    let recorded = fsafe::open(&dir.join(RECORD), How::Read)
        .ok()
        .and_then(|mut f| {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::Read::take(&mut f, 4096), &mut text)
                .ok()?;
            Some(PathBuf::from(text.trim_end_matches('\n')))
        });
    if let Some(path) = recorded {
        return Ok(Some(path));
    }
    let inside = dir.join(SOCKET);
    // A folder this user can read says all there is: no other place.
    if std::fs::symlink_metadata(&inside).is_ok() || fsafe::open_dir(dir).is_ok() {
        return Ok(Some(inside));
    }
    let Some(id) = dir.file_name().and_then(|n| n.to_str()) else {
        return Ok(None);
    };
    super::shared::find(id, owner_hint(dir))
}

/// Whose run the folder `dir` (`<state>/runs/<id>`) would be: the owner of
/// the folder, else of the state dir, when that can be seen and is not
/// this user (whose own runs are not looked for elsewhere).
fn owner_hint(dir: &Path) -> Option<u32> {
    let me = nix::unistd::geteuid().as_raw();
    let state = dir.parent().and_then(Path::parent);
    [Some(dir), state]
        .into_iter()
        .flatten()
        .find_map(|p| std::fs::symlink_metadata(p).ok())
        .map(|m| m.uid())
        .filter(|uid| *uid != me)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_run_folder_gets_its_socket_elsewhere_and_records_it() {
        let short = tempfile::tempdir().unwrap();
        assert!(!choose(short.path()).unwrap().1);
        let long = short.path().join("x".repeat(120));
        std::fs::create_dir(&long).unwrap();
        let (path, recorded) = choose(&long).unwrap();
        assert!(recorded && path.as_os_str().len() <= MAX_PATH, "{path:?}");
        record(&long, &path).unwrap();
        assert_eq!(find(&long), path);
        assert_eq!(find(short.path()), short.path().join(SOCKET));
    }

    #[test]
    fn the_socket_is_private_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SOCKET);
        let _listener = bind(&path, 0o600).unwrap();
        let mode = std::fs::symlink_metadata(&path).unwrap().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
