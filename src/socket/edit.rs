//! An edit through the socket: the one command whose reply is more than a
//! word. The run answers with its plan (SPEC §2 "Edit a run"), as one JSON
//! line: `{"ok":true,"plan":{...}}` once planned (and, unless a dry run,
//! applied), or `{"refused":WHY,"plan":{...}}` when the edit cannot apply
//! (`plan` absent when the run refused for another reason: it is
//! stopping). On an attached session the same object is the `ctl: reply`.

use std::path::Path;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

pub use crate::engine::edit::EditAsk;
use crate::engine::edit::Plan;
use crate::engine::{Refusal, RunHandle};

/// The most a plan's reply may hold: a 100,000-step workflow's plan, every
/// step a line, stays well inside.
const MAX_REPLY: u64 = 64 * 1024 * 1024;

/// How long an edit waits for the run's answer: planning a 100,000-step
/// edit takes well under a second.
const ANSWER: std::time::Duration = std::time::Duration::from_secs(30);

/// How [`send`] says the edit could not be sent at all.
pub const TOO_LARGE: &str = "the edited file is too large to send to a live run";

/// How the run answered an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditReply {
    /// Planned, and applied unless it was a dry run or changed nothing.
    Planned(Plan),
    /// Not applied: why, and the plan when the edit itself was at fault.
    Refused(String, Option<Plan>),
}

/// The reply's fields, once the run has decided.
pub(super) async fn decide(
    handle: &RunHandle,
    ask: EditAsk,
    peer: Option<String>,
) -> serde_json::Map<String, serde_json::Value> {
    let value = match handle.edit(ask, peer).await {
        Ok(plan) => serde_json::json!({"ok": true, "plan": plan}),
        Err(Refusal::Edit(plan)) => serde_json::json!({"refused": plan.refusal(), "plan": plan}),
        Err(refusal) => serde_json::json!({"refused": refusal.to_string()}),
    };
    match value {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// The one-shot connection's reply line to an edit.
pub(super) async fn reply_line(handle: &RunHandle, ask: EditAsk, peer: Option<String>) -> String {
    let fields = decide(handle, ask, peer).await;
    let mut line = serde_json::Value::Object(fields).to_string();
    line.push('\n');
    line
}

#[derive(serde::Deserialize)]
struct Wire {
    #[serde(default)]
    ok: bool,
    refused: Option<String>,
    plan: Option<Plan>,
}

/// Sends `ask` to the run in `dir`; its reply, or why there was none.
pub async fn send(dir: &Path, ask: &EditAsk) -> Result<EditReply, String> {
    let path = super::place::locate(dir)?.unwrap_or_else(|| dir.join(super::SOCKET));
    let stream = super::connect(&path).await.map_err(|e| {
        format!(
            "cannot reach the run at {}: {e} (is it still running?)",
            path.display()
        )
    })?;
    let (read, mut write) = stream.into_split();
    let command = crate::engine::Command::Edit(ask.clone());
    let mut line = serde_json::to_vec(&command).map_err(|e| e.to_string())?;
    line.push(b'\n');
    if line.len() > super::wire::MAX_LINE {
        return Err(format!(
            "{TOO_LARGE} ({} KiB; a socket message holds at most 1 MiB)",
            line.len() / 1024
        ));
    }
    let wrote = write.write_all(&line).await;
    let mut reply = String::new();
    let mut read = BufReader::new(read).take(MAX_REPLY);
    let read = tokio::time::timeout(ANSWER, read.read_line(&mut reply))
        .await
        .map_err(|_| {
            format!(
                "the run did not answer within {} s (is its process stopped?); the edit may still apply when it does: `signalbox events RUN` shows whether it did",
                ANSWER.as_secs()
            )
        })?;
    if reply.is_empty() {
        if let Err(e) = wrote {
            return Err(e.to_string());
        }
        read.map_err(|e| e.to_string())?;
        return Err("the run closed the connection without a reply".to_string());
    }
    let reply = reply.trim_end();
    if let Some(e) = reply.strip_prefix("error: ") {
        return Err(e.to_string());
    }
    let wire: Wire = serde_json::from_str(reply).map_err(|e| {
        let shown: String = reply.chars().take(80).collect();
        format!(
            "unexpected reply from the run ({e}): {}",
            crate::safe::Line::<String>(shown)
        )
    })?;
    match (wire.ok, wire.refused, wire.plan) {
        (true, _, Some(plan)) => Ok(EditReply::Planned(plan)),
        (_, Some(why), plan) => Ok(EditReply::Refused(why, plan)),
        _ => Err("the run's reply to the edit held no plan".to_string()),
    }
}
