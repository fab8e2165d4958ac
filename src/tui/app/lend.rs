//! `e` in the app loop: the terminal lent to the editor and taken back,
//! then the edited file asked of the run as a dry run, and its plan handed
//! to `update` when the run answers. While the editor runs the loop waits
//! for it: the run goes on, its events queue (a queue that fills reads on
//! from the journal), and the screen catches up on return with a full
//! redraw. The key stream stops reading the terminal first, so no key
//! meant for the editor reaches the screen.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use crossterm::event::Event as TermEvent;
use futures::Stream;
use ratatui::backend::Backend;

use super::Loop;
use crate::engine::By;
use crate::engine::edit::EditAsk;
use crate::tui::editor::{Scratch, read_limited};
use crate::tui::model::ui::EditFrom;
use crate::tui::update::{Msg, update};

/// The screen's keys, and what only a real terminal can do besides: lend
/// itself to an editor and take itself back.
pub trait Keys: Stream<Item = io::Result<TermEvent>> + Unpin {
    /// The editor to open; `None`: there is no terminal to lend it.
    fn editor(&self) -> Option<Vec<String>> {
        None
    }
    /// Stops reading keys and leaves the screen for the editor.
    fn suspend(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Takes the screen back and reads keys again.
    fn resume(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Stops reading keys for good: the terminal is gone, and a reader
    /// left on it would spin on its end of file.
    fn close(&mut self) {}
}

/// Keys from anywhere (a test's script): no terminal to lend.
pub struct Plain<K>(pub K);

impl<K: Stream<Item = io::Result<TermEvent>> + Unpin> Stream for Plain<K> {
    type Item = io::Result<TermEvent>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.0).poll_next(cx)
    }
}

impl<K: Stream<Item = io::Result<TermEvent>> + Unpin> Keys for Plain<K> {}

/// How the editor ended, for the notice when nothing is asked.
enum Edited {
    Changed { text: String, file: String },
    Discarded(String),
}

impl<B: Backend> Loop<'_, B> {
    /// `e` (or `e` again in the plan dialog): edit, then ask for the plan.
    pub(super) async fn edit(&mut self, from: EditFrom, keys: &mut impl Keys) {
        self.dirty = true;
        let Some(editor) = keys.editor() else {
            self.model.ui.notice =
                Some("this screen has no terminal for an editor: use `signalbox edit RUN`".into());
            return;
        };
        let text = match from {
            EditFrom::Text(text) => text,
            EditFrom::Revision => match self.revision_text() {
                Ok(text) => text,
                Err(why) => {
                    self.model.ui.notice = Some(why);
                    return;
                }
            },
        };
        match self.lend(&editor, &text, keys).await {
            Edited::Changed { text, file } => {
                let ask = EditAsk {
                    source: text,
                    file,
                    rerun: vec![],
                    dry_run: true,
                    by: By::Keyboard,
                    revision: None,
                };
                self.ask_edit(ask);
            }
            Edited::Discarded(why) => self.model.ui.notice = Some(why),
        }
    }

    /// Sends `ask` to the run; its answer comes back as a message.
    pub(super) fn ask_edit(&mut self, ask: EditAsk) {
        update(self.model, Msg::EditAsked(ask.clone()));
        let answer = self.commands.edit(ask.clone());
        let plans = self.plans.clone();
        tokio::spawn(async move {
            let answer = answer.await;
            let _ = plans.send((ask, answer));
        });
        self.dirty = true;
    }

    /// The run's current workflow: the newest revision its events named,
    /// else the file it started with.
    fn revision_text(&self) -> Result<String, String> {
        let dir = (self.model.run.dir.as_ref())
            .ok_or("the screen does not know the run's folder: use `signalbox edit RUN`")?;
        let n = self.model.run.revision;
        let path = match n {
            0 => dir.join("workflow.yaml"),
            n => dir.join("revisions").join(format!("{n}.yaml")),
        };
        read_limited(&path).map_err(|e| {
            format!(
                "cannot read the run's workflow ({}: {e}): use `signalbox edit RUN --file FILE`",
                path.display()
            )
        })
    }

    /// The editor on a private copy of `text`, the screen put away meanwhile.
    async fn lend(&mut self, editor: &[String], text: &str, keys: &mut impl Keys) -> Edited {
        let name = format!(
            "{}.yaml",
            self.model.run.id.as_deref().unwrap_or("workflow")
        );
        let name = crate::safe::cells(&name).replace('/', "_");
        let scratch = match Scratch::new(&name, text) {
            Ok(s) => s,
            Err(e) => return Edited::Discarded(format!("cannot make a file to edit: {e}")),
        };
        let status = match keys.suspend() {
            Ok(()) => run(editor, &scratch).await,
            Err(e) => Err(format!("cannot leave the screen for the editor: {e}")),
        };
        let back = keys.resume();
        // Whatever the editor drew is on the terminal now: draw it all, at
        // the size it has now (a resize meanwhile went to the editor).
        // (`resize` clears without asking the terminal where its cursor is,
        // which `clear` does, and a reply can be lost as the keys restart.)
        if let Ok(size) = self.terminal.size() {
            let _ =
                (self.terminal).resize(ratatui::layout::Rect::new(0, 0, size.width, size.height));
            update(self.model, Msg::Resize(size.width, size.height));
        }
        if let Err(e) = back {
            return Edited::Discarded(format!("cannot take the screen back: {e}"));
        }
        if let Err(why) = status {
            return Edited::Discarded(why);
        }
        match scratch.read() {
            Ok(edited) if edited == text => {
                Edited::Discarded("the file was left unchanged: nothing to edit".into())
            }
            Ok(edited) => Edited::Changed {
                text: edited,
                file: scratch.file.display().to_string(),
            },
            Err(e) => Edited::Discarded(format!("cannot read the edited file: {e}")),
        }
    }
}

/// Runs the editor on the scratch file; why not, if it did not end well.
fn run(editor: &[String], scratch: &Scratch) -> impl Future<Output = Result<(), String>> {
    let (program, args) = match editor.split_first() {
        Some((p, a)) => (p.clone(), a.to_vec()),
        None => ("vi".to_string(), Vec::new()),
    };
    let file = scratch.file.clone();
    async move {
        let shown = crate::safe::cells(&program).into_owned();
        let status = tokio::process::Command::new(&program)
            .args(&args)
            .arg(&file)
            .status()
            .await
            .map_err(|e| {
                format!("cannot start the editor {shown}: {e} (set $VISUAL or $EDITOR)")
            })?;
        match status.code() {
            Some(0) => Ok(()),
            Some(code) => Err(format!(
                "the editor {shown} exited with {code}: the edit was discarded"
            )),
            None => Err(format!(
                "the editor {shown} was killed: the edit was discarded"
            )),
        }
    }
}
