//! The reports of the run's attempts, as the hub takes them in: a
//! `claimed` starts the lease, output goes on to the attempt's task (held
//! until journaled), an `exited` ends the attempt.

use tokio::time::Instant;

use super::super::attempt::Event;
use super::super::pure;
use super::Hub;
use crate::distributed::wire::Report;
use crate::engine::event::Stream;

impl Hub {
    /// Takes in a report; its `place` among those read is kept with its
    /// lines until they are journaled.
    pub(super) fn report(
        &mut self,
        seq: u64,
        report: Report,
        place: tokio::sync::OwnedSemaphorePermit,
    ) {
        let key = report.key().to_string();
        let Some(slot) = self.slots.get_mut(&key) else {
            tracing::debug!("nats: report {seq} for {key} superseded");
            return;
        };
        if seq <= slot.applied {
            return;
        }
        slot.applied = seq;
        match report {
            Report::Claimed { worker, host, .. } => {
                if slot.claimed {
                    return;
                }
                tracing::info!("nats: {key} claimed by worker {worker} on {host}");
                slot.claimed = true;
                slot.worker = Some(worker.clone());
                slot.lease = Some(Instant::now());
                slot.claim_seen = None;
                let _ = slot.tx.send(Event::Claimed(worker));
            }
            Report::Output { lines, .. } => {
                // Output from the worker shows it alive as well as a
                // renewal does, which a flood of it may hold up.
                if slot.lease.is_some() {
                    slot.lease = Some(Instant::now());
                }
                slot.merged |= lines.iter().any(|(s, _)| *s == Stream::Output);
                let lines = pure::skip_lines(lines, &mut slot.skip);
                if lines.is_empty() {
                    return;
                }
                // A line costs its bytes and its keeping (a `String` in a
                // tuple, and the allocation): `y` a million times is not 2 MB.
                let bytes = lines.iter().map(|(_, l)| l.len() + 64).sum();
                match slot.pending.hold(bytes, place) {
                    Some(held) => {
                        let _ = slot.tx.send(Event::Lines(lines, held));
                    }
                    None => slot.dropped += lines.len() as u64,
                }
            }
            Report::Exited {
                exit,
                outputs,
                dropped_lines,
                ..
            } => {
                let worker = slot.worker.clone().unwrap_or_else(|| "?".into());
                let stream = match slot.merged {
                    true => Stream::Output,
                    false => Stream::Stderr,
                };
                if slot.dropped > 0 {
                    let note = format!(
                        "signalbox: {} output lines of this attempt were dropped: worker {worker} sent them faster than the run could journal them",
                        slot.dropped
                    );
                    let _ = (slot.tx).send(Event::Lines(vec![(stream, note)], slot.pending.none()));
                }
                if dropped_lines > 0 {
                    // Said where the step's lines are, never silently lost.
                    let note = format!(
                        "signalbox: {dropped_lines} output lines of this attempt were not sent by worker {worker} (the server away or full, or past 64 MiB of output)"
                    );
                    let _ = (slot.tx).send(Event::Lines(vec![(stream, note)], slot.pending.none()));
                }
                tracing::info!("nats: {key} ended on worker {worker}: {exit:?}");
                let _ = slot
                    .tx
                    .send(Event::Exited(pure::exit(exit, &worker), outputs));
                self.slots.remove(&key);
            }
        }
    }
}
