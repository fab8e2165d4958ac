//! The spans of a run, folded from its journal in seq order: one for the
//! run (across resumes), one for each life of each step (a step run again
//! begins a new one), one for each attempt and one for each wait. Spans
//! carry what happened and who acted, never a step's output lines, an
//! answer, a prompt or a question (text that may hold outputs).

use std::collections::HashMap;

use crate::engine::event::{DagAction, Envelope, Event, RunStatus};
use crate::engine::trace_ctx::{self, SpanId, TraceId};

use super::otlp::{self, KeyValue, Span};

mod close;
mod steps;
use close::Outcome;

/// Where a run's spans hang: its trace, and the span it joined.
#[derive(Debug, Clone)]
pub struct Context {
    pub trace: TraceId,
    pub parent: Option<SpanId>,
    pub run_id: String,
}

/// A span begun and not yet ended.
struct Open {
    /// 0 the run, 1 a step, 2 an attempt or a wait: parents are listed
    /// before the children that start with them.
    rank: u8,
    id: SpanId,
    parent: SpanId,
    name: String,
    kind: i32,
    start: u128,
    attributes: Vec<KeyValue>,
    events: Vec<otlp::Event>,
}

/// One life of a step: its span, and its attempt and waits still open.
struct Life {
    span: Open,
    attempts: u32,
    attempt: Option<Open>,
    waits: Vec<String>,
}

struct Builder<'a> {
    ctx: &'a Context,
    run: Option<Open>,
    resumes: i64,
    /// The last `run_finished` while no `run_started` came after it.
    finished: Option<(u128, RunStatus)>,
    lives: HashMap<String, Life>,
    waits: HashMap<String, Open>,
    /// The waits whose span has ended: one opened again after that (a
    /// cancelled run resumed) is a span of its own.
    ended_waits: std::collections::HashSet<String>,
    /// Spans ended, each with its start and rank, to be listed in order.
    done: Vec<((u128, u8), Span)>,
    /// The time of the event before this one: where a crash cut.
    prev: u128,
}

/// The spans of the run whose journal is `events` (checked, in seq order).
/// See [`Fold`].
pub fn spans(ctx: &Context, events: &[Envelope]) -> Vec<Span> {
    let mut fold = Fold::new(ctx);
    for e in events {
        fold.take(e);
    }
    fold.finish()
}

/// The spans of a run, one event at a time: what it holds is the spans,
/// never the events (a journal may hold millions of output lines).
/// Spans still open when the events end (a live or interrupted run) end
/// at the last event, with `signalbox.open` true.
pub struct Fold<'a>(Builder<'a>);

impl<'a> Fold<'a> {
    pub fn new(ctx: &'a Context) -> Fold<'a> {
        Fold(Builder {
            ctx,
            run: None,
            resumes: 0,
            finished: None,
            lives: HashMap::new(),
            waits: HashMap::new(),
            ended_waits: Default::default(),
            done: Vec::new(),
            prev: 0,
        })
    }

    /// The next event of the journal, in seq order.
    pub fn take(&mut self, e: &Envelope) {
        let b = &mut self.0;
        let at = nanos(&e.ts).unwrap_or(b.prev).max(b.prev);
        b.take(e, at);
        b.prev = at;
    }

    /// Every span, the run's first, then by start.
    pub fn finish(self) -> Vec<Span> {
        self.0.finish()
    }
}

/// RFC 3339 to nanoseconds since the Unix epoch.
pub fn nanos(ts: &str) -> Option<u128> {
    let t = humantime::parse_rfc3339(ts).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos())
}

impl Builder<'_> {
    fn take(&mut self, e: &Envelope, at: u128) {
        match &e.event {
            Event::RunStarted {
                workflow, resumed, ..
            } => self.run_started(workflow, *resumed, e.seq, at),
            Event::RunFinished { status, .. } => {
                self.finished = Some((at, *status));
                let open: Vec<String> = self.waits.keys().cloned().collect();
                for wait in open {
                    self.end_wait(&wait, at, Outcome::Dropped);
                }
            }
            Event::BreakerChanged {
                breaker, state, by, ..
            } => {
                let mut attrs = vec![
                    KeyValue::str("signalbox.breaker", breaker.clone()),
                    KeyValue::str("signalbox.breaker.state", word(state)),
                ];
                attrs.extend(by.map(|by| KeyValue::str("signalbox.by", word(&by))));
                self.run_event("breaker_changed", at, attrs);
            }
            Event::DagModified {
                action,
                steps,
                by,
                revision,
                diff,
                ..
            } => {
                let mut attrs = vec![
                    KeyValue::str("signalbox.dag.action", word(action)),
                    KeyValue::strs("signalbox.dag.steps", steps),
                    KeyValue::str("signalbox.by", word(by)),
                ];
                attrs.extend(revision.map(|r| KeyValue::int("signalbox.revision", r)));
                self.run_event("dag_modified", at, attrs);
                // A step an edit removed never ends of itself.
                if *action == DagAction::Edit
                    && let Some(diff) = diff
                {
                    for step in &diff.removed {
                        self.end_life(step, at, Outcome::Removed);
                    }
                }
            }
            Event::HookFinished { .. } => {}
            _ => self.step_event(e, at),
        }
    }

    fn run_started(&mut self, workflow: &str, resumed: bool, seq: u64, at: u128) {
        if self.run.is_none() {
            let mut attributes = vec![
                KeyValue::str("cicd.pipeline.name", workflow),
                KeyValue::str("cicd.pipeline.run.id", self.ctx.run_id.clone()),
                KeyValue::str("cicd.pipeline.action.name", "RUN"),
            ];
            if resumed {
                // A journal whose beginning is not its run's first start.
                attributes.push(KeyValue::bool("signalbox.resumed", true));
            }
            self.run = Some(Open {
                id: trace_ctx::run_span(self.ctx.trace, &self.ctx.run_id),
                parent: self.ctx.parent.unwrap_or(SpanId([0; 8])),
                name: format!("RUN {workflow}"),
                rank: 0,
                kind: otlp::KIND_SERVER,
                start: at,
                attributes,
                events: Vec::new(),
            });
            return;
        }
        self.resumes += 1;
        let after = match self.finished.take() {
            Some(_) => "finished",
            None => "interrupted",
        };
        // The attempts running when the run stopped were cut by it: they
        // end where its journal did. Their steps and waits go on.
        let cut = self.prev;
        let steps: Vec<String> = self.lives.keys().cloned().collect();
        for step in steps {
            self.end_attempt(&step, cut, Outcome::Interrupted);
        }
        self.run_event(
            "resumed",
            at,
            vec![
                KeyValue::int("signalbox.seq", seq as i64),
                KeyValue::str("signalbox.resumed.after", after),
            ],
        );
    }

    fn run_event(&mut self, name: &str, at: u128, attributes: Vec<KeyValue>) {
        if let Some(run) = &mut self.run {
            run.events.push(otlp::Event {
                time_unix_nano: at.to_string(),
                name: name.to_string(),
                attributes,
            });
        }
    }

    /// The open life of `step`, begun by event `seq` if it has none.
    fn life(&mut self, step: &str, seq: u64, at: u128) {
        if self.lives.contains_key(step) {
            return;
        }
        let Some(run) = &self.run else { return };
        let run_id = &self.ctx.run_id;
        let span = Open {
            id: trace_ctx::step_span(self.ctx.trace, &self.ctx.run_id, step, seq),
            parent: run.id,
            rank: 1,
            name: format!("STEP {step}"),
            kind: otlp::KIND_INTERNAL,
            start: at,
            attributes: vec![
                KeyValue::str("cicd.pipeline.task.name", step),
                KeyValue::str(
                    "cicd.pipeline.task.run.id",
                    format!("{run_id}/{step}/{seq}"),
                ),
            ],
            events: Vec::new(),
        };
        let life = Life {
            span,
            attempts: 0,
            attempt: None,
            waits: Vec::new(),
        };
        self.lives.insert(step.to_string(), life);
    }

    fn set_attempts(&mut self, step: &str, n: u32) {
        if let Some(life) = self.lives.get_mut(step) {
            life.attempts = life.attempts.max(n);
        }
    }

    fn open_wait(&mut self, step: &str, wait: &str, kind: &str, (seq, at): (u64, u128)) {
        if let Some(w) = self.waits.get_mut(wait) {
            // Re-opened by a resume: the same wait, with the time it had left.
            w.events.push(otlp::Event {
                time_unix_nano: at.to_string(),
                name: "reopened".into(),
                attributes: Vec::new(),
            });
            return;
        }
        let Some(life) = self.lives.get_mut(step) else {
            return;
        };
        life.waits.push(wait.to_string());
        let id = match self.ended_waits.contains(wait) {
            true => trace_ctx::wait_span_again(self.ctx.trace, &self.ctx.run_id, wait, seq),
            false => trace_ctx::wait_span(self.ctx.trace, &self.ctx.run_id, wait),
        };
        let open = Open {
            id,
            parent: life.span.id,
            rank: 2,
            name: format!("{} {step}", kind.to_uppercase()),
            kind: otlp::KIND_INTERNAL,
            start: at,
            attributes: vec![
                KeyValue::str("cicd.pipeline.task.name", step),
                KeyValue::str("signalbox.wait.id", wait),
                KeyValue::str("signalbox.wait.kind", kind),
            ],
            events: Vec::new(),
        };
        self.waits.insert(wait.to_string(), open);
    }

    fn end_wait(&mut self, wait: &str, at: u128, outcome: Outcome) {
        if let Some(open) = self.waits.remove(wait) {
            self.ended_waits.insert(wait.to_string());
            self.close(open, at, &outcome);
        }
    }

    fn end_attempt(&mut self, step: &str, at: u128, outcome: Outcome) {
        if let Some(open) = self.lives.get_mut(step).and_then(|l| l.attempt.take()) {
            self.close(open, at, &outcome);
        }
    }

    fn end_life(&mut self, step: &str, at: u128, outcome: Outcome) {
        let Some(mut life) = self.lives.remove(step) else {
            return;
        };
        if let Some(open) = life.attempt.take() {
            self.close(open, at, &Outcome::Cancelled("the step ended".into()));
        }
        for wait in std::mem::take(&mut life.waits) {
            self.end_wait(&wait, at, Outcome::Dropped);
        }
        (life.span.attributes).push(KeyValue::int("signalbox.step.attempts", life.attempts));
        self.close(life.span, at, &outcome);
    }

    fn close(&mut self, open: Open, end: u128, outcome: &Outcome) {
        let mut open = open;
        let status = outcome.apply(&mut open.attributes);
        let key = (open.start, open.rank);
        self.done
            .push((key, span(self.ctx.trace, open, end, status)));
    }

    /// Ends what is still open at the run's end (its last `run_finished`,
    /// else its last event) and returns every span, the run's first.
    fn finish(mut self) -> Vec<Span> {
        let end = self.finished.map_or(self.prev, |(at, _)| at);
        let waits: Vec<String> = self.waits.keys().cloned().collect();
        for wait in waits {
            self.end_wait(&wait, end, Outcome::Open);
        }
        let steps: Vec<String> = self.lives.keys().cloned().collect();
        for step in steps {
            self.end_attempt(&step, end, Outcome::Open);
            self.end_life(&step, end, Outcome::Open);
        }
        let mut spans = Vec::with_capacity(self.done.len() + 1);
        if let Some(mut run) = self.run.take() {
            run.attributes
                .push(KeyValue::int("signalbox.resumes", self.resumes));
            let outcome = match self.finished {
                Some((_, status)) => Outcome::Run(status),
                None => Outcome::Open,
            };
            let status = outcome.apply(&mut run.attributes);
            spans.push(span(self.ctx.trace, run, end, status));
        }
        self.done.sort_by_key(|(key, _)| *key);
        spans.extend(self.done.into_iter().map(|(_, s)| s));
        spans
    }
}

fn span(trace: TraceId, open: Open, end: u128, status: otlp::Status) -> Span {
    Span {
        trace_id: trace.hex(),
        span_id: open.id.hex(),
        parent_span_id: match open.parent.0 {
            [0, 0, 0, 0, 0, 0, 0, 0] => String::new(),
            _ => open.parent.hex(),
        },
        name: open.name,
        kind: open.kind,
        start_time_unix_nano: open.start.to_string(),
        end_time_unix_nano: end.max(open.start).to_string(),
        attributes: open.attributes,
        events: open.events,
        status,
    }
}

/// A value's name as the journal spells it (`half_open`, `socket`).
fn word<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
