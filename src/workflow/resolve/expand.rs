//! Matrix steps become their instances before anything else is resolved:
//! each instance is a copy of its step's spec under the id `STEP:KEY`, in
//! the place its step was written, so every later check (needs, templates,
//! cycles, answer names) sees ordinary steps. What is found here has its
//! position: the `matrix` key, an axis, an `include` entry, `instance`.

use std::collections::HashMap;

use super::super::convert::Located;
use super::super::diag::{Diagnostics, Pos};
use super::super::model::{Group, Instance};
use super::super::name_index::NameIndex;
use super::super::read::{MAX_NAME_BYTES, too_long};
use super::super::spec::{MatrixSpec, StepSpec};
use super::super::template::{Ref, Template};
use super::matrix::{self, Expansion, Problem};

/// The written steps turned into the workflow's steps.
pub(super) struct Expanded {
    pub specs: Vec<(String, StepSpec)>,
    /// Per step: its matrix instance, if it is one.
    pub instances: Vec<Option<Box<Instance>>>,
    pub groups: Vec<Group>,
    /// The steps by id.
    pub index: NameIndex,
}

/// Keys only a matrix step takes.
const MATRIX_ONLY: &[&str] = &["instance", "max_parallel", "fail_fast"];

pub(super) fn expand(
    written: Vec<(String, StepSpec)>,
    at: &mut Located,
    diags: &mut Diagnostics,
) -> Expanded {
    let mut out = Expanded {
        specs: Vec::with_capacity(written.len()),
        instances: Vec::with_capacity(written.len()),
        groups: Vec::new(),
        index: NameIndex::default(),
    };
    let mut origin: Vec<u32> = Vec::with_capacity(written.len());
    for (j, (id, mut spec)) in written.into_iter().enumerate() {
        let j32 = u32::try_from(j).unwrap_or(u32::MAX);
        let Some(m) = spec.matrix.take() else {
            for key in MATRIX_ONLY {
                if let Some(pos) = at.key(j, key) {
                    diags.push(
                        pos,
                        format!("step `{id}` has no `matrix`: only a matrix step takes `{key}`"),
                    );
                }
            }
            out.specs.push((id, spec));
            out.instances.push(None);
            origin.push(j32);
            continue;
        };
        let group = out.groups.len();
        let members = Step {
            j,
            id: &id,
            spec: &spec,
            at,
            diags,
        }
        .instances(&m);
        let first = out.specs.len();
        for (key, values) in &members {
            out.specs.push((format!("{id}:{key}"), spec.clone()));
            out.instances.push(Some(Box::new(Instance {
                group,
                values: values.clone(),
            })));
            origin.push(j32);
        }
        out.groups.push(Group {
            id: id.clone(),
            line: at.id(j).line,
            axes: members_keys(&m),
            members: (first..out.specs.len()).collect(),
            max_parallel: spec
                .max_parallel
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            fail_fast: spec.fail_fast.unwrap_or(false),
            description: spec.description.clone(),
        });
    }
    at.expand(origin);
    out.index = index(&out, at, diags);
    out
}

/// The group's keys: its axes, then the keys only `include` adds.
fn members_keys(m: &MatrixSpec) -> Vec<String> {
    let mut keys: Vec<String> = m.axes.iter().map(|(k, _)| k.clone()).collect();
    for combo in &m.include {
        for (k, _) in &combo.0 {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys
}

/// One written matrix step while it is expanded.
struct Step<'a> {
    j: usize,
    id: &'a str,
    spec: &'a StepSpec,
    at: &'a Located,
    diags: &'a mut Diagnostics,
}

impl Step<'_> {
    fn pos(&self, key: &str) -> Pos {
        self.at
            .key(self.j, key)
            .or_else(|| self.at.key(self.j, "matrix.key"))
            .unwrap_or(self.at.id(self.j))
    }

    /// Each instance's KEY and values, in expansion order; none when the
    /// matrix itself is wrong (reported), so nothing else trips on it.
    fn instances(&mut self, m: &MatrixSpec) -> Vec<(String, Vec<(String, String)>)> {
        let id = self.id;
        let e = match matrix::expand(m) {
            Ok(e) => e,
            Err(problem) => {
                let (pos, message) = match problem {
                    Problem::TooMany(n) => (
                        self.pos("matrix.key"),
                        format!(
                            "the matrix of step `{id}` makes {n} instances; a matrix step has at most {} (use fewer values, or `exclude`)",
                            matrix::MAX_INSTANCES
                        ),
                    ),
                    Problem::ExcludeKey(n, key) => (
                        self.pos(&format!("matrix.exclude.{n}")),
                        format!(
                            "`exclude` of step `{id}` names `{key}`, which is not an axis of its matrix"
                        ),
                    ),
                    Problem::EmptyAxis => return Vec::new(),
                    Problem::Empty => (
                        self.pos("matrix.key"),
                        format!(
                            "the matrix of step `{id}` has no instances: `exclude` removes every combination, or there are no axes and no `include` entries"
                        ),
                    ),
                };
                self.diags.push(pos, message);
                return Vec::new();
            }
        };
        self.check_env_names(&e);
        let template = self.instance_template();
        let mut out = Vec::with_capacity(e.combinations.len());
        let mut lacking: Vec<(String, Vec<String>)> = Vec::new();
        let mut long = None;
        for c in &e.combinations {
            let values: Vec<(String, String)> = e
                .keys
                .iter()
                .zip(c)
                .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
                .collect();
            let key = match &template {
                Some(t) => self.render_key(t, &values, &mut lacking, &e, c),
                None if e.axes == 0 => matrix::join_key(values.iter().map(|(_, v)| v.as_str())),
                None => e.key(c),
            };
            if key.len() > MAX_NAME_BYTES && long.is_none() {
                long = too_long("matrix key", &key);
            }
            out.push((key, values));
        }
        for (name, which) in lacking {
            let message = lacking_message(id, &name, &which, out.len(), &e.keys);
            self.diags.push(self.pos("instance"), message);
        }
        if let Some(message) = long {
            self.diags.push(
                self.pos("instance"),
                format!("in step `{id}`: {message}; set `instance:` to a shorter one"),
            );
        }
        out
    }

    /// Two keys whose `SIGNALBOX_MATRIX_<X>` names are one would hide each
    /// other's value from the step.
    fn check_env_names(&mut self, e: &Expansion) {
        let mut seen: HashMap<String, &str> = HashMap::new();
        for k in &e.keys {
            let name = Ref::Matrix(k.clone()).env_name();
            if let Some(first) = seen.insert(name.clone(), k) {
                let pos = self.pos(&format!("matrix.{k}"));
                self.diags.push(
                    pos,
                    format!("matrix keys `{first}` and `{k}` of step `{}` would share the environment variable {name}; rename one", self.id),
                );
            }
        }
    }

    /// `instance:` parsed; it may refer to `matrix.X` only.
    fn instance_template(&mut self) -> Option<Template> {
        let text = self.spec.instance.as_deref()?;
        let pos = self.pos("instance");
        match Template::parse(text) {
            Ok(t) => {
                let others: Vec<String> = t
                    .refs()
                    .filter(|(r, _)| !matches!(r, Ref::Matrix(_)))
                    .map(|(r, _)| r.text())
                    .collect();
                if !others.is_empty() {
                    self.diags.push(
                        pos,
                        format!(
                            "`instance` of step `{}` may use only `matrix.X`, not `{}`: an instance's id is known before the run starts",
                            self.id,
                            others.join("`, `")
                        ),
                    );
                    return None;
                }
                Some(t)
            }
            Err(e) => {
                self.diags
                    .push(pos, format!("in `instance`: {}", e.message));
                None
            }
        }
    }

    fn render_key(
        &self,
        t: &Template,
        values: &[(String, String)],
        lacking: &mut Vec<(String, Vec<String>)>,
        e: &Expansion,
        c: &matrix::Combination,
    ) -> String {
        use super::super::template::Part;
        let mut rendered = String::new();
        for part in &t.parts {
            match part {
                Part::Text(text) => rendered.push_str(text),
                Part::Ref(Ref::Matrix(x), _) => match values.iter().find(|(k, _)| k == x) {
                    Some((_, v)) => rendered.push_str(v),
                    None => {
                        let shown = format!("{}:{}", self.id, e.key(c));
                        match lacking.iter_mut().find(|(n, _)| n == x) {
                            Some((_, list)) => list.push(shown),
                            None => lacking.push((x.clone(), vec![shown])),
                        }
                    }
                },
                Part::Ref(..) => {}
            }
        }
        matrix::sanitize(&rendered)
    }
}

/// Why `matrix.NAME` cannot be read in every instance of `step`.
pub(super) fn lacking_message(
    step: &str,
    name: &str,
    which: &[String],
    instances: usize,
    keys: &[String],
) -> String {
    if which.len() >= instances {
        let hint = super::super::diag::did_you_mean(name, keys.iter().map(String::as_str));
        let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
        return format!(
            "step `{step}` has no matrix key `{name}`{hint}; its keys are {}",
            keys.join(", ")
        );
    }
    const SHOWN: usize = 5;
    let mut list = which
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if which.len() > SHOWN {
        list.push_str(&format!(" and {} more", which.len() - SHOWN));
    }
    let verb = if which.len() == 1 { "lacks" } else { "lack" };
    format!(
        "`matrix.{name}` is not set in every instance of `{step}`: {list} {verb} it; give it a value in each (an axis, or `include`)"
    )
}

/// The steps by id, each instance id checked against every other id.
fn index(out: &Expanded, at: &Located, diags: &mut Diagnostics) -> NameIndex {
    let specs = &out.specs;
    let names = |i: usize| specs.get(i).map(|(id, _)| id.as_str());
    let mut index = NameIndex::with_capacity(specs.len());
    for (i, (id, _)) in specs.iter().enumerate() {
        let Some(first) = index.insert(i, id, names) else {
            continue;
        };
        let (a, b) = (&out.instances[first], &out.instances[i]);
        let message = match (a, b) {
            (Some(a), Some(b)) if a.group == b.group => {
                let step = &out.groups[a.group].id;
                format!(
                    "two instances of step `{step}` have the id `{id}`: set `instance:` to a template that tells them apart, such as `{{{{ matrix.X }}}}-{{{{ matrix.Y }}}}`"
                )
            }
            _ => format!(
                "the id `{id}` of a matrix instance is also the id of another step; rename one"
            ),
        };
        let pos = at
            .key(i, "instance")
            .or_else(|| at.key(i, "matrix.key"))
            .unwrap_or(at.id(i));
        diags.push(pos, message);
    }
    index
}

/// Whether a step sets any key that only a matrix step may.
pub(super) fn has_matrix_keys(s: &StepSpec) -> bool {
    s.matrix.is_some() || s.instance.is_some() || s.max_parallel.is_some() || s.fail_fast.is_some()
}

/// An instance's texts read as text (`prompt`, `question`, `env` values)
/// get its `matrix.X` values written in; `run` keeps its references, which
/// become environment variables (SPEC §2).
pub(super) fn fill_matrix(step: &mut super::super::model::Step, inst: &Instance) {
    use super::super::model::Action;
    use super::super::template::Part;
    let fill = |t: &mut Template| {
        for part in &mut t.parts {
            if let Part::Ref(Ref::Matrix(name), _) = part {
                let value = inst
                    .values
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                *part = Part::Text(value);
            }
        }
    };
    match &mut step.action {
        Action::Approval(a) => fill(&mut a.prompt),
        Action::Ask(a) => fill(&mut a.question),
        Action::Run(_) => {}
    }
    for (_, t) in &mut step.env {
        fill(t);
    }
}
