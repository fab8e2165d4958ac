//! `signalbox run`: load, apply the command line, and drive the engine
//! headless (the screen comes when stdin and stdout are terminals).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use super::exit;
use crate::engine::event::{MAX_ANSWER, check_answer, match_choice};
use crate::engine::{Command, Preset, Run, RunHandle, RunOptions, RunStatus};
use crate::headless;
use crate::tui::model::ui::Role;
use crate::workflow::{self, Action, Workflow};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The workflow file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub flags: RunFlags,
}

/// The options `run` and `resume` share.
#[derive(Debug, Args)]
pub struct RunFlags {
    /// Never open the screen: human lines on stderr.
    #[arg(long)]
    pub headless: bool,
    /// Print the events as JSON lines on stdout (implies --headless).
    #[arg(long)]
    pub json: bool,
    /// Steps running processes at once (overrides the workflow's `concurrency`; default: the CPU count).
    #[arg(long, short = 'j', value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Override a var: --var target=prod.
    #[arg(long = "var", value_name = "K=V")]
    pub vars: Vec<String>,
    /// Approve this step's approval as soon as it opens.
    #[arg(long = "approve", value_name = "STEP")]
    pub approve: Vec<String>,
    /// Reject this step's approval as soon as it opens.
    #[arg(long = "reject", value_name = "STEP")]
    pub reject: Vec<String>,
    /// Answer this step's question as soon as it opens: --answer notes="Bug fixes".
    #[arg(long = "answer", value_name = "STEP=TEXT")]
    pub answer: Vec<String>,
    /// Approve every approval and take every question's default.
    #[arg(long)]
    pub auto_approve: bool,
    /// Where runs are kept (default: $SIGNALBOX_STATE_DIR, else .signalbox).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Check the file, start the run in the background with no terminal (it
    /// outlives the shell and the terminal that started it), print its run
    /// id and exit 0; `attach`, `approve`, `events` reach it later.
    #[arg(long, conflicts_with = "json")]
    pub detach: bool,
    /// Set on the background process that drives a run for its screens.
    #[arg(long = "detached-run", hide = true)]
    pub detached_run: bool,
    /// Let this user (or every member of @GROUP) approve, answer and follow
    /// the run too, through its socket; the run folder stays private.
    /// Repeatable. `resume` without it keeps the run's list; with it, the
    /// list given replaces it.
    #[arg(long = "allow", value_name = "USER|@GROUP")]
    pub allow: Vec<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics while the run lives:
    /// HOST:PORT (an IPv4 address, [IPv6], localhost) or :PORT for
    /// 127.0.0.1; port 0 picks a free one, written to <run>/metrics.addr.
    #[arg(long, value_name = "ADDR", value_parser = crate::metrics::addr::parse)]
    pub metrics: Option<std::net::SocketAddr>,
    /// The NATS server the workers of the steps' pools use (default:
    /// $SIGNALBOX_NATS, else nats://127.0.0.1:4222).
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
}

/// The state dir as SPEC §4 resolves it.
pub fn state_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| {
        std::env::var_os("SIGNALBOX_STATE_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
    .unwrap_or_else(|| PathBuf::from(".signalbox"))
}

fn split_pair<'a>(text: &'a str, flag: &str) -> Result<(&'a str, &'a str), String> {
    let form = if flag == "--answer" {
        "STEP=TEXT"
    } else {
        "KEY=VALUE"
    };
    text.split_once('=')
        .ok_or_else(|| format!("{flag} takes {form}, got `{text}`"))
}

/// A var's value reaches steps' environments, as an answer does: the same
/// limits hold (SPEC §2 choices).
fn check_var(key: &str, value: &str) -> Result<(), String> {
    if value.contains('\0') {
        return Err(format!(
            "--var {key}: the value holds a NUL byte, which no environment variable can carry"
        ));
    }
    if value.len() > MAX_ANSWER {
        return Err(format!(
            "--var {key}: the value holds {} bytes; a var given on the command line holds at most 64 KiB (65536 bytes)",
            value.len()
        ));
    }
    Ok(())
}

/// Checks the wait flags against the workflow and turns them into presets.
fn presets(args: &RunFlags, wf: &Workflow) -> Result<HashMap<String, Preset>, String> {
    let mut out = HashMap::new();
    let find = |id: &str, flag: &str, want_ask: bool| -> Result<(), String> {
        // A matrix step's id names every instance; they share one kind.
        let first = |g: usize| wf.groups[g].members.first().copied();
        let Some(i) = (wf.step_index(id)).or_else(|| wf.group_index(id).and_then(first)) else {
            let ids = (wf.steps.iter().map(|s| s.id.as_str()))
                .chain(wf.groups.iter().map(|g| g.id.as_str()));
            let hint = workflow::diag::did_you_mean(id, ids);
            return Err(format!("{flag} names unknown step `{id}`{hint}"));
        };
        match (&wf.steps[i].action, want_ask) {
            (Action::Approval(_), false) | (Action::Ask(_), true) => Ok(()),
            _ => Err(format!(
                "{flag} {id}: step `{id}` is {} step",
                article(wf.steps[i].action.kind())
            )),
        }
    };
    for id in &args.approve {
        find(id, "--approve", false)?;
        once(&mut out, id, Preset::Approve)?;
    }
    for id in &args.reject {
        find(id, "--reject", false)?;
        once(&mut out, id, Preset::Reject)?;
    }
    for pair in &args.answer {
        let (id, text) = split_pair(pair, "--answer")?;
        find(id, "--answer", true)?;
        check_answer(id, text).map_err(|refusal| format!("--answer {id}: {refusal}"))?;
        let mut answer = text;
        let first = |g: usize| wf.groups[g].members.first().copied();
        let at = wf
            .step_index(id)
            .or_else(|| wf.group_index(id).and_then(first));
        if let Some(Action::Ask(a)) = at.map(|i| &wf.steps[i].action)
            && !a.choices.is_empty()
        {
            // Journaled as the choice is spelled.
            answer = match_choice(&a.choices, text).ok_or_else(|| {
                format!(
                    "--answer {id}: `{text}` is not one of the choices ({})",
                    a.choices.join(", ")
                )
            })?;
        }
        once(&mut out, id, Preset::Answer(answer.to_string()))?;
    }
    Ok(out)
}

/// One flag per wait: `--approve x --reject x` is a contradiction.
fn once(out: &mut HashMap<String, Preset>, id: &str, preset: Preset) -> Result<(), String> {
    if out.insert(id.to_string(), preset).is_some() {
        return Err(format!(
            "step `{id}` is named by more than one of --approve, --reject and --answer"
        ));
    }
    Ok(())
}

/// Whether a flag's `id` names `step`: its own id, or its matrix step's.
fn names(wf: &Workflow, id: &str, step: &crate::workflow::Step) -> bool {
    id == step.id
        || (step.instance.as_ref())
            .and_then(|inst| wf.groups.get(inst.group))
            .is_some_and(|g| g.id == id)
}

fn article(kind: &str) -> String {
    match kind {
        "approval" | "ask" => format!("an `{kind}`"),
        _ => format!("a `{kind}`"),
    }
}

/// Loads and prepares; an error here is bad input (exit 2).
pub(super) fn prepare(args: &RunArgs) -> Result<(Workflow, RunOptions), String> {
    let mut wf = workflow::load(&args.file).map_err(|d| d.to_string())?;
    let options = apply_flags(&args.flags, &mut wf)?;
    // Here too, not only when the run begins: the process that starts a
    // detached run or a screen's run says what is missing, before any.
    let here =
        std::env::current_dir().map_err(|e| format!("cannot tell the current folder: {e}"))?;
    let secrets = crate::engine::secrets::Secrets::read([&wf], &here)?;
    for name in secrets.unmasked() {
        crate::safe::say!(
            "warning: secret `{name}` is shorter than 4 bytes, too short to mask: output that prints it shows it"
        );
    }
    Ok((wf, options))
}

/// Applies `--var` and the wait flags to a loaded workflow.
pub fn apply_flags(args: &RunFlags, wf: &mut Workflow) -> Result<RunOptions, String> {
    let mut vars = std::collections::BTreeMap::new();
    for pair in &args.vars {
        let (k, v) = split_pair(pair, "--var")?;
        check_var(k, v)?;
        wf.set_var(k, v)?;
        vars.insert(k.to_string(), v.to_string());
    }
    if args.auto_approve {
        for step in &wf.steps {
            if let Action::Ask(a) = &step.action
                && a.default.is_none()
                && !args
                    .answer
                    .iter()
                    .any(|p| p.split_once('=').is_some_and(|(id, _)| names(wf, id, step)))
            {
                crate::safe::say!(
                    "warning: --auto-approve cannot answer `{}`: it has no default, so it waits for an answer",
                    step.id
                );
            }
        }
    }
    let presets = presets(args, wf)?;
    // Four-eyes gates the flags cannot decide alone, said before anything runs.
    let user = crate::engine::who::login_name(nix::unistd::Uid::effective());
    for note in crate::engine::flag_notes(wf, &user, &args.approve, args.auto_approve)? {
        crate::safe::say!("{note}");
    }
    let options = RunOptions {
        state_dir: state_dir(args.state_dir.clone()),
        jobs: args.jobs.map(|j| j as usize),
        presets,
        auto_approve: args.auto_approve,
        seed: None,
        workdir: None,
        vars,
        allow: crate::engine::allow::resolve_all(&args.allow)?,
        // A new run joins the caller's trace (SPEC §8); resume keeps its own.
        dispatch: None,
        traceparent: std::env::var_os("TRACEPARENT")
            .filter(|v| !v.is_empty())
            .map(|v| v.to_string_lossy().into_owned()),
    };
    Ok(options)
}

pub fn run(args: RunArgs) -> u8 {
    if args.flags.detach {
        return super::detach::start(&args);
    }
    if args.flags.detached_run {
        super::detach::become_detached();
    }
    let (wf, options) = match prepare(&args) {
        Ok(p) => p,
        Err(message) => {
            crate::safe::say!("{}", prefixed(&message));
            return exit::INVALID;
        }
    };
    let _log = match super::logging::state_dir(&options.state_dir) {
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
    let args = args.flags;
    let headless = args.headless
        || args.json
        || !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal());
    if headless {
        return runtime.block_on(run_headless(wf, options, &args));
    }
    // The run lives in a process of its own, so the screen can detach
    // from it (`d`) and others can attach; this screen is its first.
    let id = match super::detach::spawn() {
        Ok(id) => id,
        Err(code) => return code,
    };
    let dir = options.state_dir.join("runs").join(&id);
    super::detach::screen(&runtime, &dir, Role::Own, Some(wf), &options.state_dir)
}

/// `error: ` in front of a message that does not carry its own position.
pub fn prefixed(message: &str) -> String {
    if message.contains(": error: ") {
        message.to_string()
    } else {
        format!("error: {message}")
    }
}

async fn run_headless(wf: Workflow, options: RunOptions, flags: &RunFlags) -> u8 {
    match Run::new(wf, options.clone()) {
        Ok(run) => drive_headless(run, &options, flags).await,
        // The run could not begin (an unusable state dir): a usage error.
        Err(e) => {
            crate::safe::say!("error: {e}");
            exit::INVALID
        }
    }
}

/// The NATS server of the run in `dir`: `--nats`, else the one it started
/// with (a resumed run goes on with it), else `$SIGNALBOX_NATS`, else the
/// default. Kept in its `run.json` unless it holds a password, which is
/// never written down (give it again, or through `$SIGNALBOX_NATS`).
fn pool_server(dir: &std::path::Path, flag: Option<&str>) -> Result<String, String> {
    use crate::engine::run_dir;
    let mut params = run_dir::read_params(dir)?.unwrap_or_default();
    let server = crate::distributed::connect::server(flag.or(params.nats.as_deref()));
    crate::distributed::connect::check(&server)?;
    let keep = (crate::distributed::connect::shown(&server) == server).then(|| server.clone());
    if keep != params.nats && !params.workdir.as_os_str().is_empty() {
        params.nats = keep;
        run_dir::write_params(dir, &params)
            .map_err(|e| format!("cannot update {}: {e}", dir.display()))?;
    }
    Ok(server)
}

/// Drives a prepared run (new or resumed) without a screen, serving its
/// metrics at `--metrics` when given, and sending the attempts of steps
/// with a `pool` to their workers over `--nats`.
pub async fn drive_headless(mut run: Run, options: &RunOptions, flags: &RunFlags) -> u8 {
    let (json, metrics) = (flags.json, flags.metrics);
    if crate::distributed::dispatch::needed(run.workflow()) {
        // The run's own process of a detached run was handed its `--nats`
        // in the environment (see `detach::NATS_FLAG_VAR`).
        let handed = (flags.detached_run && flags.nats.is_none())
            .then(|| std::env::var(super::detach::NATS_FLAG_VAR).ok())
            .flatten();
        let flag = flags.nats.as_deref().or(handed.as_deref());
        let server = match pool_server(&run.handle().dir, flag) {
            Ok(server) => server,
            Err(e) => {
                crate::safe::say!("error: {e}");
                crate::engine::run_dir::discard_if_unstarted(&run.handle().dir);
                return exit::INVALID;
            }
        };
        let id = run.handle().run_id;
        match crate::distributed::dispatch::start(&server, run.workflow(), &id).await {
            Ok(nats) => run.set_dispatch(nats),
            Err(e) => {
                crate::safe::say!("error: {e}");
                crate::engine::run_dir::discard_if_unstarted(&run.handle().dir);
                return exit::INVALID;
            }
        }
    }
    // A flag naming a matrix step answers its instances: none is asked.
    let skip_prompt: Vec<String> = (options.presets.keys())
        .flat_map(|id| match run.workflow().group_index(id) {
            Some(g) => (run.workflow().groups[g].members.iter())
                .map(|&m| run.workflow().steps[m].id.clone())
                .collect(),
            None => vec![id.clone()],
        })
        .collect();
    let prompt = headless::can_prompt() && !options.auto_approve;
    let events = run.subscribe();
    let handle = run.handle();
    // A run that cannot serve the metrics asked for does not start.
    let exporter = match metrics {
        Some(addr) => match crate::metrics::Exporter::start(addr, &mut run).await {
            Ok(exporter) => Some(exporter),
            Err(e) => {
                crate::safe::say!("error: {e}");
                crate::engine::run_dir::discard_if_unstarted(&handle.dir);
                return exit::INVALID;
            }
        },
        None => None,
    };
    // A run nobody could reach from another terminal does not start.
    let socket = match crate::socket::serve(handle.clone(), &handle.dir) {
        Ok(server) => server,
        Err(e) => {
            crate::safe::say!("error: {e}");
            crate::engine::run_dir::discard_if_unstarted(&handle.dir);
            return exit::INVALID;
        }
    };
    // Before the run's id is said: `--detach` reads the address then.
    if let Some(exporter) = &exporter {
        announce_metrics(exporter.addr(), &handle.dir);
    }
    super::detach::announce(&handle.run_id);
    // Only waits are ordered by priority here: one entry per wait, not per step.
    let priorities = run
        .workflow()
        .steps
        .iter()
        .filter(|s| !matches!(s.action, crate::workflow::Action::Run(_)))
        .map(|s| (s.id.clone(), s.priority))
        .collect();
    let printing = headless::print_events(
        events,
        headless::Output {
            json,
            prompt,
            hint: !options.auto_approve,
        },
        handle.clone(),
        headless::Asking {
            skip: skip_prompt,
            priorities,
            four_eyes: headless::four_eyes(run.workflow()),
            pools: headless::step_pools(run.workflow()),
        },
    );
    // Writing to a pipe nobody reads blocks: then the printer gets a thread
    // of its own, so it blocks only itself, never a thread the run needs.
    // Otherwise it stays a task, which costs no wake-ups of another thread.
    let printer = if headless::output_may_stall(json) {
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || runtime.block_on(printing))
    } else {
        tokio::spawn(printing)
    };
    let signals = tokio::spawn(cancel_on_signals(handle, stop_signals()));
    // On a worker, like the screen's: messages between the scheduler and the
    // attempts do not hop to the thread that blocks on the runtime.
    let outcome = match tokio::spawn(run.start()).await {
        Ok(outcome) => outcome,
        Err(e) => {
            crate::safe::say!("error: the run stopped unexpectedly: {e}");
            return exit::FAILED;
        }
    };
    signals.abort();
    socket.close().await;
    if let Some(exporter) = exporter {
        exporter.close();
    }
    let _ = printer.await;
    if let Some(e) = &outcome.journal_error {
        crate::safe::say!("error: the run stopped: {e}");
    }
    match outcome.status {
        RunStatus::Succeeded => exit::OK,
        RunStatus::Failed => exit::FAILED,
        RunStatus::Cancelled => exit::CANCELLED,
    }
}

/// Says where the metrics are: on stderr, in the log and in
/// `<run>/metrics.addr`; warns when other machines can reach them.
fn announce_metrics(addr: std::net::SocketAddr, dir: &std::path::Path) {
    let url = crate::metrics::addr::url(addr);
    if let Err(e) = crate::metrics::write_addr(dir, addr) {
        tracing::warn!("cannot write {}: {e}", dir.join("metrics.addr").display());
    }
    tracing::info!("metrics: {url}");
    crate::safe::say!("metrics: {url}");
    if !crate::metrics::loopback(addr) {
        tracing::warn!("metrics served on {addr}, beyond this machine, with no authentication");
        crate::safe::say!(
            "warning: --metrics {addr} can be reached from other machines, and the metrics have no authentication"
        );
    }
}

/// SIGINT, SIGTERM and SIGHUP, watched from the moment this is called (a
/// signal that comes before the watching task first runs is not lost).
type StopSignals = Option<(
    tokio::signal::unix::Signal,
    tokio::signal::unix::Signal,
    tokio::signal::unix::Signal,
)>;

fn stop_signals() -> StopSignals {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(int), Ok(term), Ok(hup)) => Some((int, term, hup)),
        _ => None,
    }
}

/// Ctrl-C, SIGTERM and SIGHUP cancel the run.
async fn cancel_on_signals(handle: RunHandle, signals: StopSignals) {
    let Some((mut int, mut term, mut hup)) = signals else {
        return;
    };
    loop {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        handle.send(Command::Cancel {
            step: None,
            by: crate::engine::By::Keyboard,
        });
    }
}
