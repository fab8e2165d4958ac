//! The `secrets:` mapping: each name read from exactly one of an
//! environment variable or a file. Only where to look is in the file; the
//! values are read by the engine when a run starts or resumes.

use super::super::node::Node;
use super::super::read::{Reader, is_id};
use super::super::spec::SecretSpec;
use super::Located;

const SECRET_KEYS: &[&str] = &["env", "file"];

/// Every entry of `secrets:`, its problems reported; the names go to
/// `located` (as `secrets.NAME`) so later errors can point at them.
pub(super) fn secrets(
    r: &mut Reader<'_>,
    node: &Node,
    located: &mut Located,
) -> std::collections::BTreeMap<String, SecretSpec> {
    let mut out = std::collections::BTreeMap::new();
    for (k, v) in r.entries(node, "`secrets`") {
        located.top.add(format!("secrets.{}", k.name), k.pos);
        if !is_id(&k.name) {
            r.error(
                k.pos,
                format!(
                    "invalid secret name `{}`: use letters, digits, `_` and `-`",
                    k.name
                ),
            );
        }
        if let Some(s) = secret(r, v, &k.name) {
            out.insert(k.name.to_string(), s);
        }
    }
    out
}

fn secret(r: &mut Reader<'_>, node: &Node, name: &str) -> Option<SecretSpec> {
    let what = format!("secret `{name}`");
    let example = "such as `{ env: DEPLOY_TOKEN }` or `{ file: ~/.config/app/key }`";
    if matches!(node.value, super::Value::Null) {
        r.error(node.pos, format!("{what} must be a mapping, {example}"));
        return None;
    }
    let fields = r.fields(node, &what, SECRET_KEYS)?;
    let mut s = SecretSpec::default();
    for (key, value) in &fields {
        let field = format!("`{}` of {what}", key.name);
        let Some(text) = r.string(value, &field) else {
            continue;
        };
        let bad = match &*key.name {
            "env" if text.is_empty() || text.contains(['=', '\0']) => {
                Some("must name an environment variable (not empty, no `=` or NUL)")
            }
            "file" if text.is_empty() || text.contains('\0') => {
                Some("must be a file's path (not empty, no NUL)")
            }
            _ => None,
        };
        if let Some(bad) = bad {
            r.error(value.pos, format!("{field} {bad}"));
            continue;
        }
        match &*key.name {
            "env" => s.env = Some(text),
            _ => s.file = Some(text),
        }
    }
    if fields.len() != 1 {
        let said = if fields.is_empty() {
            "has neither `env` nor `file`"
        } else {
            "has both `env` and `file`"
        };
        r.error(
            node.pos,
            format!("{what} {said}: give exactly one, {example}"),
        );
        return None;
    }
    Some(s)
}
