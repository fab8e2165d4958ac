//! The registry a scrape encodes: the SPEC §8 metrics, each labelled with
//! the workflow's name, every series of a closed label set made up front
//! (a status no step has yet reads 0), and the engine's own counts read
//! at scrape time.

use std::borrow::Cow;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::engine::stats::EngineStats;

/// A step's status as `signalbox_steps` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Ready,
    Running,
    /// Between `step_retrying` and the next `step_started`.
    Retrying,
    /// An approval or a question is open.
    Waiting,
    Succeeded,
    Failed,
    Skipped,
    Cancelled,
}

pub const STATUSES: [(Status, &str); 9] = [
    (Status::Pending, "pending"),
    (Status::Ready, "ready"),
    (Status::Running, "running"),
    (Status::Retrying, "retrying"),
    (Status::Waiting, "waiting"),
    (Status::Succeeded, "succeeded"),
    (Status::Failed, "failed"),
    (Status::Skipped, "skipped"),
    (Status::Cancelled, "cancelled"),
];

/// The statuses a step ends in, for `signalbox_steps_finished_total`.
pub const FINISHED: [&str; 4] = ["succeeded", "failed", "skipped", "cancelled"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    TimedOut,
    /// Refused by an open breaker, without running.
    Refused,
}

pub const OUTCOMES: [&str; 4] = ["succeeded", "failed", "timed_out", "refused"];

pub const WAIT_KINDS: [&str; 2] = ["approval", "question"];

/// Who resolves a wait, as events spell it.
pub const BY: [&str; 5] = ["keyboard", "socket", "flag", "prompt", "timeout"];

pub const HOOK_OUTCOMES: [&str; 3] = ["ok", "timed_out", "failed"];

pub const BREAKER_STATES: [&str; 3] = ["closed", "open", "half_open"];

/// Seconds: from a `true` step to an hour-long build.
const ATTEMPT_BUCKETS: [f64; 16] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// Seconds: a flag's instant answer to a day-long approval.
const WAIT_BUCKETS: [f64; 12] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0, 14400.0, 86400.0,
];

type One = [(&'static str, &'static str); 1];
type Two = [(&'static str, &'static str); 2];
type BreakerLabels = [(&'static str, String); 2];

fn wait_histogram() -> Histogram {
    Histogram::new(WAIT_BUCKETS)
}

/// The handles the fold moves; each shares its value with the registry.
#[derive(Debug)]
pub struct Metrics {
    /// In the order of [`STATUSES`].
    pub steps: Vec<Gauge>,
    /// In the order of [`FINISHED`].
    pub finished: Vec<Counter>,
    /// In the order of [`OUTCOMES`].
    pub attempts: Vec<Counter>,
    pub attempt_duration: Histogram,
    pub retries: Counter,
    /// In the order of [`WAIT_KINDS`].
    pub waits_open: Vec<Gauge>,
    /// Indexed by [`WAIT_KINDS`] then [`BY`].
    pub wait_duration: Vec<Vec<Histogram>>,
    breakers: Family<BreakerLabels, Gauge>,
    pub events: Counter,
    /// In the order of [`HOOK_OUTCOMES`].
    pub hooks: Vec<Counter>,
}

impl Metrics {
    /// The registry of a run of `workflow`, and the handles on it.
    /// `stats`, when given, is read at each scrape.
    pub fn register(workflow: &str, stats: Option<Arc<EngineStats>>) -> (Registry, Metrics) {
        let label = (Cow::Borrowed("workflow"), Cow::Owned(workflow.to_string()));
        let mut r = Registry::with_labels(std::iter::once(label));
        let steps = Family::<One, Gauge>::default();
        r.register(
            "signalbox_steps",
            "Steps of the run by status; they sum to the run's step count",
            steps.clone(),
        );
        let finished = Family::<One, Counter>::default();
        r.register(
            "signalbox_steps_finished",
            "Steps that ended, by how",
            finished.clone(),
        );
        let attempts = Family::<One, Counter>::default();
        r.register(
            "signalbox_attempts",
            "Attempts of run steps that ended, by outcome (an attempt cancelled is not counted)",
            attempts.clone(),
        );
        let attempt_duration = Histogram::new(ATTEMPT_BUCKETS);
        r.register(
            "signalbox_attempt_duration_seconds",
            "How long attempts ran, from step_started to their end",
            attempt_duration.clone(),
        );
        let retries = Counter::default();
        r.register(
            "signalbox_retries",
            "Attempts that failed and were retried",
            retries.clone(),
        );
        let waits_open = Family::<One, Gauge>::default();
        r.register(
            "signalbox_waits_open",
            "Approvals and questions open now",
            waits_open.clone(),
        );
        let wait_duration = Family::<Two, Histogram, fn() -> Histogram>::new_with_constructor(
            wait_histogram as fn() -> Histogram,
        );
        r.register(
            "signalbox_wait_duration_seconds",
            "How long approvals and questions waited before they were decided, and by whom",
            wait_duration.clone(),
        );
        let breakers = Family::<BreakerLabels, Gauge>::default();
        r.register(
            "signalbox_breaker_state",
            "Each breaker's state: 1 for the one it is in",
            breakers.clone(),
        );
        let events = Counter::default();
        r.register(
            "signalbox_events",
            "Events journaled by the run",
            events.clone(),
        );
        let hooks = Family::<One, Counter>::default();
        r.register(
            "signalbox_hooks",
            "Hook runs that ended, by outcome",
            hooks.clone(),
        );
        r.register_collector(Box::new(Engine(stats)));
        let one = |f: &Family<One, Gauge>, key, v| f.get_or_create_owned(&[(key, v)]);
        let count = |f: &Family<One, Counter>, key, v| f.get_or_create_owned(&[(key, v)]);
        let m = Metrics {
            steps: STATUSES
                .iter()
                .map(|(_, s)| one(&steps, "status", s))
                .collect(),
            finished: FINISHED
                .iter()
                .map(|s| count(&finished, "status", s))
                .collect(),
            attempts: OUTCOMES
                .iter()
                .map(|s| count(&attempts, "outcome", s))
                .collect(),
            attempt_duration,
            retries,
            waits_open: WAIT_KINDS
                .iter()
                .map(|k| one(&waits_open, "kind", k))
                .collect(),
            wait_duration: WAIT_KINDS
                .iter()
                .map(|k| {
                    BY.iter()
                        .map(|b| wait_duration.get_or_create_owned(&[("kind", k), ("by", b)]))
                        .collect()
                })
                .collect(),
            breakers,
            events,
            hooks: HOOK_OUTCOMES
                .iter()
                .map(|s| count(&hooks, "outcome", s))
                .collect(),
        };
        (r, m)
    }

    /// Breaker `name` is in `state` (one of [`BREAKER_STATES`]) and no other.
    pub fn breaker(&self, name: &str, state: &str) {
        for s in BREAKER_STATES {
            let series = self
                .breakers
                .get_or_create_owned(&[("breaker", name.to_string()), ("state", s.to_string())]);
            series.set(i64::from(s == state));
        }
    }
}

/// What the engine counts itself ([`EngineStats`]), read at each scrape.
#[derive(Debug)]
struct Engine(Option<Arc<EngineStats>>);

impl Collector for Engine {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (dropped, syncs) = match &self.0 {
            Some(s) => (s.subscribers_dropped(), s.syncs()),
            None => (0, EngineStats::default().syncs()),
        };
        let counter = ConstCounter::new(dropped);
        counter.encode(encoder.encode_descriptor(
            "signalbox_subscribers_dropped",
            "Subscribers that fell behind the run and read on from its journal.",
            None,
            counter.metric_type(),
        )?)?;
        let mut m = encoder.encode_descriptor(
            "signalbox_journal_sync_duration_seconds",
            "How long each sync of the journal to disk took.",
            None,
            MetricType::Histogram,
        )?;
        m.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            syncs.sum,
            syncs.count,
            &syncs.buckets,
            None,
        )
    }
}
