//! Where things are in the edited file (for `FILE:LINE:COL` diagnostics) and
//! which top-level keys an edit changed.

use std::collections::HashMap;

use crate::workflow::node::{Node, Value};
use crate::workflow::{Pos, Workflow, fingerprint};

/// Where a diagnostic points, found in the file only once there is one to
/// print: a clean edit of 10,000 steps then parses the file once, not twice.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum At {
    /// A top-level key (the file's start when it is not there).
    Top(&'static str),
    /// A step's id (the `steps:` line for a step not in the file).
    Step(String),
    /// A key of a step (the step's id when it does not set it).
    Key(String, &'static str),
}

/// Makes [`At`]s: what the rules point at, by name.
pub(super) struct Places;

impl Places {
    pub(super) fn top(&self, key: &'static str) -> At {
        At::Top(key)
    }

    pub(super) fn step(&self, id: &str) -> At {
        At::Step(id.to_string())
    }

    pub(super) fn key(&self, id: &str, key: &str) -> At {
        At::Key(id.to_string(), static_key(key))
    }
}

/// The keys the rules name are the loader's step keys (and the
/// fingerprint's `vars`), all `'static`.
fn static_key(key: &str) -> &'static str {
    (crate::workflow::STEP_KEYS.iter().chain(&["vars"]))
        .find(|k| **k == key)
        .copied()
        .unwrap_or("")
}

/// Positions in the edited file's tree: top-level keys, step ids and the
/// keys of each step.
pub(super) struct Index<'t, 's> {
    top: Vec<(&'t str, Pos)>,
    steps: HashMap<&'t str, (Pos, &'t Node<'s>)>,
}

impl<'t, 's> Index<'t, 's> {
    pub(super) fn new(root: Option<&'t Node<'s>>) -> Index<'t, 's> {
        let mut places = Index {
            top: Vec::new(),
            steps: HashMap::new(),
        };
        let Some(Node {
            value: Value::Map(entries),
            ..
        }) = root
        else {
            return places;
        };
        for (key, node) in entries {
            places.top.push((&key.name, key.pos));
            if key.name == "steps"
                && let Value::Map(steps) = &node.value
            {
                places.steps.reserve(steps.len());
                for (id, step) in steps {
                    places.steps.insert(&id.name, (id.pos, step));
                }
            }
        }
        places
    }

    /// Where `at` is in the file.
    pub(super) fn pos(&self, at: &At) -> Pos {
        match at {
            At::Top(key) => self.top(key),
            At::Step(id) => self.step(id),
            At::Key(id, key) => self.key(id, key),
        }
    }

    /// A top-level key's position, or the file's start.
    fn top(&self, key: &str) -> Pos {
        self.top
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(Pos::START, |&(_, p)| p)
    }

    /// Step `id` in the file: a matrix instance (`build:KEY`) is where
    /// its matrix step is written.
    fn find(&self, id: &str) -> Option<&(Pos, &'t Node<'s>)> {
        self.steps
            .get(id)
            .or_else(|| self.steps.get(id.split_once(':')?.0))
    }

    /// A step id's position; the `steps:` line for one not in the file.
    fn step(&self, id: &str) -> Pos {
        self.find(id).map_or_else(|| self.top("steps"), |&(p, _)| p)
    }

    /// The position of `key` in step `id`, else the step id's.
    fn key(&self, id: &str, key: &str) -> Pos {
        let Some((pos, node)) = self.find(id) else {
            return self.top("steps");
        };
        match &node.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.name == key)
                .map_or(*pos, |(k, _)| k.pos),
            _ => *pos,
        }
    }
}

/// The top-level keys whose meaning differs between the run's workflow and
/// the edited one (`name` is checked apart: it may not change).
pub(super) fn top_changes(
    old: &Workflow,
    new: &Workflow,
    old_root: Option<&Node>,
    new_root: Option<&Node>,
) -> Vec<String> {
    let env = |wf: &Workflow| {
        let mut env: Vec<(String, String)> = wf
            .env
            .iter()
            .map(|(k, t)| (k.clone(), fingerprint::template_form(t)))
            .collect();
        env.sort();
        env
    };
    let mut out = Vec::new();
    let mut differs = |key: &str, yes: bool| {
        if yes {
            out.push(key.to_string());
        }
    };
    differs("description", old.description != new.description);
    differs("concurrency", old.concurrency != new.concurrency);
    differs("timeout", old.timeout != new.timeout);
    differs("env", env(old) != env(new));
    differs("vars", old.vars != new.vars);
    let a = old_root.and_then(|r| entry(r, "defaults"));
    let b = new_root.and_then(|r| entry(r, "defaults"));
    differs(
        "defaults",
        match (a, b) {
            (Some(a), Some(b)) => !same(a, b),
            (None, None) => false,
            (Some(n), None) | (None, Some(n)) => !matches!(n.value, Value::Null),
        },
    );
    differs("breakers", old.breakers != new.breakers);
    out
}

fn entry<'t, 's>(node: &'t Node<'s>, key: &str) -> Option<&'t Node<'s>> {
    match &node.value {
        Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, n)| n),
        _ => None,
    }
}

/// Two trees alike but for positions and the order of mapping keys.
fn same(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Seq(x), Value::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.iter()
                        .find(|(l, _)| l.name == k.name)
                        .is_some_and(|(_, w)| same(v, w))
                })
        }
        (x, y) => x == y,
    }
}
