//! Where an attempt's lines go, wherever it runs: masked, appended to its
//! step's log (made with the first line), and sent to the scheduler to be
//! journaled as `step_output`.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::event::Stream;
use super::mask::{Lines, Masker};
use super::run_dir::RunDir;
use super::scheduler::Msg;

pub(super) struct Sink {
    tx: mpsc::UnboundedSender<Msg>,
    /// The step's slot (see `Scheduler::slots`).
    slot: usize,
    lines: Lines,
    mask: Arc<Masker>,
    dir: RunDir,
    step: String,
    /// Opened with the first line: a step that prints nothing costs no
    /// file. `Some(None)`: it could not be opened (said once).
    log: Option<Option<std::fs::File>>,
}

impl Sink {
    pub(super) fn new(
        tx: mpsc::UnboundedSender<Msg>,
        slot: usize,
        mask: Arc<Masker>,
        dir: RunDir,
        step: String,
    ) -> Sink {
        Sink {
            tx,
            slot,
            lines: Lines::new(mask.clone()),
            mask,
            dir,
            step,
            log: None,
        }
    }

    /// One line, masked before the log, the events or anyone sees it. The
    /// caller has taken its room (`OutputRoom`).
    pub(super) fn line(&mut self, stream: Stream, line: String) {
        let line = self.lines.line(process_stream(stream), line);
        let (dir, step) = (&self.dir, &self.step);
        let file = self.log.get_or_insert_with(|| {
            dir.open_log(step)
                .map_err(|e| tracing::warn!("no log for {step}: {e}"))
                .ok()
        });
        if let Some(f) = file {
            let _ = f.write_all(format!("{line}\n").as_bytes());
        }
        let _ = self.tx.send(Msg::Output {
            step: self.slot,
            stream,
            line,
        });
    }

    /// A remark of signalbox's own on the attempt (a problem with its
    /// outputs file), said where its lines are; its room is forced, as
    /// the process has ended.
    pub(super) fn remark(&mut self, stream: Stream, room: &super::bus::OutputRoom, text: &str) {
        let text = self.mask.text(text).into_owned();
        tracing::warn!("step {}: {text}", self.step);
        let line = format!("signalbox: {text}");
        room.force(line.len());
        self.line(stream, line);
    }

    /// Outputs, keys and values masked.
    pub(super) fn outputs(&self, values: BTreeMap<String, String>) -> BTreeMap<String, String> {
        super::mask::outputs(&self.mask, values)
    }

    pub(super) fn mask(&self) -> &Masker {
        &self.mask
    }
}

fn process_stream(stream: Stream) -> super::process::Stream {
    match stream {
        Stream::Output => super::process::Stream::Output,
        Stream::Stdout => super::process::Stream::Stdout,
        Stream::Stderr => super::process::Stream::Stderr,
    }
}

/// The event's name for a process stream.
pub(super) fn event_stream(stream: super::process::Stream) -> Stream {
    match stream {
        super::process::Stream::Output => Stream::Output,
        super::process::Stream::Stdout => Stream::Stdout,
        super::process::Stream::Stderr => Stream::Stderr,
    }
}
