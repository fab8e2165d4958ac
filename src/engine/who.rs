//! Who acted (SPEC §2): the login name journaled as `user` on what an
//! operator or a flag did.

use super::event::By;
use super::scheduler::Scheduler;

/// The login name of `uid`, or the uid itself when the user database has
/// no entry for it.
pub fn login_name(uid: nix::unistd::Uid) -> String {
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => uid.to_string(),
    }
}

impl Scheduler {
    /// Who to journal as having acted `by`: the `sender` of the command
    /// when it said, else the run's own account; nobody for a timeout.
    pub(super) fn who(&self, sender: Option<String>, by: By) -> Option<String> {
        match by {
            By::Timeout => None,
            _ => sender.or_else(|| self.user.clone()),
        }
    }
}
