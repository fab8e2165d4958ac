//! The program's own diagnostics: tracing into `<state-dir>/signalbox.log`,
//! never to the terminal (the screen owns it).

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;

/// The log is rolled to `signalbox.log.1` when it grows past this at start.
const ROLL_BYTES: u64 = 10 * 1024 * 1024;

/// Starts logging; keep the guard alive so the last lines are written.
/// Logging is best effort: a state dir that cannot be written loses the log,
/// not the run. `SIGNALBOX_LOG` takes a tracing filter (`debug`, ...).
pub fn init(state_dir: &Path) -> Option<WorkerGuard> {
    std::fs::create_dir_all(state_dir).ok()?;
    let path = state_dir.join("signalbox.log");
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > ROLL_BYTES) {
        let _ = std::fs::rename(&path, state_dir.join("signalbox.log.1"));
    }
    // Opened here rather than by tracing-appender's file appender, which
    // panics when it cannot create the file (a read-only state dir).
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
    let (writer, guard) = tracing_appender::non_blocking(file);
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
