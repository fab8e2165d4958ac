#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The screen without a terminal: `update` driven by tables of keys, the
//! views rendered on `TestBackend` and compared with insta snapshots, and the
//! whole app loop driven by scripted keys against a real engine run.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use signalbox::engine::event::BreakerState;
use signalbox::engine::{By, Command, Envelope, Event, Published, Run, RunOptions, RunStatus};
use signalbox::tui::app::{Engine, drive};
use signalbox::tui::model::Model;
use signalbox::tui::model::ui::{Overlay, Pane, WaitSelection};
use signalbox::tui::update::{Msg, update};
use signalbox::tui::view::view;
use signalbox::workflow::{Workflow, load_str};

/// 2026-01-01T00:00:00Z in milliseconds.
const T0: u64 = 1_767_225_600_000;

const RELEASE: &str = r#"
name: release
breakers:
  registry: { failures: 2, cooldown: 30s }
steps:
  build:
    run: echo build
  lint:
    run: echo lint
  test:
    needs: [build]
    retry: { attempts: 3 }
    run: cargo test
  publish:
    needs: [build]
    breaker: registry
    run: ./publish.sh
  notes:
    ask:
      question: "Headline for the release notes?"
      choices: ["Bug fixes", "New features", "Performance"]
      default: "Bug fixes"
      timeout: 10m
  name-it:
    ask: { question: "Code name?" }
  go-live:
    needs: [test, lint]
    priority: 10
    approval: { prompt: "Ship 2.3.0 to staging?" }
  deploy:
    needs: [go-live, notes, publish]
    run: ./deploy.sh
"#;

fn workflow(text: &str) -> Workflow {
    match load_str(text, "test.yaml") {
        Ok(wf) => wf,
        Err(e) => panic!("{e}"),
    }
}

/// An event at `ms` after T0.
fn at(seq: u64, ms: u64, event: Event) -> Msg {
    let ts = std::time::UNIX_EPOCH + Duration::from_millis(T0 + ms);
    let envelope = Envelope {
        seq,
        ts: humantime::format_rfc3339_millis(ts).to_string(),
        run: "release-20260101-000000-abcd".into(),
        event,
    };
    Msg::Event(Arc::new(Published {
        envelope,
        line: String::new(),
    }))
}

fn s(x: &str) -> String {
    x.to_string()
}

/// The release run 8 seconds in, as its journal would hold it: parallel
/// steps, a retry backing off, a breaker open, two questions and an
/// approval waiting. `{}` stands for the envelope fields.
const JOURNAL: &[&str] = &[
    r#"{} "type":"run_started","workflow":"release","steps":8,"resumed":false}"#,
    r#"{} "type":"step_ready","step":"build"}"#,
    r#"{} "type":"step_ready","step":"lint"}"#,
    r#"{} "type":"question_asked","step":"notes","wait":"w1","question":"Headline for the release notes?","choices":["Bug fixes","New features","Performance"],"default":"Bug fixes"}"#,
    r#"{} "type":"question_asked","step":"name-it","wait":"w2","question":"Code name?","choices":[],"default":null}"#,
    r#"{} "type":"step_started","step":"build","attempt":1}"#,
    r#"{} "type":"step_started","step":"lint","attempt":1}"#,
    r#"{} "type":"step_output","step":"build","stream":"stdout","line":"compiling signalbox v2.3.0"}"#,
    r#"{} "type":"step_output","step":"lint","stream":"stderr","line":"warning: unused variable"}"#,
    r#"{} "type":"step_succeeded","step":"lint","attempt":1,"duration_ms":800,"outputs":{},"fallback":false}"#,
    r#"{} "type":"step_succeeded","step":"build","attempt":1,"duration_ms":3200,"outputs":{},"fallback":false}"#,
    r#"{} "type":"step_started","step":"test","attempt":1}"#,
    r#"{} "type":"step_started","step":"publish","attempt":1}"#,
    r#"{} "type":"step_retrying","step":"test","attempt":1,"error":"exit code 101","exit_code":101,"delay_ms":8000}"#,
    r#"{} "type":"breaker_changed","breaker":"registry","state":"open"}"#,
    r#"{} "type":"step_failed","step":"publish","attempts":1,"error":"exit code 1","exit_code":1}"#,
    r#"{} "type":"approval_requested","step":"go-live","wait":"w3","prompt":"Ship 2.3.0 to staging?","timeout_ms":300000}"#,
];

/// The journal replayed into a model, an event every half second, at 9 s.
fn model() -> Model {
    let mut m = Model::new(&workflow(RELEASE));
    m.ui.color = false;
    for (i, line) in JOURNAL.iter().enumerate() {
        let ts = std::time::UNIX_EPOCH + Duration::from_millis(T0 + i as u64 * 500);
        let head = format!(
            r#"{{"seq":{},"ts":"{}","run":"release-20260101-000000-abcd","#,
            i + 1,
            humantime::format_rfc3339_millis(ts)
        );
        let envelope: Envelope = serde_json::from_str(&line.replacen("{} ", &head, 1)).unwrap();
        update(
            &mut m,
            Msg::Event(Arc::new(Published {
                envelope,
                line: String::new(),
            })),
        );
    }
    update(&mut m, Msg::Clock(T0 + 9_000));
    m
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

/// Keys as a script: characters type themselves, `<Name>` is a named key
/// (`<Enter>`, `<Esc>`, `<Tab>`, `<BackTab>`, `<Down>`, `<Right>`, `<C-c>`).
fn script(text: &str) -> Vec<KeyEvent> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '<'
            && let Some(end) = rest.find('>')
        {
            out.push(match &rest[1..end] {
                "Enter" => code(KeyCode::Enter),
                "Esc" => code(KeyCode::Esc),
                "Tab" => code(KeyCode::Tab),
                "BackTab" => KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT),
                "Down" => code(KeyCode::Down),
                "Right" => code(KeyCode::Right),
                "C-c" => KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
                other => panic!("unknown key <{other}>"),
            });
            rest = &rest[end + 1..];
        } else {
            out.push(key(c));
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn keys(m: &mut Model, keys: &[KeyEvent]) -> Vec<Command> {
    keys.iter()
        .filter_map(|k| update(m, Msg::Key(*k)))
        .collect()
}

const KB: By = By::Keyboard;

fn approve(step: &str) -> Vec<Command> {
    vec![Command::Approve {
        step: s(step),
        by: KB,
    }]
}
fn reject(step: &str) -> Vec<Command> {
    vec![Command::Reject {
        step: s(step),
        by: KB,
    }]
}
fn answer(step: &str, text: &str) -> Vec<Command> {
    vec![Command::Answer {
        step: s(step),
        text: s(text),
        by: KB,
    }]
}
fn retry(step: &str) -> Vec<Command> {
    vec![Command::Retry {
        step: s(step),
        by: KB,
    }]
}
fn skip(step: &str) -> Vec<Command> {
    vec![Command::Skip {
        step: s(step),
        by: KB,
    }]
}
fn cancel(step: Option<&str>) -> Vec<Command> {
    vec![Command::Cancel {
        step: step.map(s),
        by: KB,
    }]
}
const NONE: Vec<Command> = Vec::new();

fn answering(m: &Model) -> Option<&signalbox::tui::model::ui::AnswerBox> {
    match &m.ui.overlay {
        Some(Overlay::Answer(b)) => Some(b),
        _ => None,
    }
}

/// (what, step selected in the graph first, keys, commands out, model after)
type Case = (
    &'static str,
    &'static str,
    &'static str,
    Vec<Command>,
    fn(&Model) -> bool,
);

#[rustfmt::skip] // a table: one case a line
fn cases() -> Vec<Case> {
    vec![
        ("Tab: next pane", "", "<Tab>", NONE, |m| m.ui.focus == Pane::Waits),
        ("Shift-Tab: previous pane", "", "<BackTab>", NONE, |m| m.ui.focus == Pane::Log),
        ("w: the wait queue", "", "w", NONE, |m| m.ui.focus == Pane::Waits),
        ("a approves the top wait, from the graph", "", "a", approve("go-live"), |_| true),
        ("r rejects it", "", "r", reject("go-live"), |_| true),
        ("a twice decides one wait", "", "aa", approve("go-live"), |m| m.ui.notice.is_some() && m.selected_wait().is_none()),
        ("j moves the wait selection; a on a question says to press Enter", "", "wja", NONE, |m| m.ui.wait == WaitSelection::Pinned(s("w1")) && m.ui.notice.as_deref().is_some_and(|n| n.contains("Enter"))),
        ("r on a question does nothing either", "", "wjjr", NONE, |m| m.ui.overlay.is_none() && m.ui.notice.is_some()),
        ("Enter, typing, Enter answers", "", "wjj<Enter>Orca<Enter>", answer("name-it", "Orca"), |m| m.ui.overlay.is_none()),
        ("typed text triggers no keys", "", "wjj<Enter>aqrxR", NONE, |m| answering(m).is_some_and(|b| b.text == "aqrxR")),
        ("Down picks the next choice", "", "wj<Enter><Down><Enter>", answer("notes", "New features"), |_| true),
        ("a choice matches ignoring case and spaces, sent as spelled", "", "wj<Enter> PERFORMANCE <Enter>", answer("notes", "Performance"), |m| m.selected_wait().is_none()),
        ("a prefix is no choice", "", "wj<Enter>perf<Enter>", NONE, |m| answering(m).is_some_and(|b| b.error.is_some())),
        ("an answer that is no choice is refused", "", "wj<Enter>nope<Enter>", NONE, |m| answering(m).is_some_and(|b| b.error.is_some())),
        ("Enter on an empty box sends the default", "", "wj<Enter><Enter>", answer("notes", "Bug fixes"), |_| true),
        ("Esc closes the box", "", "wj<Enter>x<Esc>", NONE, |m| m.ui.overlay.is_none()),
        ("Enter on an approval says what to press", "", "w<Enter>", NONE, |m| m.ui.notice.is_some()),
        ("arrows move the graph selection", "build", "<Right>", NONE, |m| ["test", "publish"].contains(&m.steps[m.ui.selected].id.as_str())),
        ("R asks first", "test", "R", NONE, |m| matches!(m.ui.overlay, Some(Overlay::ConfirmStep { .. }))),
        ("R, y retries the step selected in the graph", "test", "Ry", retry("test"), |m| m.ui.overlay.is_none()),
        ("R, n does nothing", "test", "Rn", NONE, |m| m.ui.overlay.is_none()),
        ("R refuses a step that did not fail", "build", "R", NONE, |m| m.ui.notice.is_some()),
        ("s, y skips the selected step", "test", "sy", skip("test"), |_| true),
        ("x, y cancels it", "test", "xy", cancel(Some("test")), |_| true),
        ("x, Esc does not", "test", "x<Esc>", NONE, |m| m.ui.overlay.is_none()),
        ("s refuses a step that ended", "build", "s", NONE, |m| m.ui.notice.is_some()),
        ("Enter in the graph opens the step's output", "", "<Enter>", NONE, |m| matches!(m.ui.overlay, Some(Overlay::Output { .. }))),
        ("f: follow off", "", "f", NONE, |m| !m.log.follow),
        ("/ filters the log", "", "/lint<Enter>", NONE, |m| m.log.filter == "lint" && m.ui.overlay.is_none()),
        ("Esc in the filter clears it", "", "/lint<Esc>", NONE, |m| m.log.filter.is_empty()),
        ("? shows help, any key closes it", "", "?j", NONE, |m| m.ui.overlay.is_none()),
        ("q asks while waits are open", "", "q", NONE, |m| m.ui.overlay == Some(Overlay::ConfirmQuit) && !m.ui.quit),
        ("n stays", "", "qn", NONE, |m| m.ui.overlay.is_none() && !m.ui.quit),
        ("y quits and cancels the run", "", "qy", cancel(None), |m| m.ui.quit),
        ("Ctrl-C asks like q; twice quits", "", "<C-c><C-c>", cancel(None), |m| m.ui.quit),
        ("q while cancelling stops waiting", "", "qyq", cancel(None), |m| m.ui.force),
    ]
}

#[test]
fn update_table() {
    let base = model();
    for (what, select, typed, commands, check) in cases() {
        let mut m = base.clone();
        if !select.is_empty() {
            m.ui.selected = m.step_index(select).unwrap();
        }
        assert_eq!(keys(&mut m, &script(typed)), commands, "{what}: commands");
        assert!(check(&m), "{what}: the model after {typed:?}");
    }
}

#[test]
fn after_the_run_q_quits_at_once() {
    let mut m = model();
    update(
        &mut m,
        at(
            99,
            20_000,
            Event::RunFinished {
                status: RunStatus::Failed,
                duration_ms: 20_000,
            },
        ),
    );
    assert!(m.waits.is_empty(), "a finished run has no open waits");
    assert_eq!(keys(&mut m, &[key('q')]), vec![]);
    assert!(m.ui.quit);
}

#[test]
fn the_model_follows_the_events() {
    let m = model();
    let status = |id: &str| m.steps[m.step_index(id).unwrap_or(0)].status;
    use signalbox::tui::model::Status;
    assert_eq!(status("build"), Status::Succeeded);
    assert_eq!(
        status("test"),
        Status::Backoff {
            due_ms: T0 + 13 * 500 + 8000
        }
    );
    assert_eq!(status("publish"), Status::Failed);
    assert_eq!(status("go-live"), Status::Waiting);
    let order: Vec<&str> = m.waits.list().iter().map(|w| w.step_id.as_str()).collect();
    assert_eq!(
        order,
        ["go-live", "notes", "name-it"],
        "priority first, then oldest"
    );
    let notes = &m.waits.list()[1];
    assert_eq!(
        notes.deadline_ms,
        notes.opened_ms + 600_000,
        "a question's timeout comes from the workflow"
    );
    assert_eq!(m.breakers.get("registry"), Some(&BreakerState::Open));
    let mut m = m;
    update(
        &mut m,
        at(
            50,
            9_000,
            Event::DagModified {
                action: signalbox::engine::event::DagAction::Retry,
                steps: vec![s("publish")],
                by: KB,
                user: Some(s("ops")),
                revision: None,
                sha256: None,
                diff: None,
            },
        ),
    );
    assert_eq!(
        m.steps[m.step_index("publish").unwrap_or(0)].status,
        Status::Pending
    );
}

#[test]
fn an_answer_box_closes_when_its_question_does() {
    let mut m = model();
    keys(&mut m, &[key('w'), key('j'), code(KeyCode::Enter)]);
    assert!(matches!(m.ui.overlay, Some(Overlay::Answer(_))));
    update(
        &mut m,
        at(
            60,
            9_500,
            Event::QuestionAnswered {
                step: s("notes"),
                wait: s("w1"),
                answer: s("Bug fixes"),
                by: By::Timeout,
                user: None,
                waited_ms: 1,
            },
        ),
    );
    assert_eq!(m.ui.overlay, None);
    assert!(m.ui.notice.is_some());
}

fn render(m: &Model, w: u16, h: u16) -> String {
    let mut t = match Terminal::new(TestBackend::new(w, h)) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    let mut m = m.clone();
    update(&mut m, Msg::Resize(w, h));
    if let Err(e) = t.draw(|f| view(&m, f)) {
        panic!("{e}");
    }
    t.backend().to_string()
}

#[test]
fn snapshots_of_the_screen() {
    let m = model();
    let screens = [
        ("running", ""),
        ("help", "?"),
        ("answer", "wj<Enter><Down>"),
        ("quit", "q"),
        ("output", "j<Enter>"),
        ("filter", "/bu"),
    ];
    for (name, typed) in screens {
        let mut m = m.clone();
        keys(&mut m, &script(typed));
        for (w, h) in [(80, 24), (160, 48)] {
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), render(&m, w, h));
        }
    }
    let mut done = m.clone();
    update(
        &mut done,
        at(
            99,
            30_000,
            Event::RunFinished {
                status: RunStatus::Failed,
                duration_ms: 30_000,
            },
        ),
    );
    insta::assert_snapshot!("finished_80x24", render(&done, 80, 24));
}

#[test]
fn no_color_keeps_glyphs_and_drops_colours() {
    use ratatui::style::Color;
    for color in [false, true] {
        let mut m = model();
        m.ui.color = color;
        let mut t = match Terminal::new(TestBackend::new(100, 30)) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        let _ = t.draw(|f| view(&m, f));
        let cells = t.backend().buffer().content();
        let coloured = cells.iter().any(|c| c.fg != Color::Reset);
        assert_eq!(coloured, color);
        assert!(cells.iter().any(|c| c.symbol() == "✓"), "glyphs stay");
    }
}

/// A big graph scrolls to keep the selection in view.
#[test]
fn the_graph_follows_the_selection() {
    let mut yaml = String::from("name: big\nsteps:\n");
    for c in 0..5 {
        for i in 0..100 {
            yaml.push_str(&format!("  c{c}-s{i}:\n    run: 'true'\n"));
            if i > 0 {
                yaml.push_str(&format!("    needs: [c{c}-s{}]\n", i - 1));
            }
        }
    }
    let mut m = Model::new(&workflow(&yaml));
    update(&mut m, Msg::Resize(80, 24));
    let right: Vec<KeyEvent> = (0..60)
        .map(|_| key('l'))
        .chain([key('j'), key('j')])
        .collect();
    keys(&mut m, &right);
    assert_eq!(m.steps[m.ui.selected].id, "c2-s60");
    let screen = render(&m, 80, 24);
    assert!(screen.contains("c2-s60"), "{screen}");
}

const LIVE: &str = r#"
name: live
steps:
  gate:
    priority: 5
    approval: { prompt: "Go?" }
  name-it:
    ask: { question: "Code name?" }
  work:
    needs: [gate, name-it]
    run: echo "hello {{ answers.name-it }}"
"#;

async fn until(events: &mut signalbox::engine::Subscription, want: impl Fn(&Event) -> bool) {
    let wait = async {
        while let Some(p) = events.recv().await {
            if want(&p.envelope.event) {
                return;
            }
        }
        panic!("the run ended first");
    };
    if tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .is_err()
    {
        panic!("timed out waiting for an event");
    }
}

/// The whole app on a TestBackend, keys scripted against a real run: the
/// journal says the keyboard resolved the waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_drive_a_real_run() {
    let dir = tempfile::tempdir().unwrap();
    let wf = workflow(LIVE);
    let mut model = Model::new(&wf);
    let options = RunOptions {
        state_dir: dir.path().into(),
        ..Default::default()
    };
    let mut run = Run::new(wf, options).unwrap();
    let events = run.subscribe();
    let mut watch = run.subscribe();
    let handle = run.handle();
    let engine = Engine::local(events, handle, tokio::spawn(run.start()));
    let (tx, rx) = futures::channel::mpsc::unbounded::<std::io::Result<TermEvent>>();
    let send = move |keys: Vec<KeyEvent>| {
        for k in keys {
            let _ = tx.unbounded_send(Ok(TermEvent::Key(k)));
        }
    };
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let script = async move {
        until(&mut watch, |e| matches!(e, Event::QuestionAsked { .. })).await;
        // Let the app apply what it was sent before the keys refer to it.
        tokio::time::sleep(Duration::from_millis(300)).await;
        send(vec![key('a')]);
        until(&mut watch, |e| matches!(e, Event::ApprovalResolved { .. })).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        send(script("w<Enter>blue whale<Enter>"));
        until(&mut watch, |e| matches!(e, Event::RunFinished { .. })).await;
        send(vec![key('q')]);
    };
    let (ended, ()) = tokio::join!(
        drive(
            &mut terminal,
            &mut model,
            engine,
            rx,
            std::future::pending()
        ),
        script
    );
    let outcome = ended.outcome.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded);
    let journal = std::fs::read_to_string(outcome.dir.join("events.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |t: &str| {
        lines
            .iter()
            .find(|v| v["type"] == t)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(of("approval_resolved")["by"], "keyboard");
    assert_eq!(of("approval_resolved")["approved"], true);
    assert_eq!(of("question_answered")["by"], "keyboard");
    assert_eq!(of("question_answered")["answer"], "blue whale");
    assert!(journal.contains("hello blue whale"));
    let screen = terminal.backend().to_string();
    assert!(screen.contains("succeeded"), "{screen}");
}

/// A stop signal cancels the run, waits for it, and ends the loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_signal_cancels_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let wf = workflow("name: slow\nsteps:\n  nap:\n    run: sleep 30\n");
    let mut model = Model::new(&wf);
    let options = RunOptions {
        state_dir: dir.path().into(),
        ..Default::default()
    };
    let mut run = Run::new(wf, options).unwrap();
    let events = run.subscribe();
    let handle = run.handle();
    let engine = Engine::local(events, handle, tokio::spawn(run.start()));
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let keys = futures::stream::pending::<std::io::Result<TermEvent>>();
    let stop = tokio::time::sleep(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let ended = drive(&mut terminal, &mut model, engine, keys, stop).await;
    assert_eq!(ended.outcome.map(|o| o.status), Some(RunStatus::Cancelled));
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// What the run refuses shows on the status line with the run's reason. The
/// screen follows a run with an open approval while its keys go to another
/// run, which has no such step: the refusal can only come from the engine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_the_run_refuses_shows_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let options = |name: &str| RunOptions {
        state_dir: dir.path().join(name),
        ..Default::default()
    };
    let shown = workflow("name: shown\nsteps:\n  gate:\n    approval: { prompt: ok? }\n");
    let mut model = Model::new(&shown);
    let mut run = Run::new(shown, options("a")).unwrap();
    let events = run.subscribe();
    let mut watch = run.subscribe();
    let shown_run = run.handle();
    let task = tokio::spawn(run.start());
    let other = Run::new(
        workflow("name: other\nsteps:\n  work:\n    run: sleep 30\n"),
        options("b"),
    )
    .unwrap();
    let handle = other.handle();
    let other = tokio::spawn(other.start());
    let engine = Engine::local(events, handle, task);
    let (tx, rx) = futures::channel::mpsc::unbounded::<std::io::Result<TermEvent>>();
    let (done, stop) = tokio::sync::oneshot::channel::<()>();
    let script = async move {
        until(&mut watch, |e| matches!(e, Event::ApprovalRequested { .. })).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = tx.unbounded_send(Ok(TermEvent::Key(key('a'))));
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Ended from elsewhere: a cancel closes the wait with no notice.
        shown_run.send(Command::Cancel {
            step: None,
            by: By::Keyboard,
        });
        until(&mut watch, |e| matches!(e, Event::RunFinished { .. })).await;
        let _ = done.send(());
    };
    let mut terminal = Terminal::new(TestBackend::new(120, 30)).unwrap();
    let stop = async move {
        let _ = stop.await;
    };
    let (ended, ()) = tokio::join!(drive(&mut terminal, &mut model, engine, rx, stop), script);
    assert_eq!(ended.outcome.map(|o| o.status), Some(RunStatus::Cancelled));
    let why = "no step `gate` in workflow `other`";
    assert_eq!(model.ui.notice.as_deref(), Some(why));
    let screen = terminal.backend().to_string();
    assert!(screen.contains(why), "{screen}");
    // Leaving cancelled the run the keys went to.
    let other = other.await.unwrap();
    assert_eq!(other.status, RunStatus::Cancelled);
}

/// Tab follows the panes as they read: on a wide screen the log sits left
/// of the wait queue, so it comes before it.
#[test]
fn tab_goes_the_way_the_panes_read() {
    for (width, order) in [
        (100, [Pane::Waits, Pane::Log, Pane::Graph]),
        (160, [Pane::Log, Pane::Waits, Pane::Graph]),
    ] {
        let mut m = model();
        update(&mut m, Msg::Resize(width, 40));
        for want in order {
            keys(&mut m, &script("<Tab>"));
            assert_eq!(m.ui.focus, want, "{width} columns");
        }
        keys(&mut m, &script("<BackTab>"));
        assert_eq!(m.ui.focus, order[1], "{width} columns, back");
    }
}

#[test]
fn wide_characters_take_two_columns_in_the_answer_box() {
    let mut m = model();
    keys(&mut m, &script("wjj<Enter>"));
    let b = answering(&m).expect("an answer box");
    assert_eq!(
        m.waits.get(&b.wait).map(|w| w.step_id.as_str()),
        Some("name-it")
    );
    let typed = |m: &mut Model, text: &str| {
        for c in text.chars() {
            keys(m, &[key(c)]);
        }
    };
    let cursor = |m: &Model| {
        let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let mut m = m.clone();
        update(&mut m, Msg::Resize(80, 24));
        t.draw(|f| view(&m, f)).unwrap();
        t.get_cursor_position().unwrap()
    };
    typed(&mut m, "abc");
    let ascii = cursor(&m);
    typed(&mut m, "日本");
    let wide = cursor(&m);
    assert_eq!(wide.y, ascii.y);
    assert_eq!(wide.x, ascii.x + 4, "two wide characters are four columns");
}

#[test]
fn fit_cuts_by_columns_not_characters() {
    use signalbox::tui::view::fit;
    assert_eq!(fit("deploy", 6), "deploy");
    assert_eq!(fit("deploy-all", 6), "deplo…");
    assert_eq!(fit("発行する準備", 5), "発行…");
    assert_eq!(fit("発行する準備", 12), "発行する準備");
    assert_eq!(fit("発行する準備", 6), "発行…");
}
