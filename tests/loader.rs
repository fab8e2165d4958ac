#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The workflow loader seen from outside: `signalbox validate`, `graph` and
//! `schema` on the fixtures, and the guard that the strict serde types and
//! the hand-written loader read every valid file the same way.
//!
//! Fixtures live in `tests/fixtures/{valid,invalid}`. Each invalid
//! `NAME.yaml` has a `NAME.stderr` with the exact output of
//! `signalbox validate tests/fixtures/invalid/NAME.yaml`. To regenerate one
//! after a deliberate change of message, run that command from the package
//! root and write its stderr to the `.stderr` file (then read it!).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_signalbox");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary with the package root as the current folder, so paths in
/// messages read `tests/fixtures/...` whatever folder cargo runs tests from.
fn signalbox(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(root())
        .output()
        .expect("the signalbox binary runs")
}

/// Every `*.yaml` in a folder under the package root, as relative paths.
fn yaml_files(folder: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root().join(folder))
        .unwrap_or_else(|e| panic!("cannot list {folder}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| format!("{folder}/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {folder}");
    files
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn normalise(s: &str) -> &str {
    s.trim_end_matches(['\n', '\r'])
}

#[test]
fn valid_fixtures_and_examples_validate_silently_but_for_their_matrices() {
    let mut files = yaml_files("tests/fixtures/valid");
    files.extend(yaml_files("workflows"));
    assert!(files.len() >= 8 + 3);
    for file in &files {
        let out = signalbox(&["validate", file]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{file} should be valid, stderr:\n{}",
            text(&out.stderr)
        );
        // A matrix step is said as what it expands to; nothing else is.
        let stdout = text(&out.stdout);
        assert!(
            stdout
                .lines()
                .all(|l| l.starts_with(&format!("{file}: ")) && l.contains(" ×")),
            "{file}: stdout {stdout:?}"
        );
        assert!(
            out.stderr.is_empty(),
            "{file}: stderr {:?}",
            text(&out.stderr)
        );
    }
}

#[test]
fn invalid_fixtures_print_exactly_their_expected_errors() {
    let files = yaml_files("tests/fixtures/invalid");
    assert!(files.len() >= 30, "only {} invalid fixtures", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let expected_path = root().join(file.replace(".yaml", ".stderr"));
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        let out = signalbox(&["validate", file]);
        let stderr = text(&out.stderr);
        if out.status.code() != Some(2) {
            failures.push(format!("{file}: exit {:?}, expected 2", out.status.code()));
        }
        if !out.stdout.is_empty() {
            failures.push(format!("{file}: stdout {:?}", text(&out.stdout)));
        }
        if normalise(&stderr) != normalise(&expected) {
            failures.push(format!(
                "{file}: stderr differs\n--- expected\n{expected}\n--- actual\n{stderr}"
            ));
        }
        for line in normalise(&stderr).lines() {
            let prefix = format!("{file}:");
            if !line.starts_with(&prefix) || !line.contains(": error: ") {
                failures.push(format!("{file}: badly formed line {line:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Each `.stderr` is sorted by position, as the contract promises.
#[test]
fn expected_errors_are_sorted_by_position() {
    for file in yaml_files("tests/fixtures/invalid") {
        let expected =
            std::fs::read_to_string(root().join(file.replace(".yaml", ".stderr"))).unwrap();
        let positions: Vec<(u32, u32)> = expected
            .lines()
            .map(|line| {
                let rest = line.strip_prefix(&format!("{file}:")).unwrap();
                let mut parts = rest.splitn(3, ':');
                let l = parts.next().unwrap().parse().unwrap();
                let c = parts.next().unwrap().parse().unwrap();
                (l, c)
            })
            .collect();
        let mut sorted = positions.clone();
        sorted.sort_unstable();
        assert_eq!(positions, sorted, "{file}");
    }
}

#[test]
fn every_stderr_file_has_its_yaml() {
    let dir = root().join("tests/fixtures/invalid");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        assert!(
            ext == "yaml" || ext == "stderr",
            "unexpected file {}",
            path.display()
        );
        if ext == "stderr" {
            assert!(
                path.with_extension("yaml").exists(),
                "{} has no .yaml",
                path.display()
            );
        }
    }
}

#[test]
fn several_files_report_each_bad_one_and_exit_2() {
    let good = "tests/fixtures/valid/minimal.yaml";
    let bad1 = "tests/fixtures/invalid/cycle.yaml";
    let bad2 = "tests/fixtures/invalid/needs_unknown.yaml";
    let out = signalbox(&["validate", good, bad1, good, bad2]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    let expected: String = [bad1, bad2]
        .iter()
        .map(|f| {
            let e = std::fs::read_to_string(root().join(f.replace(".yaml", ".stderr"))).unwrap();
            format!("{}\n", normalise(&e))
        })
        .collect();
    assert_eq!(normalise(&stderr), normalise(&expected));
    assert!(!stderr.contains("minimal.yaml"), "{stderr}");

    let all_good = signalbox(&["validate", good, "workflows/release.yaml"]);
    assert_eq!(all_good.status.code(), Some(0));
    assert!(all_good.stderr.is_empty() && all_good.stdout.is_empty());
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let out = signalbox(&["validate", "tests/fixtures/no-such-file.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    assert_eq!(
        normalise(&stderr),
        "tests/fixtures/no-such-file.yaml:1:1: error: cannot read the file: no such file"
    );

    // A missing file does not hide the errors of the others.
    let out = signalbox(&[
        "validate",
        "tests/fixtures/no-such-file.yaml",
        "tests/fixtures/invalid/self_cycle.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no such file"), "{stderr}");
    assert!(
        stderr.contains("dependency cycle: loop -> loop"),
        "{stderr}"
    );

    let out = signalbox(&["validate", "tests/fixtures"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("folder"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn validate_without_files_is_a_usage_error() {
    let out = signalbox(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

/// The edges of a file as loaded (a matrix step's are its instances'),
/// deduplicated, as (need, step) id pairs.
fn edges_of(file: &str) -> BTreeSet<(String, String)> {
    let source = std::fs::read_to_string(root().join(file)).unwrap();
    let wf = signalbox::workflow::load_str(&source, file).unwrap();
    wf.steps
        .iter()
        .flat_map(|s| {
            s.needs
                .iter()
                .map(|&n| (wf.steps[n].id.clone(), s.id.clone()))
        })
        .collect()
}

#[test]
fn graph_draws_every_valid_file_in_every_format() {
    let mut files = yaml_files("tests/fixtures/valid");
    files.extend(yaml_files("workflows"));
    for file in &files {
        let source = std::fs::read_to_string(root().join(file)).unwrap();
        let wf = signalbox::workflow::load_str(&source, file).unwrap();
        let edges = edges_of(file);

        for format in ["text", "dot", "mermaid"] {
            let out = signalbox(&["graph", file, "--format", format]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{file} --format {format}: {}",
                text(&out.stderr)
            );
            assert!(
                out.stderr.is_empty(),
                "{file} {format}: {}",
                text(&out.stderr)
            );
            let stdout = text(&out.stdout);
            match format {
                "dot" => {
                    assert!(stdout.starts_with("digraph"), "{file}:\n{stdout}");
                    let arrows: BTreeSet<(String, String)> = stdout
                        .lines()
                        .filter(|l| l.contains("->"))
                        .map(|l| {
                            let l = l.trim().trim_end_matches(';');
                            let (a, b) = l.split_once(" -> ").unwrap();
                            (a.trim_matches('"').into(), b.trim_matches('"').into())
                        })
                        .collect();
                    let count = stdout.lines().filter(|l| l.contains("->")).count();
                    assert_eq!(count, edges.len(), "{file}: one `->` per need\n{stdout}");
                    assert_eq!(arrows, edges, "{file}\n{stdout}");
                    for step in &wf.steps {
                        assert!(stdout.contains(&format!("\"{}\" [", step.id)), "{file}");
                    }
                }
                "mermaid" => {
                    assert!(stdout.starts_with("flowchart"), "{file}:\n{stdout}");
                    let count = stdout.lines().filter(|l| l.contains("-->")).count();
                    assert_eq!(count, edges.len(), "{file}\n{stdout}");
                }
                _ => {
                    assert!(stdout.starts_with(&wf.name), "{file}:\n{stdout}");
                    for step in &wf.steps {
                        assert!(stdout.contains(&step.id), "{file}: {}\n{stdout}", step.id);
                    }
                }
            }
        }
    }
}

#[test]
fn graph_of_an_invalid_file_prints_its_errors() {
    let file = "tests/fixtures/invalid/cycle.yaml";
    let out = signalbox(&["graph", file, "--format", "dot"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let expected = std::fs::read_to_string(root().join(file.replace(".yaml", ".stderr"))).unwrap();
    assert_eq!(normalise(&text(&out.stderr)), normalise(&expected));
}

#[test]
fn schema_is_json_with_steps() {
    let out = signalbox(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(schema.pointer("/properties/steps").is_some(), "{schema:#}");
    assert!(schema.pointer("/properties/name").is_some());
    let required = schema["required"].as_array().unwrap();
    assert!(required.iter().any(|r| r == "name"));
    assert!(required.iter().any(|r| r == "steps"));
    assert_eq!(schema, signalbox::workflow::json_schema());
}

/// The schema types (strict serde) and the hand loader must agree on every
/// valid file: if one gains a key the other lacks, this fails.
#[test]
fn serde_types_and_hand_loader_agree() {
    let mut files = yaml_files("workflows");
    files.extend(yaml_files("tests/fixtures/valid"));
    let mut failures = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(root().join(file)).unwrap();
        let by_serde = serde_saphyr::from_str::<signalbox::workflow::spec::WorkflowSpec>(&source);
        let by_hand = signalbox::workflow::load_spec(&source, file);
        match (by_serde, by_hand) {
            (Ok(a), Ok(b)) if a == b => {}
            (Ok(a), Ok(b)) => failures.push(format!(
                "{file}: the two readings differ\nserde: {a:#?}\nhand:  {b:#?}"
            )),
            (Err(e), _) => failures.push(format!("{file}: serde refuses it: {e}")),
            (_, Err(e)) => failures.push(format!("{file}: the loader refuses it:\n{e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `load` (the file path) and `load_str` agree, and the label is the path.
#[test]
fn load_and_load_str_agree_on_errors() {
    for file in yaml_files("tests/fixtures/invalid") {
        let Ok(source) = std::fs::read_to_string(root().join(&file)) else {
            continue; // not UTF-8: only `load` can see it
        };
        let from_str = signalbox::workflow::load_str(&source, &file).unwrap_err();
        let from_file = signalbox::workflow::load(Path::new(&root().join(&file))).unwrap_err();
        assert_eq!(from_str.errors, from_file.errors, "{file}");
        assert_eq!(from_str.file, file);
    }
}

/// A key written with no value (`needs:`, `env:`, `retry:`...) reads the
/// same through the serde types and through the loader.
#[test]
fn serde_types_and_hand_loader_agree_on_empty_values() {
    let head = "name: x\nsteps:\n  a:\n";
    let cases = [
        // `approval:` with nothing is refused by the loader and, through the
        // serde types, becomes a step with no action, which resolving refuses.
        "    run: echo\n    retry:\n",
        "    run: echo\n    needs:\n",
        "    run: echo\n    env:\n",
        "    run: echo\n    fallback: { outputs: }\n",
    ];
    let mut texts: Vec<String> = cases.iter().map(|c| format!("{head}{c}")).collect();
    texts.push("name: x\ndefaults:\nsteps: {a: {run: echo}}\n".into());
    texts.push("name: x\nvars:\nbreakers:\nsteps: {a: {run: echo}}\n".into());
    texts.push("name: x\nbreakers: {b: }\nsteps: {a: {run: echo, breaker: b}}\n".into());
    let mut failures = Vec::new();
    for text in &texts {
        let by_hand = signalbox::workflow::load_spec(text, "drift.yaml");
        let by_serde = serde_saphyr::from_str::<signalbox::workflow::spec::WorkflowSpec>(text);
        match (by_serde, by_hand) {
            (Ok(a), Ok(b)) if a == b => {}
            (Err(_), Err(_)) => {}
            (a, b) => failures.push(format!("{text}serde: {a:?}\nhand:  {b:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn schema() -> serde_json::Value {
    let out = signalbox(&["schema"]);
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The workflows' modelines point at `signalbox.schema.json`: it is what
/// `signalbox schema` prints, so the two cannot drift.
#[test]
fn the_committed_schema_is_what_the_binary_prints() {
    let committed = std::fs::read_to_string(root().join("signalbox.schema.json")).unwrap();
    let committed: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(
        committed,
        schema(),
        "run `signalbox schema > signalbox.schema.json`"
    );
}

#[test]
fn every_example_and_valid_fixture_passes_the_schema() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let mut files = yaml_files("workflows");
    files.extend(yaml_files("tests/fixtures/valid"));
    assert!(files.len() >= 10);
    for file in files {
        let text = std::fs::read_to_string(root().join(&file)).unwrap();
        let value: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{file}: {errors:?}");
    }
}

#[test]
fn the_schema_refuses_what_the_loader_refuses() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let head = "name: x\nsteps:\n  a:\n";
    for step in [
        "    run: echo\n    approval: {}\n",
        "    needs: []\n",
        "    run: echo\n    timeout: -5\n",
        "    run: echo\n    retry: { factor: -3 }\n",
        "    run: echo\n    neds: [b]\n",
        "    run: echo\n    on_failure: ignore\n",
    ] {
        let text = format!("{head}{step}");
        let value: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        assert!(!validator.is_valid(&value), "the schema accepts:\n{text}");
        assert!(
            signalbox::workflow::load_str(&text, "x.yaml").is_err(),
            "the loader accepts:\n{text}"
        );
    }
}
