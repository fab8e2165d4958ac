//! The breaker command through the engine's API (`RunHandle::request_as`),
//! as a front end sends it: the refusals, each with the change it did not
//! make absent from the events, and the operator journaled as `user`.

use serde_json::Value;
use signalbox::engine::event::BreakerAction;
use signalbox::engine::{By, Command, Refusal, Run, RunOptions};
use signalbox::workflow::load_str;

fn breaker(name: &str, action: BreakerAction) -> Command {
    Command::Breaker {
        breaker: name.into(),
        action,
        by: By::Keyboard,
    }
}

/// Starts `yaml` (its first step an approval that holds the run) and
/// hands each command to the run once that approval is open; then
/// approves it and returns the replies and every event.
async fn drive(yaml: &str, commands: Vec<Command>) -> (Vec<Result<(), Refusal>>, Vec<Value>) {
    let state = tempfile::tempdir().unwrap();
    let wf = load_str(yaml, "test.yaml").unwrap();
    let options = RunOptions {
        state_dir: state.path().to_path_buf(),
        seed: Some(1),
        ..RunOptions::default()
    };
    let mut run = Run::new(wf, options).unwrap();
    let mut events = run.subscribe();
    let handle = run.handle();
    let task = tokio::spawn(run.start());
    let mut seen = Vec::new();
    while let Some(p) = events.recv().await {
        let v = serde_json::to_value(&p.envelope.event).unwrap();
        let open = v["type"] == "approval_requested";
        seen.push(v);
        if open {
            break;
        }
    }
    let mut replies = Vec::new();
    for c in commands {
        replies.push(handle.request_as(c, "ops".into()).await);
    }
    let go = Command::Approve {
        step: "go".into(),
        by: By::Keyboard,
    };
    handle.request(go).await.unwrap();
    while let Some(p) = events.recv().await {
        seen.push(serde_json::to_value(&p.envelope.event).unwrap());
    }
    task.await.unwrap();
    (replies, seen)
}

#[tokio::test]
async fn refusals_change_nothing_and_the_operator_is_journaled() {
    let yaml = r#"
name: gate
breakers:
  registry: { failures: 3, cooldown: 1h }
  mirror: { failures: 3, cooldown: 1h }
steps:
  go:
    approval: { prompt: "Go?" }
  publish:
    needs: [go]
    breaker: registry
    run: "true"
"#;
    let (replies, events) = drive(
        yaml,
        vec![
            breaker("registry", BreakerAction::Reset),
            breaker("mirror", BreakerAction::Open),
            breaker("mirror", BreakerAction::Open),
            breaker("mirrror", BreakerAction::Reset),
        ],
    )
    .await;
    assert_eq!(
        replies[0],
        Err(Refusal::BreakerClosed {
            breaker: "registry".into()
        })
    );
    assert_eq!(replies[1], Ok(()));
    assert!(
        matches!(&replies[2], Err(Refusal::BreakerOpen { breaker, .. }) if breaker == "mirror"),
        "{:?}",
        replies[2]
    );
    let unknown = replies[3].clone().unwrap_err().to_string();
    assert_eq!(
        unknown,
        "no breaker `mirrror` in workflow `gate` (did you mean `mirror`?)"
    );
    let changes: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "breaker_changed")
        .collect();
    assert_eq!(changes.len(), 1, "{events:?}");
    assert_eq!(changes[0]["breaker"], "mirror");
    assert_eq!(changes[0]["state"], "open");
    assert_eq!(changes[0]["by"], "keyboard");
    assert_eq!(
        changes[0]["user"], "ops",
        "the sender, not the run's account"
    );
    // `registry` stayed closed: publish ran.
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "step_succeeded" && e["step"] == "publish"),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_workflow_without_breakers_says_so() {
    let yaml = r#"
name: plain
steps:
  go:
    approval: { prompt: "Go?" }
"#;
    let (replies, _) = drive(yaml, vec![breaker("registry", BreakerAction::Open)]).await;
    assert_eq!(
        replies[0].clone().unwrap_err().to_string(),
        "no breaker `registry` in workflow `plain`: it has no breakers"
    );
}
