//! A subscriber that fell behind reads on from the journal: from the first
//! event the bus did not send it, one bounded batch at a time, then follows
//! the journal as it grows (woken by the bus's last-seq watch, never
//! polling) until the run is over and every line is read.
//!
//! The journal has every event before anyone is sent it, one whole line per
//! write, so every seq the subscriber missed is there. Reading happens on
//! tokio's blocking pool, so a slow disk never stalls the run's threads.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{From, Published};
use crate::engine::event::Envelope;
use crate::engine::journal::Lines;

/// Events read from the journal in one go, at most.
const BATCH: usize = 1024;
/// Bytes of lines read from the journal in one go, at most (one line may
/// be longer).
const BATCH_BYTES: usize = 1 << 20;

pub(super) struct Follower {
    path: PathBuf,
    /// The next seq due: a line with another is damage.
    next: u64,
    /// Where to open the journal; `None` once open.
    offset: Option<u64>,
    /// `None` while a read is on the blocking pool (or after an error).
    lines: Option<Lines<File>>,
    /// The read on the blocking pool. Kept across a cancelled `recv`, so
    /// `recv` is cancel-safe (the screen's `select!` drops it each frame).
    reading: Option<JoinHandle<(Lines<File>, Batch)>>,
    /// The run was over when the read in progress began: reading to the
    /// end then means every line was had.
    over: bool,
    ready: VecDeque<Arc<Published>>,
    written: watch::Receiver<u64>,
    /// Every line was read after the run was over, or the journal failed.
    ended: bool,
}

impl Follower {
    pub(super) fn new(path: PathBuf, from: From, written: watch::Receiver<u64>) -> Follower {
        tracing::info!(seq = from.seq, "a subscriber reads on from the journal");
        Follower {
            path,
            next: from.seq,
            offset: Some(from.offset),
            lines: None,
            reading: None,
            over: false,
            ready: VecDeque::new(),
            written,
            ended: false,
        }
    }

    pub(super) fn try_recv(&mut self) -> Option<Arc<Published>> {
        self.ready.pop_front()
    }

    pub(super) async fn recv(&mut self) -> Option<Arc<Published>> {
        loop {
            if let Some(p) = self.ready.pop_front() {
                return Some(p);
            }
            if self.ended {
                return None;
            }
            if self.fill().await > 0 {
                continue;
            }
            if self.over {
                self.ended = true;
            } else {
                // Err: the run is over; the loop reads what is left.
                let _ = self.written.changed().await;
            }
        }
    }

    /// Reads the next batch of whole lines; how many.
    async fn fill(&mut self) -> usize {
        if self.reading.is_none() {
            // Seen before reading, so a line written while we read wakes
            // the wait in `recv`.
            self.over = self.written.has_changed().is_err();
            self.written.borrow_and_update();
            let lines = match (self.lines.take(), self.offset.take()) {
                (Some(lines), _) => Ok(lines),
                (None, Some(offset)) => open(&self.path, offset),
                (None, None) => Err("the journal reader was lost".to_string()),
            };
            match lines {
                Ok(lines) => {
                    let next = self.next;
                    let read = tokio::task::spawn_blocking(move || read_batch(lines, next));
                    self.reading = Some(read);
                }
                Err(e) => return self.failed(&e),
            }
        }
        let Some(reading) = self.reading.as_mut() else {
            return 0;
        };
        let joined = reading.await;
        self.reading = None;
        match joined {
            Ok((lines, Ok(batch))) => {
                self.lines = Some(lines);
                self.next += batch.len() as u64;
                let n = batch.len();
                self.ready.extend(batch);
                n
            }
            Ok((_, Err(e))) => self.failed(&e),
            Err(e) => self.failed(&e.to_string()),
        }
    }

    fn failed(&mut self, e: &str) -> usize {
        // Nothing written can be missed silently: say where to look.
        tracing::error!(
            "a subscriber cannot read on from {}: {e}; it stops at seq {}",
            self.path.display(),
            self.next
        );
        self.ended = true;
        0
    }
}

fn open(path: &std::path::Path, offset: u64) -> Result<Lines<File>, String> {
    let mut file = crate::engine::fsafe::open_read(path).map_err(|e| e.to_string())?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| e.to_string())?;
    Ok(Lines::new(file))
}

type Batch = Result<Vec<Arc<Published>>, String>;

/// Up to a batch of whole lines from where `lines` stands, the first
/// being seq `next`.
fn read_batch(mut lines: Lines<File>, mut next: u64) -> (Lines<File>, Batch) {
    let mut batch = Vec::new();
    let mut bytes = 0;
    while batch.len() < BATCH && bytes < BATCH_BYTES {
        let line = match lines.line() {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => return (lines, Err(e.to_string())),
        };
        bytes += line.len();
        let parsed = std::str::from_utf8(line)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                serde_json::from_str::<Envelope>(text)
                    .map(|envelope| (envelope, text.to_string()))
                    .map_err(|e| e.to_string())
            });
        match parsed {
            Ok((envelope, _)) if envelope.seq != next => {
                let e = format!("seq {} where {next} was due", envelope.seq);
                return (lines, Err(e));
            }
            Ok((envelope, line)) => batch.push(Arc::new(Published { envelope, line })),
            Err(e) => return (lines, Err(format!("line of seq {next}: {e}"))),
        }
        next += 1;
    }
    (lines, Ok(batch))
}
