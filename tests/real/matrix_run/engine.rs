//! The engine's matrix rules on a workflow grouped by hand (three steps
//! made one matrix step's instances), so they hold whatever the loader
//! expands: `max_parallel` with the event order to show it, `fail_fast`
//! with its reasons, and a live `retry` naming the group.

use serde_json::Value;
use signalbox::engine::{By, Command, Run, RunOptions, RunStatus};
use signalbox::workflow::{Group, Instance, Workflow, load_str};

use crate::common::{dump, is};

/// `a`, `b`, `c` made the instances of group `m`, and `gate` needing all;
/// with `hold`, an approval needing nothing keeps the run open too.
fn grouped(run: &str, max_parallel: Option<usize>, fail_fast: bool, hold: bool) -> Workflow {
    let mut yaml = String::from("name: g\nconcurrency: 4\nsteps:\n");
    for k in ["a", "b", "c"] {
        let cmd = run.replace("KEY", k);
        yaml.push_str(&format!("  {k}:\n    run: '{cmd}'\n"));
    }
    yaml.push_str("  gate:\n    needs: [a, b, c]\n    approval: { prompt: go }\n");
    if hold {
        yaml.push_str("  hold:\n    approval: { prompt: hold }\n");
    }
    let mut wf = load_str(&yaml, "g.yaml").unwrap();
    wf.groups.push(Group {
        id: "m".into(),
        line: 4,
        axes: vec!["k".into()],
        members: vec![0, 1, 2],
        max_parallel,
        fail_fast,
        description: None,
    });
    for (i, k) in ["a", "b", "c"].into_iter().enumerate() {
        wf.steps[i].instance = Some(Box::new(Instance {
            group: 0,
            values: vec![("k".into(), k.into())],
        }));
    }
    wf
}

/// Runs `wf`, sending each command once the event before it came; all events.
async fn drive(wf: Workflow, script: &[(&str, &str, Command)]) -> (RunStatus, Vec<Value>) {
    let state = tempfile::tempdir().unwrap();
    let options = RunOptions {
        state_dir: state.path().to_path_buf(),
        workdir: Some(state.path().to_path_buf()),
        seed: Some(1),
        ..RunOptions::default()
    };
    let mut run = Run::new(wf, options).unwrap();
    let mut events = run.subscribe();
    let handle = run.handle();
    let task = tokio::spawn(run.start());
    let mut seen: Vec<Value> = Vec::new();
    let mut next = 0;
    while let Some(p) = events.recv().await {
        let v = serde_json::to_value(&p.envelope.event).unwrap();
        seen.push(v.clone());
        if let Some((ty, step, command)) = script.get(next)
            && is(&v, ty, step)
        {
            handle.send(command.clone());
            next += 1;
        }
    }
    assert_eq!(
        next,
        script.len(),
        "not every command was sent:\n{}",
        dump(&seen)
    );
    (task.await.unwrap().status, seen)
}

fn approve(step: &str) -> Command {
    Command::Approve {
        step: step.into(),
        by: By::Keyboard,
    }
}

#[tokio::test]
async fn max_parallel_starts_one_instance_after_another_ended() {
    let wf = grouped("echo KEY", Some(1), false, false);
    let (status, events) = drive(wf, &[("approval_requested", "gate", approve("gate"))]).await;
    assert_eq!(status, RunStatus::Succeeded, "{}", dump(&events));
    let mut running = None;
    for e in &events {
        match (e["type"].as_str().unwrap(), e["step"].as_str()) {
            ("step_started", Some(s)) => {
                assert_eq!(
                    running,
                    None,
                    "{s} started beside another\n{}",
                    dump(&events)
                );
                running = Some(s.to_string());
            }
            ("step_succeeded", Some(s)) if s != "gate" => {
                assert_eq!(running.as_deref(), Some(s), "{}", dump(&events));
                running = None;
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn fail_fast_cancels_started_and_skips_unstarted_instances() {
    let wf = grouped("test KEY != a || exit 4; sleep 30", Some(2), true, false);
    let (status, events) = drive(wf, &[]).await;
    assert_eq!(status, RunStatus::Failed, "{}", dump(&events));
    let find = |ty: &str, step: &str| {
        (events.iter().find(|e| is(e, ty, step)))
            .unwrap_or_else(|| panic!("no {ty} for {step}\n{}", dump(&events)))
    };
    assert_eq!(find("step_cancelled", "b")["reason"], "fail_fast");
    let c = find("step_skipped", "c");
    assert_eq!(
        (&c["reason"], &c["cause"]),
        (&"fail_fast".into(), &"a".into())
    );
    assert_eq!(find("step_skipped", "gate")["reason"], "upstream_failed");
}

#[tokio::test]
async fn a_live_retry_of_the_group_runs_its_failed_instances_again() {
    // b fails the first time only; `hold` keeps the run open for the retry.
    let run = "test KEY != b || test -e seen-KEY || { touch seen-KEY; exit 1; }";
    let retry = Command::Retry {
        step: "m".into(),
        by: By::Keyboard,
    };
    let script = [
        ("step_failed", "b", retry),
        ("approval_requested", "gate", approve("gate")),
        ("step_succeeded", "gate", approve("hold")),
    ];
    let (status, events) = drive(grouped(run, None, false, true), &script).await;
    assert_eq!(status, RunStatus::Succeeded, "{}", dump(&events));
    // One retry, of b alone (with the gate when b was the last to end).
    let retried: Vec<&Value> = (events.iter())
        .filter(|e| e["type"] == "dag_modified")
        .map(|e| &e["steps"])
        .collect();
    assert_eq!(retried.len(), 1, "{}", dump(&events));
    assert_eq!(retried[0][0], "b", "{}", dump(&events));
    assert!(
        (retried[0].as_array().unwrap().iter()).all(|s| s == "b" || s == "gate"),
        "{}",
        dump(&events)
    );
    let started = |s: &str| events.iter().filter(|e| is(e, "step_started", s)).count();
    assert_eq!((started("a"), started("b"), started("c")), (1, 2, 1));
}
