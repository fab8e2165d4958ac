//! The command line: parses arguments with clap and runs one command.
//!
//! A front end: it may print, read the terminal and pick exit codes, but all
//! it knows of workflows comes from [`crate::workflow`] and of runs from
//! [`crate::engine`].

mod attach;
mod detach;
mod docs;
mod edit;
mod editor;
mod follow;
mod graph;
mod history;
mod logging;
mod remote;
mod retry;
mod run;
mod signals;
mod slice;
mod trace;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::workflow;

/// Exit codes, as SPEC §4 gives them.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const INVALID: u8 = 2;
    pub const CANCELLED: u8 = 130;
}

#[derive(Debug, Parser)]
#[command(
    name = "signalbox",
    version,
    about = "Run YAML-defined DAG workflows from a terminal, with a person in the loop",
    after_help = "Examples:\n  signalbox validate workflows/*.yaml\n  signalbox graph workflows/release.yaml --format dot | dot -Tsvg > release.svg\n  signalbox schema > signalbox.schema.json"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a workflow: the screen in a terminal, headless otherwise.
    #[command(
        after_help = "Examples:\n  signalbox run workflows/demo.yaml\n  signalbox run workflows/release.yaml --headless --approve go-live --answer notes=\"Bug fixes\"\n  signalbox run workflows/chain.yaml --json | jq -c 'select(.type == \"step_succeeded\")'\n\nExit codes: 0 succeeded, 1 failed, 2 invalid workflow or usage, 130 cancelled."
    )]
    Run(run::RunArgs),
    /// Resume an interrupted run from its journal.
    #[command(
        after_help = "Examples:\n  signalbox resume release-20261123-104500-3fa2\n  signalbox resume .signalbox/runs/release-20261123-104500-3fa2 --headless\n\nSteps that ended are kept; steps that were running run again; open waits re-open with the time they had left."
    )]
    Resume(history::ResumeArgs),
    /// Carry a failed or cancelled run on: run its failed steps (or the named ones) again.
    #[command(
        after_help = "Examples:\n  signalbox retry release-20261123-104500-3fa2\n  signalbox retry release-20261123-104500-3fa2 build --downstream --headless\n\nThe same run goes on (same id, folder and journal). The named steps (default: every failed and cancelled step) run again from attempt 1, with their dependents that were skipped for them or cancelled; succeeded steps are kept unless --downstream.\n\nExit codes: as `run`; 2 when there is nothing to retry, a step is unknown or never ran, or the run is live (retry its steps with `R` on its screen)."
    )]
    Retry(retry::RetryArgs),
    /// Apply a changed workflow to a run, live or finished: the plan first, then y/N.
    #[command(
        after_help = "Examples:\n  signalbox edit release-20261123-104500-3fa2\n  signalbox edit release-20261123-104500-3fa2 --file fixed.yaml --rerun deploy\n  signalbox edit release-20261123-104500-3fa2 --file fixed.yaml --dry-run\n\nSteps are matched by id and compared by their resolved definitions (comments, key order and whitespace never count). Steps not started may be added, removed or changed; a started or finished step's definition cannot change unless --rerun runs it again. Without --file, $VISUAL or $EDITOR opens on the run's current revision. The plan marks each step + added, - removed, ~ changed, = kept; on a terminal it asks before applying.\n\nExit codes: 0 applied (or planned, with --dry-run); 2 refused, with every error as FILE:LINE:COL; 1 the run cannot be reached. A finished run is then driven as `retry` drives it."
    )]
    Edit(edit::EditArgs),
    /// Show a past run: its events as readable lines, or exactly as journaled with --json.
    #[command(
        after_help = "Examples:\n  signalbox replay release-20261123-104500-3fa2\n  signalbox replay release-20261123-104500-3fa2 --json | jq .type"
    )]
    Replay(history::ReplayArgs),
    /// List the runs kept in the state dir, newest first.
    #[command(
        after_help = "Examples:\n  signalbox runs\n  signalbox runs --json | jq -r 'select(.status == \"interrupted\") | .id'"
    )]
    Runs(history::RunsArgs),
    /// Approve a live run's waiting approval from another terminal.
    #[command(
        after_help = "Example:\n  signalbox approve release-20261123-104500-3fa2 go-live\n\nThe journal records `by: socket`. RUN may also be the run folder. A question is answered with `answer`: `approve` of a question is refused.\n\nExit codes: 0 the run took it, 2 the run refused it (the reason on stderr), 1 the run cannot be reached."
    )]
    Approve(remote::WaitArgs),
    /// Reject a live run's waiting approval (or question: its step fails) from another terminal.
    #[command(
        after_help = "Example:\n  signalbox reject release-20261123-104500-3fa2 go-live\n\nExit codes: 0 the run took it, 2 the run refused it (the reason on stderr), 1 the run cannot be reached."
    )]
    Reject(remote::WaitArgs),
    /// Answer a live run's waiting question from another terminal.
    #[command(
        after_help = "Example:\n  signalbox answer release-20261123-104500-3fa2 notes \"Bug fixes\"\n\nA question with choices takes only one of them; an approval takes approve or reject, not an answer.\n\nExit codes: 0 the run took it, 2 the run refused it (the reason on stderr), 1 the run cannot be reached."
    )]
    Answer(remote::AnswerArgs),
    /// Reset (close) or force open a live run's breaker from another terminal.
    #[command(
        after_help = "Examples:\n  signalbox breaker release-20261123-104500-3fa2 registry reset\n  signalbox breaker release-20261123-104500-3fa2 registry open\n\n`reset` closes the breaker: steps backing off behind it go through at their next attempt. `open` opens it as if it had tripped now: attempts of the steps that use it fail with `breaker NAME is open` for one cooldown, then it lets `half_open_calls` through. Resetting a closed breaker or opening an open one is refused. The journal records `breaker_changed` with `by: socket` and `user`.\n\nExit codes: 0 the run took it, 2 the run refused it (the reason on stderr: no such breaker, nothing to change), 1 the run cannot be reached."
    )]
    Breaker(remote::BreakerArgs),
    /// Open the screen on a live run (started with --detach, or on another screen).
    #[command(
        after_help = "Examples:\n  signalbox attach\n  signalbox attach release-20261123-104500-3fa2 --read-only\n\nKeys act as on the run's own screen; `q` or `d` detaches (the run goes on), `C` cancels the run. Any number of screens may be attached at once.\n\nExit codes: 0 detached; once the run ended while attached, the run's own code (0, 1, 130); 1 the run cannot be reached; 2 bad usage (no RUN and not exactly one live run)."
    )]
    Attach(attach::AttachArgs),
    /// Print a run's events, one JSON object a line, as its journal has them; with --follow, then the live ones to the run's end.
    #[command(
        after_help = "Examples:\n  signalbox events release-20261123-104500-3fa2 | jq -c 'select(.type == \"step_failed\")'\n  signalbox events release-20261123-104500-3fa2 --follow | jq -r 'select(.type == \"approval_requested\") | .step'\n\nWithout --follow the journal as it is now, also of a finished run. With --follow the lines so far, then each new one as the run journals it, every line once and in seq order, ending when the run ends.\n\nExit codes: 0 printed (with --follow: the run succeeded), 1 the run failed or cannot be reached, 2 bad usage, 130 the run was cancelled."
    )]
    Events(follow::EventsArgs),
    /// Print a step's output (every step's, each line after its step id, without STEP); with --follow, then the live output to the run's end.
    #[command(
        after_help = "Examples:\n  signalbox logs release-20261123-104500-3fa2 build\n  signalbox logs release-20261123-104500-3fa2 --follow\n\nLines come in the order the steps printed them (`STEP | LINE` without STEP); control characters are shown escaped.\n\nExit codes: 0 printed (with --follow: the run succeeded), 1 the run failed or cannot be reached, 2 bad usage or no such step, 130 the run was cancelled."
    )]
    Logs(follow::LogsArgs),
    /// Print a run as OpenTelemetry spans (one OTLP/JSON request), or send them with --otlp.
    #[command(
        after_help = "Examples:\n  signalbox trace release-20261123-104500-3fa2 | jq '.resourceSpans[0].scopeSpans[0].spans[] | .name'\n  signalbox trace release-20261123-104500-3fa2 --otlp http://127.0.0.1:4318\n\nOne span for the run (across resumes), one for each step (a step run again gets a new one), each attempt and each wait, built from the journal; a live run gives its spans so far. Each attempt's process got TRACEPARENT naming its span, so a step's own spans join the trace; a run started with TRACEPARENT set joins that trace. No output line, answer or prompt is put in a span.\n\n--otlp posts to URL/v1/traces (OTLP/HTTP, JSON); http:// only: for https, send to a local OpenTelemetry Collector and let it forward.\n\nExit codes: 0 printed or taken; 1 the run cannot be read, or the receiver cannot be reached or refused it; 2 bad usage (a bad --otlp URL)."
    )]
    Trace(trace::TraceArgs),
    /// Run the attempts of a pool's steps, for any run that uses the same NATS server.
    #[command(
        after_help = "Examples:\n  signalbox worker --pool linux --nats nats://build-host:4222 --id build-1\n  signalbox worker --pool linux --pool gpu --jobs 2\n\nTakes attempts of steps with `pool: NAME` while it has a free slot, runs each as a local step runs (its own process group, timeout, kill ladder), streams its lines back and reports its end. It renews a lease on each attempt; one it cannot renew for half the lease ($SIGNALBOX_LEASE of the run, default 10s) it kills, since the run will soon judge this worker lost. SIGTERM or Ctrl-C stops it: running attempts are killed and fail as `worker ID stopped`.\n\nExit codes: 0 stopped; 1 the server's streams cannot be used; 2 bad usage, or a live worker already has this id."
    )]
    Worker(worker::WorkerArgs),
    /// List the live workers: their pools, slots and running attempts.
    #[command(
        after_help = "Examples:\n  signalbox workers --nats nats://build-host:4222\n  signalbox workers --json | jq '.[].id'\n\nExit codes: 0 listed (also when none is live); 1 the server cannot be reached; 2 bad usage."
    )]
    Workers(worker::WorkersArgs),
    /// Check workflow files; print every error with its line and column.
    #[command(
        after_help = "Example:\n  signalbox validate workflows/release.yaml workflows/chain.yaml\n\nSilent and exit 0 when every file is valid; errors on stderr and exit 2 otherwise."
    )]
    Validate {
        /// Workflow files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Draw a workflow's step graph as text, Graphviz DOT or Mermaid.
    #[command(
        after_help = "Examples:\n  signalbox graph workflows/release.yaml\n  signalbox graph workflows/release.yaml --format dot | dot -Tpng > release.png\n  signalbox graph workflows/release.yaml --format mermaid >> README.md"
    )]
    Graph {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
        format: GraphFormat,
    },
    /// Print the JSON Schema of the workflow format.
    #[command(
        after_help = "Example:\n  signalbox schema > signalbox.schema.json\n  # then, first line of a workflow file:\n  # yaml-language-server: $schema=./signalbox.schema.json"
    )]
    Schema,
    /// Print shell completions (bash, zsh or fish), generated from these definitions.
    #[command(
        after_help = "Examples:\n  signalbox completions bash > ~/.local/share/bash-completion/completions/signalbox\n  signalbox completions zsh > ~/.zfunc/_signalbox\n  signalbox completions fish > ~/.config/fish/completions/signalbox.fish"
    )]
    Completions {
        #[arg(value_enum, value_name = "SHELL")]
        shell: docs::Shell,
    },
    /// Print the man page (roff).
    #[command(
        after_help = "Examples:\n  signalbox man | man -l -\n  signalbox man > ~/.local/share/man/man1/signalbox.1"
    )]
    Man,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
    Mermaid,
}

/// The tokio runtime the commands run on, or the exit code when it cannot
/// start (reported on stderr).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    slice::request();
    // Before any step starts: orphans of steps are re-parented to us, not
    // to PID 1, so they can be found and reaped (SPEC §2 processes).
    crate::engine::process::become_subreaper();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(slice::request)
        .build()
        .map_err(|e| {
            crate::safe::say!("error: cannot start the runtime: {e}");
            exit::FAILED
        })
}

/// Runs the parsed command and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let code = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Resume(args) => history::resume(args),
        Command::Retry(args) => retry::retry(args),
        Command::Edit(args) => edit::edit(args),
        Command::Replay(args) => history::replay(args),
        Command::Runs(args) => history::runs(args),
        Command::Approve(args) => remote::approve(args),
        Command::Reject(args) => remote::reject(args),
        Command::Answer(args) => remote::answer(args),
        Command::Breaker(args) => remote::breaker(args),
        Command::Attach(args) => attach::attach(args),
        Command::Events(args) => follow::events(args),
        Command::Logs(args) => follow::logs(args),
        Command::Trace(args) => trace::trace(args),
        Command::Worker(args) => worker::worker(args),
        Command::Workers(args) => worker::workers(args),
        Command::Validate { files } => validate(&files),
        Command::Graph { file, format } => match workflow::load(&file) {
            Ok(wf) => {
                let text = match format {
                    GraphFormat::Text => graph::text(&wf),
                    GraphFormat::Dot => Ok(graph::dot(&wf)),
                    GraphFormat::Mermaid => Ok(graph::mermaid(&wf)),
                };
                match text {
                    Ok(text) => {
                        crate::safe::write(
                            crate::safe::Stream::Stdout,
                            None,
                            format_args!("{text}"),
                        );
                        exit::OK
                    }
                    Err(message) => {
                        crate::safe::say!("{}: error: {message}", file.display());
                        exit::INVALID
                    }
                }
            }
            Err(diags) => {
                crate::safe::say!("{diags}");
                exit::INVALID
            }
        },
        Command::Completions { shell } => docs::completions(shell),
        Command::Man => docs::man(),
        Command::Schema => {
            let schema = workflow::json_schema();
            crate::safe::show!(
                "{}",
                serde_json::to_string_pretty(&schema).unwrap_or_default()
            );
            exit::OK
        }
    };
    ExitCode::from(code)
}

/// Instances named on one line, at most this many, then `+N more`.
const INSTANCES_SHOWN: usize = 20;

/// A valid file's matrix steps, one line each: what they expand to.
fn say_instances(file: &std::path::Path, wf: &workflow::Workflow) {
    for g in &wf.groups {
        let ids: Vec<&str> = (g.members.iter().take(INSTANCES_SHOWN))
            .filter_map(|&i| wf.steps.get(i).map(|s| s.id.as_str()))
            .collect();
        let more = g.members.len().saturating_sub(INSTANCES_SHOWN);
        let more = if more > 0 {
            format!(" +{more} more")
        } else {
            String::new()
        };
        crate::safe::show!(
            "{}: {} ×{}: {}{more}",
            crate::safe::line(&file.display().to_string()),
            crate::safe::line(&g.id),
            g.members.len(),
            crate::safe::line(&ids.join(" "))
        );
    }
}

fn validate(files: &[PathBuf]) -> u8 {
    let mut code = exit::OK;
    for (n, file) in files.iter().enumerate() {
        match workflow::load(file) {
            // Freeing a workflow of 100,000 steps takes a tenth of the time
            // it took to check; after the last file the process ends, and
            // its memory goes back with it.
            Ok(wf) if n + 1 == files.len() => {
                say_instances(file, &wf);
                std::mem::forget(wf)
            }
            Ok(wf) => say_instances(file, &wf),
            Err(diags) => {
                crate::safe::say!("{diags}");
                code = exit::INVALID;
            }
        }
    }
    code
}
