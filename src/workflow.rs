//! The workflow file format: reading YAML, checking it, and the step graph.
//!
//! This layer knows nothing of tokio, processes or screens. [`load`] and
//! [`load_str`] turn a file into a [`Workflow`] or into [`Diagnostics`] that
//! list every problem with its line and column.
//!
//! Flow: `node` (the only YAML code) -> `convert` (shape, unknown keys, into
//! the `spec` serde types) -> `resolve` (defaults, templates, conditions,
//! references, cycles) -> [`Workflow`].

mod convert;
pub mod dag;
pub mod diag;
pub mod duration;
pub mod expr;
pub mod fingerprint;
mod hook;
pub mod layout;
mod lines;
mod model;
mod name_index;
pub mod node;
mod read;
mod resolve;
pub mod spec;
pub mod template;

use std::path::Path;

pub use convert::STEP_KEYS;
pub use diag::{Diagnostic, Diagnostics, Pos};
pub use hook::{DEFAULT_HOOK_TIMEOUT, EVENT_TYPES, Hook};
pub use model::*;
pub use spec::{Jitter, OnFailure, OnTimeout, OutputMode};

/// Reads and checks a workflow file. `label` is how errors name the file.
pub fn load(path: &Path) -> Result<Workflow, Diagnostics> {
    let label = path.display().to_string();
    let mut diags = Diagnostics::new(label.clone());
    let bytes = match read_bounded(path) {
        Ok(b) => b,
        Err(message) => {
            diags.push(Pos::START, message);
            return Err(diags);
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => load_text(text, &label),
        Err(e) => {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            let col = good.len() - good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
            diags.push(
                Pos::new(line as u64, col as u64),
                "the file is not UTF-8 text",
            );
            Err(diags)
        }
    }
}

/// Reads at most the size limit plus one byte, so a huge file is refused
/// without being read whole. Only a regular file is read: a FIFO would block
/// forever and `/dev/zero` never ends, so the kind is checked before opening
/// and again on the opened file (a swap in between cannot make the open
/// block, since it does not wait for a writer under `O_NONBLOCK`).
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let cannot = |e: std::io::Error| format!("cannot read the file: {}", io_reason(&e));
    regular(&std::fs::metadata(path).map_err(cannot)?)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    regular(&meta)?;
    let limit = node::MAX_FILE_BYTES as u64;
    // Sized from the file so the buffer is not grown (and doubled) as it fills.
    let expected = usize::try_from(meta.len().min(limit + 1)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(expected + 1);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "the file is larger than {limit} bytes; workflow files are limited to that"
        ));
    }
    Ok(bytes)
}

/// Refuses anything but a regular file, saying what it is instead.
fn regular(meta: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "something other than a regular file"
    };
    Err(format!(
        "this is {what}, not a workflow file; give the path of a regular file"
    ))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// Checks a workflow held in memory.
pub fn load_str(text: &str, label: &str) -> Result<Workflow, Diagnostics> {
    load_text(text.to_owned(), label)
}

/// Checks a workflow and, when it is valid, keeps `text` in it as its source
/// (moved, not copied: a file may be 10 MiB).
pub fn load_text(text: String, label: &str) -> Result<Workflow, Diagnostics> {
    let mut diags = Diagnostics::new(label);
    // The node tree lives only for conversion, which frees each step's
    // nodes as it goes; resolving frees each step's spec likewise.
    let (spec, located) = match node::parse(&text) {
        Ok(mut root) => convert::workflow(&mut root, &mut diags),
        Err(e) => {
            diags.push(e.pos, e.message);
            return Err(diags);
        }
    };
    if !diags.is_empty() && (spec.name.is_empty() && spec.steps.0.is_empty()) {
        return Err(diags.finish());
    }
    let mut wf = resolve::workflow(spec, located, &text, &mut diags);
    if diags.is_empty() {
        wf.source = text;
        Ok(wf)
    } else {
        Err(diags.finish())
    }
}

/// The file's spec types as the loader filled them (for `graph` and tests).
pub fn load_spec(text: &str, label: &str) -> Result<spec::WorkflowSpec, Diagnostics> {
    let mut diags = Diagnostics::new(label);
    let mut root = node::parse(text).map_err(|e| {
        let mut d = Diagnostics::new(label);
        d.push(e.pos, e.message);
        d
    })?;
    let (spec, _) = convert::workflow(&mut root, &mut diags);
    if diags.is_empty() {
        Ok(spec)
    } else {
        Err(diags.finish())
    }
}

/// The JSON Schema of the file format, from the same serde types.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(spec::WorkflowSpec)).unwrap_or_default()
}
