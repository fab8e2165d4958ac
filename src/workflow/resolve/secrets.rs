//! Secrets at load: names checked where templates use them, and refused
//! everywhere a value would be shown, compared or journaled (prompts,
//! questions, choices, defaults, descriptions, conditions, fallbacks, `cwd`).
//! Only `run` and `env` may hold one, as an environment variable.

use std::collections::{BTreeMap, HashMap};

use super::super::model::SecretSource;
use super::super::spec::SecretSpec;
use super::super::template::{Ref, Template};
use super::Cx;

/// Whether a template under `key` may refer to a secret: `run` (an
/// environment variable reference), `env` values (the variable itself), and
/// a hook's `run` (`hooks.N.run`).
pub(super) fn may_hold_secret(key: &str) -> bool {
    key == "run"
        || key.starts_with("env.")
        || key
            .strip_prefix("hooks.")
            .and_then(|k| k.split_once('.'))
            .is_some_and(|(n, rest)| rest == "run" && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The first `secrets.NAME` a text names, as a template or, in a condition,
/// as an operand: `None` when it names none.
pub(super) fn named_secret(text: &str) -> Option<String> {
    if let Ok(t) = Template::parse(text)
        && let Some(name) = t.refs().find_map(|(r, _)| match r {
            Ref::Secret(name) => Some(name.clone()),
            _ => None,
        })
    {
        return Some(name);
    }
    let mut from = 0;
    while let Some(at) = text[from..].find("secrets.") {
        let start = from + at;
        from = start + "secrets.".len();
        let before = text[..start].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        let name: String = text[from..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        if !name.is_empty() {
            return Some(name);
        }
    }
    None
}

/// What a workflow's `secrets:` resolves to; entries the loader already
/// reported as broken are left out.
pub(super) fn sources(specs: BTreeMap<String, SecretSpec>) -> BTreeMap<String, SecretSource> {
    specs
        .into_iter()
        .filter_map(|(name, s)| {
            let source = match (s.env, s.file) {
                (Some(var), None) => SecretSource::Env(var),
                (None, Some(path)) => SecretSource::File(path),
                _ => return None,
            };
            Some((name, source))
        })
        .collect()
}

impl Cx<'_> {
    /// Why a template under `key` may not use secret `name`, if it may not.
    pub(super) fn secret_problem(&self, key: &str, name: &str) -> Option<String> {
        if !self.secrets.contains_key(name) {
            let hint = self.hint(name, self.secrets.keys().map(String::as_str));
            return Some(format!(
                "unknown secret `{name}`{hint}: declare it under `secrets`"
            ));
        }
        (!may_hold_secret(key)).then(|| refusal(key, name))
    }

    /// Refuses a secret named in `text`, a value under `key` that is never a
    /// template (choices, defaults, fallbacks, `cwd`, descriptions) or is
    /// not one that may hold a secret; the error is at the key.
    pub(super) fn refuse_secret(&mut self, step: Option<usize>, key: &str, text: &str) {
        let Some(name) = named_secret(text) else {
            return;
        };
        let pos = match step {
            Some(i) => self.at.key(i, key).unwrap_or(self.at.id(i)),
            None => self.at.top.get(key).unwrap_or(super::Pos::START),
        };
        self.diags.push(pos, refusal(key, &name));
    }

    /// Two secrets whose names map to one environment variable
    /// (`sign-key`, `sign_key`) would hand one's value to the other.
    pub(super) fn check_secret_names(&mut self) {
        let mut seen: HashMap<String, &str> = HashMap::new();
        for name in self.secrets.keys() {
            let var = Ref::Secret(name.clone()).env_name();
            if let Some(first) = seen.insert(var.clone(), name) {
                let pos = self
                    .at
                    .top
                    .get(&format!("secrets.{name}"))
                    .unwrap_or(super::Pos::START);
                self.diags.push(
                    pos,
                    format!(
                        "secrets `{first}` and `{name}` would share the environment variable {var}; rename one"
                    ),
                );
            }
        }
    }
}

fn refusal(key: &str, name: &str) -> String {
    let place = key.rsplit('.').next().unwrap_or(key);
    let place = match key {
        k if k.starts_with("fallback") => "fallback",
        _ => place,
    };
    format!(
        "`secrets.{name}` cannot be used in `{place}`: a secret's value is never shown, compared or journaled; use it in `run` or `env`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_secrets_as_templates_and_as_operands() {
        assert_eq!(named_secret("x {{ secrets.tok }}").as_deref(), Some("tok"));
        assert_eq!(named_secret("secrets.a-b == 'x'").as_deref(), Some("a-b"));
        assert_eq!(named_secret("!(secrets.k)").as_deref(), Some("k"));
        assert_eq!(named_secret("vars.secrets.k"), None);
        assert_eq!(named_secret("mysecrets.k"), None);
        assert_eq!(named_secret("{{ vars.x }} plain"), None);
    }
}
