//! Small things an operator notices (issue 11): counts in words (`1 step`),
//! the `runs` table with long ids, one length for a resumed run on the
//! screen, in `runs` and headless, one rounding for durations, and the
//! default concurrency (SPEC §1) with `concurrency` and `--jobs` over it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use signalbox::engine::{Envelope, Event, Published, RunStatus};
use signalbox::tui::model::Model;
use signalbox::tui::update::{Msg, update};
use signalbox::tui::view::view;
use signalbox::workflow::load_str;

use crate::common::{BIN, Done, Live, is};

/// A folder for one test: the workflow, the state dir, the current dir.
struct Work {
    tmp: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        Work {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn state(&self) -> PathBuf {
        self.dir().join("state")
    }

    fn write(&self, name: &str, yaml: &str) -> PathBuf {
        let file = self.dir().join(name);
        std::fs::write(&file, yaml).unwrap();
        file
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .arg("--state-dir")
            .arg(self.state())
            .current_dir(self.dir())
            .stdin(Stdio::null());
        cmd
    }

    /// `run FILE --headless --json` to its end.
    fn run(&self, file: &Path, extra: &[&str]) -> Done {
        let mut cmd = self.command(&["run", "--headless", "--json"]);
        cmd.arg(file).args(extra);
        Live::spawn(cmd).finish()
    }

    fn runs_table(&self) -> String {
        let out = self.command(&["runs"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    fn journal(&self, id: &str) -> Vec<Envelope> {
        let path = self.state().join("runs").join(id).join("events.jsonl");
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// The screen, fed `events`, drawn at `w`x`h`.
fn screen(yaml: &str, events: &[Envelope], w: u16, h: u16) -> String {
    let mut m = Model::new(&load_str(yaml, "wf.yaml").unwrap());
    m.ui.color = false;
    update(&mut m, Msg::Resize(w, h));
    for e in events {
        let published = Published {
            envelope: e.clone(),
            line: String::new(),
        };
        update(&mut m, Msg::Event(Arc::new(published)));
    }
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view(&m, f)).unwrap();
    t.backend().to_string()
}

fn human(ms: u64) -> String {
    signalbox::workflow::duration::human(Duration::from_millis(ms))
}

fn envelope(seq: u64, ms: u64, event: Event) -> Envelope {
    let ts = std::time::UNIX_EPOCH + Duration::from_millis(1_767_225_600_000 + ms);
    Envelope {
        seq,
        ts: humantime::format_rfc3339_millis(ts).to_string(),
        run: "one-20260101-000000-abcd".into(),
        event,
    }
}

const ONE: &str = "name: one\nsteps:\n  only:\n    run: 'true'\n";

#[test]
fn one_step_is_counted_as_one_step() {
    let w = Work::new();
    let file = w.write("one.yaml", ONE);
    let done = w.run(&file, &[]);
    done.expect(0, "succeeded");
    assert!(done.stderr.contains(": one, 1 step\n"), "{}", done.stderr);
    assert!(!done.stderr.contains("1 steps"), "{}", done.stderr);
    let events = w.journal(done.run_id());
    let drawn = screen(ONE, &events, 80, 24);
    assert!(drawn.contains(" 1 step "), "{drawn}");
    assert!(!drawn.contains("1 steps"), "{drawn}");
}

#[test]
fn the_runs_table_stays_aligned_with_ids_over_40_characters() {
    let w = Work::new();
    let long = "a-workflow-whose-name-is-longer-than-the-column";
    for name in [long, "short"] {
        let file = w.write(
            &format!("{name}.yaml"),
            &format!("name: {name}\nsteps:\n  s:\n    run: 'true'\n"),
        );
        w.run(&file, &[]).expect(0, "succeeded");
    }
    let table = w.runs_table();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines.iter().any(|l| l.starts_with(long)), "{table}");
    let status = lines[0].find("STATUS").unwrap();
    let workflow = lines[0].find("WORKFLOW").unwrap();
    let end = lines[0].len();
    for row in &lines[1..] {
        assert_eq!(row.get(status..status + 9), Some("succeeded"), "{table}");
        let name = row[workflow..].split(' ').next().unwrap();
        assert!(name == long || name == "short", "{table}");
        assert!(row.as_bytes()[workflow - 1] == b' ', "{table}");
        assert_eq!(row.len(), end, "durations end in one column\n{table}");
    }
}

const AGAIN: &str = "name: again\nsteps:\n  a:\n    run: test -f go || sleep 30\n  \
                     b:\n    needs: [a]\n    run: echo done\n";

/// A run killed mid-step and resumed: its length is the whole run's,
/// and the same in `run_finished`, the headless line, `runs` and on the
/// screen, whose log clock goes on from the first start.
#[test]
fn a_resumed_run_has_one_length_everywhere() {
    let w = Work::new();
    let file = w.write("again.yaml", AGAIN);
    let mut cmd = w.command(&["run", "--headless", "--json"]);
    cmd.arg(&file);
    let mut live = Live::spawn(cmd);
    let id = live.run_id();
    live.wait_for("a running", |e| is(e, "step_started", "a"));
    // Long enough that the log's mm:ss clock must read past 00:00.
    std::thread::sleep(Duration::from_millis(1_200));
    live.kill9();
    std::fs::write(w.dir().join("go"), "").unwrap();
    let mut cmd = w.command(&["resume", &id, "--headless", "--json"]);
    cmd.current_dir(w.dir());
    let done = Live::spawn(cmd).finish();
    done.expect(0, "succeeded");

    let events = w.journal(&id);
    let Some(Event::RunFinished { duration_ms, .. }) = events.last().map(|e| &e.event) else {
        panic!("no run_finished last: {}", done.dump());
    };
    assert!(
        *duration_ms >= 1_200,
        "the whole run, not the resumed part: {duration_ms}"
    );
    let said = human(*duration_ms);
    let line = format!("run {id} succeeded in {said}\n");
    assert!(done.stderr.contains(&line), "{line:?} in\n{}", done.stderr);
    let table = w.runs_table();
    let row = table.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(row.ends_with(&format!(" {said}")), "{said} in {row}");

    let drawn = screen(AGAIN, &events, 160, 48);
    assert!(
        drawn.contains(&format!("succeeded in {said}")),
        "{said}\n{drawn}"
    );
    let resumed = drawn
        .lines()
        .find(|l| l.contains("resumed: again"))
        .unwrap_or_else(|| panic!("no resumed line\n{drawn}"));
    assert!(
        !resumed.contains("00:00 run"),
        "the clock restarted: {resumed}"
    );
    assert!(resumed.contains("00:01 run"), "{resumed}");
}

const FAILS: &str = "name: fails\nsteps:\n  a:\n    run: 'true'\n  \
                     b:\n    needs: [a]\n    run: echo no; exit 3\n  \
                     c:\n    needs: [a]\n    run: 'true'\n";

/// `F` in replay stops at the next failure with the log and the graph:
/// the failed step is the one selected.
#[test]
fn f_in_replay_selects_the_failed_step_in_the_graph() {
    use signalbox::tui::replay::{Move, Replay};
    let w = Work::new();
    let file = w.write("fails.yaml", FAILS);
    let done = w.run(&file, &[]);
    done.expect(1, "failed");
    let journal = w
        .state()
        .join("runs")
        .join(done.run_id())
        .join("events.jsonl");
    let total = w.journal(done.run_id()).len();
    let wf = load_str(FAILS, "fails.yaml").unwrap();
    let mut replay = Replay::new(wf, journal, total, false);
    replay.step(Move::Start);
    assert_eq!(replay.model.ui.selected, 0);
    replay.step(Move::NextFailure);
    assert_eq!(replay.model.ui.selected, 1, "b failed");
    let mut t = Terminal::new(TestBackend::new(160, 48)).unwrap();
    update(&mut replay.model, Msg::Resize(160, 48));
    t.draw(|f| view(&replay.model, f)).unwrap();
    let drawn = t.backend().to_string();
    assert!(drawn.contains("b: failed"), "{drawn}");
}

/// The status line and the log say a run's length with the same rounding
/// (6.15 s was `6.1s` in one and `6.2s` in the other).
#[test]
fn the_status_line_and_the_log_give_the_same_duration() {
    let events = [
        envelope(
            1,
            0,
            Event::RunStarted {
                workflow: "one".into(),
                steps: 1,
                resumed: false,
            },
        ),
        envelope(
            2,
            6_150,
            Event::RunFinished {
                status: RunStatus::Succeeded,
                duration_ms: 6_150,
            },
        ),
    ];
    let drawn = screen(ONE, &events, 160, 48);
    let said: Vec<&str> = drawn.matches("succeeded in 6.1s").collect();
    assert_eq!(said.len(), 2, "status line and log\n{drawn}");
    assert!(!drawn.contains("6.2s"), "{drawn}");
}

/// The most steps running at once, from the order of the events.
fn max_running(done: &Done) -> usize {
    let (mut now, mut most) = (0usize, 0usize);
    for e in &done.events {
        match e["type"].as_str().unwrap_or("") {
            "step_started" => now += 1,
            "step_succeeded" | "step_failed" => now = now.saturating_sub(1),
            _ => {}
        }
        most = most.max(now);
    }
    most
}

fn sleepers(concurrency: Option<usize>) -> String {
    let mut yaml = String::from("name: sleepers\n");
    if let Some(n) = concurrency {
        yaml.push_str(&format!("concurrency: {n}\n"));
    }
    yaml.push_str("steps:\n");
    for i in 0..8 {
        yaml.push_str(&format!("  s{i}: {{ run: sleep 0.5 }}\n"));
    }
    yaml
}

/// The default is the CPU count, as `make -j$(nproc)` or ninja would use:
/// the workflow's `concurrency` overrides it and `--jobs` overrides both.
#[test]
fn concurrency_defaults_to_the_cpus_and_the_file_and_jobs_override_it() {
    let w = Work::new();
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let default = w.run(&w.write("d.yaml", &sleepers(None)), &[]);
    default.expect(0, "succeeded");
    assert_eq!(max_running(&default), cpus.min(8), "{}", default.dump());
    let file = w.write("c.yaml", &sleepers(Some(3)));
    let set = w.run(&file, &[]);
    set.expect(0, "succeeded");
    assert_eq!(max_running(&set), 3, "{}", set.dump());
    let jobs = w.run(&file, &["--jobs", "5"]);
    jobs.expect(0, "succeeded");
    assert_eq!(max_running(&jobs), 5, "{}", jobs.dump());
}

/// The subcommands `--help` lists (clap's own `help` aside).
fn subcommands() -> Vec<String> {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let listed: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A wrapped description goes on deeper in: not a name.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    for name in ["run", "validate", "graph", "schema", "completions", "man"] {
        assert!(listed.iter().any(|l| l == name), "{name} in {listed:?}");
    }
    listed
}

fn signalbox(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn completions_name_every_subcommand_and_load_in_their_shell() {
    let names = subcommands();
    for shell in ["bash", "zsh", "fish"] {
        let out = signalbox(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {out:?}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains("signalbox"), "{shell}: {script}");
        for name in &names {
            assert!(script.contains(name.as_str()), "{shell} lacks {name}");
        }
    }
    // bash takes it: sourcing it registers the completion function.
    let loaded = Command::new("bash")
        .args([
            "-c",
            &format!("source <({BIN} completions bash) && complete -p signalbox"),
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&loaded.stdout);
    assert!(loaded.status.success(), "{loaded:?}");
    assert!(said.contains("_signalbox"), "{said}");
}

#[test]
fn the_man_page_is_roff_naming_every_subcommand() {
    let out = signalbox(&["man"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.lines().any(|l| l.starts_with(".TH SIGNALBOX 1")),
        "{page}"
    );
    assert_eq!(page.matches("\n.TH ").count(), 1, "one page");
    for section in ["NAME", "SYNOPSIS", "COMMANDS", "EXIT STATUS", "EXAMPLES"] {
        assert!(
            page.contains(&format!(".SH {section}"))
                || page.contains(&format!(".SH \"{section}\"")),
            "{section}"
        );
    }
    for name in subcommands() {
        let heading = format!(".SS \"signalbox {name}\"");
        assert!(page.contains(&heading), "{heading} in\n{page}");
    }
    // Options are there with their help, as `--help` gives them.
    assert!(page.contains(r"\fB\-\-jobs\fR"), "{page}");
}

#[test]
fn a_shell_signalbox_does_not_know_is_bad_usage() {
    let out = signalbox(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bash") && stderr.contains("fish"),
        "{stderr}"
    );
    let out = signalbox(&["completions"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// `approve`, `reject` and `answer` of a run that is not there: it cannot be
/// reached (SPEC §4: exit 1), and the message says where it looked.
#[test]
fn a_wait_command_for_a_run_that_is_not_there_exits_1() {
    let state = tempfile::tempdir().unwrap();
    for args in [
        vec!["approve", "no-such-run", "go"],
        vec!["reject", "no-such-run", "go"],
        vec!["answer", "no-such-run", "q", "text"],
    ] {
        let out = Command::new(BIN)
            .args(&args)
            .arg("--state-dir")
            .arg(state.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no run `no-such-run`"), "{err}");
    }
}
