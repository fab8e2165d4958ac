//! The planner's rules, each on a small run.

use super::*;
use crate::engine::By;

const RUN: &str = "name: rel\nsteps:\n  build:\n    run: make\n  test:\n    needs: [build]\n    run: make test\n  deploy:\n    needs: [test]\n    run: ./deploy\n";

fn load(text: &str) -> Workflow {
    match crate::workflow::load_str(text, "run.yaml") {
        Ok(wf) => wf,
        Err(d) => panic!("{d}"),
    }
}

fn ask(source: &str, rerun: &[&str]) -> EditAsk {
    EditAsk {
        source: source.to_string(),
        file: "e.yaml".into(),
        rerun: rerun.iter().map(|r| r.to_string()).collect(),
        dry_run: true,
        by: By::Flag,
        revision: None,
    }
}

/// `build` succeeded, `test` failed, `deploy` was skipped for it.
fn failed_run() -> Vec<(&'static str, Standing)> {
    vec![
        ("succeeded", Standing::Finished),
        ("failed", Standing::Finished),
        ("skipped", Standing::Finished),
    ]
}

fn pending_run() -> Vec<(&'static str, Standing)> {
    vec![
        ("running", Standing::Started),
        ("pending", Standing::Unstarted),
        ("pending", Standing::Unstarted),
    ]
}

fn checked(source: &str, statuses: &[(&'static str, Standing)], rerun: &[&str]) -> Checked {
    plan(
        "rel-1",
        1,
        &load(RUN),
        statuses,
        &ask(source, rerun),
        &BTreeMap::new(),
    )
}

fn marks(c: &Checked) -> Vec<(char, &str)> {
    c.plan
        .steps
        .iter()
        .map(|s| (s.mark, s.step.as_str()))
        .collect()
}

#[test]
fn a_layout_only_edit_changes_nothing() {
    let same = format!(
        "# release\n{}\n\n",
        RUN.replace("run: make\n", "run:   make\n")
    );
    let c = checked(&same, &pending_run(), &[]);
    assert!(c.plan.is_noop(), "{:?}", c.plan);
    assert!(c.plan.diagnostics.is_empty(), "{:?}", c.plan.diagnostics);
    assert!(c.wf.is_some());
    assert_eq!(c.diff, EditDiff::default());
}

#[test]
fn pending_steps_may_be_added_removed_and_changed() {
    let edited = "name: rel\nsteps:\n  build:\n    run: make\n  lint:\n    needs: [build]\n    run: make lint\n  deploy:\n    needs: [lint]\n    run: ./deploy --prod\n";
    let c = checked(edited, &pending_run(), &[]);
    assert!(!c.plan.refused(), "{:?}", c.plan.diagnostics);
    assert_eq!(
        marks(&c),
        [
            ('=', "build"),
            ('-', "test"),
            ('+', "lint"),
            ('~', "deploy")
        ]
    );
    assert_eq!(c.diff.added, ["lint"]);
    assert_eq!(c.diff.removed, ["test"]);
    assert_eq!(c.diff.changed["deploy"], ["run", "needs"]);
    assert_eq!(c.plan.steps[2].note, "after build");
}

#[test]
fn a_started_or_finished_step_changes_only_with_rerun() {
    let edited = RUN.replace("run: make\n", "run: make -j4\n");
    let c = checked(&edited, &pending_run(), &[]);
    assert!(c.plan.refused());
    assert_eq!(
        c.plan.diagnostics,
        [
            "e.yaml:3:3: error: step `build` is running; its definition cannot change (add --rerun build)"
        ]
    );
    assert!(c.wf.is_none());
    let c = checked(&edited, &pending_run(), &["build"]);
    assert!(!c.plan.refused(), "{:?}", c.plan.diagnostics);
    assert_eq!(c.diff.rerun, ["build"]);
    assert_eq!(c.plan.steps[0].note, "runs again");
    let done = checked(&edited, &failed_run(), &[]);
    assert!(
        done.plan.diagnostics[0].contains("has ended (succeeded)"),
        "{:?}",
        done.plan.diagnostics
    );
}

#[test]
fn a_started_or_finished_step_is_never_removed() {
    let edited = "name: rel\nsteps:\n  test:\n    run: make test\n  deploy:\n    needs: [test]\n    run: ./deploy\n";
    let c = checked(edited, &pending_run(), &[]);
    assert_eq!(
        c.plan.diagnostics,
        [
            "e.yaml:2:1: error: step `build` is running; it cannot be removed (skip or cancel it first)"
        ]
    );
}

#[test]
fn a_removed_need_and_a_cycle_are_the_loaders_errors() {
    let gone = "name: rel\nsteps:\n  build:\n    run: make\n  deploy:\n    needs: [test]\n    run: ./deploy\n";
    let c = checked(gone, &pending_run(), &[]);
    assert_eq!(
        c.plan.diagnostics,
        ["e.yaml:6:13: error: step `deploy` needs `test`, which this edit removes"]
    );
    let cycle = RUN.replace("    needs: [build]\n", "    needs: [build, deploy]\n");
    let c = checked(&cycle, &pending_run(), &[]);
    assert!(c.plan.refused());
    assert!(
        c.plan.diagnostics[0].contains("test -> deploy -> test"),
        "{:?}",
        c.plan.diagnostics
    );
}

#[test]
fn the_name_and_reruns_are_checked() {
    let c = checked(
        &RUN.replace("name: rel", "name: other"),
        &pending_run(),
        &[],
    );
    assert!(
        c.plan.diagnostics[0].contains("name cannot change"),
        "{:?}",
        c.plan.diagnostics
    );
    let c = checked(RUN, &failed_run(), &["tset"]);
    assert_eq!(
        c.plan.diagnostics,
        ["e.yaml:1:1: error: --rerun `tset`: no step `tset` in the run (did you mean `test`?)"]
    );
}

#[test]
fn a_step_whose_need_failed_is_warned_of() {
    let edited = format!("{RUN}  lint:\n    needs: [test]\n    run: make lint\n");
    let c = checked(&edited, &failed_run(), &[]);
    assert!(!c.plan.refused());
    assert_eq!(
        c.plan.diagnostics,
        ["e.yaml:11:3: warning: `lint` will be skipped at once: it needs `test`, which failed"]
    );
    // Run again, it is not.
    let fixed = edited.replace("run: make test", "run: make test2");
    let c = checked(&fixed, &failed_run(), &["test"]);
    assert!(c.plan.diagnostics.is_empty(), "{:?}", c.plan.diagnostics);
    assert_eq!(c.diff.changed["test"], ["run"]);
}

#[test]
fn ten_thousand_steps_plan_in_one_pass() {
    let mut text = String::from("name: big\nsteps:\n");
    for i in 0..10_000 {
        text.push_str(&format!("  s{i}:\n    run: echo {i}\n"));
    }
    let old = load(&text);
    let statuses = vec![("pending", Standing::Unstarted); 10_000];
    text.push_str("  extra:\n    needs: [s1]\n    run: echo x\n");
    let c = plan(
        "big-1",
        1,
        &old,
        &statuses,
        &ask(&text, &[]),
        &BTreeMap::new(),
    );
    assert!(!c.plan.refused());
    assert_eq!(c.diff.added, ["extra"]);
    assert_eq!(c.plan.steps.len(), 10_001);
}
