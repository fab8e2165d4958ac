//! A run's Prometheus metrics (SPEC §8): a subscriber folds the run's
//! events into a registry, and `--metrics ADDR` serves it at `/metrics`.
//! The engine knows nothing of them; the few figures no event carries
//! (journal syncs, subscribers dropped) it keeps as plain counters.
