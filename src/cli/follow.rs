//! `events RUN [--follow]` and `logs RUN [STEP] [--follow]`: a run's journal
//! lines, or its steps' output, for scripts and for tailing without a
//! screen. Without `--follow`, the journal file as it is; with it, through
//! the run's socket (`socket::attach`): the journal so far, then live lines,
//! to the run's end, exiting with the run's code. When the stream breaks
//! (the run's process ended, or this one was stopped a long while), the
//! rest is read from the journal file, which has every event before any
//! client is sent it, and the stream is taken up again while the run lives.
//! Another user's run (`--allow`) can only be followed: its journal file
//! is not theirs to read, the stream is all they get.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use super::exit;
use crate::engine::event::{Envelope, Event, RunStatus};
use crate::engine::run_dir::RunDir;
use crate::safe;
use crate::socket::{Attached, Ended};

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// A run id under the state dir, or a run folder.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// Then the live events, to the run's end; exit with the run's code.
    #[arg(long, short = 'f')]
    pub follow: bool,
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// A run id under the state dir, or a run folder.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// Only this step's output, as its log has it; without it, every step's,
    /// each line after its step id.
    #[arg(value_name = "STEP")]
    pub step: Option<String>,
    /// Then the live output, to the run's end; exit with the run's code.
    #[arg(long, short = 'f')]
    pub follow: bool,
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// What is printed of each event.
trait Print {
    fn event(
        &mut self,
        out: &mut Out,
        line: &[u8],
        event: Option<&Envelope>,
    ) -> std::io::Result<()>;
}

/// Stdout, buffered between the moments nothing more is at hand.
struct Out {
    out: std::io::BufWriter<std::io::Stdout>,
    terminal: bool,
}

/// The journal lines as they are: exact for a program; a terminal gets a
/// line this program did not write shown, never obeyed.
struct Lines;

impl Print for Lines {
    fn event(&mut self, out: &mut Out, line: &[u8], _: Option<&Envelope>) -> std::io::Result<()> {
        if out.terminal {
            let text = String::from_utf8_lossy(line);
            writeln!(out.out, "{}", safe::line(&text))
        } else {
            out.out.write_all(line)?;
            out.out.write_all(b"\n")
        }
    }
}

/// The steps' output lines, escaped (text from a step), after their step
/// id unless one step was asked for.
struct Output {
    step: Option<String>,
    /// `step` names a matrix step: its instances' lines, each prefixed.
    group: bool,
}

impl Print for Output {
    fn event(&mut self, out: &mut Out, _: &[u8], e: Option<&Envelope>) -> std::io::Result<()> {
        let Some(Event::StepOutput { step, line, .. }) = e.map(|e| &e.event) else {
            return Ok(());
        };
        match &self.step {
            Some(only) if self.group => match step.strip_prefix(only.as_str()) {
                Some(key) if key.starts_with(':') => {
                    writeln!(out.out, "{} | {}", safe::line(step), safe::line(line))
                }
                _ => Ok(()),
            },
            Some(only) if only == step => writeln!(out.out, "{}", safe::line(line)),
            Some(_) => Ok(()),
            None => writeln!(out.out, "{} | {}", safe::line(step), safe::line(line)),
        }
    }
}

/// Every event once, in seq order, to its printer; and how the run stands.
struct Tracker<P> {
    print: P,
    out: Out,
    /// The last `run_finished`'s status, until a resume's `run_started`:
    /// the `hook_finished` of hooks on `run_finished` may come after it.
    finished: Option<RunStatus>,
}

impl<P: Print> Tracker<P> {
    /// Prints one line; an event of a kind this program does not know (a
    /// newer one wrote it) is still a line of the journal.
    fn take(&mut self, line: &[u8]) -> std::io::Result<()> {
        let e = serde_json::from_slice::<Envelope>(line).ok();
        match e.as_ref().map(|e| &e.event) {
            Some(Event::RunFinished { status, .. }) => self.finished = Some(*status),
            Some(Event::RunStarted { .. }) => self.finished = None,
            _ => {}
        }
        self.print.event(&mut self.out, line, e.as_ref())
    }

    fn code(&self) -> u8 {
        match self.finished {
            Some(RunStatus::Succeeded) => exit::OK,
            Some(RunStatus::Failed) | None => exit::FAILED,
            Some(RunStatus::Cancelled) => exit::CANCELLED,
        }
    }
}

impl<P: Print> crate::socket::Sink for Tracker<P> {
    fn line(&mut self, line: &[u8], _: u64) -> std::io::Result<()> {
        self.take(line)
    }

    fn idle(&mut self) -> std::io::Result<()> {
        self.out.out.flush()
    }
}

pub fn events(args: EventsArgs) -> u8 {
    let Some(dir) = open(args.state_dir, &args.run) else {
        return exit::FAILED;
    };
    drive(&dir, args.follow, Lines)
}

pub fn logs(args: LogsArgs) -> u8 {
    let Some(dir) = open(args.state_dir, &args.run) else {
        return exit::FAILED;
    };
    let mut group = false;
    if let Some(step) = &args.step
        && let Ok(wf) = crate::workflow::load(&dir.path.join("workflow.yaml"))
        && !wf.steps.iter().any(|s| &s.id == step)
    {
        if wf.group_index(step).is_none() {
            safe::say!("error: run {} has no step `{step}`", dir.id);
            return exit::INVALID;
        }
        group = true;
    }
    let print = Output {
        step: args.step,
        group,
    };
    drive(&dir, args.follow, print)
}

fn open(state: Option<PathBuf>, run: &str) -> Option<RunDir> {
    super::remote::open_run(state, run)
        .map_err(|e| safe::say!("error: {e}"))
        .ok()
}

fn drive(dir: &RunDir, follow: bool, print: impl Print) -> u8 {
    let mut t = Tracker {
        print,
        out: Out {
            out: std::io::BufWriter::with_capacity(64 << 10, std::io::stdout()),
            terminal: std::io::stdout().is_terminal(),
        },
        finished: None,
    };
    let mut next = 1;
    if !follow && super::remote::foreign(dir) {
        safe::say!(
            "error: run {} is another user's: its journal is not yours to read; `--follow` streams it from the live run, if its owner allowed you (--allow)",
            dir.id
        );
        return exit::FAILED;
    }
    if !follow {
        return match from_file(&dir.journal_path(), &mut next, &mut t) {
            Ok(()) | Err(Broke::Sink) => exit::OK,
            Err(Broke::Journal(e)) => {
                safe::say!("error: {e}");
                exit::FAILED
            }
        };
    }
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(async {
        tokio::select! {
            code = stream(dir, &mut next, &mut t) => code,
            // `| head` has all it wanted: no need to wait for a next line
            // (which may be hours away, behind an approval) to notice.
            () = stdout_closed() => exit::OK,
        }
    })
}

/// Resolves once nobody can read stdout any more: a pipe whose reader
/// closed. Never for a file or a terminal.
async fn stdout_closed() {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let fd = std::io::stdout().as_fd().try_clone_to_owned();
    let pipe = fd
        .as_ref()
        .ok()
        .and_then(|fd| nix::sys::stat::fstat(fd).ok());
    let is_pipe = pipe.is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFIFO);
    let (Ok(fd), true) = (fd, is_pipe) else {
        return std::future::pending().await;
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A thread that waits in poll() for the pipe's error alone (no events
    // asked for): it costs nothing until `| head` is done.
    std::thread::spawn(move || {
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::empty())];
        loop {
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) if fds[0].any().unwrap_or(false) => break,
                Err(nix::errno::Errno::EINTR) | Ok(_) => {}
                Err(_) => return,
            }
        }
        let _ = tx.send(());
    });
    if rx.await.is_err() {
        std::future::pending().await
    }
}

/// Follows the run to its end; its exit code.
async fn stream<P: Print>(dir: &RunDir, next: &mut u64, t: &mut Tracker<P>) -> u8 {
    let journal = dir.journal_path();
    let mut stuck = 0;
    loop {
        let before = *next;
        let unreachable = match crate::socket::attach(&dir.path, next, t).await {
            Ok(Ended::Finished) => return t.code(),
            Ok(Ended::Closed) => None,
            Err(Attached::Sink(_)) => return exit::OK,
            Err(Attached::Refused(why)) => {
                // Refused before the run read the request (SPEC §6).
                match why.ends_with("(it said: access not allowed)") {
                    true => safe::say!(
                        "error: access not allowed: run {} is another user's, who has not let you in (--allow)",
                        dir.id
                    ),
                    false => safe::say!("error: {why}"),
                }
                return exit::FAILED;
            }
            Err(Attached::Unreachable(why)) => Some(why),
        };
        // The stream broke off: the file has all the run journaled (when
        // it is this user's to read; else the stream is taken up again).
        let readable = !super::remote::foreign(dir);
        match if readable {
            from_file(&journal, next, t)
        } else {
            Ok(())
        } {
            Ok(()) => {}
            Err(Broke::Sink) => return exit::OK,
            Err(Broke::Journal(e)) => {
                safe::say!("error: {e}");
                return exit::FAILED;
            }
        }
        if t.finished.is_some() {
            return t.code();
        }
        if let Some(why) = unreachable {
            safe::say!("error: {}", super::remote::unreachable(dir).unwrap_or(why));
            return exit::FAILED;
        }
        // Closed with nothing new, again and again: do not spin.
        stuck = if *next == before { stuck + 1 } else { 0 };
        if stuck > 100 {
            safe::say!("error: run {} keeps closing its stream", dir.id);
            return exit::FAILED;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10 * stuck)).await;
    }
}

enum Broke {
    /// Stdout closed (`| head`): not an error to report.
    Sink,
    Journal(String),
}

/// A write to stdout that failed: the reader left (`| head`), or, as an
/// error to report, the output could not be written (a full disk).
fn sink(e: std::io::Error) -> Broke {
    match e.kind() {
        std::io::ErrorKind::BrokenPipe => Broke::Sink,
        _ => Broke::Journal(format!("cannot write the output: {e}")),
    }
}

/// The journal's whole lines from seq `*next` on, as the file has them now.
fn from_file<P: Print>(path: &Path, next: &mut u64, t: &mut Tracker<P>) -> Result<(), Broke> {
    let file = crate::engine::fsafe::open_read(path)
        .map_err(|e| Broke::Journal(format!("cannot read {}: {e}", path.display())))?;
    let mut lines = crate::engine::journal::Lines::new(file);
    let damaged = |e: String| Broke::Journal(format!("{}: {e}", path.display()));
    loop {
        let line = match lines.line() {
            Ok(Some(line)) => line,
            // A torn last line is not an event (yet).
            Ok(None) => break,
            Err(e) => return Err(damaged(e.to_string())),
        };
        #[derive(serde::Deserialize)]
        struct Seq {
            seq: u64,
        }
        let seq = serde_json::from_slice::<Seq>(line)
            .map_err(|e| damaged(format!("a damaged line after seq {}: {e}", *next - 1)))?
            .seq;
        if seq < *next {
            continue;
        }
        if seq > *next {
            return Err(damaged(format!("seq {seq} where {} was due", *next)));
        }
        t.take(line).map_err(sink)?;
        *next += 1;
    }
    t.out.out.flush().map_err(sink)
}
