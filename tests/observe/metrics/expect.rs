//! What a run's journal says its metrics must be, worked out here from
//! the journal's lines alone, and the scrape checked against it.

use std::collections::BTreeMap;

use serde_json::Value;

use super::scrape::Scrape;

// ---------------------------------------------------------------------------
// What the journal says the metrics must be
// ---------------------------------------------------------------------------

/// The metrics as SPEC §8 and the journal define them, worked out here
/// from the journal's lines alone (and the workflow's step kinds).
#[derive(Debug, Default)]
pub struct Expected {
    pub steps: BTreeMap<String, f64>,
    pub finished: BTreeMap<String, f64>,
    pub attempts: BTreeMap<String, f64>,
    pub timed_attempts: f64,
    pub retries: f64,
    pub waits_open: BTreeMap<String, f64>,
    pub waits: BTreeMap<(String, String), f64>,
    pub breakers: BTreeMap<String, String>,
    pub hooks: BTreeMap<String, f64>,
    pub events: f64,
}

pub fn expected(journal: &[Value], steps: &[&str], waits: &[&str], breakers: &[&str]) -> Expected {
    let mut status: BTreeMap<String, String> = steps
        .iter()
        .map(|s| (s.to_string(), "pending".into()))
        .collect();
    let mut started: BTreeMap<String, bool> = BTreeMap::new();
    let mut open: BTreeMap<String, String> = BTreeMap::new();
    let mut x = Expected::default();
    for b in breakers {
        x.breakers.insert(b.to_string(), "closed".into());
    }
    let attempt = |x: &mut Expected, outcome: &str, timed: bool| {
        *x.attempts.entry(outcome.into()).or_default() += 1.0;
        if timed {
            x.timed_attempts += 1.0;
        }
    };
    for e in journal {
        x.events = e["seq"].as_f64().unwrap();
        let step = e["step"].as_str().unwrap_or_default().to_string();
        let is_run = !waits.contains(&step.as_str());
        let error = e["error"].as_str().unwrap_or_default();
        let refused = error.starts_with("breaker ") && error.ends_with(" is open");
        let mut set = |s: &str| {
            status.insert(step.clone(), s.into());
        };
        match e["type"].as_str().unwrap() {
            "step_ready" => set("ready"),
            "step_started" => {
                started.insert(step.clone(), true);
                set("running");
            }
            "step_retrying" | "step_failed" => {
                let was = started.remove(&step).unwrap_or(false);
                if is_run && refused {
                    attempt(&mut x, "refused", false);
                } else if is_run && was && error.starts_with("timed out") {
                    attempt(&mut x, "timed_out", true);
                } else if is_run && was {
                    attempt(&mut x, "failed", true);
                }
                if e["type"] == "step_retrying" {
                    x.retries += 1.0;
                    set("retrying");
                } else {
                    set("failed");
                    *x.finished.entry("failed".into()).or_default() += 1.0;
                }
            }
            "step_succeeded" => {
                let was = started.remove(&step).unwrap_or(false);
                if is_run {
                    match (e["fallback"].as_bool().unwrap(), was) {
                        (false, true) => attempt(&mut x, "succeeded", true),
                        (true, true) => attempt(&mut x, "failed", true),
                        (true, false) => attempt(&mut x, "refused", false),
                        (false, false) => {}
                    }
                }
                set("succeeded");
                *x.finished.entry("succeeded".into()).or_default() += 1.0;
            }
            kind @ ("step_skipped" | "step_cancelled") => {
                let word = if kind == "step_skipped" {
                    "skipped"
                } else {
                    "cancelled"
                };
                open.remove(&step);
                set(word);
                *x.finished.entry(word.into()).or_default() += 1.0;
            }
            "approval_requested" => {
                open.insert(step.clone(), "approval".into());
                set("waiting");
            }
            "question_asked" => {
                open.insert(step.clone(), "question".into());
                set("waiting");
            }
            kind @ ("approval_resolved" | "question_answered") => {
                open.remove(&step);
                let k = if kind == "approval_resolved" {
                    "approval"
                } else {
                    "question"
                };
                let by = e["by"].as_str().unwrap().to_string();
                *x.waits.entry((k.into(), by)).or_default() += 1.0;
            }
            "breaker_changed" => {
                let b = e["breaker"].as_str().unwrap().to_string();
                x.breakers.insert(b, e["state"].as_str().unwrap().into());
            }
            "hook_finished" => {
                let outcome = match e["error"].as_str() {
                    None => "ok",
                    Some(t) if t.starts_with("timed out") => "timed_out",
                    Some(_) => "failed",
                };
                *x.hooks.entry(outcome.into()).or_default() += 1.0;
            }
            "run_finished" => open.clear(),
            _ => {}
        }
    }
    for s in status.values() {
        *x.steps.entry(s.clone()).or_default() += 1.0;
    }
    for kind in open.values() {
        *x.waits_open.entry(kind.clone()).or_default() += 1.0;
    }
    x
}

/// Every metric of SPEC §8, its type and values, against `x`.
pub fn check(s: &Scrape, x: &Expected, steps: usize) {
    let types = [
        ("signalbox_steps", "gauge"),
        ("signalbox_steps_finished_total", "counter"),
        ("signalbox_attempts_total", "counter"),
        ("signalbox_attempt_duration_seconds", "histogram"),
        ("signalbox_retries_total", "counter"),
        ("signalbox_waits_open", "gauge"),
        ("signalbox_wait_duration_seconds", "histogram"),
        ("signalbox_breaker_state", "gauge"),
        ("signalbox_events_total", "counter"),
        ("signalbox_subscribers_dropped_total", "counter"),
        ("signalbox_journal_sync_duration_seconds", "histogram"),
        ("signalbox_hooks_total", "counter"),
    ];
    let want: BTreeMap<String, String> = types
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    assert_eq!(s.types, want, "{}", s.body);
    let get = |m: &BTreeMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(0.0);
    let mut sum = 0.0;
    for st in [
        "pending",
        "ready",
        "running",
        "retrying",
        "waiting",
        "succeeded",
        "failed",
        "skipped",
        "cancelled",
    ] {
        let v = s.value("signalbox_steps", &[("status", st)]);
        assert_eq!(v, get(&x.steps, st), "steps{{status={st}}}\n{}", s.body);
        sum += v;
    }
    assert_eq!(sum, steps as f64, "the statuses sum to the step count");
    for st in ["succeeded", "failed", "skipped", "cancelled"] {
        let v = s.value("signalbox_steps_finished_total", &[("status", st)]);
        assert_eq!(v, get(&x.finished, st), "steps_finished_total{{{st}}}");
    }
    for o in ["succeeded", "failed", "timed_out", "refused"] {
        let v = s.value("signalbox_attempts_total", &[("outcome", o)]);
        assert_eq!(v, get(&x.attempts, o), "attempts_total{{{o}}}\n{}", s.body);
    }
    assert_eq!(
        s.value("signalbox_attempt_duration_seconds_count", &[]),
        x.timed_attempts
    );
    assert_eq!(
        s.value(
            "signalbox_attempt_duration_seconds_bucket",
            &[("le", "+Inf")]
        ),
        x.timed_attempts
    );
    assert_eq!(s.value("signalbox_retries_total", &[]), x.retries);
    for k in ["approval", "question"] {
        let v = s.value("signalbox_waits_open", &[("kind", k)]);
        assert_eq!(v, get(&x.waits_open, k), "waits_open{{{k}}}");
        for by in ["keyboard", "socket", "flag", "prompt", "timeout"] {
            let v = s.value(
                "signalbox_wait_duration_seconds_count",
                &[("kind", k), ("by", by)],
            );
            let want = x.waits.get(&(k.into(), by.into())).copied().unwrap_or(0.0);
            assert_eq!(v, want, "wait_duration_seconds_count{{{k},{by}}}");
        }
    }
    for (b, state) in &x.breakers {
        for st in ["closed", "open", "half_open"] {
            let v = s.value("signalbox_breaker_state", &[("breaker", b), ("state", st)]);
            assert_eq!(v, f64::from(st == state), "breaker_state{{{b},{st}}}");
        }
    }
    assert_eq!(s.value("signalbox_events_total", &[]), x.events);
    assert_eq!(s.value("signalbox_subscribers_dropped_total", &[]), 0.0);
    // Every event the run acted on was synced before its effect: some syncs.
    assert!(s.value("signalbox_journal_sync_duration_seconds_count", &[]) >= 1.0);
    for o in ["ok", "timed_out", "failed"] {
        let v = s.value("signalbox_hooks_total", &[("outcome", o)]);
        assert_eq!(v, get(&x.hooks, o), "hooks_total{{{o}}}");
    }
}

/// No label holds a run id, a wait id or an attempt number; every series
/// names the workflow.
pub fn no_ids(s: &Scrape, journal: &[Value], workflow: &str) {
    let run = journal[0]["run"].as_str().unwrap();
    assert!(!s.body.contains(run), "the run id is in the body");
    let waits: Vec<&str> = journal.iter().filter_map(|e| e["wait"].as_str()).collect();
    assert!(!waits.is_empty());
    for sample in &s.samples {
        assert_eq!(
            sample.labels.get("workflow").map(String::as_str),
            Some(workflow)
        );
        for (k, v) in &sample.labels {
            assert!(!waits.contains(&v.as_str()), "{k}={v} is a wait id");
            if k != "le" {
                assert!(v.parse::<f64>().is_err(), "{k}={v} is a number");
            }
        }
    }
}
