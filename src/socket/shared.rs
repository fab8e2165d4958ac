//! Where a run started with `--allow` serves its socket, so that users
//! who cannot enter its (private) run folder can find it from the run id
//! alone: `/tmp/signalbox-shared-<owner-uid>/<run-id>.sock`.
//!
//! The folder is the owner's, `0711`: others may pass through it to a name
//! they know but not list it, and nobody else can add, swap or remove a
//! file in it. The socket is `0666`, since connecting needs write access;
//! the peer check of every connection (`peer`) decides who is served. The
//! owner refuses a folder of that name that is not a real folder, not its
//! own, or writable by others; a client trusts a candidate only when folder
//! and socket both belong to the uid the folder is named after, and, once
//! connected, only a server running as that uid.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// The folders' common start; the owner's uid follows.
const PREFIX: &str = "signalbox-shared-";
const BASE: &str = "/tmp";
/// The mode the owner keeps its folder at.
const DIR_MODE: u32 = 0o711;
/// Longest run id used as is in a socket name (the path stays well under
/// the 107 bytes a Unix socket path may have).
const MAX_NAME: usize = 60;

/// The owner's shared folder.
fn folder(uid: u32) -> PathBuf {
    Path::new(BASE).join(format!("{PREFIX}{uid}"))
}

/// The socket's name for `run_id`: the id itself when it is short and made
/// of plain characters, else a shortened id and a hash of the whole (both
/// sides compute the same name from the id).
pub fn name(run_id: &str) -> String {
    let plain = run_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !run_id.is_empty();
    if plain && run_id.len() <= MAX_NAME {
        return format!("{run_id}.sock");
    }
    let head: String = run_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(32)
        .collect();
    format!("{head}~{:016x}.sock", fnv1a(run_id.as_bytes()))
}

/// FNV-1a, 64 bits: stable across versions and builds, unlike std's
/// hasher; only the owner can add names to its folder, so this needs to
/// tell its own runs apart, not to resist anyone.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The owner's side: the socket path for `run_id` in this user's shared
/// folder, the folder made `0711` if missing; why not, when a folder of
/// that name is not one this user can trust.
pub fn make(run_id: &str) -> Result<PathBuf, String> {
    let uid = nix::unistd::geteuid().as_raw();
    let base = folder(uid);
    let refuse = |why: String| {
        format!(
            "cannot share the control socket (--allow) in {}: {why}",
            base.display()
        )
    };
    match nix::unistd::mkdir(&base, Mode::from_bits_truncate(DIR_MODE)) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => return Err(refuse(e.desc().to_string())),
    }
    // Opened without following a symlink; what is checked is what was
    // opened. Nobody else can replace it after: /tmp is sticky.
    let fd = nix::fcntl::open(
        &base,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR => {
            refuse("it is not a folder (a symlink?): someone else made it; remove it".into())
        }
        e => refuse(e.desc().to_string()),
    })?;
    let st = nix::sys::stat::fstat(&fd).map_err(|e| refuse(e.desc().to_string()))?;
    if st.st_uid != uid {
        return Err(refuse(format!(
            "it belongs to user {}, not to you: someone else made it; have it removed",
            st.st_uid
        )));
    }
    let mode = st.st_mode & 0o7777;
    if mode & 0o022 != 0 {
        return Err(refuse(format!(
            "others can write to it (mode {mode:o}), so what is in it cannot be trusted: remove it"
        )));
    }
    if mode != DIR_MODE {
        nix::sys::stat::fchmod(&fd, Mode::from_bits_truncate(DIR_MODE))
            .map_err(|e| refuse(e.desc().to_string()))?;
    }
    Ok(base.join(name(run_id)))
}

/// The uid whose shared folder holds `path`, if it is in one.
pub fn owner_of(path: &Path) -> Option<u32> {
    let parent = path.parent()?;
    if parent.parent()? != Path::new(BASE) {
        return None;
    }
    let uid: u32 = parent
        .file_name()?
        .to_str()?
        .strip_prefix(PREFIX)?
        .parse()
        .ok()?;
    (parent == folder(uid)).then_some(uid)
}

/// A client's side: the live socket of `run_id` in the shared folders, of
/// user `owner` when known; none when no user shares one; why not, when
/// that is not one answer.
pub fn find(run_id: &str, owner: Option<u32>) -> Result<Option<PathBuf>, String> {
    let name = name(run_id);
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(BASE)
        .map_err(|e| format!("cannot look for shared runs in {BASE}: {e}"))?
        .flatten()
        .filter_map(|entry| {
            let uid: u32 = entry
                .file_name()
                .to_str()?
                .strip_prefix(PREFIX)?
                .parse()
                .ok()?;
            let dir = folder(uid);
            let sock = dir.join(&name);
            trusted(&dir, &sock, uid).then_some((uid, sock))
        })
        .collect();
    if let Some(owner) = owner {
        return Ok(found
            .into_iter()
            .find(|(uid, _)| *uid == owner)
            .map(|f| f.1));
    }
    match found.len() {
        0 | 1 => Ok(found.pop().map(|f| f.1)),
        _ => {
            let users: Vec<String> = found
                .iter()
                .map(|(uid, _)| crate::engine::who::login_name(nix::unistd::Uid::from_raw(*uid)))
                .collect();
            Err(format!(
                "more than one user serves a run `{run_id}` ({}): give the owner's --state-dir to say whose",
                users.join(", ")
            ))
        }
    }
}

/// Whether `dir` is the real folder of `uid` that only it can write to,
/// and `sock` a socket of `uid` in it.
fn trusted(dir: &Path, sock: &Path, uid: u32) -> bool {
    let dir_ok = std::fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o022 == 0);
    dir_ok
        && std::fs::symlink_metadata(sock)
            .is_ok_and(|m| m.file_type().is_socket() && m.uid() == uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_ids_or_a_stable_hash_and_short() {
        assert_eq!(
            name("gated-20261201-193200-3fa2"),
            "gated-20261201-193200-3fa2.sock"
        );
        let long = format!("{}-20261201-193200-3fa2", "w".repeat(100));
        let n = name(&long);
        assert_eq!(n, name(&long));
        assert_ne!(n, name(&long.replace("3fa2", "3fa3")));
        assert!(folder(u32::MAX).join(&n).as_os_str().len() <= 107, "{n}");
        assert!(!name("../x").contains('/') && !name("a/b").contains('/'));
        assert!(name("").ends_with(".sock") && name("").contains('~'));
    }

    #[test]
    fn only_a_shared_folder_named_after_its_uid_has_an_owner() {
        assert_eq!(owner_of(&folder(1001).join("x.sock")), Some(1001));
        assert_eq!(owner_of(Path::new("/tmp/signalbox-shared-01/x.sock")), None);
        assert_eq!(owner_of(Path::new("/tmp/signalbox-1001/x.sock")), None);
        assert_eq!(owner_of(Path::new("/var/signalbox-shared-1/x.sock")), None);
    }
}
