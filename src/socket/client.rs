//! The client side of an attached connection (see `session`): attach from
//! a seq, hand each journal line to a [`Sink`] exactly once and in seq
//! order, and say how the stream ended. Skips the `ctl` messages it does
//! not know, so a newer server's additions never break it.

use std::path::Path;

use tokio::io::{AsyncWriteExt, BufReader};

use super::session::PROTOCOL;
use super::wire;

/// Where the lines go.
pub trait Sink {
    /// One journal line (without its newline), of seq `seq`.
    fn line(&mut self, line: &[u8], seq: u64) -> std::io::Result<()>;
    /// Nothing more is at hand for now: a good moment to flush.
    fn idle(&mut self) -> std::io::Result<()>;
}

/// How an attached stream ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The run is over and every line was had (`bye` `run_finished`).
    Finished,
    /// The server said `bye` for another reason, or closed without one
    /// (its process ended, or the client was evicted): the journal file
    /// has the rest.
    Closed,
}

/// Why an attach did not stream to its end.
#[derive(Debug)]
pub enum Attached {
    /// No connection: the run's process is not there.
    Unreachable(String),
    /// The server refused the request; its words.
    Refused(String),
    /// The sink failed (a closed stdout): not the run's doing.
    Sink(std::io::Error),
}

#[derive(serde::Deserialize)]
struct Ctl {
    ctl: String,
    reason: Option<String>,
    error: Option<String>,
}

#[derive(serde::Deserialize)]
struct Seq {
    seq: u64,
}

/// Attaches to the run in `dir` from seq `*next` and feeds `sink` every
/// line from there, moving `*next` past each, until the stream ends.
pub async fn attach(dir: &Path, next: &mut u64, sink: &mut impl Sink) -> Result<Ended, Attached> {
    let path = super::place::find(dir);
    let stream = super::connect(&path).await.map_err(|e| {
        Attached::Unreachable(format!("cannot reach the run at {}: {e}", path.display()))
    })?;
    let (read, mut write) = stream.into_split();
    let ask = serde_json::json!({
        "command": "attach", "protocol": PROTOCOL, "from_seq": *next,
        "client": concat!("signalbox ", env!("CARGO_PKG_VERSION")),
    });
    let mut ask = serde_json::to_vec(&ask).map_err(|e| Attached::Refused(e.to_string()))?;
    ask.push(b'\n');
    // A refusing server answers before it reads: its line says why.
    let _ = write.write_all(&ask).await;
    let mut read = BufReader::new(read);
    let mut line = Vec::new();
    let mut first = true;
    loop {
        line.clear();
        if read.buffer().is_empty() {
            sink.idle().map_err(Attached::Sink)?;
        }
        match wire::read_line(&mut read, &mut line).await {
            Ok(wire::Line::Whole) => {}
            // A torn last line is not an event: the journal file has it whole.
            Ok(wire::Line::End | wire::Line::Last) | Err(_) => return Ok(Ended::Closed),
            Ok(wire::Line::TooLong) => {
                return Err(Attached::Refused("a line longer than 1 MiB".into()));
            }
        }
        if std::mem::take(&mut first) && line.starts_with(b"error: ") {
            let said = String::from_utf8_lossy(&line[7..]).into_owned();
            return Err(Attached::Refused(format!(
                "the run's signalbox is older than this one and cannot stream its events (it said: {said})"
            )));
        }
        if let Ok(seq) = serde_json::from_slice::<Seq>(&line) {
            if seq.seq < *next {
                continue;
            }
            if seq.seq > *next {
                let why = format!("the stream skipped from seq {} to {}", *next, seq.seq);
                return Err(Attached::Refused(why));
            }
            sink.line(&line, seq.seq).map_err(Attached::Sink)?;
            *next += 1;
            continue;
        }
        match serde_json::from_slice::<Ctl>(&line) {
            Ok(c) if c.ctl == "error" => {
                return Err(Attached::Refused(c.error.unwrap_or(c.ctl)));
            }
            Ok(c) if c.ctl == "bye" => {
                return Ok(match c.reason.as_deref() {
                    Some("run_finished") => Ended::Finished,
                    _ => Ended::Closed,
                });
            }
            // hello, live, and whatever a newer server adds.
            Ok(_) => {}
            Err(_) => {
                let shown = String::from_utf8_lossy(&line).chars().take(80).collect();
                return Err(Attached::Refused(format!(
                    "unexpected line from the run: {}",
                    crate::safe::Line::<String>(shown)
                )));
            }
        }
    }
}
