//! From the positioned YAML tree to the [`spec`](super::spec) types, finding
//! every shape error at once and remembering where each value was written.

use super::diag::{Diagnostics, Pos};
use super::name_index::NameIndex;
use super::node::{Key, Node, Value};
use super::read::{Reader, is_id, is_workflow_name, too_long};
use super::spec::{StepSpec, Steps, WorkflowSpec};

mod hooks;
mod located;
mod matrix;
mod parts;
mod secret;
pub use located::{Located, StepSpots};
use parts::{approval, ask, breaker, defaults, fallback, on_failure, output, retry, shell};

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "concurrency",
    "timeout",
    "env",
    "vars",
    "defaults",
    "breakers",
    "hooks",
    "secrets",
    "steps",
];

/// The keys a step may hold, as the loader takes them.
pub const STEP_KEYS: &[&str] = &[
    "run",
    "approval",
    "ask",
    "needs",
    "when",
    "timeout",
    "retry",
    "breaker",
    "on_failure",
    "fallback",
    "priority",
    "env",
    "cwd",
    "pool",
    "shell",
    "kill_grace",
    "output",
    "description",
    "matrix",
    "instance",
    "max_parallel",
    "fail_fast",
];

/// Converts the whole document; `None` values were reported in `diags`.
/// Each step's nodes are freed once the step is converted (the tree of a
/// big file is the largest thing alive while it loads), so `root` is left
/// without its steps.
pub fn workflow(root: &mut Node, diags: &mut Diagnostics) -> (WorkflowSpec, Located) {
    let mut steps_node = take_steps(root);
    let mut r = Reader { diags };
    let mut spec = WorkflowSpec::default();
    let mut located = Located::default();
    if !matches!(root.value, Value::Map(_)) {
        let found = if matches!(root.value, Value::Null) {
            "the file is empty".to_string()
        } else {
            format!("the file holds {}", root.kind())
        };
        r.error(
            root.pos,
            format!("{found}; a workflow is a mapping with at least `name` and `steps`"),
        );
        return (spec, located);
    }
    let extension = |k: &str| k.starts_with("x-");
    let fields = r
        .fields_where(root, "the workflow", TOP_KEYS, extension)
        .unwrap_or_default();
    let (mut has_name, mut has_steps) = (false, false);
    for (key, value) in fields {
        located.top.add(&*key.name, value.pos);
        match &*key.name {
            "name" => {
                has_name = true;
                if let Some(name) = r.string(value, "`name`") {
                    if !is_workflow_name(&name) {
                        r.error(value.pos, format!("invalid name `{name}`: use lower-case letters, digits, `_` and `-`, starting with a letter or digit"));
                    }
                    if let Some(message) = too_long("workflow name", &name) {
                        r.error(value.pos, message);
                    }
                    spec.name = name;
                }
            }
            "description" => spec.description = optional(value, |v| r.string(v, "`description`")),
            "concurrency" => spec.concurrency = r.positive(value, "`concurrency`"),
            "timeout" => spec.timeout = r.duration(value, "`timeout`"),
            "env" => {
                spec.env = r.scalar_map(value, "`env`");
                for (k, v) in r.entries(value, "`env`") {
                    located.top.add(format!("env.{}", k.name), v.pos);
                }
            }
            "vars" => {
                spec.vars = r.scalar_map(value, "`vars`");
                for (k, v) in r.entries(value, "`vars`") {
                    located.top.add(format!("vars.{}", k.name), k.pos);
                    let _ = v;
                    if !is_id(&k.name) {
                        r.error(
                            k.pos,
                            format!(
                                "invalid var name `{}`: use letters, digits, `_` and `-`",
                                k.name
                            ),
                        );
                    }
                }
            }
            "defaults" => spec.defaults = optional(value, |v| defaults(&mut r, v)),
            "breakers" => {
                for (k, v) in r.entries(value, "`breakers`") {
                    located.top.add(format!("breakers.{}", k.name), k.pos);
                    if !is_id(&k.name) {
                        r.error(
                            k.pos,
                            format!(
                                "invalid breaker name `{}`: use letters, digits, `_` and `-`",
                                k.name
                            ),
                        );
                    }
                    if let Some(b) = breaker(&mut r, v, &k.name) {
                        spec.breakers.insert(k.name.to_string(), b);
                    }
                }
            }
            "hooks" => spec.hooks = hooks::hooks(&mut r, value, &mut located),
            "secrets" => spec.secrets = secret::secrets(&mut r, value, &mut located),
            "steps" => {
                has_steps = true;
                let node = steps_node.take().unwrap_or_else(|| value.clone());
                spec.steps = steps(&mut r, node, &mut located);
            }
            other if extension(other) => spec.extensions.0.push(other.to_string()),
            _ => {}
        }
    }
    if !has_name {
        r.error(root.pos, "missing `name`: every workflow needs a name");
    }
    if !has_steps {
        r.error(
            root.pos,
            "missing `steps`: a workflow needs at least one step",
        );
    }
    (spec, located)
}

/// The value of the first `steps` key, taken out of `root` and left there
/// as nothing at the same place, so every check of the keys still sees it.
fn take_steps<'s>(root: &mut Node<'s>) -> Option<Node<'s>> {
    let Value::Map(entries) = &mut root.value else {
        return None;
    };
    let (_, value) = entries.iter_mut().find(|(k, _)| k.name == "steps")?;
    let pos = value.pos;
    Some(std::mem::replace(
        value,
        Node {
            pos,
            value: Value::Null,
        },
    ))
}

fn optional<T>(node: &Node, read: impl FnOnce(&Node) -> Option<T>) -> Option<T> {
    if matches!(node.value, Value::Null) {
        None
    } else {
        read(node)
    }
}

fn steps(r: &mut Reader<'_>, mut node: Node, located: &mut Located) -> Steps {
    let (pos, found) = (node.pos, node.kind());
    let Value::Map(entries) = &mut node.value else {
        r.error(
            pos,
            format!("`steps` must be a mapping of step ids to steps, found {found}"),
        );
        return Steps::default();
    };
    if entries.is_empty() {
        r.error(pos, "`steps` is empty: a workflow needs at least one step");
    }
    let mut out = Vec::with_capacity(entries.len());
    // One step's positions at a time, kept in `located` once converted.
    let mut spots = StepSpots::default();
    // Ids seen so far, as indices into `out`.
    let mut first = NameIndex::with_capacity(entries.len());
    for (key, value) in entries.iter_mut() {
        let key: &Key = key;
        let id = &*key.name;
        let ids = |i: usize| out.get(i).map(|(id, _): &(String, StepSpec)| id.as_str());
        if let Some(at) = first.get(id, ids) {
            let line = located.id(at).line;
            r.error(
                key.pos,
                format!("duplicate step id `{id}` (first defined at line {line})"),
            );
            continue;
        }
        if !is_id(id) {
            r.error(key.pos, format!("invalid step id `{id}`: use letters, digits, `_` and `-`, not starting with `-`"));
        }
        if let Some(message) = too_long("step id", id) {
            r.error(key.pos, message);
        }
        // Freed as soon as it is converted.
        let body = std::mem::replace(
            value,
            Node {
                pos: value.pos,
                value: Value::Null,
            },
        );
        let spec = step(r, &body, id, key.pos, &mut spots);
        spots.id = key.pos;
        out.push((id.to_string(), spec));
        located.push(&mut spots);
        first.insert(out.len() - 1, id, |i| out.get(i).map(|(id, _)| id.as_str()));
    }
    located.ids = first;
    Steps(out)
}

/// "step `build`", written out only when an error is.
#[derive(Clone, Copy)]
struct StepName<'a>(&'a str);

impl std::fmt::Display for StepName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step `{}`", self.0)
    }
}

/// "`run` of step `build`", likewise.
#[derive(Clone, Copy)]
struct FieldName<'a>(&'a str, StepName<'a>);

impl std::fmt::Display for FieldName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` of {}", self.0, self.1)
    }
}

/// Converts one step; its positions go to `at`, which starts empty.
fn step(r: &mut Reader<'_>, node: &Node, id: &str, id_pos: Pos, at: &mut StepSpots) -> StepSpec {
    let what = StepName(id);
    if matches!(node.value, Value::Null) {
        r.error(
            id_pos,
            format!("{what} is empty: give it one of `run`, `approval` or `ask`"),
        );
        return StepSpec::default();
    }
    let mut s = StepSpec::default();
    let fields = r.fields(node, &what, STEP_KEYS).unwrap_or_default();
    for (key, value) in fields {
        at.keys.add(&*key.name, value.pos);
        let field = FieldName(&key.name, what);
        match &*key.name {
            "run" => s.run = r.scalar(value, &field).map(|t| t.0),
            "approval" if matches!(value.value, Value::Null) => r.error(
                value.pos,
                format!(
                    "{field} must be a mapping, such as `approval: {{ prompt: \"Ship it?\" }}`"
                ),
            ),
            "approval" => s.approval = approval(r, value, &what.to_string(), at).map(Box::new),
            "ask" => s.ask = ask(r, value, &what.to_string(), at).map(Box::new),
            "needs" => s.needs = matrix::needs(r, value, &field.to_string(), at),
            "when" => s.when = r.scalar(value, &field).map(|t| t.0),
            "timeout" => s.timeout = r.duration(value, &field).map(Box::new),
            "retry" => s.retry = optional(value, |v| retry(r, v, &what.to_string())).map(Box::new),
            "breaker" => s.breaker = r.string(value, &field),
            "on_failure" => s.on_failure = on_failure(r, value, &field.to_string()),
            "fallback" => {
                s.fallback = optional(value, |v| fallback(r, v, &what.to_string())).map(Box::new)
            }
            "priority" => s.priority = r.integer(value, &field),
            "env" => {
                s.env = r.scalar_map(value, &field);
                for (k, v) in r.entries(value, &field) {
                    at.keys.add(format!("env.{}", k.name), v.pos);
                }
            }
            "cwd" => s.cwd = r.string(value, &field),
            "pool" => s.pool = r.string(value, &field),
            "shell" => s.shell = shell(r, value, &field.to_string()).map(Box::new),
            "kill_grace" => s.kill_grace = r.duration(value, &field).map(Box::new),
            "output" => s.output = output(r, value, &field.to_string()),
            "description" => s.description = optional(value, |v| r.string(v, &field)),
            "matrix" => {
                at.keys.add("matrix.key", key.pos);
                s.matrix = matrix::matrix(r, value, &what.to_string(), at).map(Box::new);
            }
            "instance" => s.instance = r.string(value, &field),
            "max_parallel" => s.max_parallel = r.positive(value, &field),
            "fail_fast" => s.fail_fast = r.boolean(value, &field),
            _ => {}
        }
    }
    let has = |k: &str| at.keys.get(k).is_some();
    if has("run") as u8 + has("approval") as u8 + has("ask") as u8 == 1 {
        return s;
    }
    let kinds: Vec<&str> = ["run", "approval", "ask"]
        .into_iter()
        .filter(|k| at.keys.get(k).is_some())
        .collect();
    match kinds.as_slice() {
        [_] => {}
        [] => r.error(
            id_pos,
            format!("{what} needs exactly one of `run`, `approval` or `ask`"),
        ),
        several => {
            let list: Vec<String> = several.iter().map(|k| format!("`{k}`")).collect();
            let (last, rest) = list
                .split_last()
                .map_or(("", &[][..]), |(l, r)| (l.as_str(), r));
            r.error(
                id_pos,
                format!(
                    "{what} has {} and {last}: a step is exactly one of `run`, `approval` or `ask`",
                    rest.join(", ")
                ),
            );
        }
    }
    s
}
