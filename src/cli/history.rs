//! Past and interrupted runs: `resume`, `replay` and `runs`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use super::exit;
use super::run::{RunFlags, apply_flags, drive_headless, prefixed, state_dir};
use crate::engine::event::{Event, RunStatus};
use crate::engine::journal::{first_event, last_event, scan};
use crate::engine::run_dir::{self as params, RunDir};
use crate::engine::{EngineError, Run};
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
fn resume_state_dir(flag: Option<PathBuf>, run: &str) -> PathBuf {
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
    let state = resume_state_dir(args.flags.state_dir.clone(), &args.run);
    let _log = super::logging::init(&state);
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
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
        let mut opts = apply_flags(&args.flags, &mut wf)?;
        opts.state_dir = state.clone();
        if let Some(mut params) = params {
            let mut vars = kept;
            vars.append(&mut opts.vars);
            if vars != params.vars {
                params.vars = vars.clone();
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
    let prepared = runtime.block_on(async { Run::resume(&args.run, base, load) });
    match prepared.map(|r| (r, options)) {
        Ok((mut run, Some(options))) => {
            run.set_options(options.clone());
            let screen = !(args.flags.headless || args.flags.json)
                && std::io::stdin().is_terminal()
                && std::io::stdout().is_terminal();
            match loaded {
                Some(wf) if screen => {
                    let journal = run.handle().dir.join("events.jsonl");
                    runtime.block_on(crate::tui::run_resumed(&wf, run, &journal))
                }
                _ => runtime.block_on(drive_headless(run, &options, args.flags.json)),
            }
        }
        Ok((_, None)) => exit::FAILED,
        Err(EngineError::Resume(message)) => {
            eprintln!("{}", prefixed(&message));
            exit::INVALID
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::FAILED
        }
    }
}

pub fn replay(args: ReplayArgs) -> u8 {
    let state = state_dir(args.state_dir);
    let dir = match RunDir::open(&state, &args.run) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    let path = dir.journal_path();
    if args.json {
        // Copied through a buffer: a journal may be any size.
        let copied = std::fs::File::open(&path).and_then(|mut f| {
            let mut out = std::io::stdout().lock();
            std::io::copy(&mut f, &mut out)?;
            out.flush()
        });
        return match copied {
            Ok(()) => exit::OK,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                exit::FAILED
            }
        };
    }
    // Checked whole first, one line at a time, then shown from the file:
    // nothing holds more than a line of it.
    let scanned = match scan(&path, |_| {}) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    if let Some(line) = scanned.torn_line {
        eprintln!(
            "warning: {}:{line}: the last line was cut short by a crash; it is left out",
            path.display()
        );
    }
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        let kept = dir.path.join("workflow.yaml");
        return match workflow::load(&kept) {
            Ok(wf) => match super::runtime() {
                Ok(rt) => rt.block_on(crate::tui::replay::run(wf, path, scanned.events as usize)),
                Err(code) => code,
            },
            Err(d) => {
                eprintln!("{d}");
                exit::INVALID
            }
        };
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
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
            let _ = writeln!(out, "{line}");
        }
    });
    let _ = out.flush();
    match printed {
        Ok(_) => exit::OK,
        Err(e) => {
            eprintln!("error: {e}");
            exit::INVALID
        }
    }
}

/// One kept run, as `runs` lists it.
#[derive(Debug, serde::Serialize)]
struct Summary {
    id: String,
    workflow: String,
    status: String,
    started: String,
    duration_ms: Option<u64>,
}

/// Milliseconds from one event timestamp to another.
fn span_ms(from: &str, to: &str) -> Option<u64> {
    let from = humantime::parse_rfc3339_weak(from).ok()?;
    let to = humantime::parse_rfc3339_weak(to).ok()?;
    Some(to.duration_since(from).ok()?.as_millis() as u64)
}

/// One run's row, reading only the ends of its journal: the first event
/// (workflow, start) and the last (status, end). Only a run that did not
/// finish is read whole, streaming, to tell `interrupted` from `damaged`.
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
    let (status, duration_ms) = match last.map(|e| (e.event, e.ts)) {
        Some((
            Event::RunFinished {
                status,
                duration_ms,
            },
            ended,
        )) => {
            // A resumed run's last `run_finished` counts from the resume;
            // the run's length runs from its first start to its end.
            let whole = span_ms(&started, &ended).unwrap_or(duration_ms);
            (word(status).to_string(), Some(whole.max(duration_ms)))
        }
        _ => {
            let dir = RunDir {
                id: id.clone(),
                path: path.to_path_buf(),
            };
            let status = if crate::engine::lock::RunLock::held(&dir) {
                "running"
            } else if scan(&journal, |_| {}).is_err() {
                // `resume` would refuse it: say so rather than offer it.
                "damaged"
            } else {
                "interrupted"
            };
            (status.to_string(), None)
        }
    };
    Some(Summary {
        id,
        workflow,
        status,
        started,
        duration_ms,
    })
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
            eprintln!("error: cannot read {}: {e}", state.join("runs").display());
            return exit::INVALID;
        }
    };
    all.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| b.id.cmp(&a.id)));
    let mut out = std::io::stdout().lock();
    if args.json {
        for s in &all {
            let _ = writeln!(out, "{}", serde_json::to_string(s).unwrap_or_default());
        }
        return exit::OK;
    }
    let _ = writeln!(
        out,
        "{:<40} {:<16} {:<11} {:<24} {:>10}",
        "ID", "WORKFLOW", "STATUS", "STARTED", "DURATION"
    );
    for s in &all {
        let duration = s.duration_ms.map_or("-".to_string(), |ms| {
            workflow::duration::human(std::time::Duration::from_millis(ms))
        });
        let _ = writeln!(
            out,
            "{:<40} {:<16} {:<11} {:<24} {:>10}",
            s.id, s.workflow, s.status, s.started, duration
        );
    }
    exit::OK
}
