//! An attached connection: a connection whose first line is
//! `{"command":"attach","protocol":1,"from_seq":N}` gets the run's journal
//! lines from `from_seq`, byte for byte, then its live events as they are
//! journaled, until the run ends. Control messages carry the key `ctl` and
//! no `seq` (see [`PROTOCOL`] for the whole exchange).
//!
//! No gap, no repeat: the session subscribes first, then sends the journal
//! up to the subscription's first seq from the file (every event is
//! written there before anyone is sent it), then the subscription. Each
//! session is its own task, and the only one writing to its client: a
//! client that stops reading blocks only this task, and its subscription
//! reads on from the journal rather than from memory.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::PathBuf;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::oneshot;

use super::wire;
use crate::engine::RunHandle;
use crate::engine::journal::Lines;

/// The protocol this program speaks. Additions (fields, `ctl` kinds, client
/// messages) keep the number; a client skips what it does not know.
///
/// Client to server: `{"command":"attach","protocol":1,"from_seq":N}` as
/// the first line (`from_seq` 1 when left out; `"read_only":true` to take
/// no commands; other fields are ignored); then any of the socket's
/// commands with an `id` (`{"id":7,"command":"approve","step":"gate"}`),
/// and `{"command":"detach"}`. Server to client:
/// `{"ctl":"hello","protocol":1,"run":ID,"head_seq":H,"from_seq":N}`, the
/// journal lines of seq N..=H, `{"ctl":"live"}`, the live lines, with
/// `{"ctl":"reply","id":7,"ok":true}` (or `"refused":WHY`, or `"error":WHY`
/// for a line that is no command) among them once the run decided,
/// `{"ctl":"screens","screens":N}` when the screens attached change, for a
/// run with pool steps `{"ctl":"remote","remote":{"server":URL,
/// "connected":B,"pools":{POOL:[WORKER…]},"problem":WHY}}` after `live` and
/// whenever it changes, and `{"ctl":"bye","reason":"run_finished"|"detached"|"closed"}` before the
/// server closes. A request it cannot serve gets
/// `{"ctl":"error","protocol":1,"error":WHY}` and a close.
pub const PROTOCOL: u64 = 1;

/// How many screens are attached, for every session to tell its client.
#[derive(Clone)]
pub struct Screens(std::sync::Arc<tokio::sync::watch::Sender<usize>>);

impl Default for Screens {
    fn default() -> Screens {
        Screens(std::sync::Arc::new(tokio::sync::watch::Sender::new(0)))
    }
}

/// One attached screen, counted while it lives.
struct Counted(Screens);

impl Screens {
    fn count(&self) -> Counted {
        self.0.send_modify(|n| *n += 1);
        Counted(self.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Events read from the journal in one go, at most.
const BATCH: usize = 1024;

/// What an attach line asks for.
#[derive(Debug, serde::Deserialize)]
struct Request {
    protocol: Option<serde_json::Value>,
    from_seq: Option<u64>,
    #[serde(default)]
    read_only: bool,
    /// A screen: counted among the attached screens, and its commands are
    /// its operator's keys (`by: keyboard`).
    #[serde(default)]
    screen: bool,
    /// Send the workflow file as run (`ctl:workflow`) before the events,
    /// for a client that cannot read the run folder.
    #[serde(default)]
    workflow: bool,
    /// What the client says it is, for the diagnostics log.
    client: Option<String>,
}

/// Whether `line` asks to attach (whatever else it says).
pub fn is_attach(line: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Named {
        command: Option<String>,
    }
    serde_json::from_slice::<Named>(line).is_ok_and(|n| n.command.as_deref() == Some("attach"))
}

fn ctl(value: serde_json::Value) -> Vec<u8> {
    let mut line = serde_json::to_vec(&value).unwrap_or_default();
    line.push(b'\n');
    line
}

/// The error line a client gets before the close.
fn error(why: &str) -> Vec<u8> {
    ctl(serde_json::json!({"ctl": "error", "protocol": PROTOCOL, "error": why}))
}

/// The protocol asked for, or why it cannot be served.
fn check(request: &Request) -> Result<(), String> {
    match &request.protocol {
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(PROTOCOL) => Ok(()),
        Some(other) => Err(format!(
            "protocol {other} is not known here: this run speaks protocol {PROTOCOL}; use the signalbox that started it"
        )),
        None => Err(format!(
            "attach needs `protocol` (this run speaks protocol {PROTOCOL})"
        )),
    }
}

/// What ends a session's writes early.
enum Stop {
    /// The client went, or a write failed.
    Gone,
    /// Evicted for a newer connection.
    Evicted,
}

/// Where the session writes, and what may stop it.
struct Out {
    write: OwnedWriteHalf,
    /// `None` once the server is closing: then the session goes on to the
    /// run's end rather than stopping with it.
    evicted: Option<oneshot::Receiver<()>>,
}

impl Out {
    /// Writes all of `bytes`. A write cut short by the eviction signal
    /// would leave half a line on the wire, so each step is one `write`
    /// (which either wrote or did not) and the rest follows where it ended.
    async fn send(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        let mut sent = 0;
        while sent < bytes.len() {
            let rest = &bytes[sent..];
            let Some(evicted) = self.evicted.as_mut() else {
                return self.write.write_all(rest).await.map_err(|_| Stop::Gone);
            };
            tokio::select! {
                got = evicted => match got {
                    // Mid-line, nothing more may be written, not even `bye`.
                    Ok(()) if sent > 0 => return Err(Stop::Gone),
                    Ok(()) => return Err(Stop::Evicted),
                    Err(_) => self.evicted = None,
                },
                wrote = self.write.write(rest) => match wrote {
                    Ok(0) | Err(_) => return Err(Stop::Gone),
                    Ok(n) => sent += n,
                },
            }
        }
        Ok(())
    }
}

/// Serves one attached client, from its attach `line` to the run's end.
pub async fn serve(
    line: &[u8],
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
    handle: RunHandle,
    evicted: oneshot::Receiver<()>,
    peer: Option<String>,
    screens: Screens,
) {
    let mut out = Out {
        write,
        evicted: Some(evicted),
    };
    let request = match serde_json::from_slice::<Request>(line) {
        Ok(r) => r,
        Err(e) => {
            let _ = out
                .send(&error(&format!("not an attach request: {e}")))
                .await;
            return;
        }
    };
    if let Err(why) = check(&request) {
        let _ = out.send(&error(&why)).await;
        return;
    }
    // Subscribed before the history is read: what the file lacks, this has.
    let Some(mut sub) = handle.subscribe().await else {
        // The run's events are over, and all in its journal (a client
        // coming back for the end of them, just as the run ended).
        return finished(&mut out, &handle, &request).await;
    };
    let head = sub.first_seq() - 1;
    let from = request.from_seq.unwrap_or(1).max(1);
    tracing::info!(
        from,
        head,
        read_only = request.read_only,
        "control socket: attached ({})",
        crate::safe::line(request.client.as_deref().unwrap_or("a client"))
    );
    if from > head + 1 {
        let why = format!("from_seq {from} is beyond the run's last event, {head}");
        let _ = out.send(&error(&why)).await;
        return;
    }
    let _counted = request.screen.then(|| screens.count());
    let mut watch = screens.0.subscribe();
    let hello = serde_json::json!({
        "ctl": "hello", "protocol": PROTOCOL, "run": &*handle.run_id,
        "head_seq": head, "from_seq": from, "screens": *watch.borrow_and_update(),
    });
    let journal = handle.dir.join("events.jsonl");
    let sent = async {
        out.send(&ctl(hello)).await?;
        if request.workflow {
            send_workflow(&mut out, &handle.dir).await?;
        }
        history(&mut out, journal, from, head).await?;
        out.send(&ctl(serde_json::json!({"ctl": "live"}))).await?;
        let commands = Commands {
            handle: &handle,
            read_only: request.read_only,
            by: if request.screen {
                crate::engine::By::Keyboard
            } else {
                crate::engine::By::Socket
            },
            peer: &peer,
        };
        let mut remote = Transport(handle.remote());
        if let Some(line) = remote.now() {
            out.send(&line).await?;
        }
        live(&mut out, &mut sub, read, commands, &mut watch, remote).await
    };
    let reason = match sent.await {
        Ok(reason) => reason,
        Err(Stop::Evicted) => "closed",
        Err(Stop::Gone) => return,
    };
    let _ = out
        .send(&ctl(serde_json::json!({"ctl": "bye", "reason": reason})))
        .await;
    let _ = out.write.shutdown().await;
}

/// Serves a run whose events are over: its journal from `from_seq` to its
/// end, read from the file, then `bye`.
async fn finished(out: &mut Out, handle: &RunHandle, request: &Request) {
    let from = request.from_seq.unwrap_or(1).max(1);
    let hello = serde_json::json!({
        "ctl": "hello", "protocol": PROTOCOL, "run": &*handle.run_id, "from_seq": from,
        "screens": 0,
    });
    let journal = handle.dir.join("events.jsonl");
    let sent = async {
        out.send(&ctl(hello)).await?;
        if request.workflow {
            send_workflow(out, &handle.dir).await?;
        }
        history(out, journal, from, u64::MAX).await?;
        out.send(&ctl(
            serde_json::json!({"ctl": "bye", "reason": "run_finished"}),
        ))
        .await
    };
    if sent.await.is_ok() {
        let _ = out.write.shutdown().await;
    }
}

/// `{"ctl":"remote","remote":{…}}`: the run's transport to its pools as it
/// is now (SPEC §7), sent after `live` and again whenever it changes.
fn remote_line(status: &crate::engine::remote::RemoteStatus) -> Vec<u8> {
    ctl(serde_json::json!({"ctl": "remote", "remote": status}))
}

/// The run's transport, for a run with pool steps; none once it is gone.
struct Transport(Option<tokio::sync::watch::Receiver<crate::engine::remote::RemoteStatus>>);

impl Transport {
    /// Its state now, as a line.
    fn now(&mut self) -> Option<Vec<u8>> {
        let r = self.0.as_mut()?;
        let line = remote_line(&r.borrow_and_update());
        Some(line)
    }

    /// Its next state, as a line; never, for a run with none.
    async fn next(&mut self) -> Vec<u8> {
        let Some(r) = self.0.as_mut() else {
            return std::future::pending().await;
        };
        if r.changed().await.is_err() {
            self.0 = None;
            return std::future::pending().await;
        }
        remote_line(&r.borrow_and_update())
    }
}

/// How an attached client's commands are taken.
struct Commands<'a> {
    handle: &'a RunHandle,
    read_only: bool,
    /// What its commands are journaled as: a screen's are keys.
    by: crate::engine::By,
    /// Who is attached, journaled as `user` for what it does.
    peer: &'a Option<String>,
}

/// A reply line, once the run has decided.
type Reply = std::pin::Pin<Box<dyn std::future::Future<Output = Vec<u8>> + Send>>;

/// Replies in flight, at most: past that the client's lines wait unread.
const IN_FLIGHT: usize = 64;

impl Commands<'_> {
    /// Hands the command in `line` to the run; its reply line, once the run
    /// decided (the events are not held up meanwhile).
    fn take(&self, line: &[u8]) -> Reply {
        #[derive(serde::Deserialize)]
        struct Id {
            id: Option<serde_json::Value>,
        }
        let id = serde_json::from_slice::<Id>(line)
            .ok()
            .and_then(|i| i.id)
            .unwrap_or_default();
        let edit_id = id.clone();
        let reply = move |key: &str, value: serde_json::Value| {
            ctl(serde_json::json!({"ctl": "reply", "id": id, key: value}))
        };
        let now = |line: Vec<u8>| -> Reply { Box::pin(std::future::ready(line)) };
        let command = match wire::parse(line) {
            Ok(_) if self.read_only => return now(reply("refused", "read-only session".into())),
            Ok(command) => command,
            Err(why) => return now(reply("error", why.into())),
        };
        let command = match super::with_by(command, self.by) {
            crate::engine::Command::Edit(ask) => {
                let (handle, peer) = (self.handle.clone(), self.peer.clone());
                return Box::pin(async move {
                    let mut fields = super::edit::decide(&handle, ask, peer).await;
                    fields.insert("ctl".into(), "reply".into());
                    fields.insert("id".into(), edit_id);
                    ctl(serde_json::Value::Object(fields))
                });
            }
            command => command,
        };
        let decided = self.handle.send_for_reply_as(command, self.peer.clone());
        Box::pin(async move {
            match decided.await {
                Ok(()) => reply("ok", true.into()),
                Err(refusal) => reply("refused", refusal.to_string().into()),
            }
        })
    }
}

/// Events that come one after another go out together, at most one write
/// this often: a screen draws at most every 50 ms, and each write wakes
/// the run's worker for this session and then the client's process, which
/// on a small machine take turns with the steps. The first event after a
/// quiet spell goes at once, and so does the next one after the client
/// sent a command (its answer is what it waits for).
const GAP: std::time::Duration = std::time::Duration::from_millis(10);

/// The live events, each line as journaled, and the replies to the
/// client's commands in the order it sent them, until the run is over or
/// the client detaches or goes; why the session ends. Between writes of
/// events (see [`GAP`]) the session does not listen to the run at all, so
/// events published meanwhile cost nothing but their place in the queue.
async fn live(
    out: &mut Out,
    sub: &mut crate::engine::Subscription,
    mut read: BufReader<OwnedReadHalf>,
    commands: Commands<'_>,
    screens: &mut tokio::sync::watch::Receiver<usize>,
    mut remote: Transport,
) -> Result<&'static str, Stop> {
    use futures::StreamExt;
    let mut asked = Vec::new();
    let mut batch = Vec::new();
    let mut reading = true;
    let mut replies = futures::stream::FuturesOrdered::<Reply>::new();
    // No write of events before this.
    let mut held: Option<tokio::time::Instant> = None;
    loop {
        let hold = held.filter(|&t| t > tokio::time::Instant::now());
        let next = tokio::select! {
            p = sub.recv(), if hold.is_none() => p,
            () = tokio::time::sleep_until(hold.unwrap_or_else(tokio::time::Instant::now)), if hold.is_some() => {
                held = None;
                continue;
            }
            Some(line) = replies.next(), if !replies.is_empty() => {
                out.send(&line).await?;
                continue;
            }
            Ok(()) = screens.changed() => {
                let n = *screens.borrow_and_update();
                out.send(&ctl(serde_json::json!({"ctl": "screens", "screens": n}))).await?;
                continue;
            }
            line = remote.next() => {
                out.send(&line).await?;
                continue;
            }
            got = wire::read_line(&mut read, &mut asked), if reading && replies.len() < IN_FLIGHT => {
                match got {
                    Ok(wire::Line::Whole | wire::Line::Last) if is_detach(&asked) => return Ok("detached"),
                    Ok(wire::Line::Whole | wire::Line::Last) => {
                        replies.push_back(commands.take(&asked));
                        held = None;
                    }
                    // The client closed its side: it may still read.
                    Ok(wire::Line::End) => reading = false,
                    // Said, as on a one-shot connection, then closed.
                    Ok(wire::Line::TooLong) => {
                        let _ = out.send(&error("message longer than 1 MiB")).await;
                        return Err(Stop::Gone);
                    }
                    Err(_) => return Err(Stop::Gone),
                }
                asked.clear();
                continue;
            }
        };
        let Some(p) = next else {
            return Ok("run_finished");
        };
        // What is already at hand goes in one write.
        batch.clear();
        push(&mut batch, &p.line);
        while batch.len() < 1 << 20 {
            match sub.try_recv() {
                Ok(p) => push(&mut batch, &p.line),
                Err(_) => break,
            }
        }
        out.send(&batch).await?;
        held = Some(tokio::time::Instant::now() + GAP);
    }
}

fn push(batch: &mut Vec<u8>, line: &str) {
    batch.extend_from_slice(line.as_bytes());
    batch.push(b'\n');
}

fn is_detach(line: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Named {
        command: Option<String>,
    }
    serde_json::from_slice::<Named>(line).is_ok_and(|n| n.command.as_deref() == Some("detach"))
}

/// The workflow file as run, as one `ctl:workflow` line.
async fn send_workflow(out: &mut Out, dir: &std::path::Path) -> Result<(), Stop> {
    let path = dir.join("workflow.yaml");
    let read = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut text = String::new();
        crate::engine::fsafe::open_read(&path)
            .and_then(|f| {
                f.take(crate::workflow::node::MAX_FILE_BYTES as u64 + 1)
                    .read_to_string(&mut text)
            })
            .map(|_| text)
            .map_err(|e| format!("cannot read the run's workflow: {e}"))
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match read {
        Ok(source) => {
            let line = ctl(serde_json::json!({"ctl": "workflow", "source": source}));
            out.send(&line).await
        }
        Err(why) => {
            let _ = out.send(&error(&why)).await;
            Err(Stop::Gone)
        }
    }
}

/// The journal's lines of seq `from..=head`, read on the blocking pool one
/// batch at a time (so memory stays bounded however long the journal is).
async fn history(out: &mut Out, path: PathBuf, from: u64, head: u64) -> Result<(), Stop> {
    if from > head {
        return Ok(());
    }
    let mut lines = match open(&path) {
        Ok(lines) => lines,
        Err(e) => {
            let _ = out.send(&error(&e)).await;
            return Err(Stop::Gone);
        }
    };
    let mut next = from;
    while next <= head {
        let read = tokio::task::spawn_blocking(move || {
            let batch = read_batch(&mut lines, next, head);
            (lines, batch)
        })
        .await;
        let (back, batch) = match read {
            Ok((back, Ok(batch))) => (back, batch),
            Ok((_, Err(e))) => {
                let _ = out.send(&error(&e)).await;
                return Err(Stop::Gone);
            }
            Err(e) => {
                let _ = out.send(&error(&e.to_string())).await;
                return Err(Stop::Gone);
            }
        };
        lines = back;
        next = batch.next;
        out.send(&batch.bytes).await?;
        if batch.end {
            break;
        }
    }
    Ok(())
}

fn open(path: &std::path::Path) -> Result<Lines<File>, String> {
    let mut file = crate::engine::fsafe::open_read(path)
        .map_err(|e| format!("cannot read the journal {}: {e}", path.display()))?;
    file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    Ok(Lines::new(file))
}

struct Batch {
    bytes: Vec<u8>,
    /// The seq after the last line in `bytes`.
    next: u64,
    /// The journal has no more (only when read to its end).
    end: bool,
}

/// Up to [`BATCH`] lines from `next` on (lines before it are skipped), none
/// past `head`; `u64::MAX` reads to the journal's end (a torn last line is
/// not an event).
fn read_batch(lines: &mut Lines<File>, mut next: u64, head: u64) -> Result<Batch, String> {
    #[derive(serde::Deserialize)]
    struct Seq {
        seq: u64,
    }
    let mut bytes = Vec::new();
    let mut taken = 0;
    while taken < BATCH && next <= head {
        let line = match lines.line() {
            Ok(Some(line)) => line,
            Ok(None) if head == u64::MAX => {
                return Ok(Batch {
                    bytes,
                    next,
                    end: true,
                });
            }
            Ok(None) => return Err(format!("the journal ends before seq {next}")),
            Err(e) => return Err(format!("cannot read the journal: {e}")),
        };
        let seq = serde_json::from_slice::<Seq>(line)
            .map_err(|e| format!("a damaged journal line before seq {next}: {e}"))?
            .seq;
        if seq < next {
            continue;
        }
        if seq > next {
            return Err(format!("the journal has seq {seq} where {next} was due"));
        }
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
        next += 1;
        taken += 1;
    }
    Ok(Batch {
        bytes,
        next,
        end: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_protocol_one_is_served() {
        let ask = |line: &str| serde_json::from_str::<Request>(line).unwrap();
        assert!(check(&ask(r#"{"command":"attach","protocol":1}"#)).is_ok());
        let newer = check(&ask(r#"{"command":"attach","protocol":2}"#)).unwrap_err();
        assert!(newer.contains("protocol 2 is not known"), "{newer}");
        assert!(check(&ask(r#"{"command":"attach"}"#)).is_err());
        assert!(is_attach(br#"{"command":"attach","protocol":9}"#));
        assert!(!is_attach(br#"{"command":"approve","step":"x"}"#));
        assert!(!is_attach(b"attach"));
    }
}
