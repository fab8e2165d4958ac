//! Sending an attempt's lines to a real nats-server: what goes past the
//! attempt's limit is dropped and counted, and every line's room comes
//! back, so a step is never left waiting on room no one will give.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;

use crate::distributed::dispatch::tests::{server, server_binary};
use crate::distributed::setup;
use crate::distributed::wire::{self, Report};
use crate::engine::bus::OutputRoom;
use crate::engine::event::Stream;

#[tokio::test]
async fn lines_past_the_limit_are_dropped_and_counted_and_all_room_comes_back() {
    let Some(bin) = server_binary() else {
        return;
    };
    let nats = server(&bin);
    let client = async_nats::connect(nats.url.as_str()).await.unwrap();
    let h = setup::ensure(&client).await.unwrap();
    let key = "r.s.1.2".to_string();
    let room = OutputRoom::default();
    let (tx, rx) = mpsc::unbounded_channel();
    // 1,000 lines of 1 KiB, each taking its room as the process reader
    // does, against a limit of 100 KiB.
    for i in 0..1000 {
        let line = format!("{i:04}{}", "x".repeat(1020));
        room.force(line.len());
        tx.send((Stream::Stdout, line)).unwrap();
    }
    drop(tx);
    let sending = super::lines(
        h.js.clone(),
        key.clone(),
        2,
        rx,
        Arc::new(AtomicU64::new(3)),
        room.clone(),
        100 << 10,
    );
    let (next, dropped) = tokio::time::timeout(Duration::from_secs(20), sending)
        .await
        .expect("sent");
    assert_eq!(room.taken(), 0, "every line's room came back");

    // What the server has: the first lines, in order, within the limit
    // and short of it by less than one report's 64 KiB.
    let consumer = (h.results)
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
            filter_subject: wire::report_subject(&key),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut kept = Vec::new();
    for _ in 2..next {
        let m = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .expect("a report")
            .unwrap()
            .unwrap();
        match serde_json::from_slice::<Report>(&m.payload).unwrap() {
            Report::Output { lines, .. } => kept.extend(lines.into_iter().map(|(_, l)| l)),
            other => panic!("not an output report: {other:?}"),
        }
    }
    assert!(
        (100 - 64..=100).contains(&kept.len()),
        "{} lines kept",
        kept.len()
    );
    for (i, line) in kept.iter().enumerate() {
        assert!(line.starts_with(&format!("{i:04}")), "line {i} in order");
    }
    assert_eq!(
        dropped,
        3 + 1000 - kept.len() as u64,
        "the dropped are counted, with those dropped before"
    );
}
