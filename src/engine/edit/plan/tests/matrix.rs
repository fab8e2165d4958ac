//! Editing a matrix: instances are steps, matched by id, so a value added
//! to an axis adds instances and a value taken away removes them.

use std::collections::BTreeMap;

use super::{ask, load, status};
use crate::engine::edit::plan::plan;

const OLD: &str = "name: rel
steps:
  build:
    matrix: { os: [linux, mac] }
    run: make {{ matrix.os }}
  ship:
    needs: [build]
    run: ship
";

fn planned(old: &str, words: &[&'static str], edited: &str) -> (Vec<String>, Vec<String>) {
    let statuses: Vec<_> = words.iter().map(|w| status(w)).collect();
    let c = plan(
        "rel-1",
        2,
        &load(old),
        &statuses,
        &ask(edited, &[]),
        &BTreeMap::new(),
    );
    let marks = c
        .plan
        .steps
        .iter()
        .map(|s| format!("{} {} [{}]", s.mark, s.step, s.fields.join(",")))
        .collect();
    (marks, c.plan.diagnostics)
}

#[test]
fn editing_an_axis_adds_and_removes_instances() {
    let edited = OLD.replace("[linux, mac]", "[linux, bsd]");
    let (marks, diags) = planned(OLD, &["succeeded", "pending", "pending"], &edited);
    assert_eq!(diags, Vec::<String>::new());
    assert_eq!(
        marks,
        [
            "= build:linux []",
            "+ build:bsd []",
            "- build:mac []",
            "~ ship [needs]"
        ]
    );
    // A started instance cannot be taken away.
    let (_, diags) = planned(OLD, &["succeeded", "running", "pending"], &edited);
    assert_eq!(
        diags,
        ["edit.yaml:2:1: error: step `build:mac` is running; it cannot be removed"]
    );
}

#[test]
fn an_include_that_adds_a_key_changes_the_instances_it_reaches() {
    let edited = OLD.replace(
        "[linux, mac] }",
        "[linux, mac], include: [{ os: mac, cc: clang }] }",
    );
    let (marks, diags) = planned(OLD, &["succeeded", "pending", "pending"], &edited);
    assert_eq!(diags, Vec::<String>::new());
    assert_eq!(
        marks,
        ["= build:linux []", "~ build:mac [matrix]", "= ship []"]
    );
}
