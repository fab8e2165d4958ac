//! The plan as text, and the deadline warning added to it.

use std::collections::BTreeMap;

use super::{RUN, ask, check, load, status};
use crate::engine::edit::plan::{plan, warn_deadline};
use crate::engine::edit::{Plan, PlanStep};

#[test]
fn a_timeout_whose_new_deadline_has_passed_is_warned_of() {
    let old = "name: rel\ntimeout: 2h\nsteps:\n  a:\n    run: x\n";
    let new = "name: rel\n# shorter\ntimeout: 10m\nsteps:\n  a:\n    run: x\n";
    let elapsed = std::time::Duration::from_secs(15 * 60);
    let mut c = plan(
        "rel-1",
        1,
        &load(old),
        &[status("running")],
        &ask(new, &[]),
        &BTreeMap::new(),
    );
    warn_deadline(&mut c, "edit.yaml", elapsed);
    assert_eq!(
        c.plan.diagnostics,
        [
            "edit.yaml:3:1: warning: the run's new `timeout` of 10m has passed (the run has been going for 15m00s): it times out as the edit applies"
        ]
    );
    assert!(!c.plan.refused());
    // Not yet passed, or not changed: nothing to say.
    let mut c = plan(
        "rel-1",
        1,
        &load(old),
        &[status("running")],
        &ask(new, &[]),
        &BTreeMap::new(),
    );
    warn_deadline(&mut c, "edit.yaml", std::time::Duration::from_secs(60));
    assert!(c.plan.diagnostics.is_empty());
    let mut c = plan(
        "rel-1",
        1,
        &load(old),
        &[status("running")],
        &ask(old, &[]),
        &BTreeMap::new(),
    );
    warn_deadline(
        &mut c,
        "edit.yaml",
        std::time::Duration::from_secs(3 * 3600),
    );
    assert!(c.plan.diagnostics.is_empty());
}

#[test]
fn render_aligns_one_line_per_step_then_the_diagnostics() {
    let edited = "name: rel\nconcurrency: 2\nsteps:\n  build:\n    run: make\n  lint:\n    needs: [build]\n    run: clippy\n  test:\n    needs: [build]\n    run: make check\n  deploy:\n    needs: [test]\n    run: ship\n  late:\n    needs: [test]\n    run: echo\n";
    let c = check(
        &["succeeded", "failed", "pending", "pending"],
        edited,
        &["test"],
    );
    assert_eq!(
        c.plan.render(),
        "revision 2 of rel-1
  = build   succeeded
  + lint    new        (ready at once)
  ~ test    failed     run (rerun)
  - notes   pending
  ~ deploy  pending    needs
  + late    new
  top-level keys changed: concurrency
"
    );
    let refused = check(
        &["succeeded", "running", "pending", "pending"],
        &RUN.replace("make test", "make check"),
        &[],
    );
    assert_eq!(
        refused.plan.render(),
        "revision 2 of rel-1
  = build   succeeded
  ~ test    running    run
  = notes   pending
  = deploy  pending
edit.yaml:7:5: error: step `test` is running; its definition cannot change (add --rerun test)
"
    );
}

#[test]
fn render_folds_more_than_twenty_kept_steps_to_a_count() {
    let mut old = String::from("name: big\nsteps:\n");
    for i in 0..1200 {
        old.push_str(&format!("  s{i}:\n    run: echo {i}\n"));
    }
    let new = old.replace("run: echo 7\n", "run: echo seven\n");
    let statuses = vec![status("succeeded"); 1200];
    let c = plan(
        "big-1",
        3,
        &load(&old),
        &statuses,
        &ask(&new, &["s7"]),
        &BTreeMap::new(),
    );
    assert_eq!(
        c.plan.render(),
        "revision 3 of big-1\n  ~ s7  succeeded  run (rerun)\n  = 1,199 steps kept\n"
    );
    // Twenty are shown one by one.
    let few = "name: few\nsteps:\n".to_string()
        + &(0..20)
            .map(|i| format!("  s{i}: {{ run: x }}\n"))
            .collect::<String>();
    let c = plan(
        "few-1",
        1,
        &load(&few),
        &vec![status("pending"); 20],
        &ask(&few, &[]),
        &BTreeMap::new(),
    );
    assert_eq!(c.plan.render().lines().count(), 21);
}

#[test]
fn render_keeps_hostile_text_on_its_line() {
    let c = check(&["pending"; 4], RUN, &["x\n\u{1b}[31mevil"]);
    let text = c.plan.render();
    assert_eq!(text.lines().count(), 1 + 4 + 1, "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("x\\n\\u{1b}[31mevil"), "{text}");
    let plan = Plan {
        run: "r\u{9b}2J".into(),
        steps: vec![PlanStep {
            mark: '+',
            step: "a\u{202e}b".into(),
            status: "new\r".into(),
            fields: vec![],
            note: "n\u{7}".into(),
        }],
        ..Plan::default()
    };
    let text = plan.render();
    assert!(
        !text.contains(['\u{9b}', '\u{202e}', '\r', '\u{7}']),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2);
}
