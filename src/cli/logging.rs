//! The program's own diagnostics: tracing into `<state-dir>/signalbox.log`,
//! never to the terminal (the screen owns it).

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;

/// Starts logging; keep the guard alive so the last lines are written.
/// Logging is best effort: a state dir that cannot be written loses the log,
/// not the run.
pub fn init(state_dir: &Path) -> Option<WorkerGuard> {
    std::fs::create_dir_all(state_dir).ok()?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("signalbox")
        .filename_suffix("log")
        .max_log_files(7)
        .build(state_dir)
        .ok()?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIGNALBOX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok()?;
    Some(guard)
}
