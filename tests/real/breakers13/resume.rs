//! A breaker across a kill -9 and a resume (SPEC §2 "Breaker", "Resume"):
//! the resumed run's breakers are where the journal left them, whether
//! failures or an operator moved them, an open one's cooldown counted
//! from the journaled time; the resumed journal passes the checker. A
//! retry of a finished run closes the breakers of the steps it runs again,
//! as the operator who asked.

use std::time::Duration;

use super::{Work, is, last_segment, taken};

/// `publish` fails every time it runs; `registry` trips on `FAILURES`
/// failures for an hour; one second between attempts, three in all.
const FAILING: &str = r#"
name: trip
breakers:
  registry: { failures: FAILURES, cooldown: 1h }
steps:
  publish:
    breaker: registry
    retry: { attempts: 3, delay: 1s, factor: 1, jitter: none }
    run: echo publish >> LEDGER; exit 1
"#;

/// Runs `FAILING` and kills signalbox -9 while `publish` backs off after
/// its first attempt; returns the run id.
fn killed_after_the_first_failure(work: &Work, failures: u32) -> String {
    let file = work.write(&FAILING.replace("FAILURES", &failures.to_string()));
    let mut run = work.start(&file);
    let id = run.run_id();
    run.wait_for("publish backing off", |e| is(e, "step_retrying", "publish"));
    run.kill9();
    id
}

#[test]
fn a_breaker_open_when_the_run_was_killed_is_open_when_it_resumes() {
    let work = Work::new();
    let id = killed_after_the_first_failure(&work, 1);
    let before = work.journal(&id);
    assert!(
        before
            .iter()
            .any(|e| e["type"] == "breaker_changed" && e["state"] == "open"),
        "precondition: the breaker opened before the kill\n{}",
        crate::common::dump(&before)
    );

    let done = work.resume(&id).finish();
    done.expect(1, "failed");
    let journal = work.journal(&id);
    let resumed = last_segment(&journal);
    let failed = resumed
        .iter()
        .find(|e| is(e, "step_failed", "publish"))
        .unwrap_or_else(|| panic!("{}", done.dump()));
    assert_eq!(failed["error"], "breaker registry is open", "{failed}");
    assert_eq!(failed["attempts"], 3, "{failed}");
    assert!(
        !resumed.iter().any(|e| is(e, "step_started", "publish")),
        "no attempt reached the service while the breaker was open\n{}",
        done.dump()
    );
    assert!(
        !resumed.iter().any(|e| e["type"] == "breaker_changed"),
        "an hour's cooldown is not over: the breaker stays open\n{}",
        done.dump()
    );
    assert_eq!(
        work.ledger(),
        ["publish"],
        "the command ran once, before the kill"
    );
    work.check_journal(&id);
}

#[test]
fn a_closed_breaker_goes_on_counting_the_failures_from_before_the_kill() {
    let work = Work::new();
    // Two failures trip it: the one before the kill and the next.
    let id = killed_after_the_first_failure(&work, 2);
    let done = work.resume(&id).finish();
    done.expect(1, "failed");
    let journal = work.journal(&id);
    let resumed = last_segment(&journal);
    let opened = resumed
        .iter()
        .position(|e| e["type"] == "breaker_changed" && e["state"] == "open")
        .unwrap_or_else(|| panic!("the second failure opens it\n{}", done.dump()));
    let started: Vec<_> = resumed
        .iter()
        .filter(|e| is(e, "step_started", "publish"))
        .collect();
    assert_eq!(started.len(), 1, "{}", done.dump());
    assert_eq!(started[0]["attempt"], 2, "{}", done.dump());
    let failed = resumed
        .iter()
        .position(|e| is(e, "step_failed", "publish"))
        .unwrap();
    assert!(failed > opened);
    assert_eq!(resumed[failed]["error"], "breaker registry is open");
    assert_eq!(work.ledger(), ["publish", "publish"]);
    work.check_journal(&id);
}

/// `publish` waits behind the approval `go`; `registry` has a cooldown of
/// `COOLDOWN`.
const GATED: &str = r#"
name: gate
breakers:
  registry: { failures: 3, cooldown: COOLDOWN }
steps:
  go:
    approval: { prompt: "Go?" }
  publish:
    needs: [go]
    breaker: registry
    run: echo publish >> LEDGER
"#;

/// Starts `GATED`, opens `registry` as an operator while `go` waits, and
/// kills signalbox -9; returns the run id.
fn opened_by_the_operator_then_killed(work: &Work, cooldown: &str) -> String {
    let file = work.write(&GATED.replace("COOLDOWN", cooldown));
    let mut run = work.start(&file);
    let id = run.run_id();
    run.wait_for("the approval", |e| e["type"] == "approval_requested");
    taken(&work.cli(&["breaker", &id, "registry", "open"]));
    run.wait_for("the operator's open", |e| {
        e["type"] == "breaker_changed" && e["state"] == "open"
    });
    run.kill9();
    id
}

#[test]
fn an_operators_open_holds_across_a_resume() {
    let work = Work::new();
    let id = opened_by_the_operator_then_killed(&work, "1h");
    let mut live = work.resume(&id);
    live.wait_for("the approval again", |e| e["type"] == "approval_requested");
    taken(&work.cli(&["approve", &id, "go"]));
    let done = live.finish();
    done.expect(1, "failed");
    let failed = done.one("step_failed", "publish");
    assert_eq!(
        failed["error"],
        "breaker registry is open",
        "{}",
        done.dump()
    );
    assert!(!done.has("step_started", "publish"), "{}", done.dump());
    assert!(work.ledger().is_empty(), "publish never ran");
    work.check_journal(&id);

    // `replay` reads (and checks) the same journal.
    let out = work.cli(&["replay", &id]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_cooldown_counts_from_the_journaled_open_not_from_the_resume() {
    let work = Work::new();
    let id = opened_by_the_operator_then_killed(&work, "2s");
    // Nothing runs while its cooldown ends.
    std::thread::sleep(Duration::from_millis(2500));
    let mut live = work.resume(&id);
    live.wait_for("the approval again", |e| e["type"] == "approval_requested");
    taken(&work.cli(&["approve", &id, "go"]));
    let done = live.finish();
    done.expect(0, "succeeded");
    let states: Vec<&str> = done
        .all("breaker_changed")
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["half_open", "closed"], "{}", done.dump());
    let half = done
        .events
        .iter()
        .position(|e| e["state"] == "half_open")
        .unwrap();
    assert!(
        done.pos("step_started", "publish") > half,
        "{}",
        done.dump()
    );
    assert_eq!(work.ledger(), ["publish"], "its probe ran, and closed it");
    work.check_journal(&id);
}

/// `publish` trips `registry` and fails until `FIXED` exists; `probe`
/// trips `other` and is let fail.
const TRIPPED_AND_FAILED: &str = r#"
name: fixme
breakers:
  registry: { failures: 1, cooldown: 1h }
  other: { failures: 1, cooldown: 1h }
steps:
  publish:
    breaker: registry
    run: echo publish >> LEDGER; test -f FIXED
  probe:
    breaker: other
    on_failure: continue
    run: exit 1
"#;

#[test]
fn a_retry_of_a_finished_run_closes_the_breakers_of_the_steps_it_runs_again() {
    let work = Work::new();
    let fixed = work.path("FIXED");
    let file = work.write(&TRIPPED_AND_FAILED.replace("FIXED", &fixed.display().to_string()));
    let done = work.start(&file).finish();
    done.expect(1, "failed");
    let id = done.run_id().to_string();
    assert_eq!(done.all("breaker_changed").len(), 2, "{}", done.dump());

    std::fs::write(&fixed, "").unwrap();
    let done = work.spawn(&["retry", &id, "publish"]).finish();
    done.expect(0, "succeeded");
    let journal = work.journal(&id);
    let resumed = last_segment(&journal);
    let kinds: Vec<&str> = resumed[..4]
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "run_started",
            "dag_modified",
            "breaker_changed",
            "step_ready"
        ],
        "{}",
        crate::common::dump(resumed)
    );
    let closed = &resumed[2];
    assert_eq!(closed["breaker"], "registry", "{closed}");
    assert_eq!(closed["state"], "closed", "{closed}");
    assert_eq!(closed["by"], "flag", "{closed}");
    assert_eq!(closed["user"], super::me().as_str(), "{closed}");
    assert!(
        !resumed
            .iter()
            .any(|e| e["type"] == "breaker_changed" && e["breaker"] == "other"),
        "a breaker no retried step names stays as it was\n{}",
        crate::common::dump(resumed)
    );
    assert_eq!(work.ledger(), ["publish", "publish"]);
    work.check_journal(&id);
}
