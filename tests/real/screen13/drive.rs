//! `e` through the app loop against a run in this process: the keys lent
//! to a scripted editor (no terminal), the edited file private and gone
//! after, the plan dialog opened with the run's answer; an editor that
//! fails discards the edit with a notice.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use futures::Stream;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use signalbox::engine::{Event, Run, RunOptions, Subscription};
use signalbox::tui::app::{Engine, Keys, drive_keys};
use signalbox::tui::model::Model;
use signalbox::workflow::load_str;

const GATED: &str = "name: gated
steps:
  gate:
    approval: { prompt: go? }
  two:
    needs: [gate]
    run: echo two
";

/// Scripted keys with an editor of our choosing; says when it is lent.
struct Scripted {
    keys: UnboundedReceiver<io::Result<TermEvent>>,
    editor: Vec<String>,
    lent: tokio::sync::mpsc::UnboundedSender<&'static str>,
}

impl Stream for Scripted {
    type Item = io::Result<TermEvent>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.keys).poll_next(cx)
    }
}

impl Keys for Scripted {
    fn editor(&self) -> Option<Vec<String>> {
        Some(self.editor.clone())
    }
    fn suspend(&mut self) -> io::Result<()> {
        let _ = self.lent.send("suspend");
        Ok(())
    }
    fn resume(&mut self) -> io::Result<()> {
        let _ = self.lent.send("resume");
        Ok(())
    }
}

fn press(tx: &UnboundedSender<io::Result<TermEvent>>, code: KeyCode) {
    let _ = tx.unbounded_send(Ok(TermEvent::Key(KeyEvent::new(code, KeyModifiers::NONE))));
}

async fn until(sub: &mut Subscription, what: impl Fn(&Event) -> bool) {
    while let Some(p) = sub.recv().await {
        if what(&p.envelope.event) {
            return;
        }
    }
}

/// Presses `e` once the gate waits, lets `editor` run, presses Esc (if
/// `esc`) once the screen is back, then stops the screen; the model as it
/// was left.
async fn edit_with(state: &Path, editor: Vec<String>, esc: bool) -> Model {
    let wf = load_str(GATED, "gated.yaml").unwrap();
    let mut model = Model::new(&wf);
    let options = RunOptions {
        state_dir: state.into(),
        ..Default::default()
    };
    let mut run = Run::new(wf, options).unwrap();
    let events = run.subscribe();
    let mut watch = run.subscribe();
    let handle = run.handle();
    let engine = Engine::local(events, handle, tokio::spawn(run.start()));
    let (tx, rx) = unbounded();
    let (lent, mut lending) = tokio::sync::mpsc::unbounded_channel();
    let keys = Scripted {
        keys: rx,
        editor,
        lent,
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let script = async move {
        until(&mut watch, |e| matches!(e, Event::ApprovalRequested { .. })).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        press(&tx, KeyCode::Char('e'));
        assert_eq!(lending.recv().await, Some("suspend"));
        assert_eq!(lending.recv().await, Some("resume"));
        // The run's answer comes back as the loop goes on.
        tokio::time::sleep(Duration::from_millis(500)).await;
        if esc {
            press(&tx, KeyCode::Esc);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = stop_tx.send(());
    };
    let stop = async move {
        let _ = stop_rx.await;
    };
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let screen = drive_keys(&mut terminal, &mut model, engine, keys, stop);
    let (_, ()) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(screen, script)
    })
    .await
    .expect("the screen ends once stopped");
    model
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_lends_the_keys_to_the_editor_then_shows_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("seen");
    let script = format!(
        "sed -i 's/echo two/echo TWO/' \"$0\" && stat -c %a \"$0\" > {s}/mode && \
         stat -c %a \"$(dirname \"$0\")\" > {s}/dir-mode && dirname \"$0\" > {s}/where && \
         cp \"$0\" {s}/copy",
        s = seen.display()
    );
    std::fs::create_dir(&seen).unwrap();
    let editor = vec!["sh".to_string(), "-c".to_string(), script];
    let model = edit_with(&dir.path().join("state"), editor, true).await;
    let read = |name: &str| std::fs::read_to_string(seen.join(name)).unwrap();
    assert_eq!(read("mode").trim(), "600");
    assert_eq!(read("dir-mode").trim(), "700");
    assert!(read("copy").contains("echo TWO"));
    // It held the run's workflow as it started, and it is gone.
    assert!(read("copy").contains("approval: { prompt: go? }"));
    assert!(!Path::new(read("where").trim()).exists());
    // Esc closed the plan dialog: only the dialog says this.
    assert_eq!(
        model.ui.notice.as_deref(),
        Some("the edit was discarded: nothing changed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_that_fails_or_changes_nothing_discards_the_edit() {
    let dir = tempfile::tempdir().unwrap();
    let failing = vec!["sh".into(), "-c".into(), "exit 3".into()];
    let model = edit_with(&dir.path().join("a"), failing, false).await;
    assert_eq!(
        model.ui.notice.as_deref(),
        Some("the editor sh exited with 3: the edit was discarded")
    );
    assert!(model.ui.overlay.is_none());
    let unchanged = vec!["true".into()];
    let model = edit_with(&dir.path().join("b"), unchanged, false).await;
    assert_eq!(
        model.ui.notice.as_deref(),
        Some("the file was left unchanged: nothing to edit")
    );
    assert!(model.ui.overlay.is_none());
}
