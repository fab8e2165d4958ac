//! Readers for the parts of a step and of `defaults`: approval, ask,
//! retry, breaker, fallback, shell.

use super::super::node::{Node, Value};
use super::super::read::Reader;
use super::super::spec::{
    ApprovalSpec, AskSpec, BreakerSpec, DefaultsSpec, FallbackSpec, Jitter, OnFailure, OnTimeout,
    OutputMode, RetrySpec, ShellSpec,
};
use super::{StepSpots, optional};

const DEFAULTS_KEYS: &[&str] = &[
    "timeout",
    "retry",
    "wait_timeout",
    "kill_grace",
    "shell",
    "on_failure",
    "output",
];
const APPROVAL_KEYS: &[&str] = &[
    "prompt",
    "timeout",
    "on_timeout",
    "approvers",
    "self_approve",
];
const ASK_KEYS: &[&str] = &["question", "choices", "default", "timeout"];
const RETRY_KEYS: &[&str] = &["attempts", "delay", "max_delay", "factor", "jitter"];
const BREAKER_KEYS: &[&str] = &["failures", "cooldown", "half_open_calls"];
const FALLBACK_KEYS: &[&str] = &["outputs"];

pub(super) fn approval(
    r: &mut Reader<'_>,
    node: &Node,
    what: &str,
    at: &mut StepSpots,
) -> Option<ApprovalSpec> {
    let what = format!("`approval` of {what}");
    let fields = r.fields(node, &what, APPROVAL_KEYS)?;
    let mut a = ApprovalSpec::default();
    for (key, value) in fields {
        at.keys.add(format!("approval.{}", key.name), value.pos);
        let field = format!("`{}` in {what}", key.name);
        match &*key.name {
            "prompt" => a.prompt = r.scalar(value, &field).map(|t| t.0),
            "timeout" => a.timeout = r.duration(value, &field),
            "on_timeout" => {
                a.on_timeout = r.choice(
                    value,
                    &field,
                    &[
                        ("reject", OnTimeout::Reject),
                        ("approve", OnTimeout::Approve),
                    ],
                );
            }
            "approvers" => a.approvers = r.positive(value, &field),
            "self_approve" => match value.value {
                Value::Bool(b) => a.self_approve = Some(b),
                _ => {
                    let shown = value.scalar_text().unwrap_or_else(|| value.kind().into());
                    r.error(
                        value.pos,
                        format!("{field} must be `true` or `false`, found {shown}"),
                    );
                }
            },
            _ => {}
        }
    }
    Some(a)
}

pub(super) fn ask(
    r: &mut Reader<'_>,
    node: &Node,
    what: &str,
    at: &mut StepSpots,
) -> Option<AskSpec> {
    let what = format!("`ask` of {what}");
    let fields = r.fields(node, &what, ASK_KEYS)?;
    let mut a = AskSpec::default();
    let mut has_question = false;
    for (key, value) in fields {
        at.keys.add(format!("ask.{}", key.name), value.pos);
        let field = format!("`{}` in {what}", key.name);
        match &*key.name {
            "question" => {
                has_question = true;
                a.question = r.scalar(value, &field).map(|t| t.0).unwrap_or_default();
            }
            "choices" => {
                a.choices = match &value.value {
                    Value::Seq(items) => {
                        Some(items.iter().filter_map(|i| r.scalar(i, &field)).collect())
                    }
                    _ => {
                        r.error(
                            value.pos,
                            format!("{field} must be a list, found {}", value.kind()),
                        );
                        None
                    }
                }
            }
            "default" => a.default = r.scalar(value, &field),
            "timeout" => a.timeout = r.duration(value, &field),
            _ => {}
        }
    }
    if !has_question {
        r.error(node.pos, format!("{what} is missing `question`"));
    }
    for (value, key) in a
        .default
        .iter()
        .map(|d| (d, "default"))
        .chain(a.choices.iter().flatten().map(|c| (c, "choices")))
    {
        if let Some(message) =
            super::super::read::value_too_long(&format!("`{key}` in {what}"), &value.0)
        {
            let pos = at.keys.get(&format!("ask.{key}")).unwrap_or(node.pos);
            r.error(pos, message);
        }
    }
    if let (Some(choices), Some(default)) = (&a.choices, &a.default)
        && !choices.contains(default)
    {
        let pos = at.keys.get("ask.default").unwrap_or(node.pos);
        r.error(
            pos,
            format!("default `{default}` is not one of the choices in {what}"),
        );
    }
    Some(a)
}

pub(in crate::workflow) fn retry(r: &mut Reader<'_>, node: &Node, what: &str) -> Option<RetrySpec> {
    let what = format!("`retry` of {what}");
    let fields = r.fields(node, &what, RETRY_KEYS)?;
    let mut s = RetrySpec::default();
    for (key, value) in fields {
        let field = format!("`{}` in {what}", key.name);
        match &*key.name {
            "attempts" => s.attempts = r.positive(value, &field),
            "delay" => s.delay = r.duration(value, &field),
            "max_delay" => s.max_delay = r.duration(value, &field),
            "factor" => s.factor = r.number(value, &field),
            "jitter" => {
                s.jitter = r.choice(
                    value,
                    &field,
                    &[
                        ("full", Jitter::Full),
                        ("equal", Jitter::Equal),
                        ("none", Jitter::None),
                    ],
                );
            }
            _ => {}
        }
    }
    Some(s)
}

pub(super) fn breaker(r: &mut Reader<'_>, node: &Node, name: &str) -> Option<BreakerSpec> {
    let what = format!("breaker `{name}`");
    if matches!(node.value, Value::Null) {
        r.error(
            node.pos,
            format!("{what} must be a mapping, such as `{{ failures: 5, cooldown: 60s }}`"),
        );
        return None;
    }
    let fields = r.fields(node, &what, BREAKER_KEYS)?;
    let mut b = BreakerSpec::default();
    for (key, value) in fields {
        let field = format!("`{}` of {what}", key.name);
        match &*key.name {
            "failures" => b.failures = r.positive(value, &field),
            "cooldown" => b.cooldown = r.duration(value, &field),
            "half_open_calls" => b.half_open_calls = r.positive(value, &field),
            _ => {}
        }
    }
    Some(b)
}

pub(super) fn fallback(r: &mut Reader<'_>, node: &Node, what: &str) -> Option<FallbackSpec> {
    let what = format!("`fallback` of {what}");
    let fields = r.fields(node, &what, FALLBACK_KEYS)?;
    let mut f = FallbackSpec::default();
    for (_, value) in fields {
        f.outputs = r.scalar_map(value, &format!("`outputs` in {what}"));
    }
    Some(f)
}

pub(super) fn defaults(r: &mut Reader<'_>, node: &Node) -> Option<DefaultsSpec> {
    let fields = r.fields(node, "`defaults`", DEFAULTS_KEYS)?;
    let mut d = DefaultsSpec::default();
    for (key, value) in fields {
        let field = format!("`defaults.{}`", key.name);
        match &*key.name {
            "timeout" => d.timeout = r.duration(value, &field),
            "retry" => d.retry = optional(value, |v| retry(r, v, "`defaults`")),
            "wait_timeout" => d.wait_timeout = r.duration(value, &field),
            "kill_grace" => d.kill_grace = r.duration(value, &field),
            "shell" => d.shell = shell(r, value, &field),
            "on_failure" => d.on_failure = on_failure(r, value, &field),
            "output" => d.output = output(r, value, &field),
            _ => {}
        }
    }
    Some(d)
}

pub(super) fn on_failure(r: &mut Reader<'_>, node: &Node, field: &str) -> Option<OnFailure> {
    r.choice(
        node,
        field,
        &[("fail", OnFailure::Fail), ("continue", OnFailure::Continue)],
    )
}

pub(super) fn output(r: &mut Reader<'_>, node: &Node, field: &str) -> Option<OutputMode> {
    r.choice(
        node,
        field,
        &[
            ("merged", OutputMode::Merged),
            ("separate", OutputMode::Separate),
        ],
    )
}

pub(super) fn shell(r: &mut Reader<'_>, node: &Node, field: &str) -> Option<ShellSpec> {
    let shell = match &node.value {
        Value::Str(line) => ShellSpec::Line(line.to_string()),
        Value::Seq(_) => ShellSpec::Words(
            r.strings(node, field)?
                .into_iter()
                .map(|(s, _)| s)
                .collect(),
        ),
        _ => {
            r.error(
                node.pos,
                format!(
                    "{field} must be a string such as `bash -c`, found {}",
                    node.kind()
                ),
            );
            return None;
        }
    };
    let empty = match &shell {
        ShellSpec::Line(l) => l.trim().is_empty(),
        ShellSpec::Words(w) => w.is_empty(),
    };
    if empty {
        r.error(node.pos, format!("{field} is empty"));
        return None;
    }
    Some(shell)
}
