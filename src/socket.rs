//! The control socket: `<run-folder>/control.sock` takes commands from
//! another terminal (`signalbox approve RUN STEP`), one JSON line each, and
//! hands them to the run as `by: socket`. Each is answered once the run has
//! taken it (`ok`) or refused it (`refused: WHY`); `error: ...` means it
//! never got that far. A front end, beside the screen and the headless
//! runner; the engine does not know it exists.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::engine::{By, Command, Refusal, RunHandle};

pub const SOCKET: &str = "control.sock";

/// Serves the socket while alive; dropping it stops serving and removes
/// the socket file.
pub struct Server {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Starts serving commands for the run in `dir`. Best effort: when the
/// socket cannot be made (a path too long for a Unix socket, say), the run
/// goes on without it and the reason is logged.
pub fn serve(handle: RunHandle, dir: &Path) -> Option<Server> {
    let path = dir.join(SOCKET);
    let _ = std::fs::remove_file(&path);
    let listener = match UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("no control socket at {}: {e}", path.display());
            return None;
        }
    };
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(client(stream, handle.clone()));
        }
    });
    Some(Server { path, task })
}

/// The commands of one connection, each answered with one line.
async fn client(stream: UnixStream, handle: RunHandle) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let reply = match serde_json::from_str::<Command>(&line) {
            Ok(command) => match handle.request(by_socket(command)).await {
                Ok(()) => "ok\n".to_string(),
                Err(Refusal::RunOver) => format!("error: {}\n", Refusal::RunOver),
                Err(refusal) => format!("refused: {refusal}\n"),
            },
            Err(e) => format!("error: not a command: {e}\n"),
        };
        if write.write_all(reply.as_bytes()).await.is_err() {
            break;
        }
    }
}

/// Whatever a client claims, a command from the socket is `by: socket`.
fn by_socket(command: Command) -> Command {
    let by = By::Socket;
    match command {
        Command::Approve { step, .. } => Command::Approve { step, by },
        Command::Reject { step, .. } => Command::Reject { step, by },
        Command::Answer { step, text, .. } => Command::Answer { step, text, by },
        Command::Retry { step, .. } => Command::Retry { step, by },
        Command::Skip { step, .. } => Command::Skip { step, by },
        Command::Cancel { step, .. } => Command::Cancel { step, by },
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
    let path = dir.join(SOCKET);
    let stream = UnixStream::connect(&path).await.map_err(|e| {
        format!(
            "cannot reach the run at {}: {e} (is it still running?)",
            path.display()
        )
    })?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(command).map_err(|e| e.to_string())?;
    line.push('\n');
    write
        .write_all(line.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut reply = String::new();
    BufReader::new(read)
        .read_line(&mut reply)
        .await
        .map_err(|e| e.to_string())?;
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
