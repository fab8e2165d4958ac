//! The breaker's transitions, on a clock stepped by hand.

use super::*;

const COOLDOWN: Duration = Duration::from_secs(60);

fn breaker(failures: u32, half_open_calls: u32) -> Breaker {
    Breaker::new(BreakerPolicy {
        failures,
        cooldown: COOLDOWN,
        half_open_calls,
    })
}

fn at(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Fails `n` admitted attempts at time `now`, returning the last state change.
fn fail_n(b: &mut Breaker, n: u32, now: Duration) -> Option<State> {
    let mut last = None;
    for _ in 0..n {
        assert_eq!(b.admit(now), (Admit::Allowed, None));
        last = b.record_failure(now);
    }
    last
}

/// An open breaker whose cooldown ends at `at(60)`.
fn opened(half_open_calls: u32) -> Breaker {
    let mut b = breaker(3, half_open_calls);
    assert_eq!(fail_n(&mut b, 3, at(0)), Some(State::Open));
    b
}

#[test]
fn opens_exactly_at_the_threshold() {
    for threshold in [1, 2, 3, 5, 10] {
        let mut b = breaker(threshold, 1);
        assert_eq!(fail_n(&mut b, threshold - 1, at(0)), None);
        assert_eq!(b.state(), State::Closed, "threshold {threshold}");
        assert_eq!(fail_n(&mut b, 1, at(0)), Some(State::Open));
        assert_eq!(b.state(), State::Open);
        assert_eq!(b.reopens_at(), Some(COOLDOWN));
    }
}

#[test]
fn a_success_resets_the_count() {
    let mut b = breaker(3, 1);
    fail_n(&mut b, 2, at(0));
    assert_eq!(b.admit(at(1)), (Admit::Allowed, None));
    assert_eq!(b.record_success(at(1)), None);
    assert_eq!(fail_n(&mut b, 2, at(2)), None);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(fail_n(&mut b, 1, at(3)), Some(State::Open));
}

#[test]
fn rejects_while_open_without_counting() {
    let mut b = opened(1);
    for now in [0, 1, 30, 59] {
        assert_eq!(b.admit(at(now)), (Admit::Rejected, None), "at {now}s");
    }
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.reopens_at(), Some(at(60)));
}

#[test]
fn after_cooldown_admits_exactly_half_open_calls() {
    for calls in [1, 2, 4] {
        let mut b = opened(calls);
        assert_eq!(b.admit(at(60)), (Admit::Allowed, Some(State::HalfOpen)));
        assert_eq!(b.reopens_at(), None);
        for _ in 1..calls {
            assert_eq!(b.admit(at(61)), (Admit::Allowed, None));
        }
        assert_eq!(b.admit(at(62)), (Admit::Rejected, None), "calls {calls}");
        assert_eq!(b.state(), State::HalfOpen);
    }
}

#[test]
fn half_open_verdicts() {
    // (success?, the state it moves to, reopens_at afterwards)
    let cases = [
        (true, State::Closed, None),
        (false, State::Open, Some(at(70 + 60))),
    ];
    for (success, want, reopens) in cases {
        let mut b = opened(2);
        b.admit(at(60));
        b.admit(at(60));
        let change = if success {
            b.record_success(at(70))
        } else {
            b.record_failure(at(70))
        };
        assert_eq!(change, Some(want));
        assert_eq!(b.state(), want);
        assert_eq!(b.reopens_at(), reopens);
        // The other probe's verdict arrives after the state moved on: no change.
        let late = if success {
            b.record_success(at(71))
        } else {
            b.record_failure(at(71))
        };
        assert_eq!(late, None);
    }
}

#[test]
fn closed_after_half_open_starts_counting_from_zero() {
    let mut b = opened(1);
    b.admit(at(60));
    b.record_success(at(61));
    assert_eq!(fail_n(&mut b, 2, at(62)), None);
    assert_eq!(fail_n(&mut b, 1, at(63)), Some(State::Open));
}

#[test]
fn reopened_breaker_waits_a_fresh_cooldown() {
    let mut b = opened(1);
    b.admit(at(100));
    b.record_failure(at(100));
    assert_eq!(b.admit(at(159)), (Admit::Rejected, None));
    assert_eq!(b.admit(at(160)), (Admit::Allowed, Some(State::HalfOpen)));
}

#[test]
fn stragglers_while_open_change_nothing() {
    let mut b = opened(1);
    assert_eq!(b.record_success(at(10)), None);
    assert_eq!(b.record_failure(at(50)), None);
    b.record_abandoned();
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.reopens_at(), Some(at(60)));
}

#[test]
fn abandoned_frees_a_half_open_slot() {
    let mut b = opened(1);
    assert_eq!(b.admit(at(60)).0, Admit::Allowed);
    assert_eq!(b.admit(at(61)).0, Admit::Rejected);
    b.record_abandoned();
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.admit(at(62)), (Admit::Allowed, None));
    // More abandons than probes must not open extra slots.
    b.record_abandoned();
    b.record_abandoned();
    assert_eq!(b.admit(at(63)).0, Admit::Allowed);
    assert_eq!(b.admit(at(63)).0, Admit::Rejected);
}

#[test]
fn abandoned_while_closed_does_not_reset_the_count() {
    let mut b = breaker(2, 1);
    fail_n(&mut b, 1, at(0));
    b.admit(at(1));
    b.record_abandoned();
    assert_eq!(fail_n(&mut b, 1, at(2)), Some(State::Open));
}

#[test]
fn degenerate_policies() {
    let mut b = Breaker::new(BreakerPolicy {
        failures: 0,
        cooldown: Duration::MAX,
        half_open_calls: 0,
    });
    assert_eq!(fail_n(&mut b, 1, at(5)), Some(State::Open));
    assert_eq!(b.reopens_at(), Some(Duration::MAX));
    assert_eq!(
        b.admit(Duration::MAX),
        (Admit::Allowed, Some(State::HalfOpen))
    );
    assert_eq!(b.admit(Duration::MAX).0, Admit::Rejected);
}

#[test]
fn state_names_match_the_events() {
    let names = [
        (State::Closed, "closed"),
        (State::Open, "open"),
        (State::HalfOpen, "half_open"),
    ];
    for (state, name) in names {
        assert_eq!(state.name(), name);
    }
}

#[test]
fn the_operator_resets_an_open_or_half_open_breaker() {
    let mut b = opened(1);
    assert_eq!(b.reset(), Some(State::Closed));
    assert_eq!(
        b.admit(at(1)),
        (Admit::Allowed, None),
        "within the cooldown"
    );
    assert_eq!(b.reopens_at(), None);
    // The count starts again from zero.
    assert_eq!(fail_n(&mut b, 2, at(2)), None);
    assert_eq!(fail_n(&mut b, 1, at(3)), Some(State::Open));
    b.admit(at(63));
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.reset(), Some(State::Closed));
    assert_eq!(b.reset(), None, "closed already");
}

#[test]
fn the_operator_opens_a_breaker_for_one_cooldown() {
    let mut b = breaker(3, 1);
    assert_eq!(b.force_open(at(10)), Some(State::Open));
    assert_eq!(b.admit(at(69)), (Admit::Rejected, None));
    assert_eq!(
        b.force_open(at(20)),
        None,
        "open already: its cooldown stands"
    );
    assert_eq!(b.reopens_at(), Some(at(70)));
    assert_eq!(b.admit(at(70)), (Admit::Allowed, Some(State::HalfOpen)));
    assert_eq!(b.force_open(at(71)), Some(State::Open));
    assert_eq!(b.reopens_at(), Some(at(131)));
}

#[test]
fn a_restored_open_breaker_keeps_what_was_left_of_its_cooldown() {
    let mut b = breaker(3, 1);
    b.restore(
        Restored::Open {
            opened_ago: Duration::from_secs(20),
        },
        at(100),
    );
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.reopens_at(), Some(at(140)));
    assert_eq!(b.admit(at(139)), (Admit::Rejected, None));
    assert_eq!(b.admit(at(140)), (Admit::Allowed, Some(State::HalfOpen)));
}

#[test]
fn a_breaker_whose_cooldown_passed_while_nothing_ran_lets_a_probe_through() {
    let mut b = breaker(3, 1);
    b.restore(
        Restored::Open {
            opened_ago: COOLDOWN * 2,
        },
        at(5),
    );
    assert_eq!(b.cool_down(at(5)), Some(State::HalfOpen));
    assert_eq!(b.admit(at(5)), (Admit::Allowed, None));
    assert_eq!(b.admit(at(5)), (Admit::Rejected, None));
}

#[test]
fn a_restored_half_open_breaker_admits_its_probes_afresh() {
    let mut b = breaker(3, 2);
    b.restore(Restored::HalfOpen, at(0));
    assert_eq!(b.admit(at(0)), (Admit::Allowed, None));
    assert_eq!(b.admit(at(0)), (Admit::Allowed, None));
    assert_eq!(b.admit(at(0)), (Admit::Rejected, None));
    assert_eq!(b.record_success(at(0)), Some(State::Closed));
}

#[test]
fn a_restored_closed_breaker_goes_on_counting() {
    let mut b = breaker(3, 1);
    b.restore(Restored::Closed { failures: 2 }, at(0));
    assert_eq!(fail_n(&mut b, 1, at(0)), Some(State::Open));
    let mut b = breaker(3, 1);
    // A count at the threshold cannot be closed: one more failure opens it.
    b.restore(Restored::Closed { failures: 7 }, at(0));
    assert_eq!(b.state(), State::Closed);
    assert_eq!(fail_n(&mut b, 1, at(0)), Some(State::Open));
}
