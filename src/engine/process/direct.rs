//! Running a command without a shell, as Make does when a command has no
//! shell syntax: which commands qualify, and where their program is.

use super::ProcessSpec;

/// Returns the argv of a command with no shell syntax at all, so it can be executed without a
/// shell like make does: only words of `[A-Za-z0-9_./=:,+@%-]` separated by spaces or tabs,
/// the first word neither a shell builtin/keyword nor an assignment. Trailing newlines (from
/// YAML block scalars) are ignored since sh ignores them too.
pub fn simple_argv(command: &str) -> Option<Vec<String>> {
    const ALLOWED: &str = "_./=:,+@%-";
    const SHELL_WORDS: &[&str] = &[
        ".", ":", "alias", "bg", "break", "builtin", "case", "cd", "command", "continue",
        "declare", "dirs", "disown", "do", "done", "elif", "else", "enable", "esac", "eval",
        "exec", "exit", "export", "fc", "fg", "fi", "for", "function", "getopts", "hash",
        "history", "if", "in", "jobs", "let", "local", "logout", "popd", "pushd", "read",
        "readonly", "return", "select", "set", "shift", "shopt", "source", "suspend", "then",
        "time", "times", "trap", "type", "typeset", "ulimit", "umask", "unalias", "unset", "until",
        "wait", "while",
    ];
    let command = command.trim_end_matches('\n');
    let ok = |c: char| c.is_ascii_alphanumeric() || ALLOWED.contains(c) || c == ' ' || c == '\t';
    if !command.chars().all(ok) {
        return None;
    }
    let argv: Vec<String> = command
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let first = argv.first()?;
    if first.contains('=') || SHELL_WORDS.contains(&first.as_str()) {
        return None;
    }
    Some(argv)
}

/// Where a bare program name is found on `PATH`, looked up once per name:
/// the kernel would otherwise try every `PATH` entry on every spawn. Only
/// for steps that keep the inherited `PATH`.
pub(super) fn resolve(program: &str, spec: &ProcessSpec) -> std::borrow::Cow<'static, str> {
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::{Mutex, OnceLock};
    static FOUND: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    if program.contains('/') || spec.env.iter().any(|(k, _)| k == "PATH") {
        return program.to_owned().into();
    }
    let cache = FOUND.get_or_init(Default::default);
    if let Some(path) = cache.lock().ok().and_then(|c| c.get(program).cloned()) {
        return path.into();
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| {
                std::fs::metadata(p)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
    });
    match found.and_then(|p| p.to_str().map(str::to_owned)) {
        Some(path) => {
            if let Ok(mut c) = cache.lock() {
                c.insert(program.to_owned(), path.clone());
            }
            path.into()
        }
        None => program.to_owned().into(),
    }
}
