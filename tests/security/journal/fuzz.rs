//! Fuzz of the journal reader and checker, replayed from the seed corpus
//! in `tests/fixtures/journals/` (journals of real runs of `seed.yaml`).
//!
//! A deterministic loop (fixed seed) mutates each seed, byte by byte
//! (truncations, bit flips, stray characters, a line of another journal)
//! and event by event (two swapped, a type, step, attempt, wait or answer
//! changed, a line repeated or dropped, `run_finished` moved; seqs
//! renumbered so the reader's own checks do not catch it first), and
//! resumes it through the library: every mutant is refused with a line
//! number (or as a finished run), or resumes to its end within a time
//! limit, without a panic, leaving a journal the checker accepts. A
//! failing mutant is printed in full, to become a test case.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use serde_json::Value;
use signalbox::engine::journal::read_journal;
use signalbox::engine::journal_check::check_all;
use signalbox::engine::{EngineError, Run, RunOptions};

use super::{Planted, fixtures, run_id};
use crate::common::Rng;

/// Journals of real runs, and the workflow each ran.
const SEEDS: &[(&str, &str)] = &[
    ("succeeded", "seed"),
    ("open_wait", "seed"),
    ("resumed", "seed"),
    ("cancelled", "seed"),
    ("cancelled_resumed", "seed"),
    ("ops", "ops"),
];

/// Mutants per seed: a few seconds in all.
const MUTANTS_PER_SEED: usize = 30;

/// How long an accepted mutant may take to resume to its end: its steps
/// print one line, its backoffs are milliseconds, its waits are answered
/// by `--auto-approve` (or have timed out).
const LIMIT: Duration = Duration::from_secs(15);

const TYPES: &[&str] = &[
    "run_started",
    "run_finished",
    "step_ready",
    "step_started",
    "step_output",
    "step_retrying",
    "step_succeeded",
    "step_failed",
    "step_skipped",
    "step_cancelled",
    "approval_requested",
    "approval_resolved",
    "question_asked",
    "question_answered",
    "breaker_changed",
    "dag_modified",
];

const STEPS: &[&str] = &["build", "gate", "notes", "ship", "slow", "q", "nope"];

fn lines(bytes: &[u8]) -> Vec<Value> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

/// Events back to bytes, `seq` renumbered from 1.
fn renumbered(events: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, e) in events.iter().enumerate() {
        let mut e = e.clone();
        e["seq"] = (n + 1).into();
        out.extend_from_slice(e.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

/// One event-level change, the journal still well-formed line by line.
fn semantic(rng: &mut Rng, seed: &[u8]) -> (String, Vec<u8>) {
    let mut ev = lines(seed);
    let n = ev.len();
    let i = rng.below(n);
    let what = match rng.below(10) {
        0 => {
            let j = rng.below(n);
            ev.swap(i, j);
            format!("swap {} and {}", i + 1, j + 1)
        }
        1 => {
            let t = rng.pick(TYPES);
            ev[i]["type"] = t.into();
            format!("line {} type {t}", i + 1)
        }
        2 => {
            let s = rng.pick(STEPS);
            ev[i]["step"] = s.into();
            format!("line {} step {s}", i + 1)
        }
        3 => {
            let a = rng.below(4);
            ev[i]["attempt"] = a.into();
            format!("line {} attempt {a}", i + 1)
        }
        4 => {
            let copy = ev[i].clone();
            ev.insert(i + 1, copy);
            format!("line {} repeated", i + 1)
        }
        5 => {
            ev.remove(i);
            format!("line {} dropped", i + 1)
        }
        6 => {
            let end = ev.iter().position(|e| e["type"] == "run_finished");
            let fin = match end {
                Some(k) => ev.remove(k),
                None => serde_json::json!({
                    "ts": ev[0]["ts"], "run": ev[0]["run"], "type": "run_finished",
                    "status": "succeeded", "duration_ms": 1,
                }),
            };
            let to = rng.below(ev.len() + 1);
            ev.insert(to, fin);
            format!("run_finished moved to {}", to + 1)
        }
        7 => {
            let w = format!("w{}", rng.below(4));
            ev[i]["wait"] = w.clone().into();
            format!("line {} wait {w}", i + 1)
        }
        8 => {
            let a = rng.pick(&["alpha", "beta", "gamma", "", "al\u{0}pha"]);
            ev[i]["answer"] = a.into();
            ev[i]["approved"] = (rng.below(2) == 0).into();
            format!("line {} answer {a:?}", i + 1)
        }
        _ => {
            let v = rng.pick(&[0u64, 1, 5, 299_999, 300_001, u64::MAX]);
            let key = rng.pick(&["delay_ms", "timeout_ms", "duration_ms", "steps", "seq"]);
            ev[i][key] = v.into();
            ev[i]["resumed"] = (rng.below(2) == 0).into();
            format!("line {} {key} {v}", i + 1)
        }
    };
    (what, renumbered(&ev))
}

/// One byte-level change: what a disk, an editor or an attacker does.
fn bytes(rng: &mut Rng, seed: &[u8], other: &[u8]) -> (String, Vec<u8>) {
    let mut b = seed.to_vec();
    let at = rng.below(b.len());
    let what = match rng.below(4) {
        0 => {
            b.truncate(at);
            format!("cut at byte {at}")
        }
        1 => {
            let bit = 1u8 << rng.below(8);
            b[at] ^= bit;
            format!("byte {at} ^ {bit}")
        }
        2 => {
            let c = rng.pick(b"{}[]\",:0\n\\\x00\xff");
            b.insert(at, c);
            format!("byte {c} inserted at {at}")
        }
        _ => {
            let theirs: Vec<&[u8]> = other.split_inclusive(|&c| c == b'\n').collect();
            let line = theirs[rng.below(theirs.len())];
            let ours: Vec<&[u8]> = seed.split_inclusive(|&c| c == b'\n').collect();
            let k = rng.below(ours.len() + 1);
            let mut out = ours[..k].concat();
            out.extend_from_slice(line);
            out.extend_from_slice(&ours[k..].concat());
            b = out;
            format!("a line of another journal inserted at line {}", k + 1)
        }
    };
    (what, b)
}

fn show(what: &str, journal: &[u8]) -> String {
    format!("mutant ({what}):\n{}", String::from_utf8_lossy(journal))
}

/// Resumes one mutant through the library; panics (with the mutant) on a
/// hang, a panic, or a refusal without a line number.
/// True when it was resumed, false when refused.
fn try_mutant(
    rt: &tokio::runtime::Runtime,
    (workflow, id): (&str, &str),
    what: &str,
    journal: &[u8],
) -> bool {
    let planted = Planted::new(workflow, id, journal);
    let options = RunOptions {
        state_dir: planted.state(),
        auto_approve: true,
        seed: Some(7),
        workdir: Some(planted.tmp.path().to_path_buf()),
        ..Default::default()
    };
    let load = |p: &std::path::Path| signalbox::workflow::load(p).map_err(|d| d.to_string());
    let resumed = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async { Run::resume(id, options, load) })
    }))
    .unwrap_or_else(|_| panic!("Run::resume panicked on the {}", show(what, journal)));
    let run = match resumed {
        Ok(run) => run,
        Err(EngineError::Resume(message)) => {
            let numbered = message.split("events.jsonl:").nth(1).is_some_and(|rest| {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                !digits.is_empty() && rest[digits.len()..].starts_with(':')
            });
            assert!(
                numbered || message.contains("nothing to resume"),
                "refused without a line number: {message}\n{}",
                show(what, journal)
            );
            return false;
        }
        Err(e) => panic!("resume failed: {e}\n{}", show(what, journal)),
    };
    let ended = rt.block_on(async { tokio::time::timeout(LIMIT, tokio::spawn(run.start())).await });
    match ended {
        Err(_) => panic!(
            "the resumed run did not end within {LIMIT:?}\n{}",
            show(what, journal)
        ),
        Ok(Err(e)) => panic!("the resumed run panicked: {e}\n{}", show(what, journal)),
        Ok(Ok(_)) => {}
    }
    // What the resumed run wrote is a journal this program writes.
    let after =
        read_journal(&planted.journal()).unwrap_or_else(|e| panic!("{e}\n{}", show(what, journal)));
    let wf = signalbox::workflow::load(&planted.journal().with_file_name("workflow.yaml")).unwrap();
    if let Err(e) = check_all(&wf, id, &after.events) {
        let text = std::fs::read(planted.journal()).unwrap();
        panic!(
            "the resumed journal is refused: {e}\n{}\nresumed into:\n{}",
            show(what, journal),
            String::from_utf8_lossy(&text)
        );
    }
    true
}

#[test]
fn mutated_journals_are_refused_with_a_line_or_resume_to_an_end() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let read = |name: &str| std::fs::read(fixtures().join(name)).unwrap();
    let corpus: Vec<(Vec<u8>, String)> = SEEDS
        .iter()
        .map(|(journal, wf)| {
            let yaml = String::from_utf8(read(&format!("{wf}.yaml"))).unwrap();
            (read(&format!("{journal}.jsonl")), yaml)
        })
        .collect();
    let mut rng = Rng(0x5eed_0a11);
    let mut resumed = 0;
    for (k, (seed, workflow)) in corpus.iter().enumerate() {
        let id = run_id(seed);
        let name = SEEDS[k].0;
        // Unchanged, a seed resumes (or is finished).
        try_mutant(&rt, (workflow, &id), name, seed);
        let other = &corpus[(k + 1) % corpus.len()].0;
        for _ in 0..MUTANTS_PER_SEED {
            let (what, mutant) = match rng.below(2) {
                0 => semantic(&mut rng, seed),
                _ => bytes(&mut rng, seed, other),
            };
            let what = format!("{name}: {what}");
            resumed += usize::from(try_mutant(&rt, (workflow, &id), &what, &mutant));
        }
    }
    // Both ways are tried: some mutants are journals a run could write.
    let all = SEEDS.len() * MUTANTS_PER_SEED;
    eprintln!("{resumed} of {all} mutants resumed, the others were refused");
    assert!(resumed > 0 && resumed < all, "{resumed} of {all} resumed");
}

/// Journals the engine writes for the run fixtures (breakers, fallbacks,
/// `on_failure: continue`, conditions, timeouts, approvals, questions) are
/// all accepted: the checker refuses nothing a run writes.
#[test]
fn the_journals_of_the_run_fixtures_are_accepted() {
    const FIXTURES: &[&str] = &[
        "approvals",
        "auto",
        "basic",
        "breaker",
        "breaker_reopen",
        "choices",
        "concurrency",
        "continue_only",
        "diamond",
        "fail",
        "fallback",
        "on_failure",
        "priority",
        "retry",
        "run_timeout",
        "step_timeout",
        "wait_timeouts",
        "waits_no_slot",
        "when",
    ];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run");
    for name in FIXTURES {
        let wf = signalbox::workflow::load(&root.join(format!("{name}.yaml"))).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let options = RunOptions {
            state_dir: tmp.path().join("state"),
            auto_approve: true,
            seed: Some(7),
            workdir: Some(tmp.path().to_path_buf()),
            ..Default::default()
        };
        let run = Run::new(wf.clone(), options).unwrap();
        let outcome = rt
            .block_on(async { tokio::time::timeout(LIMIT, run.start()).await })
            .unwrap_or_else(|_| panic!("{name} did not end within {LIMIT:?}"));
        let path = outcome.dir.join("events.jsonl");
        let journal = read_journal(&path).unwrap();
        if let Err(e) = check_all(&wf, &outcome.run_id, &journal.events) {
            let text = std::fs::read_to_string(&path).unwrap();
            panic!("{name}: the journal of a real run is refused: {e}\n{text}");
        }
    }
}
