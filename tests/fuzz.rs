#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The loader never panics, whatever the bytes, and every error it returns
//! renders as `fuzz.yaml:LINE:COL: error: MESSAGE`.
//!
//! A deterministic loop (fixed seed, no external state) mutates every file in
//! `workflows/` and `tests/fixtures/valid/`: truncation at every character
//! boundary, then random insertions, deletions and replacements with
//! YAML-significant characters, duplicated lines and swapped lines. A failing
//! input is printed in full so it can be turned into a fixture.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use common::Rng;

const LABEL: &str = "fuzz.yaml";

/// Mutated inputs per seed file, on top of the truncations.
const MUTANTS_PER_FILE: usize = 3000;

/// What a YAML author's typo or an attacker would insert.
const TOKENS: &[&str] = &[
    ":", "{", "}", "[", "]", "&", "*", "!", "|", ">", "'", "\"", "-", "#", "\n", "\t", "{{", "}}",
    " ", ",", "?", "%", "@", "`", "\\", "&a ", "*a", "!!str ", "<<: ", "- ", ": ", "\n  ", "\r\n",
    "---\n", "...\n", "~", "0", "-1", "é", "\u{feff}", "\u{0}",
];

fn seeds() -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for folder in ["workflows", "tests/fixtures/valid"] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join(folder))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        paths.sort();
        for p in paths {
            let text = std::fs::read_to_string(&p).unwrap();
            out.push((p.display().to_string(), text));
        }
    }
    assert!(out.len() >= 4, "too few seed files");
    out
}

/// A char boundary at or before `i`.
fn boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut s = text.to_string();
    let edits = 1 + rng.below(4);
    for _ in 0..edits {
        match rng.below(6) {
            // Insert a token.
            0 | 1 => {
                let at = boundary(&s, rng.below(s.len() + 1));
                s.insert_str(at, rng.pick(TOKENS));
            }
            // Delete a short range.
            2 => {
                let a = boundary(&s, rng.below(s.len() + 1));
                let b = boundary(&s, a + 1 + rng.below(8));
                s.replace_range(a..b.max(a), "");
            }
            // Replace one character with a token.
            3 => {
                let a = boundary(&s, rng.below(s.len() + 1));
                let b = boundary(&s, a + s[a..].chars().next().map_or(0, char::len_utf8));
                s.replace_range(a..b, rng.pick(TOKENS));
            }
            // Duplicate a line.
            4 => {
                let mut lines: Vec<&str> = s.split('\n').collect();
                let i = rng.below(lines.len());
                let line = lines[i];
                lines.insert(i, line);
                s = lines.join("\n");
            }
            // Swap two lines.
            _ => {
                let mut lines: Vec<&str> = s.split('\n').collect();
                let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
                lines.swap(i, j);
                s = lines.join("\n");
            }
        }
    }
    s
}

/// `^fuzz.yaml:\d+:\d+: error: .+$`
fn well_formed(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("fuzz.yaml:") else {
        return false;
    };
    let mut parts = rest.splitn(3, ':');
    let number =
        |p: Option<&str>| p.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if !number(parts.next()) || !number(parts.next()) {
        return false;
    }
    parts
        .next()
        .and_then(|m| m.strip_prefix(" error: "))
        .is_some_and(|m| !m.is_empty() && !m.contains('\n') && !m.contains('\r'))
}

/// Loads one input; returns a description of what went wrong, if anything.
fn check(input: &str) -> Option<String> {
    outcome(input).err()
}

/// `Ok(true)` loaded, `Ok(false)` refused properly, `Err` what went wrong.
fn outcome(input: &str) -> Result<bool, String> {
    let result = catch_unwind(AssertUnwindSafe(|| {
        signalbox::workflow::load_str(input, LABEL)
    }));
    match result {
        Err(_) => Err("the loader panicked".to_string()),
        Ok(Ok(_)) => Ok(true),
        Ok(Err(diags)) => problem(input, &diags).map_or(Ok(false), Err),
    }
}

/// What is wrong with the errors for `input`, if anything.
fn problem(input: &str, diags: &signalbox::workflow::Diagnostics) -> Option<String> {
    if diags.errors.is_empty() {
        return Some("Err with no errors in it".to_string());
    }
    let rendered = diags.to_string();
    let lines: Vec<&str> = rendered.split('\n').collect();
    if lines.len() != diags.errors.len() {
        return Some(format!(
            "{} errors rendered as {} lines:\n{rendered}",
            diags.errors.len(),
            lines.len()
        ));
    }
    if let Some(bad) = lines.iter().find(|l| !well_formed(l)) {
        return Some(format!("badly formed error line {bad:?}"));
    }
    // Positions point into the file (one past the last line at most, for
    // "ended too early" errors).
    let last_line = input.split('\n').count() + 1;
    if let Some(e) = diags
        .errors
        .iter()
        .find(|e| e.pos.line as usize > last_line || e.pos.line == 0 || e.pos.col == 0)
    {
        return Some(format!(
            "position {}:{} is outside the {last_line}-line input: {}",
            e.pos.line, e.pos.col, e.message
        ));
    }
    None
}

fn report(origin: &str, how: &str, input: &str, problem: &str) -> String {
    format!("{origin} ({how}): {problem}\n--- input ---\n{input}\n--- end ---")
}

#[test]
fn well_formed_line_matcher() {
    assert!(well_formed("fuzz.yaml:1:1: error: x"));
    assert!(well_formed("fuzz.yaml:12:345: error: a: b: c"));
    assert!(!well_formed("fuzz.yaml:1: error: x"));
    assert!(!well_formed("fuzz.yaml:1:x: error: x"));
    assert!(!well_formed("fuzz.yaml:1:1: error: "));
    assert!(!well_formed("other.yaml:1:1: error: x"));
    assert!(!well_formed("fuzz.yaml:1:1: warning: x"));
}

#[test]
fn seeds_load_cleanly() {
    for (origin, text) in seeds() {
        if let Err(d) = signalbox::workflow::load_str(&text, LABEL) {
            panic!("{origin} should load:\n{d}");
        }
    }
}

#[test]
fn every_truncation_is_handled() {
    let mut failures = Vec::new();
    let mut cases = 0;
    for (origin, text) in seeds() {
        for (cut, _) in text.char_indices().chain([(text.len(), ' ')]) {
            cases += 1;
            let input = &text[..cut];
            if let Some(problem) = check(input) {
                failures.push(report(&origin, &format!("cut at {cut}"), input, &problem));
            }
        }
    }
    assert!(cases > 1000, "only {cases} truncations");
    assert!(
        failures.is_empty(),
        "{} of {cases} truncations failed; first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

#[test]
fn random_mutations_are_handled() {
    let mut rng = Rng(0x5167_4e41_4c42_4f58); // "SIGNALBOX"-ish, fixed
    let mut failures = Vec::new();
    let mut cases = 0;
    let (mut ok, mut err) = (0, 0);
    for (origin, text) in seeds() {
        for n in 0..MUTANTS_PER_FILE {
            cases += 1;
            let input = mutate(&text, &mut rng);
            match outcome(&input) {
                Err(problem) => {
                    failures.push(report(&origin, &format!("mutant {n}"), &input, &problem));
                }
                Ok(true) => ok += 1,
                Ok(false) => err += 1,
            }
        }
    }
    // The mutations must exercise both paths, or they test nothing.
    assert!(ok > cases / 50 && err > cases / 2, "ok {ok}, err {err}");
    assert!(
        failures.is_empty(),
        "{} of {cases} mutants failed; first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

/// Hostile shapes that random edits rarely produce.
#[test]
fn hostile_inputs_are_refused_cleanly() {
    let mut inputs: Vec<String> = vec![
        String::new(),
        "\u{feff}".into(),
        "\0".into(),
        "---\n---\n".into(),
        "name: x\nsteps: {a: {run: echo}}\n---\nname: y\n".into(),
        "[".repeat(10_000),
        "{".repeat(10_000),
        "- ".repeat(10_000),
        "a:\n".to_string() + &" a:\n".repeat(2_000),
        format!(
            "name: x\nsteps:\n  a:\n    run: echo\n    when: \"{}\"\n",
            "!".repeat(5_000)
        ),
        format!(
            "name: x\nsteps:\n  a:\n    run: echo\n    when: \"{}\"\n",
            "(".repeat(5_000)
        ),
        format!(
            "name: x\nsteps:\n  a:\n    run: \"{}\"\n",
            "{{".repeat(5_000)
        ),
        "name: x\nsteps:\n  a: &a\n    run: echo\n    needs: *a\n".into(),
        "name: x\nsteps:\n  ? [a, b]\n  : {run: echo}\n".into(),
        "name: x\nsteps:\n  1: {run: echo}\n  true: {run: echo}\n  ~: {run: echo}\n".into(),
        "name: x\nsteps:\n  a: {run: echo, needs: [a, a, a]}\n".into(),
        "*a".into(),
        "&a [*a]".into(),
        "name: !!binary aGVsbG8=\nsteps: {a: {run: echo}}\n".into(),
        "name: x\nsteps: {a: {run: echo}}\nconcurrency: 99999999999999999999999\n".into(),
        "name: x\nsteps: {a: {run: echo, priority: -9223372036854775808}}\n".into(),
        "name: x\nsteps: {a: {run: echo, timeout: 1e308}}\n".into(),
        "name: x\nsteps: {a: {run: echo, timeout: .nan}}\n".into(),
        "name: x\nsteps: {a: {run: echo, retry: {factor: .inf}}}\n".into(),
        "name: x\nsteps: {a: {run: \"\u{1F600} {{ vars.\u{e9} }}\"}}\n".into(),
        "name: x\nsteps: {a: {run: echo, when: \"\u{e9}\u{e9} == '\u{e9}\"}}\n".into(),
        "name: x\r\nsteps:\r\n  a:\r\n    run: |\r\n      echo '{{ vars.x }}'\r\n".into(),
    ];
    let mut bomb = String::from("a: &a [1,1,1,1,1,1,1,1,1]\n");
    for i in 1..20u8 {
        let (p, c) = ((b'a' + i - 1) as char, (b'a' + i) as char);
        bomb.push_str(&format!(
            "{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
        ));
    }
    inputs.push(bomb);
    let many_steps: String = (0..3_000)
        .map(|i| {
            format!(
                "  s{i}:\n    needs: [s{}]\n    run: echo\n",
                (i + 1) % 3_000
            )
        })
        .collect();
    inputs.push(format!("name: big\nsteps:\n{many_steps}"));

    let mut failures = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let started = std::time::Instant::now();
        if let Some(problem) = check(input) {
            let shown: String = input.chars().take(300).collect();
            failures.push(report("hostile", &format!("input {i}"), &shown, &problem));
        }
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_secs(5),
            "hostile input {i} took {took:?}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Messages quote the user's text (names, keys, values); a line break in
/// that text must not break the one-error-a-line format. Random mutation
/// finds this too; these are the smallest inputs that show it.
#[test]
fn messages_never_contain_line_breaks() {
    let inputs = [
        "name: \"a\\nb\"\nsteps: {s: {run: echo}}\n",
        "name: x\n\"a\\nb\": 1\nsteps: {s: {run: echo}}\n",
        "name: x\nsteps: {\"s\\nt\": {run: echo}}\n",
        "name: x\nsteps: {s: {run: echo, on_failure: \"a\\nb\"}}\n",
        "name: x\nsteps: {s: {run: echo, needs: \"a\\nb\"}}\n",
        "name: x\nsteps: {s: {run: echo, timeout: \"5\\nx\"}}\n",
        "name: x\nsteps: {s: {ask: {question: q, choices: [a], default: \"x\\ny\"}}}\n",
        "name: x\nsteps:\n  s:\n    run: |\n      echo {{ vars.x\n      echo }}\n",
    ];
    let failures: Vec<String> = inputs
        .iter()
        .filter_map(|input| check(input).map(|p| report("line breaks", "fixed", input, &p)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
