//! What counts as a change of a step (SPEC §2 "Edit a run"): its
//! *resolved* definition, key by key, in a canonical form. Comments, key
//! order, whitespace, anchors and the step's place in the file are not in
//! the loaded model, so they never count; `needs` is a set of ids, `env` a
//! set of pairs, a condition its parsed expression, not its spelling.
//! Top-level `vars` and `env` are not part of a step: an edit of those
//! reaches the steps that start after it.

use sha2::{Digest, Sha256};

use super::{Action, Step, Workflow};

/// The keys of a step's definition, each in canonical form, in a fixed
/// order: what [`changed`] compares and [`fingerprint`] hashes.
pub fn canonical(wf: &Workflow, step: &Step) -> Vec<(&'static str, String)> {
    let mut needs: Vec<&str> = step
        .needs
        .iter()
        .map(|&n| wf.steps[n].id.as_str())
        .collect();
    needs.sort_unstable();
    let mut env: Vec<String> = step.env.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    env.sort_unstable();
    let action = match &step.action {
        Action::Run(r) => format!("{:?}", r.text),
        Action::Approval(a) => format!("{:?} {:?} {:?}", a.prompt, a.timeout, a.on_timeout),
        Action::Ask(a) => format!(
            "{:?} {:?} {:?} {:?}",
            a.question, a.choices, a.default, a.timeout
        ),
    };
    vec![
        (step.action.kind(), action),
        ("needs", format!("{needs:?}")),
        ("when", format!("{:?}", step.when.as_ref().map(|c| &c.expr))),
        ("timeout", format!("{:?}", step.timeout)),
        ("retry", format!("{:?}", step.retry)),
        ("breaker", format!("{:?}", step.breaker)),
        ("on_failure", format!("{:?}", step.on_failure)),
        ("fallback", format!("{:?}", step.fallback)),
        ("priority", step.priority.to_string()),
        ("env", format!("{env:?}")),
        ("cwd", format!("{:?}", step.cwd)),
        ("shell", format!("{:?}", step.shell)),
        ("kill_grace", format!("{:?}", step.kill_grace)),
        ("output", format!("{:?}", step.output)),
    ]
}

/// The keys whose canonical form differs between step `a` of `wa` and
/// step `b` of `wb` (a step that became another kind changes its old and
/// new kind's key both).
pub fn changed(wa: &Workflow, a: &Step, wb: &Workflow, b: &Step) -> Vec<&'static str> {
    let (x, y) = (canonical(wa, a), canonical(wb, b));
    let mut out = Vec::new();
    if x[0].0 != y[0].0 {
        out.push(x[0].0);
        out.push(y[0].0);
    }
    for ((key, old), (_, new)) in x.iter().zip(&y) {
        if old != new && !out.contains(key) {
            out.push(key);
        }
    }
    out
}

/// The SHA-256 (hex) of a step's canonical definition.
pub fn fingerprint(wf: &Workflow, step: &Step) -> String {
    let mut hash = Sha256::new();
    for (key, value) in canonical(wf, step) {
        hash.update(key.as_bytes());
        hash.update([0]);
        hash.update(value.as_bytes());
        hash.update([0]);
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The top-level keys that differ between two revisions of a workflow.
pub fn top_changed(a: &Workflow, b: &Workflow) -> Vec<&'static str> {
    let env = |w: &Workflow| {
        let mut e: Vec<String> = w.env.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        e.sort_unstable();
        e
    };
    let pairs = [
        ("description", a.description != b.description),
        ("concurrency", a.concurrency != b.concurrency),
        ("timeout", a.timeout != b.timeout),
        ("env", env(a) != env(b)),
        ("vars", a.vars != b.vars),
        ("breakers", a.breakers != b.breakers),
    ];
    pairs.iter().filter(|p| p.1).map(|p| p.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Workflow {
        match crate::workflow::load_str(text, "w.yaml") {
            Ok(wf) => wf,
            Err(d) => panic!("{d}"),
        }
    }

    fn diff(a: &str, b: &str) -> Vec<(String, Vec<&'static str>)> {
        let (wa, wb) = (load(a), load(b));
        wb.steps
            .iter()
            .filter_map(|s| {
                let i = wa.step_index(&s.id)?;
                let keys = changed(&wa, &wa.steps[i], &wb, s);
                (!keys.is_empty()).then(|| (s.id.clone(), keys))
            })
            .collect()
    }

    const BASE: &str = "name: w\ndefaults:\n  retry: { attempts: 2 }\nsteps:\n  a:\n    run: echo a\n    env: { X: '1', Y: '2' }\n  b:\n    needs: [a]\n    when: steps.a.status == 'succeeded'\n    run: echo b\n";

    #[test]
    fn layout_never_counts() {
        let same = "# a comment\nname: w\ndefaults:\n  retry: {attempts: 2}\nsteps:\n  b:\n    run: echo b\n    when: steps.a.status=='succeeded'\n    needs:\n      - a\n  a:\n    env:\n      Y: '2'\n      X: '1'\n    run: echo a\n\n";
        assert!(diff(BASE, same).is_empty(), "{:?}", diff(BASE, same));
        let (wa, wb) = (load(BASE), load(same));
        let b = wb.step_index("b").unwrap_or(0);
        assert_eq!(
            fingerprint(&wa, &wa.steps[1]),
            fingerprint(&wb, &wb.steps[b])
        );
        let anchors = "name: w\nx-common: &common\n  run: echo a\nsteps:\n  a:\n    <<: *common\n";
        let plain = "name: w\nsteps:\n  a:\n    run: echo a\n";
        if let Ok(wa) = crate::workflow::load_str(anchors, "w.yaml") {
            let wb = load(plain);
            assert!(changed(&wa, &wa.steps[0], &wb, &wb.steps[0]).is_empty());
        }
    }

    #[test]
    fn each_key_changed_is_named() {
        let run = BASE.replace("echo b", "echo B");
        assert_eq!(diff(BASE, &run), [("b".to_string(), vec!["run"])]);
        let env = BASE.replace("Y: '2'", "Y: '3'");
        assert_eq!(diff(BASE, &env), [("a".to_string(), vec!["env"])]);
        let when = BASE.replace("'succeeded'", "'failed'");
        assert_eq!(diff(BASE, &when), [("b".to_string(), vec!["when"])]);
        // `defaults` reach every step through resolution.
        let retry = BASE.replace("attempts: 2", "attempts: 3");
        let got = diff(BASE, &retry);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got.iter().all(|(_, k)| k == &vec!["retry"]));
        let needs = BASE.replace(
            "    needs: [a]\n    when: steps.a.status == 'succeeded'\n",
            "",
        );
        assert_eq!(diff(BASE, &needs)[0].1, vec!["needs", "when"]);
        let kind = BASE.replace("run: echo b", "approval: { prompt: ok? }");
        assert_eq!(diff(BASE, &kind)[0].1, vec!["run", "approval"]);
    }

    #[test]
    fn top_level_keys() {
        let (a, b) = (
            load(BASE),
            load(&BASE.replace("name: w\n", "name: w\nconcurrency: 2\nvars: { v: x }\n")),
        );
        assert_eq!(top_changed(&a, &b), ["concurrency", "vars"]);
        assert!(top_changed(&a, &a).is_empty());
    }
}
