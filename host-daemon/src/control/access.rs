//! Who may use the control socket: root, or a member of `control.group`, judged from
//! the caller's kernel credentials (`SO_PEERCRED`: its uid, gid and pid as of its
//! `connect()`), never from anything the caller says.
//!
//! Membership is the group database's (as `id USER` shows it): the caller's gid is the
//! group's, or its user is a listed member, or the user's primary group is the group.
//! It is looked up at each connection, so adding or removing a member takes effect at
//! once, without restarting the daemon.

use std::fmt;

use nix::unistd::{Group, Uid, User};

/// The caller's credentials, as the kernel gave them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Caller {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Process id, when the kernel tells it.
    pub pid: Option<i32>,
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "uid {} gid {}", self.uid, self.gid)?;
        if let Some(pid) = self.pid {
            write!(f, " pid {pid}")?;
        }
        Ok(())
    }
}

/// A group as the group database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupEntry {
    /// Its id.
    pub gid: u32,
    /// The user names listed as its members.
    pub members: Vec<String>,
}

/// The caller's user as the password database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserEntry {
    /// Login name.
    pub name: String,
    /// Primary group id.
    pub gid: u32,
}

/// Whether the caller may use the socket: root always; otherwise only with a group
/// (`None`: none configured, or it no longer exists) that holds it.
pub(crate) fn admits(
    caller: &Caller,
    group: Option<&GroupEntry>,
    user: Option<&UserEntry>,
) -> bool {
    if caller.uid == 0 {
        return true;
    }
    let Some(group) = group else {
        return false;
    };
    caller.gid == group.gid
        || user.is_some_and(|u| u.gid == group.gid || group.members.contains(&u.name))
}

/// The refusal for a caller [`admits`] turned down, one line for the caller and the
/// log alike.
pub(crate) fn refusal(caller: &Caller, group: Option<&str>) -> String {
    match group {
        Some(g) => format!("uid {} is not root and not in group {g}", caller.uid),
        None => format!(
            "uid {} is not root (no control.group is configured)",
            caller.uid
        ),
    }
}

/// Looks the caller up in the system's databases and judges it: `Err` carries the
/// refusal. Blocking (the databases may be remote, through NSS): the server runs it
/// off the runtime's thread.
pub(crate) fn check(caller: &Caller, group: Option<&str>) -> Result<(), String> {
    if caller.uid == 0 {
        return Ok(());
    }
    let entry = group.and_then(|name| match Group::from_name(name) {
        Ok(Some(g)) => Some(GroupEntry {
            gid: g.gid.as_raw(),
            members: g.mem,
        }),
        Ok(None) => {
            tracing::warn!(
                "control: control.group {name:?} no longer exists: only root is admitted"
            );
            None
        }
        Err(e) => {
            tracing::warn!(
                "control: cannot look up control.group {name:?} ({e}): only root is admitted"
            );
            None
        }
    });
    let user = match User::from_uid(Uid::from_raw(caller.uid)) {
        Ok(Some(u)) => Some(UserEntry {
            name: u.name,
            gid: u.gid.as_raw(),
        }),
        _ => None,
    };
    if admits(caller, entry.as_ref(), user.as_ref()) {
        Ok(())
    } else {
        Err(refusal(caller, group))
    }
}
