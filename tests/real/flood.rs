//! A flood of events on the run's socket: a client that reads along and one
//! that stops reading for the whole flood each get every journal line,
//! byte for byte, once and in order (the session writes floods in batches
//! and does not listen to the run between them).

use std::path::Path;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

/// A gate step, then a step that prints 3,000 lines, then ten more steps.
fn workflow(go: &Path) -> String {
    let mut wf = format!(
        "name: flood\nsteps:\n  gate:\n    run: \"until [ -e {} ]; do sleep 0.01; done\"\n  print:\n    needs: [gate]\n    run: seq 3000\n",
        go.display()
    );
    for i in 0..10 {
        let need = if i == 0 {
            "print".to_string()
        } else {
            format!("s{}", i - 1)
        };
        wf.push_str(&format!("  s{i}:\n    needs: [{need}]\n    run: 'true'\n"));
    }
    wf
}

/// A stream and the client's side of the connection: closing that would
/// read as a detach.
type Attached = (tokio::io::Lines<BufReader<OwnedReadHalf>>, OwnedWriteHalf);

/// Attaches from seq 1; the stream, once `hello` was read.
async fn attach(sock: &Path) -> Attached {
    let (read, mut write) = tokio::net::UnixStream::connect(sock)
        .await
        .unwrap()
        .into_split();
    write
        .write_all(b"{\"command\":\"attach\",\"protocol\":1,\"from_seq\":1}\n")
        .await
        .unwrap();
    let mut lines = BufReader::new(read).lines();
    let hello = lines.next_line().await.unwrap().unwrap();
    assert!(hello.contains("\"ctl\":\"hello\""), "{hello}");
    (lines, write)
}

/// The event lines up to `bye`, which must say the run finished.
async fn rest((mut lines, _write): Attached) -> Vec<String> {
    let mut got = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.starts_with("{\"ctl\":\"bye\"") {
            assert_eq!(line, "{\"ctl\":\"bye\",\"reason\":\"run_finished\"}");
            return got;
        }
        if line.starts_with("{\"seq\":") {
            got.push(line);
        }
    }
    panic!("the stream ended without bye after {} events", got.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_through_a_flood_and_one_reading_along_get_every_line() {
    let state = tempfile::tempdir().unwrap();
    let go = state.path().join("GO");
    let wf = signalbox::workflow::load_str(&workflow(&go), "flood.yaml").unwrap();
    let options = signalbox::engine::RunOptions {
        state_dir: state.path().to_path_buf(),
        ..Default::default()
    };
    let run = signalbox::engine::Run::new(wf, options).unwrap();
    let handle = run.handle();
    let server = signalbox::socket::serve(handle.clone(), &handle.dir).unwrap();
    let running = tokio::spawn(run.start());
    let sock = handle.dir.join("control.sock");
    let reading = tokio::spawn(rest(attach(&sock).await));
    let stopped = attach(&sock).await;
    std::fs::write(&go, "").unwrap();
    let outcome = running.await.unwrap();
    assert_eq!(outcome.status, signalbox::engine::RunStatus::Succeeded);
    // Only now does the second client read: all of it was kept for it.
    let late = rest(stopped).await;
    let along = reading.await.unwrap();
    let journal = std::fs::read_to_string(handle.dir.join("events.jsonl")).unwrap();
    let want: Vec<&str> = journal.lines().collect();
    assert!(want.len() > 3000, "{} events", want.len());
    assert_eq!(along, want, "the client reading along");
    assert_eq!(late, want, "the client that read only after the run");
    server.close().await;
}
