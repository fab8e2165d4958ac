//! `trace RUN [--otlp URL]`: a run as one OTLP/JSON export request, built
//! from its journal ([`crate::trace`]); printed, or posted to an OTLP/HTTP
//! receiver.

use std::path::PathBuf;

use clap::Args;

use super::exit;
use crate::safe;
use crate::trace::post::{self, Endpoint, PostError};

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// A run id under the state dir, or a run folder.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// POST the trace to URL/v1/traces (OTLP/HTTP, JSON) instead of printing it.
    #[arg(long, value_name = "URL")]
    pub otlp: Option<String>,
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

pub fn trace(args: TraceArgs) -> u8 {
    // Bad usage before anything is read.
    let to = match args.otlp.as_deref().map(Endpoint::parse).transpose() {
        Ok(to) => to,
        Err(e) => {
            safe::say!("error: {e}");
            return exit::INVALID;
        }
    };
    let dir = match super::remote::open_run(args.state_dir, &args.run) {
        Ok(dir) => dir,
        Err(e) => {
            safe::say!("error: {e}");
            return exit::FAILED;
        }
    };
    match crate::engine::fsafe::check_regular(&dir.journal_path()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            safe::say!(
                "error: run {} is another user's: its journal is not yours to read",
                dir.id
            );
            return exit::FAILED;
        }
        Err(e) => {
            safe::say!("error: run {}: {e}", dir.id);
            return exit::FAILED;
        }
    }
    let request = match crate::trace::of_run(&dir.path, &dir.id) {
        Ok(r) => r,
        Err(e) => {
            safe::say!("error: {e}");
            return exit::FAILED;
        }
    };
    // Text from the run (step ids, errors) stays JSON a terminal cannot obey.
    let body = match serde_json::to_string(&request) {
        Ok(b) => safe::json_line(&b).into_owned(),
        Err(e) => {
            safe::say!("error: cannot write the trace: {e}");
            return exit::FAILED;
        }
    };
    let Some(to) = to else {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        return match out
            .write_all(body.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush())
        {
            // `| head`: the reader had what it wanted.
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                safe::say!("error: cannot write the trace: {e}");
                exit::FAILED
            }
            _ => exit::OK,
        };
    };
    match post::post(&to, body.as_bytes()) {
        Ok(status) => {
            safe::say!(
                "sent {} spans of run {} to {} ({})",
                request.span_count(),
                dir.id,
                to.url(),
                safe::line(&status)
            );
            exit::OK
        }
        Err(PostError::Url(e)) => {
            safe::say!("error: {e}");
            exit::INVALID
        }
        Err(PostError::Failed(e)) => {
            safe::say!("error: {e}");
            exit::FAILED
        }
    }
}
