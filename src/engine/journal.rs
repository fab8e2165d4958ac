//! The journal of a run, `<run>/events.jsonl`: written by the run's owner
//! alone, one whole line per `write`, so a reader never sees half an event
//! except after a crash; made durable by group commit; read back for
//! resume and replay (the reading is in `read`).

mod read;

pub use read::{
    Lines, MAX_LINE, ReadError, Replayed, Scanned, first_event, last_event, read_journal, scan,
};

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The append-only event log of one run.
pub struct Journal {
    file: File,
    /// Reused so each event is one `write` of one whole line.
    buf: Vec<u8>,
    /// The length of the whole lines written: where a failed write is cut
    /// back to.
    len: u64,
}

impl Journal {
    /// Opens (or creates, private) the journal at `path`, never through a
    /// symlink.
    pub fn open(path: &Path) -> io::Result<Journal> {
        Journal::from_file(super::fsafe::open(path, super::fsafe::How::Append)?)
    }

    /// A journal on a file opened for appending (by [`super::run_dir::RunDir`],
    /// relative to its folder).
    pub fn from_file(file: File) -> io::Result<Journal> {
        let len = file.metadata()?.len();
        Ok(Journal {
            file,
            buf: Vec::with_capacity(512),
            len,
        })
    }

    /// Appends one line. A write that fails part way (a full disk) is cut
    /// back, so the journal still ends with a whole line.
    pub fn append(&mut self, line: &str) -> io::Result<()> {
        self.buf.clear();
        self.buf.extend_from_slice(line.as_bytes());
        self.buf.push(b'\n');
        match self.file.write_all(&self.buf) {
            Ok(()) => {
                self.len += self.buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                if let Err(cut) = self.file.set_len(self.len) {
                    tracing::warn!("cannot cut a partly written journal line back: {cut}");
                }
                Err(e)
            }
        }
    }

    /// The journal's length in bytes: where the next line will start.
    pub fn end(&self) -> u64 {
        self.len
    }

    /// A second handle on the journal, to sync it from another thread.
    pub fn handle(&self) -> io::Result<File> {
        self.file.try_clone()
    }
}

/// Group commit for a journal: whoever needs the journal on disk up to some
/// seq calls [`Durable::ensure`], from any thread. One sync runs at a time,
/// and it covers every event written before it began, so those waiting
/// behind it usually find their events already on disk and do not sync
/// again. Steps that end together share one sync.
#[derive(Debug)]
pub struct Durable {
    file: File,
    /// The last seq written to the journal.
    written: AtomicU64,
    /// The last seq known to be on disk.
    durable: AtomicU64,
    /// Held while a sync runs.
    syncing: Mutex<()>,
    /// Where each sync's duration is counted.
    stats: Arc<super::stats::EngineStats>,
}

impl Durable {
    /// For `journal`, whose events up to `seq` are on disk already.
    pub fn new(journal: &Journal, seq: u64) -> io::Result<Durable> {
        Durable::counted(journal, seq, Arc::default())
    }

    /// As [`Durable::new`], timing each sync into `stats`.
    pub fn counted(
        journal: &Journal,
        seq: u64,
        stats: Arc<super::stats::EngineStats>,
    ) -> io::Result<Durable> {
        Ok(Durable {
            file: journal.handle()?,
            written: AtomicU64::new(seq),
            durable: AtomicU64::new(seq),
            syncing: Mutex::new(()),
            stats,
        })
    }

    /// Event `seq` was written (not yet synced).
    pub fn wrote(&self, seq: u64) {
        self.written.store(seq, Ordering::Release);
    }

    /// Returns once events up to `seq` are on disk, syncing if no sync
    /// already covers them. Blocks the calling thread for one sync at most
    /// two.
    pub fn ensure(&self, seq: u64) -> io::Result<()> {
        if self.durable.load(Ordering::Acquire) >= seq {
            return Ok(());
        }
        let _one_at_a_time = self.syncing.lock().unwrap_or_else(PoisonError::into_inner);
        if self.durable.load(Ordering::Acquire) >= seq {
            return Ok(());
        }
        let upto = self.written.load(Ordering::Acquire);
        let began = std::time::Instant::now();
        self.file.sync_data()?;
        self.stats.synced(began.elapsed());
        self.durable.fetch_max(upto, Ordering::AcqRel);
        Ok(())
    }
}

/// Cuts a torn last line off, so new events follow whole lines.
pub fn truncate(path: &Path, len: u64) -> io::Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    f.set_len(len)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal() -> (tempfile::TempDir, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("events.jsonl")).unwrap();
        (dir, j)
    }

    #[test]
    fn ensure_syncs_only_what_no_sync_covered_yet() {
        let (_dir, mut j) = journal();
        let d = Durable::new(&j, 3).unwrap();
        // Resumed at seq 3: nothing to do up to there.
        d.ensure(3).unwrap();
        assert_eq!(d.durable.load(Ordering::Acquire), 3);
        for seq in 4..=6 {
            j.append("{}").unwrap();
            d.wrote(seq);
        }
        // One sync covers every event written before it began.
        d.ensure(4).unwrap();
        assert_eq!(d.durable.load(Ordering::Acquire), 6);
        d.ensure(6).unwrap();
        assert_eq!(d.durable.load(Ordering::Acquire), 6);
    }

    #[test]
    fn threads_waiting_on_one_sync_are_covered_by_it() {
        let (_dir, mut j) = journal();
        let d = std::sync::Arc::new(Durable::new(&j, 0).unwrap());
        for seq in 1..=100 {
            j.append("{}").unwrap();
            d.wrote(seq);
        }
        let threads: Vec<_> = (1..=8)
            .map(|k| {
                let d = d.clone();
                std::thread::spawn(move || d.ensure(k * 10))
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        assert_eq!(d.durable.load(Ordering::Acquire), 100);
    }
}
