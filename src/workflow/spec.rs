//! The workflow file format as plain serde types.
//!
//! `signalbox schema` derives the JSON Schema from these types, and the
//! loader fills exactly these types (see `convert`), so the schema and the
//! loader cannot drift apart: a test loads every example both ways.
//! Nothing here is resolved yet: defaults are not merged, templates and
//! conditions are still text.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

mod matrix;
pub use matrix::{Combo, Extensions, MatrixSpec, Need, NeedOf, Needs};

/// A workflow file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
// Not `deny_unknown_fields`: serde cannot have it with `flatten`, and
// `extensions` refuses every unknown key that does not start with `x-`.
#[schemars(title = "signalbox workflow")]
#[schemars(extend("patternProperties" = { "^x-": true }, "additionalProperties" = false))]
pub struct WorkflowSpec {
    /// The workflow's name: lower-case letters, digits, `_` and `-`.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9_-]*$"))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Steps running processes at once (default: the number of CPUs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub concurrency: Option<u64>,
    /// Deadline for the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationSpec>,
    /// Exported to every step.
    #[serde(
        default,
        deserialize_with = "null_is_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    #[schemars(with = "Option<BTreeMap<String, ScalarText>>")]
    pub env: BTreeMap<String, ScalarText>,
    /// Values for `{{ vars.X }}`; `--var X=V` overrides them.
    #[serde(
        default,
        deserialize_with = "null_is_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    #[schemars(with = "Option<BTreeMap<String, ScalarText>>")]
    pub vars: BTreeMap<String, ScalarText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<DefaultsSpec>,
    /// Named circuit breakers that steps share.
    #[serde(
        default,
        deserialize_with = "null_is_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    #[schemars(with = "Option<BTreeMap<String, BreakerSpec>>")]
    pub breakers: BTreeMap<String, BreakerSpec>,
    /// Commands run when events happen; they never change the run.
    #[serde(
        default,
        deserialize_with = "null_is_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(with = "Option<Vec<HookSpec>>")]
    pub hooks: Vec<HookSpec>,
    /// Values read when the run starts or resumes, never stored or shown:
    /// `{{ secrets.X }}` in `run` and `env`.
    #[serde(
        default,
        deserialize_with = "null_is_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    #[schemars(with = "Option<BTreeMap<String, SecretSpec>>")]
    pub secrets: BTreeMap<String, SecretSpec>,
    /// The steps: the key is the step id, and file order is kept.
    pub steps: Steps,
    /// Top-level keys starting with `x-`, ignored (a home for anchors).
    #[serde(flatten, default, skip_serializing)]
    #[schemars(skip)]
    pub extensions: Extensions,
}

/// A command run for every event whose type is in `on`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HookSpec {
    /// Default `hook-N`, N its place in the list from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Event types (SPEC §3) that run it; never `hook_finished`.
    pub on: Vec<String>,
    /// Only events about these steps (a matrix step: all its instances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<String>>,
    /// A shell command; the event's journal line is on its stdin.
    #[schemars(with = "ScalarText")]
    pub run: String,
    /// Killed after this long (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationSpec>,
}

/// What every step inherits unless it sets its own.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultsSpec {
    /// Per attempt of a `run` step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetrySpec>,
    /// For approvals and questions (300s when not set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout: Option<DurationSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_grace: Option<DurationSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<ShellSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<OnFailure>,
    /// How `run` steps' stdout and stderr are read (default `merged`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputMode>,
}

/// One step: exactly one of `run`, `approval` or `ask`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    { "required": ["run"] },
    { "required": ["approval"] },
    { "required": ["ask"] }
]))]
// Fields most steps leave out are boxed: a file of 100,000 steps holds one
// spec per step while it loads, and an unset box is 8 bytes, not 32.
pub struct StepSpec {
    /// A shell command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "ScalarText")]
    pub run: Option<String>,
    /// A yes/no gate for the operator.
    // Boxed, as `ask` and `retry` are: most steps set none of them, and a
    // file of 100,000 steps holds one of these per step while it loads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Box<ApprovalSpec>>,
    /// A question whose answer later steps may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask: Option<Box<AskSpec>>,
    /// Steps that must finish first: one id or a list.
    #[serde(
        default,
        deserialize_with = "null_is_default",
        skip_serializing_if = "Needs::is_empty"
    )]
    #[schemars(with = "Option<Needs>")]
    pub needs: Needs,
    /// A condition checked when the step becomes ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Per attempt of a `run` step; the wait of an approval or question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Box<DurationSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Box<RetrySpec>>,
    /// The name of a breaker under `breakers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<OnFailure>,
    /// Outputs to succeed with once the attempts are spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Box<FallbackSpec>>,
    /// Higher first, in the ready queue and the wait queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(
        default,
        deserialize_with = "null_is_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    #[schemars(with = "Option<BTreeMap<String, ScalarText>>")]
    pub env: BTreeMap<String, ScalarText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Runs each attempt on a worker of this pool (`signalbox worker
    /// --pool NAME`) rather than here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// The shell that runs `run` (default `sh -c`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Box<ShellSpec>>,
    /// Between SIGTERM and SIGKILL (default 5s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_grace: Option<Box<DurationSpec>>,
    /// `merged` (default): stdout and stderr share one pipe and keep their
    /// order; `separate`: two pipes, lines tagged `stdout` / `stderr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputMode>,
    /// Free text for people, shown on the screen and in `graph`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// One instance of the step per combination of these values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<Box<MatrixSpec>>,
    /// The instance's KEY, a template of `matrix.X` (default: the axis
    /// values joined by `-`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Instances of this matrix step running a process at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_parallel: Option<u64>,
    /// The first failed instance cancels the running ones and skips the
    /// rest (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_fast: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_timeout: Option<OnTimeout>,
    /// Distinct users who must approve (default 1); one rejection rejects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub approvers: Option<u64>,
    /// `false`: the user who started (or resumed) the run cannot approve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_approve: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AskSpec {
    pub question: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<ScalarText>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<ScalarText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationSpec>,
}

/// Retry policy; a step's keys merge over `defaults.retry` one by one.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Every attempt counts, the first included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub attempts: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<DurationSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<DurationSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub factor: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Jitter>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    /// Consecutive failed attempts that open the breaker (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub failures: Option<u64>,
    /// How long it stays open (default 60s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<DurationSpec>,
    /// Attempts let through after the cooldown (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub half_open_calls: Option<u64>,
}

/// Where a secret is read from: exactly one of `env` or `file`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    { "required": ["env"] },
    { "required": ["file"] }
]))]
pub struct SecretSpec {
    /// An environment variable of signalbox's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// A file's whole content, one trailing newline cut; `~` at the start
    /// is `$HOME`, a relative path is from the folder the run started in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FallbackSpec {
    #[serde(default, deserialize_with = "null_is_default")]
    pub outputs: BTreeMap<String, ScalarText>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    #[default]
    Fail,
    Continue,
}

/// How a `run` step's stdout and stderr reach the events and its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutputMode {
    /// One pipe for both: lines in the order written, `stream: output`.
    #[default]
    Merged,
    /// Two pipes: lines tagged `stdout` / `stderr`, their relative order lost.
    Separate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnTimeout {
    #[default]
    Reject,
    Approve,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    #[default]
    Full,
    Equal,
    None,
}

/// `250ms`, `5s`, `10m`, `2h`, or a bare number of seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum DurationSpec {
    Seconds(#[schemars(range(min = 0))] f64),
    Text(#[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?(ms|s|m|h|d)?$"))] String),
}

/// A shell as one string (`bash -euc`) or as its words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ShellSpec {
    Line(String),
    Words(Vec<String>),
}

/// `key:` with nothing after it reads as empty, the way the loader reads it.
fn null_is_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A scalar kept as text: `8080`, `true` and `"x"` all become strings, the
/// way an environment variable would hold them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, JsonSchema)]
#[schemars(with = "ScalarShape")]
pub struct ScalarText(pub String);

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ScalarShape {
    Text(String),
    Number(f64),
    Bool(bool),
}

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ScalarText, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Any {
            B(bool),
            I(i64),
            F(f64),
            S(String),
        }
        Ok(ScalarText(match Any::deserialize(d)? {
            Any::B(b) => b.to_string(),
            Any::I(i) => i.to_string(),
            Any::F(f) => f.to_string(),
            Any::S(s) => s,
        }))
    }
}

impl fmt::Display for ScalarText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The steps mapping, in file order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Steps(pub Vec<(String, StepSpec)>);

impl Serialize for Steps {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for Steps {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Steps, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Steps;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of step ids to steps")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Steps, A::Error> {
                let mut steps = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, StepSpec>()? {
                    steps.push((k, v));
                }
                Ok(Steps(steps))
            }
        }
        d.deserialize_map(V)
    }
}

impl JsonSchema for Steps {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Steps".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let step = generator.subschema_for::<StepSpec>();
        schemars::json_schema!({
            "type": "object",
            "description": "The steps: the key is the step id, and file order is kept.",
            "propertyNames": { "pattern": "^[A-Za-z0-9_][A-Za-z0-9_-]*$" },
            "additionalProperties": step,
            "minProperties": 1,
        })
    }
}
