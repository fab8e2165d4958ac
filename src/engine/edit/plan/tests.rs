//! The planner's rules, each refusal and warning, against a small run.

use std::collections::BTreeMap;

use super::*;
use crate::engine::event::By;

pub(super) const RUN: &str = "name: rel
steps:
  build:
    run: make
  test:
    needs: [build]
    run: make test
  notes:
    needs: [build]
    run: echo notes
  deploy:
    needs: [test, notes]
    run: ship
";

pub(super) fn load(text: &str) -> Workflow {
    match crate::workflow::load_str(text, "run.yaml") {
        Ok(wf) => wf,
        Err(e) => panic!("{e}"),
    }
}

pub(super) fn ask(source: &str, rerun: &[&str]) -> EditAsk {
    EditAsk {
        source: source.to_string(),
        file: "edit.yaml".into(),
        rerun: rerun.iter().map(|s| s.to_string()).collect(),
        dry_run: true,
        by: By::Socket,
        revision: None,
    }
}

pub(super) fn status(word: &'static str) -> (&'static str, Standing) {
    let standing = match word {
        "pending" | "ready" => Standing::Unstarted,
        "running" | "waiting" | "backing off" => Standing::Started,
        _ => Standing::Finished,
    };
    (word, standing)
}

/// Plans `edited` against RUN with its steps standing as `words`.
pub(super) fn check(words: &[&'static str], edited: &str, rerun: &[&str]) -> Checked {
    let old = load(RUN);
    let statuses: Vec<_> = words.iter().map(|w| status(w)).collect();
    plan(
        "rel-1",
        2,
        &old,
        &statuses,
        &ask(edited, rerun),
        &BTreeMap::new(),
    )
}

fn marks(c: &Checked) -> Vec<String> {
    c.plan
        .steps
        .iter()
        .map(|s| {
            format!(
                "{} {} {} [{}] {}",
                s.mark,
                s.step,
                s.status,
                s.fields.join(","),
                s.note
            )
        })
        .collect()
}

#[test]
fn a_whitespace_only_edit_is_a_noop() {
    let edited = "# reformatted\nname:   rel\nsteps:\n  build: { run: make }\n  test:\n    run: 'make test'\n    needs: build\n  notes: {needs: [build], run: echo notes}\n  deploy:\n    run: ship\n    needs: [notes, test]\n";
    let c = check(&["succeeded", "running", "pending", "pending"], edited, &[]);
    assert!(c.plan.is_noop(), "{:?}", marks(&c));
    assert_eq!(c.plan.diagnostics, Vec::<String>::new());
    assert!(c.plan.steps.iter().all(|s| s.mark == '='));
    assert_eq!(c.plan.steps.len(), 4);
    assert!(c.wf.is_some());
    assert_eq!(c.diff, EditDiff::default());
}

#[test]
fn unstarted_steps_may_be_added_removed_and_changed() {
    // notes removed (deploy no longer needs it), test changed, lint added.
    let edited = "name: rel\nsteps:\n  build:\n    run: make\n  lint:\n    needs: [build]\n    run: clippy\n  test:\n    needs: [build]\n    run: make check\n  deploy:\n    needs: [test]\n    run: ship\n";
    let c = check(&["succeeded", "pending", "ready", "pending"], edited, &[]);
    assert_eq!(c.plan.diagnostics, Vec::<String>::new());
    assert_eq!(
        marks(&c),
        [
            "= build succeeded [] ",
            "+ lint new [] ready at once",
            "~ test pending [run] ",
            "- notes ready [] ",
            "~ deploy pending [needs] ",
        ]
    );
    assert_eq!(c.diff.added, ["lint"]);
    assert_eq!(c.diff.removed, ["notes"]);
    let changed: Vec<_> = c
        .diff
        .changed
        .iter()
        .map(|(k, v)| format!("{k}:{}", v.join(",")))
        .collect();
    assert_eq!(changed, ["deploy:needs", "test:run"]);
    assert!(!c.plan.is_noop());
    let wf = c.wf.as_ref().map(|w| w.steps.len());
    assert_eq!(wf, Some(4));
}

#[test]
fn the_name_cannot_change() {
    let c = check(
        &["pending"; 4],
        &RUN.replace("name: rel", "name: other"),
        &[],
    );
    assert_eq!(
        c.plan.diagnostics,
        [
            "edit.yaml:1:1: error: `name` cannot change (the run is `rel`); an edit keeps the run's name"
        ]
    );
    assert!(c.wf.is_none());
    assert!(c.plan.refused());
}

#[test]
fn a_started_or_finished_step_cannot_change_without_rerun() {
    let edited = RUN
        .replace("run: make test", "run: make check")
        .replace("run: make\n", "run: make all\n");
    let c = check(
        &["succeeded", "running", "pending", "pending"],
        &edited,
        &[],
    );
    assert_eq!(
        c.plan.diagnostics,
        [
            "edit.yaml:4:5: error: step `build` has succeeded; its definition cannot change (add --rerun build)",
            "edit.yaml:7:5: error: step `test` is running; its definition cannot change (add --rerun test)",
        ]
    );
    assert!(c.wf.is_none());
    // A need added to a waiting step is a change of its definition too.
    let needs = RUN.replace(
        "  notes:\n    needs: [build]",
        "  notes:\n    needs: [build, test]",
    );
    let c = check(
        &["succeeded", "succeeded", "waiting", "pending"],
        &needs,
        &[],
    );
    assert_eq!(
        c.plan.diagnostics,
        [
            "edit.yaml:9:5: error: step `notes` is waiting; its definition cannot change (add --rerun notes)"
        ]
    );
}

#[test]
fn a_started_or_finished_step_cannot_be_removed() {
    let edited = "name: rel\nsteps:\n  build:\n    run: make\n  notes:\n    needs: [build]\n    run: echo notes\n";
    let c = check(
        &["succeeded", "failed", "pending", "cancelled"],
        edited,
        &[],
    );
    assert_eq!(
        c.plan.diagnostics,
        [
            "edit.yaml:2:1: error: step `deploy` was cancelled; it cannot be removed",
            "edit.yaml:2:1: error: step `test` has failed; it cannot be removed",
        ]
    );
    assert_eq!(
        marks(&c),
        [
            "= build succeeded [] ",
            "- test failed [] ",
            "= notes pending [] ",
            "- deploy cancelled [] "
        ]
    );
}

#[test]
fn rerun_runs_a_finished_step_again_with_its_new_definition() {
    let edited = RUN.replace("run: make test", "run: make check");
    let words = ["succeeded", "failed", "succeeded", "skipped"];
    let c = check(&words, &edited, &["test", "build"]);
    assert_eq!(c.plan.diagnostics, Vec::<String>::new());
    assert_eq!(
        marks(&c),
        [
            "= build succeeded [] rerun",
            "~ test failed [run] rerun",
            "= notes succeeded [] ",
            "= deploy skipped [] runs again after test",
        ]
    );
    let mut rerun = c.diff.rerun.clone();
    rerun.sort();
    assert_eq!(rerun, ["build", "test"]);
    assert!(c.wf.is_some());
    assert!(!c.plan.is_noop());
}

#[test]
fn rerun_says_why_it_cannot() {
    let edited = "name: rel\nsteps:\n  build:\n    run: make\n  test:\n    needs: [build]\n    run: make test\n  deploy:\n    needs: [test]\n    run: ship\n  lint:\n    run: clippy\n";
    let c = check(
        &["succeeded", "running", "pending", "pending"],
        edited,
        &["tset", "notes", "deploy", "lint"],
    );
    assert_eq!(
        c.plan.diagnostics,
        [
            "edit.yaml:2:1: error: `--rerun notes`: this edit removes `notes`; keep it in the file to run it again",
            "edit.yaml:2:1: error: `--rerun tset`: the run has no step `tset` (did you mean `test`?)",
            "edit.yaml:8:3: error: `--rerun deploy`: `deploy` is pending and has not started, so it takes its new definition without --rerun",
            "edit.yaml:11:3: error: `--rerun lint`: `lint` is new in this edit, so it runs without --rerun",
        ]
    );
}

#[test]
fn a_need_on_a_removed_step_says_the_edit_removes_it() {
    let edited = "name: rel\nsteps:\n  build:\n    run: make\n  test:\n    needs: [build]\n    run: make test\n  deploy:\n    needs: [test, notes]\n    run: ship\n";
    let c = check(&["succeeded", "pending", "pending", "pending"], edited, &[]);
    assert_eq!(c.plan.diagnostics.len(), 1, "{:?}", c.plan.diagnostics);
    let d = &c.plan.diagnostics[0];
    assert!(d.starts_with("edit.yaml:9:"), "{d}");
    assert!(
        d.ends_with(": error: `deploy` needs `notes`, which this edit removes"),
        "{d}"
    );
    // A need that never was a step of the run keeps the loader's words.
    let typo = edited.replace("[test, notes]", "[test, nots]");
    let c = check(&["succeeded", "pending", "pending", "pending"], &typo, &[]);
    assert!(
        c.plan.diagnostics[0].contains("needs unknown step `nots`"),
        "{:?}",
        c.plan.diagnostics
    );
}

#[test]
fn loader_errors_come_as_the_loader_prints_them() {
    let cycle = RUN.replace(
        "  build:\n    run: make",
        "  build:\n    needs: [deploy]\n    run: make",
    );
    let c = check(&["pending"; 4], &cycle, &[]);
    let printed = match crate::workflow::load_str(&cycle, "edit.yaml") {
        Err(e) => e.to_string(),
        Ok(_) => String::new(),
    };
    assert!(printed.contains("->"), "{printed}");
    assert_eq!(c.plan.diagnostics.join("\n"), printed);
    assert!(c.plan.refused() && c.wf.is_none());
}

#[test]
fn a_step_that_would_be_skipped_at_once_is_warned_of() {
    let edited = "name: rel\nsteps:\n  build:\n    run: make\n  test:\n    needs: [build]\n    run: make test\n  notes:\n    needs: [build]\n    run: echo changed\n  deploy:\n    needs: [test, notes]\n    run: ship\n  lint:\n    needs: [test]\n    run: clippy\n";
    let c = check(&["succeeded", "failed", "pending", "skipped"], edited, &[]);
    assert_eq!(
        c.plan.diagnostics,
        ["edit.yaml:15:5: warning: `lint` will be skipped at once: it needs `test`, which failed"]
    );
    assert!(!c.plan.refused());
    // A changed unstarted step whose need was skipped.
    let old = "name: rel\nsteps:\n  a:\n    run: x\n  b:\n    needs: [a]\n    run: y\n";
    let new = old.replace("run: y", "run: z");
    let statuses = [status("skipped"), status("pending")];
    let c = plan(
        "rel-1",
        1,
        &load(old),
        &statuses,
        &ask(&new, &[]),
        &BTreeMap::new(),
    );
    assert_eq!(
        c.plan.diagnostics,
        ["edit.yaml:6:5: warning: `b` will be skipped at once: it needs `a`, which was skipped"]
    );
}

#[test]
fn top_level_keys_that_changed_are_listed() {
    let old = "name: rel\ndescription: one\nconcurrency: 2\nenv: { A: b }\nvars: { v: x }\ndefaults: { kill_grace: 3s }\nbreakers: { api: { failures: 2 } }\nsteps:\n  a:\n    run: x\n";
    let new = "name: rel\ndescription: two\nconcurrency: 3\ntimeout: 1h\nenv: { A: c }\nvars: { v: y }\ndefaults: { kill_grace: 4s }\nbreakers: { api: { failures: 3 } }\nsteps:\n  a:\n    run: x\n";
    let c = plan(
        "rel-1",
        1,
        &load(old),
        &[status("pending")],
        &ask(new, &[]),
        &BTreeMap::new(),
    );
    assert_eq!(
        c.plan.top,
        [
            "description",
            "concurrency",
            "timeout",
            "env",
            "vars",
            "defaults",
            "breakers"
        ]
    );
    assert_eq!(marks(&c), ["~ a pending [env,kill_grace] "]);
    let same = old.replace("{ A: b }", "{A: 'b'}");
    let c = plan(
        "rel-1",
        1,
        &load(old),
        &[status("pending")],
        &ask(&same, &[]),
        &BTreeMap::new(),
    );
    assert!(c.plan.is_noop(), "{:?}", c.plan.top);
}

#[test]
fn the_runs_vars_apply_to_the_edit() {
    let old = "name: rel\nvars: { tag: v1 }\nsteps:\n  a:\n    run: echo {{ vars.tag }}\n";
    let vars = BTreeMap::from([("tag".to_string(), "v9".to_string())]);
    let mut run_wf = load(old);
    let _ = run_wf.set_var("tag", "v9");
    // The file's default changed, but the run's --var still wins: no change.
    let new = old.replace("tag: v1", "tag: v2");
    let c = plan(
        "rel-1",
        1,
        &run_wf,
        &[status("running")],
        &ask(&new, &[]),
        &vars,
    );
    assert!(c.plan.is_noop(), "{:?}", marks(&c));
    assert_eq!(c.wf.map(|w| w.vars["tag"].clone()), Some("v9".to_string()));
    // An edit that drops the var the run was given is refused.
    let dropped = "name: rel\nsteps:\n  a:\n    run: echo {{ vars.tag }}\n";
    let c = plan(
        "rel-1",
        1,
        &run_wf,
        &[status("running")],
        &ask(dropped, &[]),
        &vars,
    );
    assert!(c.plan.refused());
    let missing = "name: rel\nvars: { other: x }\nsteps:\n  a:\n    run: echo hi\n";
    let c = plan(
        "rel-1",
        1,
        &run_wf,
        &[status("pending")],
        &ask(missing, &[]),
        &vars,
    );
    assert_eq!(c.plan.diagnostics.len(), 1);
    assert!(
        c.plan.diagnostics[0].starts_with("edit.yaml:2:1: error: unknown var `tag`"),
        "{:?}",
        c.plan.diagnostics
    );
}

#[test]
fn a_revision_loads_with_the_runs_vars() {
    let text = "name: rel\nvars: { tag: v1 }\nsteps:\n  a:\n    run: echo {{ vars.tag }}\n";
    let vars = BTreeMap::from([("tag".to_string(), "v2".to_string())]);
    let wf = load_revision(text, "revisions/1.yaml", &vars);
    assert_eq!(wf.map(|w| w.vars["tag"].clone()), Ok("v2".to_string()));
    let bad = load_revision("name: rel\nsteps: {}\nx: 1\n", "revisions/1.yaml", &vars);
    assert!(bad.is_err_and(|e| e.starts_with("revisions/1.yaml:")));
    let unknown = load_revision(
        "name: rel\nsteps:\n  a:\n    run: x\n",
        "revisions/1.yaml",
        &vars,
    );
    assert!(unknown.is_err_and(|e| e.contains("unknown var `tag`")));
}

mod matrix;
mod render;
