//! Fingerprints: what counts as a change of a step, and what never does.

use std::collections::BTreeMap;

use super::*;

const BASE: &str = "name: fp
description: prints
env:
  REGION: eu
vars:
  tag: v1
defaults:
  retry: { attempts: 2 }
  kill_grace: 3s
breakers:
  api: { failures: 3 }
steps:
  build:
    run: make {{ vars.tag }}
    timeout: 1m
  test:
    needs: [build]
    run: make test
    env: { MODE: ci }
    breaker: api
  gate:
    needs: [test, build]
    approval: { prompt: \"Ship {{ vars.tag }}?\" }
    when: \"steps.test.status == 'succeeded'\"
";

/// The same workflow: comments, key order, flow and block style, quoting,
/// an anchor and the steps' order all differ.
const REWRITTEN: &str = "# the same workflow, written otherwise
name: fp
steps:
  gate:
    approval:
      prompt: 'Ship {{vars.tag}}?'
    when: steps.test.status=='succeeded'
    needs:
      - build
      - test
  test:
    breaker: api   # shared
    env:
      MODE: \"ci\"
    run: \"make test\"
    needs: build
  build:
    timeout: 60s
    run: >-
      make {{ vars.tag }}
defaults: &d
  kill_grace: 3000ms
  retry:
    attempts: 2
breakers:
  api:
    failures: 3
vars: { tag: v1 }
env: { REGION: eu }
description: prints
";

fn forms(text: &str) -> BTreeMap<String, Canonical> {
    let wf = match crate::workflow::load_str(text, "t.yaml") {
        Ok(wf) => wf,
        Err(e) => panic!("{e}\n{text}"),
    };
    wf.steps
        .iter()
        .map(|s| (s.id.clone(), canonical(&wf, s)))
        .collect()
}

/// The fingerprint of a step as the planner computes it, without a form.
fn streamed(text: &str, id: &str) -> u64 {
    let wf = match crate::workflow::load_str(text, "t.yaml") {
        Ok(wf) => wf,
        Err(e) => panic!("{e}"),
    };
    wf.steps
        .iter()
        .find(|s| s.id == id)
        .map_or(0, |s| of_step(&wf, s))
}

#[test]
fn a_rewrite_that_changes_nothing_keeps_every_fingerprint() {
    let (a, b) = (forms(BASE), forms(REWRITTEN));
    assert_eq!(a.len(), 3);
    for (id, form) in &a {
        assert_eq!(changed(form, &b[id]), Vec::<&str>::new(), "{id}");
        assert_eq!(fingerprint(form), fingerprint(&b[id]), "{id}");
        assert_eq!(fingerprint(form), streamed(REWRITTEN, id), "{id}");
    }
}

#[test]
fn an_anchor_and_merge_key_count_as_what_they_expand_to() {
    let merged = "name: fp\nsteps:\n  a: &a\n    run: x\n    retry: { attempts: 3, delay: 2s }\n  b:\n    <<: *a\n    run: y\n";
    let direct = "name: fp\nsteps:\n  a:\n    run: x\n    retry: { attempts: 3, delay: 2s }\n  b:\n    run: y\n    retry: { attempts: 3, delay: 2s }\n";
    let (m, d) = (forms(merged), forms(direct));
    assert_eq!(fingerprint(&m["b"]), fingerprint(&d["b"]));
    assert_ne!(fingerprint(&m["a"]), fingerprint(&m["b"]));
}

/// What an edit is, the text it replaces, with what, and the (step, key)
/// pairs it must name.
type Change = (
    &'static str,
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
);

/// Each edit of BASE and the keys of which steps it must name.
fn changes() -> Vec<Change> {
    vec![
        (
            "run",
            "run: make test",
            "run: make check",
            vec![("test", "run")],
        ),
        (
            "needs",
            "needs: [test, build]",
            "needs: [test]",
            vec![("gate", "needs")],
        ),
        (
            "timeout",
            "timeout: 1m",
            "timeout: 2m",
            vec![("build", "timeout")],
        ),
        (
            "breaker",
            "    breaker: api\n",
            "",
            vec![("test", "breaker")],
        ),
        (
            "env",
            "{ MODE: ci }",
            "{ MODE: ci, X: y }",
            vec![("test", "env")],
        ),
        (
            "when",
            "== 'succeeded'",
            "!= 'failed'",
            vec![("gate", "when")],
        ),
        (
            "approval",
            "Ship {{ vars.tag }}?",
            "Ship {{ vars.tag }} now?",
            vec![("gate", "approval")],
        ),
        (
            "kind",
            "approval: { prompt: \"Ship {{ vars.tag }}?\" }",
            "run: ship",
            vec![("gate", "run"), ("gate", "approval"), ("gate", "vars")],
        ),
        (
            "retry",
            "    run: make test\n",
            "    run: make test\n    retry: { attempts: 5 }\n",
            vec![("test", "retry")],
        ),
        (
            "on_failure",
            "    run: make test\n",
            "    run: make test\n    on_failure: continue\n",
            vec![("test", "on_failure")],
        ),
        (
            "fallback",
            "    run: make test\n",
            "    run: make test\n    fallback: { outputs: { a: b } }\n",
            vec![("test", "fallback")],
        ),
        (
            "priority",
            "    run: make test\n",
            "    run: make test\n    priority: 3\n",
            vec![("test", "priority")],
        ),
        (
            "cwd",
            "    run: make test\n",
            "    run: make test\n    cwd: /tmp\n",
            vec![("test", "cwd")],
        ),
        (
            "shell",
            "    run: make test\n",
            "    run: make test\n    shell: [bash, -c]\n",
            vec![("test", "shell")],
        ),
        (
            "kill_grace",
            "    run: make test\n",
            "    run: make test\n    kill_grace: 9s\n",
            vec![("test", "kill_grace")],
        ),
        (
            "output",
            "    run: make test\n",
            "    run: make test\n    output: separate\n",
            vec![("test", "output")],
        ),
        (
            "defaults",
            "attempts: 2 }",
            "attempts: 4 }",
            // The loader gives every step the default retry, approvals too.
            vec![("build", "retry"), ("test", "retry"), ("gate", "retry")],
        ),
        (
            "top env",
            "REGION: eu",
            "REGION: us",
            vec![("build", "env"), ("test", "env"), ("gate", "env")],
        ),
        (
            "vars",
            "tag: v1",
            "tag: v2",
            vec![("build", "vars"), ("gate", "vars")],
        ),
    ]
}

#[test]
fn each_key_changed_is_named_on_the_steps_it_changes() {
    let base = forms(BASE);
    for (what, from, to, want) in changes() {
        assert!(BASE.contains(from), "{what}: {from:?}");
        let edited = forms(&BASE.replacen(from, to, 1));
        let mut got = Vec::new();
        for (id, form) in &base {
            for key in changed(form, &edited[id]) {
                got.push((id.as_str(), key));
            }
            let same = changed(form, &edited[id]).is_empty();
            assert_eq!(
                fingerprint(&edited[id]),
                streamed(&BASE.replacen(from, to, 1), id)
            );
            assert_eq!(
                same,
                fingerprint(form) == fingerprint(&edited[id]),
                "{what} {id}"
            );
        }
        let mut want = want;
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want, "{what}");
    }
}

#[test]
fn template_offsets_do_not_count() {
    // The `{{` moves within the text, and the text is otherwise the same.
    let a = forms("name: fp\nvars: { v: x }\nsteps:\n  a:\n    run: echo {{ vars.v }}\n");
    let b = forms("name: fp\nvars: { v: x }\nsteps:\n  a:\n    run: 'echo {{ vars.v }}'\n");
    assert_eq!(fingerprint(&a["a"]), fingerprint(&b["a"]));
    let c = forms("name: fp\nvars: { v: x }\nsteps:\n  a:\n    run: echo  {{ vars.v }}\n");
    assert_eq!(changed(&a["a"], &c["a"]), vec!["run"]);
}
