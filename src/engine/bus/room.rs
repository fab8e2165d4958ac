//! Room for output between a step's pipe and the journal. The lines a step
//! prints are read by its attempt and sent to the scheduler, which journals
//! them; if the scheduler is slower than the step, those lines would pile
//! up in its queue without bound. Each line read takes room here before it
//! is sent, and gives it back once the scheduler has it: when the room is
//! full the attempt stops reading, the pipe fills, and the step blocks on
//! its writes, as it would writing to a slow terminal.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Bytes of output lines read from steps and not yet journaled, at most
/// (each attempt may go over by one line).
pub const OUTPUT_IN_FLIGHT: usize = 4 << 20;

/// What a line holds while in flight: its text and a message around it.
fn cost(len: usize) -> usize {
    len + 64
}

/// Cloned into every attempt of a run.
#[derive(Debug, Clone, Default)]
pub struct OutputRoom {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    in_flight: AtomicUsize,
    freed: Notify,
}

/// One room is the same room: a spec compares equal with its clone.
impl PartialEq for OutputRoom {
    fn eq(&self, other: &OutputRoom) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for OutputRoom {}

impl OutputRoom {
    /// Waits for room, then takes it for a line of `len` bytes.
    pub async fn take(&self, len: usize) {
        loop {
            // Made before the check, so room freed in between wakes it.
            let freed = self.inner.freed.notified();
            if self.inner.in_flight.load(Ordering::Acquire) < OUTPUT_IN_FLIGHT {
                break;
            }
            freed.await;
        }
        self.force(len);
    }

    /// Takes room for a line without waiting: the process has ended and
    /// what is left of its output is read anyway (bounded by the drain).
    pub fn force(&self, len: usize) {
        self.inner.in_flight.fetch_add(cost(len), Ordering::AcqRel);
    }

    /// The scheduler has the line of `len` bytes: its room is free again.
    pub fn give(&self, len: usize) {
        self.give_cost(cost(len));
    }

    /// `lines` lines of `bytes` bytes in all are through: their room is
    /// free again.
    pub fn give_lines(&self, lines: usize, bytes: usize) {
        self.give_cost(bytes + lines * cost(0));
    }

    /// The room taken now.
    pub fn taken(&self) -> usize {
        self.inner.in_flight.load(Ordering::Acquire)
    }

    fn give_cost(&self, cost: usize) {
        let before = self.inner.in_flight.fetch_sub(cost, Ordering::AcqRel);
        // Only a fall below the limit can unblock anyone.
        if before >= OUTPUT_IN_FLIGHT && before - cost < OUTPUT_IN_FLIGHT {
            self.inner.freed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_room_waits_until_lines_are_given_back() {
        let room = OutputRoom::default();
        room.take(OUTPUT_IN_FLIGHT).await;
        let waiting = tokio::spawn({
            let room = room.clone();
            async move { room.take(10).await }
        });
        tokio::task::yield_now().await;
        assert!(
            !waiting.is_finished(),
            "no room until the line is given back"
        );
        room.give(OUTPUT_IN_FLIGHT);
        waiting.await.unwrap();
        room.give(10);
        assert_eq!(room.inner.in_flight.load(Ordering::Acquire), 0);
    }
}
