//! A run as OpenTelemetry spans (SPEC §8): `signalbox trace RUN` builds
//! one OTLP/JSON export request from the journal, so a run that crashed
//! and resumed is still one complete trace.
//!
//! - [`otlp`]: the OTLP/JSON shapes, written by hand (hex ids, decimal
//!   strings for 64-bit integers).
//! - [`build`]: the journal folded into spans; the span ids come from
//!   [`crate::engine::trace_ctx`], which the engine also uses to give each
//!   attempt's process its `TRACEPARENT`.
//! - [`post`]: the request sent to an OTLP/HTTP receiver (`--otlp`), over
//!   a small HTTP/1.1 client of its own.

pub mod build;
pub mod otlp;
pub mod post;

use std::path::Path;

use crate::engine::run_dir;

/// The trace of the run in folder `dir` (id `run_id`): its kept trace id
/// (or one derived from the run id), and its journal read and checked.
pub fn of_run(dir: &Path, run_id: &str) -> Result<otlp::ExportTraceServiceRequest, String> {
    let params = run_dir::read_params(dir)?;
    let (trace, parent) = run_dir::Params::trace(params.as_ref(), run_id);
    let journal = dir.join("events.jsonl");
    let ctx = build::Context {
        trace,
        parent,
        run_id: run_id.to_string(),
    };
    let mut fold = build::Fold::new(&ctx);
    // Checked as it is read (seq order, one run); a torn last line, which a
    // live run may be writing, is left out.
    crate::engine::journal::scan(&journal, |e| fold.take(&e)).map_err(|e| e.to_string())?;
    Ok(otlp::ExportTraceServiceRequest::of(fold.finish()))
}
