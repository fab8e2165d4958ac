//! Past and interrupted runs: `resume` (and the driving `retry` shares),
//! `replay` and `runs`.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Args;

use super::exit;
use super::run::{RunFlags, apply_flags, drive_headless, prefixed, state_dir};
use crate::engine::event::{Event, RunStatus};
use crate::engine::journal::{first_event, last_event, scan};
use crate::engine::journal_check;
use crate::engine::run_dir::{self as params, RunDir};
use crate::engine::{EngineError, Run};
use crate::safe;
use crate::tui::model::ui::Role;
use crate::workflow;

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// A run id under the state dir, or a run folder.
    #[arg(value_name = "RUN")]
    pub run: String,
    #[command(flatten)]
    pub flags: RunFlags,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A run id under the state dir, or a run folder.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// Print the journal's events exactly, one JSON object a line.
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// One JSON object a line instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The state dir of a resume: as for `run`, except that a run named by its
/// folder (`<state-dir>/runs/<id>`) brings its own when none is given, so
/// its diagnostics go beside it rather than into a `.signalbox` here.
pub(super) fn resume_state_dir(flag: Option<PathBuf>, run: &str) -> PathBuf {
    let explicit =
        flag.is_some() || std::env::var_os("SIGNALBOX_STATE_DIR").is_some_and(|v| !v.is_empty());
    let folder = Path::new(run);
    if !explicit && folder.join("events.jsonl").is_file() {
        let runs = folder
            .parent()
            .filter(|p| p.file_name().is_some_and(|n| n == "runs"));
        if let Some(state) = runs.and_then(Path::parent) {
            return match state.as_os_str().is_empty() {
                true => PathBuf::from("."),
                false => state.to_path_buf(),
            };
        }
    }
    state_dir(flag)
}

pub fn resume(args: ResumeArgs) -> u8 {
    carry_on(&args.run, &args.flags, Carry::Resume)
}

/// How a run that no process drives goes on.
pub(super) enum Carry {
    Resume,
    /// `retry`: the steps it names start over.
    Retry(crate::engine::retry::RetryAsk),
    /// `edit`, confirmed: the edit applies first. On the screen, the run's
    /// own process is started with these arguments (the edit in a file).
    Edit(crate::engine::edit::EditAsk, Vec<std::ffi::OsString>),
}

/// `resume`, `retry` or `edit` of a run no process drives: the same run
/// goes on, on the screen (in a process of its own) or headless.
pub(super) fn carry_on(run: &str, flags: &RunFlags, carry: Carry) -> u8 {
    if flags.detached_run {
        super::detach::become_detached();
    }
    let state = resume_state_dir(flags.state_dir.clone(), run);
    let _log = match super::logging::state_dir(&state) {
        Ok(log) => log,
        Err(e) => {
            crate::safe::say!("error: {e}");
            return exit::INVALID;
        }
    };
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let screen = !(flags.headless || flags.json)
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal();
    if flags.detach || screen {
        // In a process of its own, as `run` does; this one checked nothing
        // (that one says what is wrong).
        let spawned = match &carry {
            Carry::Edit(_, argv) => super::detach::spawn_args(argv.clone()),
            _ => super::detach::spawn(),
        };
        if flags.detach {
            return super::detach::print_id(spawned);
        }
        let id = match spawned {
            Ok(id) => id,
            Err(code) => return code,
        };
        let dir = state.join("runs").join(&id);
        return super::detach::screen(&runtime, &dir, Role::Own, None, &state);
    }
    // Before the journal is read: a long replay must not outlast a SIGTERM.
    let signals = super::signals::Early::watch(&runtime);
    let mut options = None;
    let mut loaded = None;
    let load = |path: &Path| -> Result<workflow::Workflow, String> {
        let mut wf = workflow::load(path).map_err(|d| d.to_string())?;
        // The run goes on as it started: in its folder, with its `--var`
        // values; a `--var` given now overrides one of those.
        let folder = path.parent().unwrap_or(Path::new("."));
        let params = params::read_params(folder)?;
        let kept = params.as_ref().map(|p| p.vars.clone()).unwrap_or_default();
        for (k, v) in &kept {
            wf.set_var(k, v)?;
        }
        let mut opts = apply_flags(flags, &mut wf)?;
        opts.state_dir = state.clone();
        if let Some(mut params) = params {
            let mut vars = kept;
            vars.append(&mut opts.vars);
            // `--allow` given now replaces the run's list; none keeps it.
            if opts.allow.is_empty() {
                opts.allow = params.allow.clone();
            }
            if vars != params.vars || opts.allow != params.allow {
                params.vars = vars.clone();
                params.allow = opts.allow.clone();
                params::write_params(folder, &params)
                    .map_err(|e| format!("cannot update {}: {e}", folder.display()))?;
            }
            opts.vars = vars;
            opts.workdir = Some(params.workdir);
        }
        options = Some(opts);
        loaded = Some(wf.clone());
        Ok(wf)
    };
    let base = crate::engine::RunOptions {
        state_dir: state.clone(),
        ..Default::default()
    };
    let prepared = runtime.block_on(async {
        match carry {
            Carry::Retry(ask) => Run::retry(run, base, load, ask),
            Carry::Resume => Run::resume(run, base, load),
            Carry::Edit(ask, _) => {
                Run::edit(run, base, load, ask).and_then(|(run, plan)| match plan.refused() {
                    true => Err(EngineError::Resume(plan.render())),
                    false => Ok(run),
                })
            }
        }
    });
    match prepared.map(|r| (r, options)) {
        Ok((mut run, Some(options))) => {
            run.set_options(options.clone());
            signals.hand_over(run.handle());
            runtime.block_on(drive_headless(run, &options, flags))
        }
        Ok((_, None)) => exit::FAILED,
        Err(EngineError::Resume(message) | EngineError::Secrets(message)) => {
            crate::safe::say!("{}", prefixed(&message));
            exit::INVALID
        }
        Err(e) => {
            crate::safe::say!("error: {e}");
            exit::FAILED
        }
    }
}

pub fn replay(args: ReplayArgs) -> u8 {
    let state = state_dir(args.state_dir);
    let dir = match RunDir::open(&state, &args.run) {
        Ok(d) => d,
        Err(e) => {
            crate::safe::say!("error: {e}");
            return exit::INVALID;
        }
    };
    let path = dir.journal_path();
    if args.json {
        return print_journal(&path);
    }
    // Checked whole first, one line at a time, then shown from the file:
    // nothing holds more than a line of it.
    let (wf, scanned) = match checked(&dir) {
        Ok(both) => both,
        Err(message) => {
            crate::safe::say!("{}", prefixed(&message));
            return exit::INVALID;
        }
    };
    if let Some(line) = scanned.torn_line {
        crate::safe::say!(
            "warning: {}:{line}: the last line was cut short by a crash; it is left out",
            path.display()
        );
    }
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        return match super::runtime() {
            Ok(rt) => rt.block_on(crate::tui::replay::run(wf, path, scanned.events as usize)),
            Err(code) => code,
        };
    }
    let mut left = scanned.events;
    let printed = scan(&path, |e| {
        // Only the events checked above (the journal may have grown since).
        if left == 0 {
            return;
        }
        left -= 1;
        let published = crate::engine::Published {
            envelope: e,
            line: String::new(),
        };
        if let Some(line) = crate::headless::human_line(&published) {
            crate::safe::show!("{line}");
        }
    });
    match printed {
        Ok(_) => exit::OK,
        Err(e) => {
            crate::safe::say!("error: {e}");
            exit::INVALID
        }
    }
}

/// `replay --json`: the journal's bytes, copied through a buffer (a journal
/// may be any size). Exact for a program; a terminal gets a journal that is
/// not one this program wrote shown, not obeyed.
fn print_journal(path: &Path) -> u8 {
    let copied = crate::engine::fsafe::open_read(path).and_then(|f| {
        let terminal = std::io::stdout().is_terminal();
        let mut lines = std::io::BufReader::new(f);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = std::io::BufRead::read_until(&mut lines, b'\n', &mut buf)?;
            if n == 0 {
                return Ok(());
            }
            if terminal {
                let text = String::from_utf8_lossy(&buf);
                safe::write(safe::Stream::Stdout, None, format_args!("{text}"));
            } else {
                safe::write_exact(&buf);
            }
        }
    });
    match copied {
        Ok(()) => exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            crate::safe::say!("error: cannot read {}: {e}", path.display());
            exit::FAILED
        }
    }
}

/// The run's kept workflow, once its journal is one this program could
/// have written (as `resume` checks it), read one event at a time; else
/// what is wrong, with its line.
fn checked(dir: &RunDir) -> Result<(workflow::Workflow, crate::engine::journal::Scanned), String> {
    let kept = dir.path.join("workflow.yaml");
    crate::engine::fsafe::check_regular(&kept).map_err(|e| format!("error: {e}"))?;
    let wf = workflow::load(&kept).map_err(|d| d.to_string())?;
    let path = dir.journal_path();
    let revisions = crate::engine::edit::revision::RevisionSource::of(dir)?;
    let mut checker = journal_check::Checker::new(&wf, Some(&dir.id)).with_revisions(revisions);
    let mut wrong = None;
    let scanned = scan(&path, |e| {
        if wrong.is_none()
            && let Err(err) = checker.check(&e)
        {
            wrong = Some(err);
        }
    })
    .map_err(|e| e.to_string())?;
    if let Some(err) = wrong {
        return Err(journal_check::describe(&path, &err));
    }
    Ok((wf, scanned))
}

/// One kept run, as `runs` lists it.
#[derive(Debug, serde::Serialize)]
struct Summary {
    id: String,
    workflow: String,
    status: String,
    started: String,
    duration_ms: Option<u64>,
    /// A process drives it now (it holds the run's lock): `events --follow`,
    /// `logs --follow`, `approve` and the like reach it.
    live: bool,
}

/// One run's row: the first event (workflow, start) and the last (status,
/// end) read from the ends of its journal; and, unless a live run holds it,
/// the whole journal checked one line at a time, as `resume` would, so a
/// journal it would refuse is listed `damaged`.
fn summarize(path: &Path) -> Option<Summary> {
    let id = path.file_name()?.to_string_lossy().into_owned();
    let journal = path.join("events.jsonl");
    // A run killed before its first whole event is listed too: it can be
    // resumed (or, damaged, it says so).
    let first = first_event(&journal).ok()?;
    let workflow = match first.as_ref().map(|e| &e.event) {
        Some(Event::RunStarted { workflow, .. }) => workflow.clone(),
        _ => String::new(),
    };
    let started = first.map(|e| e.ts).unwrap_or_default();
    let last = last_event(&journal).ok()?;
    let dir = RunDir::at(id.clone(), path.to_path_buf());
    let live = crate::engine::lock::RunLock::held(&dir);
    let (status, duration_ms) = match last.map(|e| (e.event, e.ts)) {
        // `resume` and `replay` would refuse it: say so, whatever it ended as.
        _ if !live && checked(&dir).is_err() => ("damaged".to_string(), None),
        // The whole run's length, across resumes: the engine counts it from
        // the first `run_started`, and so do the screen and headless lines.
        Some((
            Event::RunFinished {
                status,
                duration_ms,
            },
            _,
        )) => (word(status).to_string(), Some(duration_ms)),
        _ => {
            let status = if live { "running" } else { "interrupted" };
            (status.to_string(), None)
        }
    };
    Some(Summary {
        id,
        workflow,
        started,
        duration_ms,
        // One that journaled its end is over, even while its process exits.
        live: live && status == "running",
        status,
    })
}

/// A run's cells, made safe: a folder name or a damaged journal's fields
/// are shown, never obeyed.
fn row(s: &Summary) -> [String; 5] {
    let duration = s.duration_ms.map_or("-".to_string(), |ms| {
        workflow::duration::human(std::time::Duration::from_millis(ms))
    });
    [
        safe::line(&s.id).into_owned(),
        safe::line(&s.workflow).into_owned(),
        // The table says `live` where the JSON says `running`, `live: true`.
        match s.live {
            true => "live".to_string(),
            false => s.status.clone(),
        },
        safe::line(&s.started).into_owned(),
        duration,
    ]
}

/// Columns padded to `width` terminal cells (the last one to the right), so
/// an id longer than the usual 40 pushes the columns over rather than
/// breaking them.
fn aligned(cells: &[String; 5], width: &[usize; 5]) -> String {
    let mut line = String::new();
    for (i, (cell, &w)) in cells.iter().zip(width).enumerate() {
        let pad =
            " ".repeat(w.saturating_sub(unicode_width::UnicodeWidthStr::width(cell.as_str())));
        if i == cells.len() - 1 {
            line.push_str(&pad);
            line.push_str(cell);
        } else {
            line.push_str(cell);
            line.push_str(&pad);
            line.push(' ');
        }
    }
    line
}

fn word(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "failed",
        RunStatus::Cancelled => "cancelled",
    }
}

pub fn runs(args: RunsArgs) -> u8 {
    let state = state_dir(args.state_dir);
    // No runs folder yet is an empty list; one that cannot be read is an error.
    let mut all: Vec<Summary> = match std::fs::read_dir(state.join("runs")) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .filter_map(|e| summarize(&e.path()))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !state.is_file() => Vec::new(),
        Err(e) => {
            crate::safe::say!("error: cannot read {}: {e}", state.join("runs").display());
            return exit::INVALID;
        }
    };
    all.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| b.id.cmp(&a.id)));
    if args.json {
        for s in &all {
            let line = serde_json::to_string(s).unwrap_or_default();
            safe::write_exact(format!("{}\n", safe::json_line(&line)).as_bytes());
        }
        return exit::OK;
    }
    let rows: Vec<[String; 5]> = all.iter().map(row).collect();
    let mut width = [40, 16, 11, 24, 10];
    for cells in &rows {
        for (w, cell) in width.iter_mut().zip(cells) {
            *w = (*w).max(unicode_width::UnicodeWidthStr::width(cell.as_str()));
        }
    }
    let header = ["ID", "WORKFLOW", "STATUS", "STARTED", "DURATION"].map(String::from);
    let mut table = String::new();
    for cells in std::iter::once(&header).chain(&rows) {
        let _ = writeln!(table, "{}", aligned(cells, &width));
    }
    safe::write(safe::Stream::Stdout, None, format_args!("{table}"));
    exit::OK
}
