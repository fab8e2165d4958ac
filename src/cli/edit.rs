//! `signalbox edit RUN [--file FILE] [--dry-run] [--rerun STEP]... [--yes]`:
//! a changed workflow applied to a run, live or finished (SPEC §2 "Edit a
//! run"). The plan comes first, then `apply? [y/N]` on a terminal (off a
//! terminal, or with `--yes`, it applies). A live run plans and applies
//! the edit in its own loop, through its socket; a run no process drives
//! is edited here and then driven, as `retry` drives it.
//!
//! Without `--file`, `$VISUAL` (else `$EDITOR`, else `vi`) opens on the
//! run's current revision, in a file under the state dir that is kept when
//! the edit does not apply, so it can be fixed and tried again.

use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use super::exit;
use super::history::Carry;
use super::run::RunFlags;
use crate::engine::By;
use crate::engine::edit::{EditAsk, Plan};
use crate::engine::run_dir::RunDir;
use crate::socket::edit::EditReply;

#[derive(Debug, Args)]
pub struct EditArgs {
    /// A run id under the state dir, or a run folder.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// The edited workflow (default: open $VISUAL or $EDITOR on the run's
    /// current revision).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Print the plan and apply nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Run this started or finished step again with its new definition
    /// (a running one is cancelled first).
    #[arg(long = "rerun", value_name = "STEP")]
    pub rerun: Vec<String>,
    /// Apply without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub flags: RunFlags,
}

pub fn edit(args: EditArgs) -> u8 {
    let state = super::history::resume_state_dir(args.flags.state_dir.clone(), &args.run);
    if args.flags.detached_run {
        // The run's own process, started below once the edit was confirmed.
        let ask = match args.file.as_deref().map(|f| read_ask(f, &args)) {
            Some(Ok(ask)) => EditAsk {
                dry_run: false,
                ..ask
            },
            Some(Err(message)) => {
                crate::safe::say!("{message}");
                return exit::INVALID;
            }
            None => {
                crate::safe::say!("error: the run's process needs the edit in --file");
                return exit::INVALID;
            }
        };
        return super::history::carry_on(&args.run, &args.flags, Carry::Edit(ask, Vec::new()));
    }
    let dir = match super::remote::open_run(Some(state.clone()), &args.run) {
        Ok(dir) => dir,
        Err(e) => {
            crate::safe::say!("error: {e}");
            return exit::FAILED;
        }
    };
    let live = super::remote::foreign(&dir) || crate::engine::lock::RunLock::held(&dir);
    let (ask, kept) = match source(&args, &dir, &state) {
        Ok(both) => both,
        Err(code) => return code,
    };
    let code = if live {
        edit_live(&dir, ask, &args)
    } else {
        edit_finished(&dir, ask, &args, &state)
    };
    if let Some(kept) = kept {
        match code {
            exit::OK => {
                let _ = std::fs::remove_file(&kept);
            }
            _ => crate::safe::say!(
                "your edit is kept in {}: `signalbox edit {} --file {}` tries it again",
                kept.display(),
                dir.id,
                kept.display()
            ),
        }
    }
    code
}

/// The edit as asked: from `--file`, or from the editor (then the file it
/// was saved in, kept until the edit applies).
fn source(args: &EditArgs, dir: &RunDir, state: &Path) -> Result<(EditAsk, Option<PathBuf>), u8> {
    if let Some(file) = &args.file {
        return read_ask(file, args)
            .map(|ask| (ask, None))
            .map_err(|message| {
                crate::safe::say!("{message}");
                exit::INVALID
            });
    }
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        crate::safe::say!(
            "error: no --file and no terminal to open an editor on: `signalbox edit {} --file FILE`",
            dir.id
        );
        return Err(exit::INVALID);
    }
    if super::remote::foreign(dir) {
        crate::safe::say!(
            "error: run {} is another user's: its workflow is not yours to read; edit a copy and pass it with --file",
            dir.id
        );
        return Err(exit::INVALID);
    }
    let current = current_revision(dir).map_err(|e| {
        crate::safe::say!("error: {e}");
        exit::FAILED
    })?;
    let file = super::editor::scratch(state, &dir.id, &current).map_err(|e| {
        crate::safe::say!("error: {e}");
        exit::FAILED
    })?;
    super::editor::open(&file).map_err(|e| {
        let _ = std::fs::remove_file(&file);
        crate::safe::say!("error: {e}");
        exit::INVALID
    })?;
    let ask = read_ask(&file, args).map_err(|message| {
        crate::safe::say!("{message}");
        exit::INVALID
    })?;
    if ask.source.as_bytes() == current.as_slice() {
        let _ = std::fs::remove_file(&file);
        crate::safe::say!("the file was left as it was: nothing to apply");
        return Err(exit::OK);
    }
    Ok((ask, Some(file)))
}

/// The edit in `file`, as a dry run (the plan is asked for first).
fn read_ask(file: &Path, args: &EditArgs) -> Result<EditAsk, String> {
    let label = file.display().to_string();
    let bytes = crate::workflow::read_bounded(file).map_err(|e| format!("{label}: error: {e}"))?;
    let source = String::from_utf8(bytes)
        .map_err(|_| format!("{label}: error: the file is not UTF-8 text"))?;
    Ok(EditAsk {
        source,
        file: label,
        rerun: args.rerun.clone(),
        dry_run: true,
        by: By::Flag,
        revision: None,
    })
}

/// The text of the revision in force: the newest `revisions/N.yaml` a
/// journaled edit names, else the file as run.
fn current_revision(dir: &RunDir) -> Result<Vec<u8>, String> {
    let revision = last_revision(&dir.journal_path())?;
    let path = match revision {
        0 => dir.path.join("workflow.yaml"),
        n => dir.path.join("revisions").join(format!("{n}.yaml")),
    };
    crate::workflow::read_bounded(&path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The revision the journal's last edit made (0: never edited). Only the
/// lines that can be an edit are parsed.
fn last_revision(journal: &Path) -> Result<u32, String> {
    #[derive(serde::Deserialize)]
    struct Edit {
        revision: Option<u32>,
    }
    let file = crate::engine::fsafe::open_read(journal)
        .map_err(|e| format!("cannot read {}: {e}", journal.display()))?;
    let mut last = 0;
    for line in std::io::BufReader::new(file).split(b'\n') {
        let line = line.map_err(|e| format!("cannot read {}: {e}", journal.display()))?;
        if memchr_edit(&line)
            && let Ok(Edit { revision: Some(n) }) = serde_json::from_slice::<Edit>(&line)
        {
            last = n;
        }
    }
    Ok(last)
}

fn memchr_edit(line: &[u8]) -> bool {
    {
        const EDIT: &[u8] = b"\"action\":\"edit\"";
        line.windows(EDIT.len()).any(|w| w == EDIT)
    }
}

/// Through the run's socket: the plan, the question, then the edit.
fn edit_live(dir: &RunDir, ask: EditAsk, args: &EditArgs) -> u8 {
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let send = |ask: &EditAsk| runtime.block_on(crate::socket::edit::send(&dir.path, ask));
    // Nobody to ask: one round trip, the applied plan printed.
    let ask = EditAsk {
        dry_run: args.dry_run || asking(args),
        ..ask
    };
    if !ask.dry_run {
        return match send(&ask) {
            Ok(EditReply::Planned(plan)) => {
                crate::safe::show!("{}", plan.render().trim_end());
                applied(&plan);
                exit::OK
            }
            Ok(EditReply::Refused(why, plan)) => refused(&why, plan.as_ref()),
            Err(e) => unanswered(dir, e),
        };
    }
    let plan = match send(&ask) {
        Ok(EditReply::Planned(plan)) => plan,
        Ok(EditReply::Refused(why, plan)) => return refused(&why, plan.as_ref()),
        Err(e) => return unanswered(dir, e),
    };
    if let Some(code) = settle(&plan, args) {
        return code;
    }
    // Applied only as the plan the operator saw: refused if the run was
    // edited since.
    match send(&EditAsk {
        dry_run: false,
        revision: Some(plan.revision),
        ..ask
    }) {
        Ok(EditReply::Planned(plan)) => {
            applied(&plan);
            exit::OK
        }
        Ok(EditReply::Refused(why, plan)) => refused(&why, plan.as_ref()),
        Err(e) => unanswered(dir, e),
    }
}

/// No answer from the run: 2 when the edit was too large to send (bad
/// input), else 1 (the run cannot be reached), with why.
fn unanswered(dir: &RunDir, e: String) -> u8 {
    if e.starts_with(crate::socket::edit::TOO_LARGE) {
        crate::safe::say!("error: {e}");
        return exit::INVALID;
    }
    let why = super::remote::unreachable(dir).unwrap_or(e);
    crate::safe::say!("error: {why}");
    exit::FAILED
}

/// A run no process drives: planned here, then (confirmed) driven with the
/// edit applied first, on the screen or headless.
fn edit_finished(dir: &RunDir, ask: EditAsk, args: &EditArgs, state: &Path) -> u8 {
    let plan = match super::editor::plan_here(dir, state, &ask) {
        Ok(plan) => plan,
        Err(message) => {
            crate::safe::say!("{}", super::run::prefixed(&message));
            return exit::INVALID;
        }
    };
    if plan.refused() {
        return refused(&plan.refusal(), Some(&plan));
    }
    if let Some(code) = settle(&plan, args) {
        return code;
    }
    let file = PathBuf::from(&ask.file);
    let ask = EditAsk {
        dry_run: false,
        ..ask
    };
    super::history::carry_on(&dir.id, &args.flags, Carry::Edit(ask, child_argv(&file)))
}

/// Prints the plan; the exit code when nothing more is to be done (a dry
/// run, an edit that changes nothing, an operator's no).
fn settle(plan: &Plan, args: &EditArgs) -> Option<u8> {
    // With --json, stdout is the run's events.
    match args.flags.json {
        true => crate::safe::say!("{}", plan.render().trim_end()),
        false => crate::safe::show!("{}", plan.render().trim_end()),
    }
    if args.dry_run {
        return Some(exit::OK);
    }
    if plan.is_noop() {
        crate::safe::show!("nothing changes: the edit matches the run's workflow");
        return Some(exit::OK);
    }
    if asking(args) && !confirmed() {
        crate::safe::say!("not applied");
        return Some(exit::OK);
    }
    None
}

/// Whether the operator is asked before the edit applies: on a terminal,
/// without `--yes`.
fn asking(args: &EditArgs) -> bool {
    !args.yes && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn confirmed() -> bool {
    let mut err = std::io::stderr();
    let _ = write!(err, "apply? [y/N] ");
    let _ = err.flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
}

/// What became of an edit the run answered: applied, or nothing to do.
fn applied(plan: &Plan) {
    if plan.applied {
        crate::safe::show!("applied: revision {} of {}", plan.revision, plan.run);
    } else if plan.is_noop() {
        crate::safe::show!("nothing changes: the edit matches the run's workflow");
    }
}

fn refused(why: &str, plan: Option<&Plan>) -> u8 {
    match plan {
        Some(plan) if !plan.diagnostics.is_empty() => {
            for line in &plan.diagnostics {
                crate::safe::say!("{line}");
            }
        }
        _ => crate::safe::say!("error: {why}"),
    }
    exit::INVALID
}

/// The run's own process, on the screen: this command line with the edit
/// in `file`, confirmed.
fn child_argv(file: &Path) -> Vec<OsString> {
    let mut argv = Vec::new();
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        let text = a.to_string_lossy();
        if text == "--file" {
            args.next();
        } else if !(text.starts_with("--file=") || text == "--yes" || text == "-y") {
            argv.push(a);
        }
    }
    argv.extend([
        OsString::from("--file"),
        file.as_os_str().to_owned(),
        OsString::from("--yes"),
    ]);
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_revision_is_the_last_journaled_edits() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let journal = tmp.path().join("events.jsonl");
        let lines = [
            r#"{"seq":1,"ts":"t","run":"r","type":"run_started","workflow":"w","steps":1,"resumed":false}"#,
            r#"{"seq":2,"ts":"t","run":"r","type":"dag_modified","action":"edit","steps":["b"],"by":"socket","revision":1}"#,
            r#"{"seq":3,"ts":"t","run":"r","type":"dag_modified","action":"retry","steps":["b"],"by":"flag"}"#,
            r#"{"seq":4,"ts":"t","run":"r","type":"dag_modified","action":"edit","steps":["c"],"by":"keyboard","revision":2}"#,
        ];
        std::fs::write(&journal, lines.join("\n") + "\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(last_revision(&journal), Ok(2));
        std::fs::write(&journal, lines[0]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(last_revision(&journal), Ok(0));
    }
}
