//! `hooks:`, a list of `{ name?, on, steps?, run, timeout? }`: the shape,
//! the event types (with "did you mean"), names (default `hook-N`, unique).
//! Step ids and templates are checked by `resolve`, which knows the steps.

use super::super::diag::did_you_mean;
use super::super::hook::EVENT_TYPES;
use super::super::node::{Node, Value};
use super::super::read::Reader;
use super::super::spec::HookSpec;
use super::Located;

const HOOK_KEYS: &[&str] = &["name", "on", "steps", "run", "timeout"];

/// Reads the list; each hook's positions go to `at.top` as `hooks.N`,
/// `hooks.N.run` and `hooks.N.steps.K` (N from 0, in file order).
pub(super) fn hooks(r: &mut Reader<'_>, node: &Node, at: &mut Located) -> Vec<HookSpec> {
    let items = match &node.value {
        Value::Null => return Vec::new(),
        Value::Seq(items) => items,
        _ => {
            r.error(
                node.pos,
                format!(
                    "`hooks` must be a list such as `- {{ on: [run_finished], run: ./cleanup.sh }}`, found {}",
                    node.kind()
                ),
            );
            return Vec::new();
        }
    };
    let mut out: Vec<HookSpec> = Vec::with_capacity(items.len());
    let mut names: Vec<(String, u32)> = Vec::with_capacity(items.len());
    for (n, item) in items.iter().enumerate() {
        let default = format!("hook-{}", n + 1);
        at.top.add(format!("hooks.{n}"), item.pos);
        let h = hook(r, item, n, &default, at);
        let name = h.name.clone().unwrap_or(default);
        let pos = at.top.get(&format!("hooks.{n}.name")).unwrap_or(item.pos);
        match names.iter().find(|(seen, _)| *seen == name) {
            Some((_, line)) => r.error(
                pos,
                format!("duplicate hook name `{name}` (first at line {line}): give each hook its own `name`"),
            ),
            None => names.push((name, pos.line)),
        }
        out.push(h);
    }
    out
}

fn hook(r: &mut Reader<'_>, node: &Node, n: usize, default: &str, at: &mut Located) -> HookSpec {
    let what = format!("hook `{default}`");
    let mut h = HookSpec::default();
    let Some(fields) = r.fields(node, &what, HOOK_KEYS) else {
        return h;
    };
    let (mut has_on, mut has_run) = (false, false);
    for (key, value) in fields {
        let field = format!("`{}` of {what}", key.name);
        at.top.add(format!("hooks.{n}.{}", key.name), value.pos);
        match &*key.name {
            "name" => {
                h.name = r.string(value, &field);
                if h.name.as_deref().is_some_and(|s| s.trim().is_empty()) {
                    r.error(value.pos, format!("{field} is empty"));
                }
            }
            "on" => {
                has_on = true;
                h.on = on(r, value, &field);
            }
            "steps" => {
                let ids = r.strings(value, &field).unwrap_or_default();
                for (k, (_, pos)) in ids.iter().enumerate() {
                    at.top.add(format!("hooks.{n}.steps.{k}"), *pos);
                }
                h.steps = Some(ids.into_iter().map(|(id, _)| id).collect());
            }
            "run" => {
                has_run = true;
                h.run = r.scalar(value, &field).map(|t| t.0).unwrap_or_default();
            }
            "timeout" => h.timeout = r.duration(value, &field),
            _ => {}
        }
    }
    if !has_on {
        r.error(
            node.pos,
            format!(
                "{what} is missing `on`: the event types that run it, such as `on: [run_finished]`"
            ),
        );
    }
    if !has_run {
        r.error(
            node.pos,
            format!("{what} is missing `run`: the command it runs"),
        );
    }
    h
}

/// The event types, each one SPEC §3 names; `hook_finished` is refused.
fn on(r: &mut Reader<'_>, node: &Node, field: &str) -> Vec<String> {
    let types = r.strings(node, field).unwrap_or_default();
    if types.is_empty() {
        r.error(
            node.pos,
            format!("{field} is empty: name the event types that run it, such as `[run_finished]`"),
        );
    }
    let mut out = Vec::with_capacity(types.len());
    for (kind, pos) in types {
        if kind == "hook_finished" {
            r.error(
                pos,
                format!("{field} names `hook_finished`: a hook cannot run on hook_finished, since every hook's own end is one (it would run for ever)"),
            );
        } else if !EVENT_TYPES.contains(&kind.as_str()) {
            let hint = did_you_mean(&kind, EVENT_TYPES.iter().copied());
            r.error(
                pos,
                format!("{field} names unknown event type `{kind}`{hint}"),
            );
        } else if !out.contains(&kind) {
            out.push(kind);
        }
    }
    out
}
