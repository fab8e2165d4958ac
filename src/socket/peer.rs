//! Who is on the other end of a connection, and whether it may be served
//! (SPEC §6): the run's own user and root always; with `--allow`, the
//! users named and the members of the groups named. Decided from the
//! kernel's word on the peer (`SO_PEERCRED`), never from file modes. And,
//! for a client, whether the server of a shared socket is its owner.

use std::path::Path;
use std::time::Duration;

use tokio::net::UnixStream;

use crate::engine::allow::Allowed;

/// The run's user and its allow list, resolved when the run started.
#[derive(Debug, Clone)]
pub struct Access {
    me: u32,
    users: Vec<u32>,
    groups: Vec<u32>,
}

impl Access {
    pub fn new(allow: &[Allowed]) -> Access {
        let mut users = Vec::new();
        let mut groups = Vec::new();
        for a in allow {
            match a {
                Allowed::User { uid, .. } => users.push(*uid),
                Allowed::Group { gid, .. } => groups.push(*gid),
            }
        }
        Access {
            me: nix::unistd::geteuid().as_raw(),
            users,
            groups,
        }
    }

    /// Whether the peer may command the run and follow it.
    pub fn allows(&self, stream: &UnixStream) -> bool {
        let Ok(cred) = stream.peer_cred() else {
            return false;
        };
        let uid = cred.uid();
        if uid == self.me || uid == 0 || self.users.contains(&uid) {
            return true;
        }
        if self.groups.is_empty() {
            return false;
        }
        if self.groups.contains(&cred.gid()) {
            return true;
        }
        let by_kernel = cred.pid().and_then(|pid| proc_groups(pid, uid));
        if by_kernel.is_some_and(|gs| gs.iter().any(|g| self.groups.contains(g))) {
            return true;
        }
        member_groups(uid).iter().any(|g| self.groups.contains(g))
    }
}

/// The supplementary groups of process `pid`, from `/proc/PID/status`, if
/// it still is a process of `uid` (not a pid reused by someone else's).
fn proc_groups(pid: i32, uid: u32) -> Option<Vec<u32>> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |key: &str| -> Option<Vec<u32>> {
        let line = status.lines().find_map(|l| l.strip_prefix(key))?;
        line.split_whitespace().map(|n| n.parse().ok()).collect()
    };
    let uids = field("Uid:")?;
    // Real, effective, saved, filesystem: all of them the peer's.
    if uids.is_empty() || uids.iter().any(|u| *u != uid) {
        return None;
    }
    field("Groups:")
}

/// The groups the group database makes `uid` a member of (its primary
/// group among them): membership given by the administrator, whether or
/// not the connecting process was started with it.
fn member_groups(uid: u32) -> Vec<u32> {
    let Ok(Some(user)) = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) else {
        return Vec::new();
    };
    let Ok(name) = std::ffi::CString::new(user.name) else {
        return Vec::new();
    };
    nix::unistd::getgrouplist(&name, user.gid)
        .map(|gs| gs.iter().map(|g| g.as_raw()).collect())
        .unwrap_or_default()
}

/// The login name of the peer, journaled as `user` for what it does (its
/// uid when the user database has no entry for it).
pub fn user(stream: &UnixStream) -> Option<String> {
    let uid = nix::unistd::Uid::from_raw(stream.peer_cred().ok()?.uid());
    Some(crate::engine::who::login_name(uid))
}

/// Connects, waiting out a full listen queue (`EAGAIN`: a flood of other
/// connections) for a few seconds rather than giving up at once. A socket
/// in a user's shared folder is talked to only when that user serves it.
pub(super) async fn connect(path: &Path) -> std::io::Result<UnixStream> {
    let stream = connect_any(path).await?;
    if let Some(owner) = super::shared::owner_of(path) {
        let server = stream.peer_cred()?.uid();
        if server != owner {
            return Err(std::io::Error::other(format!(
                "it is served by user {server}, not by user {owner} whose folder it is in: not talking to it"
            )));
        }
    }
    Ok(stream)
}

async fn connect_any(path: &Path) -> std::io::Result<UnixStream> {
    let mut pause = Duration::from_millis(5);
    let give_up = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match UnixStream::connect(path).await {
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    && tokio::time::Instant::now() < give_up =>
            {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_its_own_groups_and_a_stranger_none() {
        let me = std::process::id() as i32;
        let uid = nix::unistd::geteuid().as_raw();
        assert!(proc_groups(me, uid).is_some());
        assert_eq!(proc_groups(me, uid.wrapping_add(1)), None);
        assert!(member_groups(0).contains(&0));
    }
}
