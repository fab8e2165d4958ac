//! A loaded workflow, ready to run: defaults merged, templates and
//! conditions parsed, `needs` turned into indices. The engine reads only this.

use std::collections::BTreeMap;
use std::time::Duration;

use super::expr::Expr;
use super::spec::{Jitter, OnFailure, OnTimeout, OutputMode};
use super::template::Template;

/// Wait timeout when neither the step nor `defaults.wait_timeout` sets one.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(300);
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Workflow {
    pub name: String,
    pub description: Option<String>,
    /// `None`: as many as the machine has CPUs.
    pub concurrency: Option<usize>,
    pub timeout: Option<Duration>,
    pub env: Vec<(String, Template)>,
    pub vars: BTreeMap<String, String>,
    pub breakers: BTreeMap<String, BreakerPolicy>,
    /// Where each secret is read from, by name; the values are never here.
    pub secrets: BTreeMap<String, SecretSource>,
    /// In file order; a step's index is its id everywhere in the engine.
    /// A matrix step is here as its instances (`STEP:KEY`), one after
    /// another where the matrix step was written.
    pub steps: Vec<Step>,
    /// The matrix steps, in file order; each instance names its group.
    pub groups: Vec<Group>,
    /// `hooks:`, in file order.
    pub hooks: Vec<super::hook::Hook>,
    /// The file's text as loaded, kept so a run folder holds what ran.
    pub source: String,
    /// Step indices by id: the ids are not copied, each entry is the index
    /// of the step that holds its id.
    pub(super) index: super::name_index::NameIndex,
}

/// Whether `name` can name a pool: it is a token of NATS subjects and KV
/// keys (SPEC §7), so 1 to 64 letters, digits, `_` or `-`.
pub fn pool_name_ok(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Workflow {
    pub(super) fn new(mut wf: Workflow) -> Workflow {
        // Resolving hands over the index it used; anything else gets one.
        if wf.index.len() != wf.steps.len() {
            let steps = &wf.steps;
            let names = |i: usize| steps.get(i).map(|s| s.id.as_str());
            let mut index = super::name_index::NameIndex::with_capacity(steps.len());
            for (i, step) in steps.iter().enumerate() {
                index.insert(i, &step.id, names);
            }
            wf.index = index;
        }
        wf
    }

    /// The matrix step written as `id`, as an index into [`Workflow::groups`].
    pub fn group_index(&self, id: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.id == id)
    }

    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.index
            .get(id, |i| self.steps.get(i).map(|s| s.id.as_str()))
    }

    /// Overrides vars from the command line; an unknown name is refused,
    /// since nothing could read it.
    pub fn set_var(&mut self, name: &str, value: &str) -> Result<(), String> {
        match self.vars.get_mut(name) {
            Some(v) => {
                *v = value.to_string();
                Ok(())
            }
            None => {
                let hint = super::diag::did_you_mean(name, self.vars.keys().map(String::as_str));
                Err(format!(
                    "unknown var `{name}`{hint}: the workflow declares none by that name under `vars`"
                ))
            }
        }
    }

    /// Index lists of each step's dependents, the reverse of `needs`.
    pub fn dependents(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.steps.len()];
        for (i, s) in self.steps.iter().enumerate() {
            for &n in &s.needs {
                out[n].push(i);
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    /// The line of the step's id in the file.
    pub line: u32,
    pub action: Action,
    /// Indices into [`Workflow::steps`], each once, in the order written.
    pub needs: Vec<usize>,
    /// Boxed: most steps have none, and a workflow may hold 100,000 steps.
    pub when: Option<Box<Condition>>,
    /// Per attempt of a `run` step.
    pub timeout: Option<Duration>,
    /// Shared between the steps whose policies are alike.
    pub retry: std::sync::Arc<RetryPolicy>,
    pub breaker: Option<String>,
    pub on_failure: OnFailure,
    /// Boxed: 8 bytes in each step rather than 24, and few steps have one.
    #[allow(clippy::box_collection)]
    pub fallback: Option<Box<BTreeMap<String, String>>>,
    pub priority: i64,
    pub env: Vec<(String, Template)>,
    pub cwd: Option<String>,
    /// The worker pool its attempts run on; none: here.
    pub pool: Option<std::sync::Arc<str>>,
    /// Shared between the steps that use the same one.
    pub shell: std::sync::Arc<[String]>,
    pub kill_grace: Duration,
    /// One pipe for stdout and stderr, or two.
    pub output: OutputMode,
    /// Free text for people (`description`), shown on the screen and in `graph`.
    pub description: Option<Box<str>>,
    /// Set on a matrix instance: its group and its values.
    pub instance: Option<Box<Instance>>,
}

/// A matrix step: what its instances share. The instances themselves are
/// ordinary steps in [`Workflow::steps`].
#[derive(Debug, Clone)]
pub struct Group {
    /// The matrix step's id as written (`build`).
    pub id: String,
    /// The line of that id in the file.
    pub line: u32,
    /// Axis names in file order, then keys only `include` adds.
    pub axes: Vec<String>,
    /// Its instances, as indices into [`Workflow::steps`], in expansion order.
    pub members: Vec<usize>,
    /// Instances of this step running a process at once (`max_parallel`).
    pub max_parallel: Option<usize>,
    /// The first failed instance cancels the running ones and skips the rest.
    pub fail_fast: bool,
    pub description: Option<String>,
}

/// One matrix instance: which group, and its `matrix.X` values.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Index into [`Workflow::groups`].
    pub group: usize,
    /// `(axis, value)` in the group's axis order; keys it lacks are absent.
    pub values: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Condition {
    pub text: String,
    pub expr: Expr,
}

#[derive(Debug, Clone)]
pub enum Action {
    Run(RunAction),
    Approval(ApprovalAction),
    /// Boxed: the largest of the three, and the rarest.
    Ask(Box<AskAction>),
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Run(_) => "run",
            Action::Approval(_) => "approval",
            Action::Ask(_) => "ask",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunAction {
    /// The `run` text as written.
    pub text: String,
    /// Only when the text refers to anything: then `text` is all there is
    /// (one copy, not three, of each of 100,000 commands).
    pub(super) expanded: Option<Box<Expanded>>,
}

/// A `run` text with references, parsed and rewritten.
#[derive(Debug, Clone)]
pub struct Expanded {
    pub(super) template: Template,
    /// Every template replaced by a quoted reference to the environment
    /// variable that carries its value.
    pub(super) command: String,
}

static NO_REFERENCES: Template = Template { parts: Vec::new() };

impl RunAction {
    /// The command handed to the shell.
    pub fn command(&self) -> &str {
        self.expanded.as_ref().map_or(&self.text, |e| &e.command)
    }

    /// The text parsed; without references, a template of no parts.
    pub fn template(&self) -> &Template {
        self.expanded
            .as_ref()
            .map_or(&NO_REFERENCES, |e| &e.template)
    }
}

#[derive(Debug, Clone)]
pub struct ApprovalAction {
    pub prompt: Template,
    pub timeout: Duration,
    pub on_timeout: OnTimeout,
    /// Distinct users who must approve; at least 1.
    pub approvers: u32,
    /// Whether the run's own user may be one of them.
    pub self_approve: bool,
}

#[derive(Debug, Clone)]
pub struct AskAction {
    pub question: Template,
    pub choices: Vec<String>,
    pub default: Option<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Every attempt, the first included; at least 1.
    pub attempts: u32,
    pub delay: Duration,
    pub max_delay: Duration,
    pub factor: f64,
    pub jitter: Jitter,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 1,
            delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            factor: 2.0,
            jitter: Jitter::Full,
        }
    }
}

/// Where a secret's value is read when a run starts or resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable of signalbox's own.
    Env(String),
    /// A file, as written (`~` not yet expanded).
    File(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct BreakerPolicy {
    pub failures: u32,
    pub cooldown: Duration,
    pub half_open_calls: u32,
}
