//! The control socket: a run's `control.sock` (in its folder, or where the
//! folder's `control.sock.path` says: `place`) takes commands from another
//! terminal (`signalbox approve RUN STEP`), one JSON object a line, and
//! hands them to the run as `by: socket`. Each is answered with one line
//! once the run has taken it (`ok`) or refused it (`refused: WHY`);
//! `error: WHY` means it never got that far. Only peers with the run's uid
//! (or root), or ones `--allow` names (`peer`), are served; a run with
//! `--allow` serves it where they can reach it (`shared`); a line is at
//! most 1 MiB; a client that sends no
//! whole line for [`IDLE`] is closed. A front end, beside the screen and the
//! headless runner; the engine does not know it exists.

mod client;
pub mod edit;
mod peer;
mod place;
pub mod screen;
mod session;
mod shared;
mod wire;

use peer::connect;

use std::collections::VecDeque;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::oneshot;

use crate::engine::{By, Command, Refusal, RunHandle};

pub use client::{Attached, Ended, Sink, attach};
pub use place::{RECORD, SOCKET, locate};
pub use session::PROTOCOL;

/// How long a client may take to send a whole line, or to take a reply.
pub const IDLE: Duration = Duration::from_secs(10);
/// Connections served at once, at most; the oldest goes when one more comes.
const MAX_CLIENTS: usize = 64;
/// After an accept error, before the next accept: long enough not to spin
/// while the process has no descriptor to spare.
const BACKOFF: Duration = Duration::from_millis(100);
/// After closing clients to free descriptors, before the next accept.
const FREEING: Duration = Duration::from_millis(10);

/// Serves the socket while alive; dropping it stops serving and removes
/// the socket file (and the run folder's record of it).
pub struct Server {
    path: PathBuf,
    /// The socket file's device and inode, to remove only it.
    inode: (u64, u64),
    record: Option<PathBuf>,
    task: tokio::task::JoinHandle<()>,
    /// Held (shared) by each connection from a command's reading to its
    /// reply's writing, so the run's end can wait for the replies.
    busy: Busy,
    /// Held (shared) by each attached session, so the run's end gives them
    /// a moment to send their last lines and `bye`.
    streams: Busy,
}

type Busy = Arc<tokio::sync::RwLock<()>>;

/// How long a run that ended waits for replies still being written.
const REPLY_GRACE: Duration = Duration::from_secs(1);
/// How long a run that ended waits for attached sessions to send the rest:
/// a reading client needs milliseconds; a stopped one reads the rest from
/// the journal file when it wakes.
const STREAM_GRACE: Duration = Duration::from_millis(250);

impl Server {
    /// Stops serving once every command the run took has had its reply
    /// written (up to a second): a command that ended the run still gets
    /// its `ok`, not a closed connection.
    pub async fn close(self) {
        self.task.abort();
        let _ = tokio::time::timeout(REPLY_GRACE, self.busy.write()).await;
        let _ = tokio::time::timeout(STREAM_GRACE, self.streams.write()).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        // Only the socket we made: the path may lead elsewhere by now.
        let ours =
            std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.inode);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
        if let Some(record) = &self.record {
            let _ = std::fs::remove_file(record);
        }
    }
}

/// Starts serving commands for the run in `dir`; why not, when the socket
/// cannot be made (then the run must not start: nobody could reach it).
/// With `--allow` (the run's `run.json` keeps its list) the socket is in
/// the owner's shared folder, open to connect to, and each peer checked.
pub fn serve(handle: RunHandle, dir: &Path) -> Result<Server, String> {
    let allow = crate::engine::run_dir::read_params(dir)?
        .map(|p| p.allow)
        .unwrap_or_default();
    let (path, recorded, mode) = match allow.is_empty() {
        true => {
            let (path, recorded) = place::choose(dir)?;
            (path, recorded, 0o600)
        }
        false => (shared::make(&handle.run_id)?, true, 0o666),
    };
    let cannot =
        |e: std::io::Error| format!("cannot serve the control socket {}: {e}", path.display());
    let listener = place::bind(&path, mode).map_err(cannot)?;
    let listener = UnixListener::from_std(listener).map_err(cannot)?;
    let inode = std::fs::symlink_metadata(&path)
        .map(|m| (m.dev(), m.ino()))
        .map_err(cannot)?;
    let record = match recorded {
        true => {
            place::record(dir, &path).map_err(|e| {
                let _ = std::fs::remove_file(&path);
                format!(
                    "cannot note where the control socket is in {}: {e}",
                    dir.display()
                )
            })?;
            Some(dir.join(RECORD))
        }
        false => None,
    };
    let busy = Busy::default();
    let streams = Busy::default();
    let task = tokio::spawn(accept_loop(
        listener,
        (handle, peer::Access::new(&allow)),
        max_clients(),
        [busy.clone(), streams.clone()],
    ));
    Ok(Server {
        path,
        inode,
        record,
        task,
        busy,
        streams,
    })
}

/// Leaves descriptors for the run's own work (pipes, logs) when the open
/// file limit is low: at most half of what is left, at most 64.
fn max_clients() -> usize {
    let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(1024);
    let open = std::fs::read_dir("/proc/self/fd")
        .map(Iterator::count)
        .unwrap_or(16) as u64;
    let spare = soft.saturating_sub(open) / 2;
    usize::try_from(spare)
        .unwrap_or(MAX_CLIENTS)
        .clamp(1, MAX_CLIENTS)
}

/// The open connections, oldest first, each with the sender that closes
/// it: sent when it is evicted, dropped when the server closes (then an
/// attached session goes on to the run's end).
#[derive(Default)]
struct Clients {
    next: u64,
    open: VecDeque<(u64, oneshot::Sender<()>)>,
}

type Shared = Arc<Mutex<Clients>>;

fn lock(clients: &Shared) -> std::sync::MutexGuard<'_, Clients> {
    clients.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Closes the oldest connections until at most `keep` are open; how many
/// it closed.
fn evict_down_to(clients: &Shared, keep: usize) -> usize {
    let mut c = lock(clients);
    let over = c.open.len().saturating_sub(keep);
    for (_, tx) in c.open.drain(..over) {
        let _ = tx.send(());
    }
    over
}

/// Whether an accept error says the process (or the system) has no file
/// descriptor left.
fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Accepts for the whole run. An accept error is logged and waited out;
/// when descriptors ran out, clients take too many of them: the cap is
/// halved and the oldest clients closed down to it, which leaves the run
/// descriptors for its steps and lets the next accept through.
async fn accept_loop(
    listener: UnixListener,
    (handle, access): (RunHandle, peer::Access),
    mut max: usize,
    [busy, streams]: [Busy; 2],
) {
    let clients: Shared = Arc::default();
    let screens = session::Screens::default();
    let most = max;
    loop {
        let stream = match listener.accept().await {
            // A cap lowered when descriptors ran out comes back as they are
            // freed, or a moment's shortage would cap the run for good.
            Ok((stream, _)) if max < most => {
                max = max.max(max_clients().min(most));
                stream
            }
            Ok((stream, _)) => stream,
            Err(e) => {
                let mut closed = 0;
                if out_of_descriptors(&e) {
                    max = (lock(&clients).open.len() / 2).max(1);
                    closed = evict_down_to(&clients, max);
                }
                tracing::warn!(
                    "control socket: accept failed: {e} (now at most {max} clients; closed {closed})"
                );
                // Closed clients free their descriptors as their tasks end.
                let pause = if closed > 0 { FREEING } else { BACKOFF };
                tokio::time::sleep(pause).await;
                continue;
            }
        };
        if !access.allows(&stream) {
            tokio::spawn(refuse(stream, "error: access not allowed\n"));
            continue;
        }
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut c = lock(&clients);
            if c.open.len() >= max
                && let Some((_, tx)) = c.open.pop_front()
            {
                let _ = tx.send(());
            }
            let id = c.next;
            c.next += 1;
            c.open.push_back((id, tx));
            id
        };
        let clients = clients.clone();
        let handle = handle.clone();
        let busy = [busy.clone(), streams.clone()];
        let screens = screens.clone();
        tokio::spawn(async move {
            client(stream, handle, rx, busy, screens).await;
            lock(&clients).open.retain(|(i, _)| *i != id);
        });
    }
}

/// Answers one line and closes, without waiting long for a stalled peer.
async fn refuse(mut stream: UnixStream, line: &'static str) {
    let _ = tokio::time::timeout(IDLE, stream.write_all(line.as_bytes())).await;
}

/// The commands of one connection, each answered with one line, until the
/// client goes, stalls, sends too long a line or is `evicted`; or, when its
/// first line asks to attach, the run's events (`session`).
async fn client(
    stream: UnixStream,
    handle: RunHandle,
    mut evicted: oneshot::Receiver<()>,
    [busy, streams]: [Busy; 2],
    screens: session::Screens,
) {
    let peer = peer::user(&stream);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = Vec::new();
    let mut first = true;
    loop {
        line.clear();
        // A long line's buffer is not kept while the client idles.
        line.shrink_to(8 * 1024);
        let got = tokio::select! {
            _ = &mut evicted => return,
            got = tokio::time::timeout(IDLE, wire::read_line(&mut read, &mut line)) => got,
        };
        if std::mem::take(&mut first)
            && matches!(got, Ok(Ok(wire::Line::Whole | wire::Line::Last)))
            && session::is_attach(&line)
        {
            let _streaming = streams.read().await;
            return session::serve(&line, read, write, handle, evicted, peer, screens).await;
        }
        // From here to the reply written, the run's end waits for us.
        let _busy = busy.read().await;
        let reply = match got {
            Err(_) => "error: no whole line within 10 s: closing\n".to_string(),
            Ok(Err(_)) | Ok(Ok(wire::Line::End)) => return,
            Ok(Ok(wire::Line::TooLong)) => "error: message longer than 1 MiB\n".to_string(),
            Ok(Ok(wire::Line::Whole | wire::Line::Last)) => match wire::parse(&line) {
                Ok(Command::Edit(ask)) => {
                    let ask = edit::EditAsk {
                        by: By::Socket,
                        ..ask
                    };
                    edit::reply_line(&handle, ask, peer.clone()).await
                }
                Ok(command) => match request(&handle, by_socket(command), &peer).await {
                    Ok(()) => "ok\n".to_string(),
                    Err(Refusal::RunOver) => format!("error: {}\n", Refusal::RunOver),
                    Err(refusal) => format!("refused: {refusal}\n"),
                },
                Err(why) => format!("error: {why}\n"),
            },
        };
        let sent = tokio::time::timeout(IDLE, write.write_all(reply.as_bytes())).await;
        let closing = reply.starts_with("error: no whole") || reply.starts_with("error: message");
        if closing || !matches!(sent, Ok(Ok(()))) {
            return;
        }
    }
}

/// Whatever a client claims, a command from the socket is `by: socket`.
fn by_socket(command: Command) -> Command {
    with_by(command, By::Socket)
}

/// The command, as from `by` (the server decides that, not the client).
fn with_by(command: Command, by: By) -> Command {
    match command {
        Command::Approve { step, .. } => Command::Approve { step, by },
        Command::Reject { step, .. } => Command::Reject { step, by },
        Command::Answer { step, text, .. } => Command::Answer { step, text, by },
        Command::Retry { step, .. } => Command::Retry { step, by },
        Command::Skip { step, .. } => Command::Skip { step, by },
        Command::Cancel { step, .. } => Command::Cancel { step, by },
        Command::Breaker {
            breaker, action, ..
        } => Command::Breaker {
            breaker,
            action,
            by,
        },
        Command::Edit(ask) => Command::Edit(crate::engine::edit::EditAsk { by, ..ask }),
    }
}

/// What the run said to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Taken,
    /// The run would not take it; why.
    Refused(String),
}

/// Sends one command to the run in `dir`; the run's reply, or why there
/// was none.
pub async fn send(dir: &Path, command: &Command) -> Result<Reply, String> {
    let path = place::locate(dir)?.unwrap_or_else(|| dir.join(SOCKET));
    let stream = connect(&path).await.map_err(|e| {
        format!(
            "cannot reach the run at {}: {e} (is it still running?)",
            path.display()
        )
    })?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(command).map_err(|e| e.to_string())?;
    line.push('\n');
    // A run that refuses the connection answers before reading: its line
    // is the reason, even when the write then fails.
    let wrote = write.write_all(line.as_bytes()).await;
    let mut reply = String::new();
    let read = BufReader::new(read)
        .take(64 * 1024)
        .read_line(&mut reply)
        .await;
    if reply.is_empty() {
        if let Err(e) = wrote {
            return Err(e.to_string());
        }
        read.map_err(|e| e.to_string())?;
    }
    let reply = reply.trim_end();
    if reply == "ok" {
        Ok(Reply::Taken)
    } else if let Some(why) = reply.strip_prefix("refused: ") {
        Ok(Reply::Refused(why.to_string()))
    } else if let Some(e) = reply.strip_prefix("error: ") {
        Err(e.to_string())
    } else if reply.is_empty() {
        Err("the run closed the connection without a reply".to_string())
    } else {
        Err(format!("unexpected reply from the run: {reply}"))
    }
}

/// The command, as the peer's.
async fn request(
    handle: &RunHandle,
    command: Command,
    peer: &Option<String>,
) -> Result<(), Refusal> {
    match peer {
        Some(user) => handle.request_as(command, user.clone()).await,
        None => handle.request(command).await,
    }
}
