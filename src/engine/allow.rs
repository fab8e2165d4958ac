//! Who besides the run's own user may reach a live run (`--allow USER`,
//! `--allow @GROUP`, SPEC §6): the names resolved once, when the run
//! starts, to the uids and gids every connection is checked against. Kept
//! in the run's `run.json` so a resumed run allows the same people.

/// One `--allow`: a user or a group, by the name given and its id then.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Allowed {
    User { name: String, uid: u32 },
    Group { name: String, gid: u32 },
}

/// `USER` or `@GROUP` resolved through the user and group databases; why
/// not, when there is no such user or group.
pub fn resolve(spec: &str) -> Result<Allowed, String> {
    if let Some(group) = spec.strip_prefix('@') {
        if group.is_empty() {
            return Err("--allow @ names no group: --allow @GROUP".into());
        }
        return match nix::unistd::Group::from_name(group) {
            Ok(Some(g)) => Ok(Allowed::Group {
                name: g.name,
                gid: g.gid.as_raw(),
            }),
            Ok(None) => Err(format!(
                "--allow @{group}: there is no group `{group}` on this machine (see `getent group`)"
            )),
            Err(e) => Err(format!("--allow @{group}: cannot look the group up: {e}")),
        };
    }
    if spec.is_empty() {
        return Err("--allow takes a user name or @GROUP".into());
    }
    match nix::unistd::User::from_name(spec) {
        Ok(Some(u)) => Ok(Allowed::User {
            name: u.name,
            uid: u.uid.as_raw(),
        }),
        Ok(None) => Err(format!(
            "--allow {spec}: there is no user `{spec}` on this machine (a group is written @{spec})"
        )),
        Err(e) => Err(format!("--allow {spec}: cannot look the user up: {e}")),
    }
}

/// Every `--allow`, resolved, each once.
pub fn resolve_all(specs: &[String]) -> Result<Vec<Allowed>, String> {
    let mut out: Vec<Allowed> = Vec::new();
    for spec in specs {
        let one = resolve(spec)?;
        if !out.contains(&one) {
            out.push(one);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_its_group_resolve_and_unknown_names_say_so() {
        assert_eq!(
            resolve("root").unwrap(),
            Allowed::User {
                name: "root".into(),
                uid: 0
            }
        );
        assert!(matches!(
            resolve("@root").unwrap(),
            Allowed::Group { gid: 0, .. }
        ));
        let e = resolve("nobody-x-such").unwrap_err();
        assert!(e.contains("no user `nobody-x-such`"), "{e}");
        let e = resolve("@nobody-x-such").unwrap_err();
        assert!(e.contains("no group `nobody-x-such`"), "{e}");
        assert!(resolve("@").is_err() && resolve("").is_err());
        assert_eq!(
            resolve_all(&["root".into(), "root".into()]).unwrap().len(),
            1
        );
    }
}
