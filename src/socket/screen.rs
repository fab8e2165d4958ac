//! A screen's connection to a run (see `session`): the run's events, parsed
//! once and handed on in seq order, with no gap and no repeat; the screen's
//! commands, each answered by the run; and how many screens are attached.
//! When the server closes the stream early (this client fell behind, was
//! evicted, or the server is closing), it attaches again from the next seq;
//! when the run's process is gone, what the journal file has since is read
//! from there. The screen sees none of it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot, watch};

use super::session::PROTOCOL;
use super::wire;
use crate::engine::edit::{EditAsk, Plan};
use crate::engine::remote::RemoteStatus;
use crate::engine::{Command, Envelope, Published};

/// Events handed to the screen and not yet taken, at most: past that the
/// connection stops reading and the run's side reads on from its journal.
const QUEUE: usize = 4096;
/// The workflow file is sent as one line; it may be as long as a workflow.
const WORKFLOW_LINE: usize = crate::workflow::node::MAX_FILE_BYTES * 2 + 4096;

/// The run's answer to a command: taken (with its plan, for an edit) or
/// refused with its words (and, for an edit refused for its errors, its plan).
pub type Answer = Result<Option<Box<Plan>>, (String, Option<Box<Plan>>)>;

/// A command and where its answer goes.
type Ask = (Command, Option<oneshot::Sender<Answer>>);

/// The screen's side of the commands; cheap to clone.
#[derive(Clone)]
pub struct Commands(mpsc::UnboundedSender<Ask>);

impl Commands {
    /// Sends `command`, not waiting for the answer.
    pub fn send(&self, command: Command) {
        let _ = self.0.send((command, None));
    }

    /// Sends `command`; resolves with the run's answer.
    pub fn send_for_reply(
        &self,
        command: Command,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send + 'static {
        let answer = self.ask(command);
        async move { answer.await.map(|_| ()).map_err(|(why, _)| why) }
    }

    /// Sends an edit; resolves with the run's plan, or its refusal.
    pub fn edit(
        &self,
        ask: EditAsk,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = crate::tui::link::EditAnswer> + Send>>
    {
        let answer = self.ask(Command::Edit(ask));
        Box::pin(async move {
            match answer.await {
                Ok(Some(plan)) => Ok(plan),
                Ok(None) => Err(("the run answered an edit without its plan".into(), None)),
                Err(refused) => Err(refused),
            }
        })
    }

    fn ask(&self, command: Command) -> impl std::future::Future<Output = Answer> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let sent = self.0.send((command, Some(tx))).is_ok();
        async move {
            if !sent {
                return Err((LOST.into(), None));
            }
            rx.await.unwrap_or_else(|_| Err((LOST.into(), None)))
        }
    }
}

const LOST: &str = "the connection to the run broke before it answered; look before trying again";

/// How the events ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The run finished and every event was had.
    Finished,
    /// The run cannot be followed any more; why (its events up to then were had).
    Lost(String),
}

/// A screen attached to a run.
pub struct Remote {
    pub run_id: String,
    pub dir: PathBuf,
    /// The workflow file as run, when asked for.
    pub workflow: Option<String>,
    pub events: mpsc::Receiver<Arc<Published>>,
    pub commands: Commands,
    /// Screens attached to the run, this one included.
    pub screens: watch::Receiver<usize>,
    /// The run's transport to its pools, once the run told it (SPEC §7).
    pub remote: watch::Receiver<Option<RemoteStatus>>,
    /// Resolves once the events end, with why.
    pub end: tokio::task::JoinHandle<End>,
}

/// What the first attach told.
struct Hello {
    run: String,
    screens: usize,
    workflow: Option<String>,
}

/// One connection: where it reads and writes.
struct Conn {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

/// Why an attach did not start.
#[derive(Debug)]
pub enum Refused {
    /// Nothing answers at the run's socket.
    Unreachable(String),
    /// The run answered no; its words.
    Said(String),
}

/// Attaches a screen to the run in `dir`: read-only sends no command;
/// `workflow` asks for the workflow file (for a user who cannot read the
/// run folder).
pub async fn open(dir: &Path, read_only: bool, workflow: bool) -> Result<Remote, Refused> {
    let ask = Ask1 {
        read_only,
        workflow,
    };
    let (conn, hello) = connect(dir, 1, ask).await?;
    let (events_tx, events) = mpsc::channel(QUEUE);
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let (screens_tx, screens) = watch::channel(hello.screens);
    let (remote_tx, remote) = watch::channel(None);
    let follow = Follow {
        dir: dir.to_path_buf(),
        ask: Ask1 {
            read_only,
            workflow: false,
        },
        next: 1,
        events: events_tx,
        commands: commands_rx,
        screens: screens_tx,
        remote: remote_tx,
    };
    Ok(Remote {
        run_id: hello.run,
        dir: dir.to_path_buf(),
        workflow: hello.workflow,
        events,
        commands: Commands(commands_tx),
        screens,
        remote,
        end: tokio::spawn(follow.run(conn)),
    })
}

/// What an attach line asks.
#[derive(Clone, Copy)]
struct Ask1 {
    read_only: bool,
    workflow: bool,
}

/// Connects and attaches from seq `from`, up to the `hello` (and the
/// workflow, if asked).
async fn connect(dir: &Path, from: u64, ask: Ask1) -> Result<(Conn, Hello), Refused> {
    let path = super::place::find(dir);
    let stream = super::connect(&path).await.map_err(|e| {
        Refused::Unreachable(format!("cannot reach the run at {}: {e}", path.display()))
    })?;
    let (read, mut write) = stream.into_split();
    let line = serde_json::json!({
        "command": "attach", "protocol": PROTOCOL, "from_seq": from, "screen": true,
        "read_only": ask.read_only, "workflow": ask.workflow,
        "client": concat!("signalbox ", env!("CARGO_PKG_VERSION")),
    });
    let mut line = serde_json::to_vec(&line).map_err(|e| Refused::Said(e.to_string()))?;
    line.push(b'\n');
    // A refusing server answers before it reads: its line says why.
    let _ = write.write_all(&line).await;
    let mut conn = Conn {
        read: BufReader::new(read),
        write,
    };
    let mut hello = None;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let limit = if ask.workflow {
            WORKFLOW_LINE
        } else {
            wire::MAX_LINE
        };
        match wire::read_line_max(&mut conn.read, &mut buf, limit).await {
            Ok(wire::Line::Whole) => {}
            Ok(wire::Line::TooLong) => {
                return Err(Refused::Said("a line longer than allowed".into()));
            }
            Ok(wire::Line::End | wire::Line::Last) | Err(_) => {
                return Err(Refused::Unreachable(
                    "the run closed the connection before it said hello".into(),
                ));
            }
        }
        if let Some(said) = buf.strip_prefix(b"error: ") {
            if said == b"access not allowed" {
                return Err(Refused::Said(
                    "access not allowed: the run is another user's, who has not let you in (--allow)"
                        .into(),
                ));
            }
            return Err(Refused::Said(older(said)));
        }
        let c: Ctl = serde_json::from_slice(&buf)
            .map_err(|_| Refused::Said(format!("unexpected line from the run: {}", shown(&buf))))?;
        match c.ctl.as_str() {
            "error" => return Err(Refused::Said(c.error.unwrap_or_default())),
            "hello" => {
                hello = Some(Hello {
                    run: c.run.unwrap_or_default(),
                    screens: c.screens.unwrap_or(1),
                    workflow: None,
                });
                if !ask.workflow {
                    break;
                }
            }
            "workflow" => {
                if let Some(h) = hello.as_mut() {
                    h.workflow = c.source;
                }
                break;
            }
            _ => {}
        }
    }
    let hello = hello.ok_or_else(|| Refused::Said("the run did not say hello".into()))?;
    Ok((conn, hello))
}

fn older(said: &[u8]) -> String {
    format!(
        "the run's signalbox is older than this one and cannot be attached (it said: {})",
        shown(said)
    )
}

fn shown(line: &[u8]) -> crate::safe::Line<String> {
    crate::safe::Line(String::from_utf8_lossy(line).chars().take(80).collect())
}

#[derive(serde::Deserialize)]
struct Ctl {
    ctl: String,
    run: Option<String>,
    screens: Option<usize>,
    reason: Option<String>,
    error: Option<String>,
    source: Option<String>,
    id: Option<u64>,
    ok: Option<bool>,
    refused: Option<String>,
    /// An edit's plan, with `ok` or `refused`.
    plan: Option<Box<Plan>>,
    /// The run's transport, on a `remote` line.
    remote: Option<RemoteStatus>,
}

impl Ctl {
    /// A `reply` line as the answer to its command.
    fn answer(self) -> Answer {
        match (self.ok, self.refused, self.error) {
            (Some(true), _, _) => Ok(self.plan),
            (_, Some(why), _) | (_, _, Some(why)) => Err((why, self.plan)),
            _ => Err(("the run gave no answer".into(), None)),
        }
    }
}

#[derive(serde::Deserialize)]
struct Seq {
    seq: u64,
}

/// The connection's task: from one attach to the next, to the run's end.
struct Follow {
    dir: PathBuf,
    ask: Ask1,
    /// The seq the screen wants next.
    next: u64,
    events: mpsc::Sender<Arc<Published>>,
    commands: mpsc::UnboundedReceiver<Ask>,
    screens: watch::Sender<usize>,
    remote: watch::Sender<Option<RemoteStatus>>,
}

/// How one connection ended.
enum Stream {
    Finished,
    /// Closed early: attach again.
    Closed,
    /// The screen is gone: nothing more to do.
    Gone,
    Failed(String),
}

impl Follow {
    async fn run(mut self, first: Conn) -> End {
        let mut conn = Some(first);
        let mut idle_rounds = 0u32;
        loop {
            let c = match conn.take() {
                Some(c) => c,
                None => match connect(&self.dir, self.next, self.ask).await {
                    Ok((c, hello)) => {
                        let _ = self.screens.send(hello.screens);
                        c
                    }
                    Err(Refused::Unreachable(why)) => return self.read_journal(why).await,
                    Err(Refused::Said(why)) => return End::Lost(why),
                },
            };
            let before = self.next;
            match self.stream(c).await {
                Stream::Finished => return End::Finished,
                Stream::Gone => return End::Lost("the screen closed".into()),
                Stream::Failed(why) => return End::Lost(why),
                Stream::Closed => {}
            }
            // Closed with nothing new, again and again: do not spin.
            idle_rounds = if self.next == before {
                idle_rounds + 1
            } else {
                0
            };
            if idle_rounds > 100 {
                return End::Lost("the run keeps closing the connection".into());
            }
            let pause = std::time::Duration::from_millis(u64::from(idle_rounds) * 10);
            tokio::time::sleep(pause).await;
        }
    }

    /// Reads one connection to its end, sending the screen's commands on it.
    async fn stream(&mut self, mut c: Conn) -> Stream {
        let mut waiting: HashMap<u64, oneshot::Sender<Answer>> = HashMap::new();
        let mut id = 0u64;
        let mut line = Vec::new();
        loop {
            line.clear();
            tokio::select! {
                got = wire::read_line(&mut c.read, &mut line) => match got {
                    Ok(wire::Line::Whole) => {
                        if let Some(done) = self.line(&line, &mut waiting).await {
                            return done;
                        }
                    }
                    Ok(wire::Line::TooLong) => return Stream::Failed("a line longer than 1 MiB from the run".into()),
                    // A torn last line is not an event: the journal file has it whole.
                    Ok(wire::Line::End | wire::Line::Last) | Err(_) => return Stream::Closed,
                },
                ask = self.commands.recv() => {
                    let Some((command, reply)) = ask else { return Stream::Gone };
                    id += 1;
                    let Ok(mut value) = serde_json::to_value(&command) else { continue };
                    value["id"] = id.into();
                    let mut out = value.to_string().into_bytes();
                    out.push(b'\n');
                    if c.write.write_all(&out).await.is_err() {
                        if let Some(reply) = reply {
                            let _ = reply.send(Err((LOST.into(), None)));
                        }
                        return Stream::Closed;
                    }
                    if let Some(reply) = reply {
                        waiting.insert(id, reply);
                    }
                }
            }
        }
    }

    /// Takes one line of the stream; `Some` when the stream is over.
    async fn line(
        &mut self,
        line: &[u8],
        waiting: &mut HashMap<u64, oneshot::Sender<Answer>>,
    ) -> Option<Stream> {
        if let Some(seq) = seq_of(line) {
            return self.event(line, seq).await;
        }
        let Ok(c) = serde_json::from_slice::<Ctl>(line) else {
            return Some(Stream::Failed(format!(
                "unexpected line from the run: {}",
                shown(line)
            )));
        };
        match c.ctl.as_str() {
            "reply" => {
                if let Some(tx) = c.id.and_then(|id| waiting.remove(&id)) {
                    let _ = tx.send(c.answer());
                }
            }
            "screens" => {
                let _ = self.screens.send(c.screens.unwrap_or(1));
            }
            "remote" => {
                if let Some(status) = c.remote {
                    let _ = self.remote.send(Some(status));
                }
            }
            "bye" if c.reason.as_deref() == Some("run_finished") => return Some(Stream::Finished),
            "bye" => return Some(Stream::Closed),
            "error" => return Some(Stream::Failed(c.error.unwrap_or_default())),
            // hello, live, and whatever a newer server adds.
            _ => {}
        }
        None
    }

    /// Hands one journal line to the screen, once and in order.
    async fn event(&mut self, line: &[u8], seq: u64) -> Option<Stream> {
        if seq < self.next {
            return None;
        }
        if seq > self.next {
            let why = format!("the stream skipped from seq {} to {seq}", self.next);
            return Some(Stream::Failed(why));
        }
        let published = match parse(line) {
            Ok(p) if p.envelope.seq == seq => p,
            Ok(p) => {
                let why = format!("a line of seq {} read as {seq}", p.envelope.seq);
                return Some(Stream::Failed(why));
            }
            Err(why) => return Some(Stream::Failed(why)),
        };
        self.next += 1;
        if self.events.send(Arc::new(published)).await.is_err() {
            return Some(Stream::Gone);
        }
        None
    }

    /// The run's process is gone: the rest, if any, is in its journal.
    async fn read_journal(&mut self, unreachable: String) -> End {
        let path = self.dir.join("events.jsonl");
        let Ok(file) = crate::engine::fsafe::open_read(&path) else {
            return End::Lost(unreachable);
        };
        let mut lines = crate::engine::journal::Lines::new(file);
        let mut finished = false;
        while let Ok(Some(line)) = lines.line() {
            let Ok(seq) = serde_json::from_slice::<Seq>(line) else {
                break;
            };
            if seq.seq < self.next {
                continue;
            }
            let Ok(p) = parse(line) else { break };
            if seq.seq > self.next {
                break;
            }
            // Hooks on `run_finished` may journal after it; a resume's
            // `run_started` opens the run again.
            match p.envelope.event {
                crate::engine::Event::RunFinished { .. } => finished = true,
                crate::engine::Event::RunStarted { .. } => finished = false,
                _ => {}
            }
            self.next += 1;
            if self.events.send(Arc::new(p)).await.is_err() {
                break;
            }
        }
        match finished {
            true => End::Finished,
            false => End::Lost(unreachable),
        }
    }
}

/// The seq of a journal line, read from its start (the journal writes
/// `seq` first), so a line is parsed once, not once to route it and again
/// to read it. Control lines start with `{"ctl":`.
fn seq_of(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"{\"seq\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

fn parse(line: &[u8]) -> Result<Published, String> {
    let text =
        std::str::from_utf8(line).map_err(|e| format!("a journal line is not UTF-8: {e}"))?;
    let envelope: Envelope = serde_json::from_str(text)
        .map_err(|e| format!("a journal line the screen cannot read: {e}"))?;
    Ok(Published {
        envelope,
        line: text.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_line_is_routed_by_its_leading_seq() {
        assert_eq!(seq_of(br#"{"seq":42,"ts":"x"}"#), Some(42));
        assert_eq!(seq_of(br#"{"ctl":"live"}"#), None);
        assert_eq!(seq_of(br#"{"seq":"42"}"#), None);
        assert_eq!(seq_of(br#" {"seq":1}"#), None);
    }

    #[test]
    fn an_edit_reply_carries_its_plan_taken_or_refused() {
        let answer = |line: &str| serde_json::from_str::<Ctl>(line).unwrap().answer();
        let plan =
            r#"{"run":"r","revision":2,"steps":[{"mark":"+","step":"lint","status":"new"}]}"#;
        let taken = answer(&format!(
            r#"{{"ctl":"reply","id":3,"ok":true,"plan":{plan}}}"#
        ));
        let taken = taken.unwrap().unwrap();
        assert_eq!((taken.revision, taken.steps[0].mark), (2, '+'));
        let refused =
            format!(r#"{{"ctl":"reply","id":3,"refused":"f:1:1: error: no","plan":{plan}}}"#);
        let (why, plan) = answer(&refused).unwrap_err();
        assert_eq!(why, "f:1:1: error: no");
        assert_eq!(plan.map(|p| p.run), Some("r".to_string()));
        let (why, plan) =
            answer(r#"{"ctl":"reply","id":4,"refused":"the run is stopping"}"#).unwrap_err();
        assert_eq!((why.as_str(), plan), ("the run is stopping", None));
        assert_eq!(answer(r#"{"ctl":"reply","id":5,"ok":true}"#), Ok(None));
    }
}
