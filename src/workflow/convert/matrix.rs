//! Readers for a step's matrix and its kin: `needs` entries that are
//! `{ step, same }` maps, and `matrix` (axes, `include`, `exclude`). Shape
//! errors only; expanding the matrix is `resolve/matrix.rs`'s.

use super::super::diag::{closest, did_you_mean};
use super::super::node::{Node, Value};
use super::super::read::{Reader, is_id, too_long};
use super::super::spec::{Combo, MatrixSpec, Need, NeedOf, Needs, ScalarText};
use super::StepSpots;

/// Keys a `{ step, same }` entry of `needs` may hold.
const NEED_KEYS: &[&str] = &["step", "same"];

/// `needs`: one id, or a list of ids and `{ step, same }` maps; each
/// entry's position goes to `at.needs`.
pub(super) fn needs(r: &mut Reader<'_>, node: &Node, field: &str, at: &mut StepSpots) -> Needs {
    let items: Vec<&Node> = match &node.value {
        Value::Null => return Needs::default(),
        Value::Seq(items) => items.iter().collect(),
        Value::Str(_) => vec![node],
        _ => {
            r.error(
                node.pos,
                format!("{field} must be a list of strings, found {}", node.kind()),
            );
            return Needs::default();
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let need = match &item.value {
            Value::Str(s) => Some(Need::Step(s.to_string())),
            Value::Map(_) => need_of(r, item, field),
            // Refused as a string would be, saying what was found.
            _ => r.string(item, field).map(Need::Step),
        };
        if let Some(need) = need {
            at.needs.push(item.pos);
            out.push(need);
        }
    }
    Needs(out)
}

fn need_of(r: &mut Reader<'_>, node: &Node, field: &str) -> Option<Need> {
    let fields = r.fields(node, &format!("an entry of {field}"), NEED_KEYS)?;
    let (mut step, mut same) = (None, Vec::new());
    for (key, value) in fields {
        match &*key.name {
            "step" => step = r.string(value, &format!("`step` in {field}")),
            "same" => {
                same = r
                    .strings(value, &format!("`same` in {field}"))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect()
            }
            _ => {}
        }
    }
    match step {
        Some(step) => Some(Need::Of(NeedOf { step, same })),
        None => {
            r.error(
                node.pos,
                format!(
                    "an entry of {field} is missing `step`: write `{{ step: ID, same: [AXIS] }}`"
                ),
            );
            None
        }
    }
}

/// `matrix`: axes in file order, each a non-empty list of scalars, then
/// `include` and `exclude`, lists of maps of scalars. Positions go to `at`
/// as `matrix.AXIS` (the axis key), `matrix.include.N`, `matrix.exclude.N`.
pub(super) fn matrix(
    r: &mut Reader<'_>,
    node: &Node,
    what: &str,
    at: &mut StepSpots,
) -> Option<MatrixSpec> {
    let what = format!("`matrix` of {what}");
    if !matches!(node.value, Value::Map(_) | Value::Null) {
        r.error(
            node.pos,
            format!(
                "{what} must be a mapping of axes to lists of values, found {}",
                node.kind()
            ),
        );
        return None;
    }
    let entries = r.entries(node, &what);
    if entries.is_empty() {
        r.error(
            node.pos,
            format!(
                "{what} is empty: give it at least one axis, such as `target: [x86_64, aarch64]`"
            ),
        );
        return None;
    }
    let mut m = MatrixSpec::default();
    for (key, value) in entries {
        let name = &*key.name;
        match name {
            "include" | "exclude" => {
                let combos = combos(r, value, &format!("`{name}` in {what}"), name, at);
                if name == "include" {
                    m.include = combos;
                } else {
                    m.exclude = combos;
                }
            }
            // `exlude: [{ os: mac }]`: a misspelled keyword, not an axis.
            _ if holds_mappings(value) && closest(name, ["include", "exclude"]).is_some() => {
                let hint = did_you_mean(name, ["include", "exclude"]);
                r.error(
                    key.pos,
                    format!("`{name}` in {what} is not an axis: its values are mappings{hint}"),
                );
            }
            _ => {
                at.keys.add(format!("matrix.{name}"), key.pos);
                check_key(r, name, key.pos, &what);
                let field = format!("axis `{name}` in {what}");
                // Kept even when wrong (reported), so expanding it later
                // adds no errors of its own.
                let values = axis(r, value, &field, key.pos);
                m.axes.push((name.to_string(), values));
            }
        }
    }
    Some(m)
}

/// A list with a mapping in it: `include` / `exclude` entries.
fn holds_mappings(node: &Node) -> bool {
    matches!(&node.value, Value::Seq(items) if items.iter().any(|i| matches!(i.value, Value::Map(_))))
}

/// A matrix key must be a name templates can write (`matrix.X`), at most
/// 100 bytes.
fn check_key(r: &mut Reader<'_>, name: &str, pos: super::super::diag::Pos, what: &str) {
    if !is_id(name) {
        r.error(
            pos,
            format!("invalid matrix key `{name}` in {what}: use letters, digits, `_` and `-`"),
        );
    }
    if let Some(message) = too_long("matrix key", name) {
        r.error(pos, message);
    }
}

fn axis(
    r: &mut Reader<'_>,
    node: &Node,
    field: &str,
    key_pos: super::super::diag::Pos,
) -> Vec<ScalarText> {
    let Value::Seq(items) = &node.value else {
        r.error(
            node.pos,
            format!(
                "{field} must be a list of values, such as `[a, b]`, found {}",
                node.kind()
            ),
        );
        return Vec::new();
    };
    if items.is_empty() {
        r.error(
            key_pos,
            format!("{field} is empty: an axis needs at least one value"),
        );
    }
    items.iter().filter_map(|i| r.scalar(i, field)).collect()
}

fn combos(
    r: &mut Reader<'_>,
    node: &Node,
    field: &str,
    list: &str,
    at: &mut StepSpots,
) -> Vec<Combo> {
    let items = match &node.value {
        Value::Seq(items) => items,
        Value::Null => return Vec::new(),
        _ => {
            r.error(
                node.pos,
                format!("{field} must be a list of mappings, such as `[{{ target: wasm32 }}]`, found {}", node.kind()),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (n, item) in items.iter().enumerate() {
        at.keys.add(format!("matrix.{list}.{n}"), item.pos);
        if !matches!(item.value, Value::Map(_)) {
            r.error(
                item.pos,
                format!(
                    "each entry of {field} must be a mapping of matrix keys to values, found {}",
                    item.kind()
                ),
            );
            continue;
        }
        let mut combo = Vec::new();
        for (key, value) in r.entries(item, field) {
            check_key(r, &key.name, key.pos, field);
            if let Some(v) = r.scalar(value, &format!("`{}` in {field}", key.name)) {
                combo.push((key.name.to_string(), v));
            }
        }
        if combo.is_empty() {
            r.error(item.pos, format!("an entry of {field} is empty"));
        }
        out.push(Combo(combo));
    }
    out
}
