//! `R` / the socket's `retry` of a failed step on a live run (SPEC §2
//! "Retry a finished run", §5 `R`): it resets what `signalbox retry` of a
//! finished run resets, the dependents skipped for it and those cancelled,
//! through the graph; a resume of that journal passes the checker and
//! carries on from it.

use signalbox::engine::{By, Command as EngineCommand};
use signalbox::socket::Reply;

use super::{Work, is, taken};

/// `build` fails until `FIXED` exists; `lint` needs it; `package` needs
/// it and the approval `gate`; `ship` needs `package`.
const PIPELINE: &str = r#"
name: fix
steps:
  gate:
    approval: { prompt: "Ship?" }
  build:
    run: echo build >> LEDGER; test -f FIXED
  lint:
    needs: [build]
    run: echo lint >> LEDGER
  package:
    needs: [build, gate]
    run: echo package >> LEDGER
  ship:
    needs: [package]
    run: echo ship >> LEDGER
"#;

/// What the live run says to `command` through its socket.
fn send(work: &Work, id: &str, command: EngineCommand) -> Reply {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(signalbox::socket::send(&work.run_dir(id), &command))
        .unwrap()
}

#[test]
fn a_live_retry_returns_the_cancelled_dependents_to_pending_too() {
    let work = Work::new();
    let fixed = work.path("FIXED");
    let file = work.write(&PIPELINE.replace("FIXED", &fixed.display().to_string()));
    let mut run = work.start(&file);
    let id = run.run_id();
    run.wait_for("lint skipped for build", |e| is(e, "step_skipped", "lint"));
    // `package` waits for `gate` too; the operator cancels it, and `ship`
    // is skipped for it.
    let cancel = EngineCommand::Cancel {
        step: Some("package".into()),
        by: By::Socket,
    };
    assert!(matches!(send(&work, &id, cancel), Reply::Taken));
    run.wait_for("ship skipped", |e| is(e, "step_skipped", "ship"));

    std::fs::write(&fixed, "").unwrap();
    let retry = EngineCommand::Retry {
        step: "build".into(),
        by: By::Socket,
    };
    assert!(matches!(send(&work, &id, retry), Reply::Taken));
    let modified = run.wait_for("the retry", |e| {
        e["type"] == "dag_modified" && e["action"] == "retry"
    });
    assert_eq!(
        modified["steps"],
        serde_json::json!(["build", "lint", "package", "ship"]),
        "the retried step, then what it resets in file order: {modified}"
    );
    run.wait_for("lint ran", |e| is(e, "step_succeeded", "lint"));
    // `package` waits for the approval again; the run is killed, and its
    // resume (which checks the journal first) carries on from the retry.
    run.kill9();
    let mut resumed = work.resume(&id);
    resumed.wait_for("the approval again", |e| e["type"] == "approval_requested");
    taken(&work.cli(&["approve", &id, "gate"]));
    let done = resumed.finish();
    done.expect(0, "succeeded");
    assert_eq!(
        work.ledger(),
        ["build", "build", "lint", "package", "ship"],
        "every step ran once after the fix, build once before it"
    );
    work.check_journal(&id);
}
