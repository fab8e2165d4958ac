//! Secrets, through the binary (SPEC §1 "Secrets"): read when a
//! run starts or resumes, handed to the steps that name them, and `***`
//! wherever their value would be written or shown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{BIN, Done, Live};

/// The secret's value: nothing in the workflow file spells it.
const TOKEN: &str = "s3cr3t-Tok3n-42";

/// Prints the secret every way a step can, checks it got the right value
/// (`$WANT`, from signalbox's own environment) and not the variable it was
/// read from, writes it as an output, then a second step prints it on its
/// way to failing.
fn leaky(output: &str) -> String {
    format!(
        r#"name: leaky
secrets:
  token: {{ env: SB_TEST_TOKEN }}
defaults: {{ output: {output} }}
steps:
  speak:
    env: {{ TOKEN: "{{{{ secrets.token }}}}" }}
    run: |
      test -z "$SB_TEST_TOKEN" || exit 7
      test "$TOKEN" = "$WANT" || exit 9
      test {{{{ secrets.token }}}} = "$WANT" || exit 8
      echo $TOKEN
      echo "a longer line with $TOKEN inside it"
      echo "on stderr: $TOKEN" >&2
      echo k=$TOKEN >> $SIGNALBOX_OUTPUT
      echo "$TOKEN=value" >> $SIGNALBOX_OUTPUT
      set -x
      : traced {{{{ secrets.token }}}}
  fail:
    needs: [speak]
    run: echo "failing with $TOKEN" >&2; exit 3
    env: {{ TOKEN: "{{{{ secrets.token }}}}" }}
"#
    )
}

fn signalbox(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .current_dir(dir)
        .env_remove("SB_TEST_TOKEN")
        .stdin(Stdio::null());
    cmd
}

fn with_token(mut cmd: Command) -> Command {
    cmd.env("SB_TEST_TOKEN", TOKEN).env("WANT", TOKEN);
    cmd
}

fn write(dir: &Path, yaml: &str) -> PathBuf {
    let file = dir.join("wf.yaml");
    std::fs::write(&file, yaml).unwrap();
    file
}

/// Every file under `root`, each byte of it searched for `needle`.
fn files_holding(root: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let bytes = std::fs::read(&path).unwrap();
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push(path);
                }
            }
        }
    }
    found
}

fn lines<'a>(done: &'a Done, step: &str) -> Vec<&'a str> {
    done.of("step_output", step)
        .into_iter()
        .map(|e| e["line"].as_str().unwrap())
        .collect()
}

#[test]
fn a_secret_a_step_prints_is_never_written_or_shown() {
    for output in ["merged", "separate"] {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), &leaky(output));
        let file = file.to_str().unwrap();
        let cmd = with_token(signalbox(dir.path(), &["run", "--json", file]));
        let done = Live::spawn(cmd).finish();
        done.expect(1, "failed");
        // It reached the step, which compared it (exit 9 or 8 otherwise).
        assert_eq!(done.end("speak"), "step_succeeded", "{}", done.dump());
        let said = lines(&done, "speak");
        for want in [
            "***",
            "a longer line with *** inside it",
            "on stderr: ***",
            "+ : traced ***",
        ] {
            assert!(said.contains(&want), "{output}: {want:?} in {said:?}");
        }
        let outputs = &done.one("step_succeeded", "speak")["outputs"];
        assert_eq!(outputs["k"], "***", "{output}: {outputs}");
        assert_eq!(outputs["***"], "value", "{output}: {outputs}");
        assert_eq!(lines(&done, "fail"), ["failing with ***"]);
        assert!(!String::from_utf8_lossy(&done.stdout).contains(TOKEN));
        assert!(!done.stderr.contains(TOKEN), "{}", done.stderr);

        // Headless lines on stderr, a second run.
        let cmd = with_token(signalbox(dir.path(), &["run", "--headless", file]));
        let human = cmd_output(cmd);
        assert_eq!(human.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&human.stderr);
        assert!(stderr.contains("on stderr: ***"), "{stderr}");
        assert!(!stderr.contains(TOKEN), "{stderr}");

        // What reads the journal back.
        let id = done.run_id().to_string();
        for args in [
            vec!["replay", id.as_str()],
            vec!["replay", "--json", id.as_str()],
            vec!["logs", id.as_str()],
            vec!["logs", id.as_str(), "speak"],
            vec!["events", id.as_str()],
        ] {
            let out = cmd_output(signalbox(dir.path(), &args));
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("***"), "{args:?}: {text}");
            assert!(!text.contains(TOKEN), "{args:?}: {text}");
        }
        let log = dir
            .path()
            .join("state/runs")
            .join(&id)
            .join("logs/speak.log");
        let log = std::fs::read_to_string(log).unwrap();
        assert!(log.contains("on stderr: ***"), "{log}");
        let leaked = files_holding(&dir.path().join("state"), TOKEN);
        assert!(leaked.is_empty(), "{output}: the secret is in {leaked:?}");
    }
}

fn cmd_output(mut cmd: Command) -> std::process::Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.output().unwrap()
}

/// No run folder at all: `runs/` is not even made.
fn no_runs(dir: &Path) {
    let runs = dir.join("state/runs");
    let made: Vec<_> = std::fs::read_dir(&runs)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(made.is_empty(), "run folders: {made:?}");
}

#[test]
fn a_missing_secret_is_bad_usage_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: missing\nsecrets:\n  token: { env: SB_TEST_TOKEN }\n  \
                key: { file: nowhere/key }\nsteps:\n  a:\n    \
                run: touch ran; echo {{ secrets.token }} {{ secrets.key }}\n";
    let file = write(dir.path(), yaml);
    let file = file.to_str().unwrap();
    for args in [
        vec!["run", "--json", file],
        vec!["run", "--headless", file],
        vec!["run", "--detach", file],
    ] {
        let done = Live::spawn(signalbox(dir.path(), &args)).finish();
        done.expect_refused("secret `token`: the environment variable SB_TEST_TOKEN is not set");
        assert!(done.stderr.contains("secret `key`"), "{}", done.dump());
        assert!(
            done.stderr
                .contains(&dir.path().join("nowhere/key").display().to_string()),
            "{}",
            done.dump()
        );
        no_runs(dir.path());
        assert!(!dir.path().join("ran").exists());
    }
    // Set but empty: refused too, saying so.
    let mut cmd = signalbox(dir.path(), &["run", "--json", file]);
    cmd.env("SB_TEST_TOKEN", "");
    std::fs::create_dir(dir.path().join("nowhere")).unwrap();
    std::fs::write(dir.path().join("nowhere/key"), "k3y-value").unwrap();
    let done = Live::spawn(cmd).finish();
    done.expect_refused("SB_TEST_TOKEN is empty");
    no_runs(dir.path());
}

#[test]
fn a_file_secret_is_its_content_without_one_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".config")).unwrap();
    std::fs::write(home.join(".config/key"), "f1le-secret\n").unwrap();
    let yaml = "name: filed\nsecrets:\n  key: { file: ~/.config/key }\nsteps:\n  a:\n    \
                run: test {{ secrets.key }} = \"$WANT\" && echo got {{ secrets.key }}\n";
    let file = write(dir.path(), yaml);
    let mut cmd = signalbox(dir.path(), &["run", "--json", file.to_str().unwrap()]);
    cmd.env("HOME", &home).env("WANT", "f1le-secret");
    let done = Live::spawn(cmd).finish();
    done.expect(0, "succeeded");
    assert_eq!(lines(&done, "a"), ["got ***"]);
    assert!(files_holding(&dir.path().join("state"), "f1le-secret").is_empty());
}

#[test]
fn a_resumed_run_reads_its_secrets_again() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: again\nsecrets:\n  token: { env: SB_TEST_TOKEN }\nsteps:\n  \
                gate:\n    approval: { prompt: Go? }\n  use:\n    needs: [gate]\n    \
                run: test {{ secrets.token }} = \"$WANT\" && echo used {{ secrets.token }}\n";
    let file = write(dir.path(), yaml);
    let cmd = with_token(signalbox(
        dir.path(),
        &["run", "--json", file.to_str().unwrap()],
    ));
    let mut live = Live::spawn(cmd);
    live.wait_for("the approval", |e| e["type"] == "approval_requested");
    let id = live.run_id();
    live.kill9();
    let journal = dir.path().join("state/runs").join(&id).join("events.jsonl");
    let before = std::fs::read(&journal).unwrap();

    // Without the secret: refused, and nothing is added to the journal.
    let args = ["resume", id.as_str(), "--json", "--approve", "gate"];
    let done = Live::spawn(signalbox(dir.path(), &args)).finish();
    done.expect_refused("secret `token`: the environment variable SB_TEST_TOKEN is not set");
    assert_eq!(std::fs::read(&journal).unwrap(), before);

    let done = Live::spawn(with_token(signalbox(dir.path(), &args))).finish();
    done.expect(0, "succeeded");
    assert_eq!(lines(&done, "use"), ["used ***"]);
    assert!(files_holding(&dir.path().join("state"), TOKEN).is_empty());
}

#[test]
fn secrets_are_refused_where_a_value_would_be_shown() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "approval: { prompt: \"ok {{ secrets.t }}?\" }",
            "in `prompt`",
        ),
        ("ask: { question: \"{{ secrets.t }}?\" }", "in `question`"),
        (
            "ask: { question: q, choices: [\"{{ secrets.t }}\"] }",
            "in `choices`",
        ),
        (
            "ask: { question: q, default: \"{{ secrets.t }}\" }",
            "in `default`",
        ),
        (
            "run: \"true\", when: \"secrets.t == 'x'\"",
            "cannot read `secrets.t`",
        ),
        ("run: \"true\", cwd: \"{{ secrets.t }}\"", "in `cwd`"),
        (
            "run: \"false\", fallback: { outputs: { k: \"{{ secrets.t }}\" } }",
            "in `fallback`",
        ),
        (
            "run: \"echo {{ secrets.tt }}\"",
            "unknown secret `tt` (did you mean `t`?)",
        ),
        (
            "run: \"true\", description: \"uses {{ secrets.t }}\"",
            "in `description`",
        ),
    ];
    for (step, words) in cases {
        let yaml =
            format!("name: refused\nsecrets:\n  t: {{ env: X }}\nsteps:\n  s: {{ {step} }}\n");
        let file = write(dir.path(), &yaml);
        let out = validate(&file);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{yaml}\n{stderr}");
        assert!(stderr.contains(words), "{yaml}\n{stderr}");
        assert!(stderr.contains("wf.yaml:5:"), "{yaml}\n{stderr}");
    }
    let yaml = "name: d\ndescription: \"{{ secrets.t }}\"\nsecrets:\n  t: { env: X }\nsteps:\n  s: { run: \"true\" }\n";
    let file = write(dir.path(), yaml);
    let out = validate(&file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("wf.yaml:2:") && stderr.contains("in `description`"),
        "{stderr}"
    );
}

fn validate(file: &Path) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("validate").arg(file).stdin(Stdio::null());
    cmd_output(cmd)
}

#[test]
fn signalbox_s_own_remarks_on_a_step_mask_its_secrets_too() {
    let dir = tempfile::tempdir().unwrap();
    // An output named by the secret, too long to keep whole: signalbox says
    // so, naming the output, in the step's log, its events and signalbox.log.
    let yaml = "name: remarks\nsecrets:\n  token: { env: SB_TEST_TOKEN }\nsteps:\n  a:\n    \
                run: |\n      { printf '%s=' {{ secrets.token }}; head -c 1100000 /dev/zero | tr '\\0' a; } \
                >> $SIGNALBOX_OUTPUT\n";
    let file = write(dir.path(), yaml);
    let cmd = with_token(signalbox(
        dir.path(),
        &["run", "--json", file.to_str().unwrap()],
    ));
    let done = Live::spawn(cmd).finish();
    done.expect(0, "succeeded");
    let said = lines(&done, "a");
    assert!(
        said.iter()
            .any(|l| l.contains("output `***` (line 1) is cut at 1 MiB")),
        "{said:?}"
    );
    let log = std::fs::read_to_string(dir.path().join("state/signalbox.log")).unwrap();
    assert!(log.contains("output `***` (line 1) is cut"), "{log}");
    assert!(files_holding(&dir.path().join("state"), TOKEN).is_empty());
}

#[test]
fn a_retried_run_reads_its_secrets_again() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: retried\nsecrets:\n  token: { env: SB_TEST_TOKEN }\nsteps:\n  a:\n    \
                run: test {{ secrets.token }} = \"$WANT\" && test -e flag && echo ok {{ secrets.token }}\n";
    let file = write(dir.path(), yaml);
    let cmd = with_token(signalbox(
        dir.path(),
        &["run", "--json", file.to_str().unwrap()],
    ));
    let done = Live::spawn(cmd).finish();
    done.expect(1, "failed");
    std::fs::write(dir.path().join("flag"), "").unwrap();
    let id = done.run_id().to_string();
    let args = ["retry", id.as_str(), "--json"];
    let refused = Live::spawn(signalbox(dir.path(), &args)).finish();
    refused.expect_refused("secret `token`: the environment variable SB_TEST_TOKEN is not set");
    let done = Live::spawn(with_token(signalbox(dir.path(), &args))).finish();
    done.expect(0, "succeeded");
    assert_eq!(lines(&done, "a"), ["ok ***"]);
}

#[test]
fn the_screen_shows_a_secret_masked() {
    use crate::common::tmux;
    let Some((term, state)) = tmux::tmux_session("sb-secrets") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: shown\nsecrets:\n  token: { env: SB_TEST_TOKEN }\nsteps:\n  say:\n    \
                run: test {{ secrets.token }} = \"$WANT\" && echo \"token is {{ secrets.token }}\"\n  \
                gate:\n    needs: [say]\n    approval: { prompt: Done? }\n";
    let file = write(dir.path(), yaml);
    let command = format!(
        "cd {dir} && SB_TEST_TOKEN={TOKEN} WANT={TOKEN} {bin} run {file} --state-dir {state}; echo EXIT=$?; sleep 60",
        dir = dir.path().display(),
        bin = BIN,
        file = file.display(),
        state = state.path().display(),
    );
    term.start_sized(&command, 120, 30);
    let screen = term.wait_for("token is ***", 30);
    assert!(!screen.contains(TOKEN), "{screen}");
    term.wait_for("Done?", 10);
    term.keys(&["r"]);
    // The screen stays on the finished run until `q`.
    let done = term.wait_for("rejected", 10);
    assert!(!done.contains(TOKEN), "{done}");
    term.keys(&["q"]);
    let end = term.wait_for("EXIT=", 20);
    assert!(!end.contains(TOKEN), "{end}");
    assert!(files_holding(state.path(), TOKEN).is_empty());
}

/// A line cut at 64 KiB with the secret across the cut: neither piece
/// keeps a part of it.
#[test]
fn a_secret_across_the_64_kib_cut_of_a_line_is_masked_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    // 65,530 bytes and a space, then the secret: its first 5 bytes end the
    // first piece.
    let yaml = "name: cut\nsecrets:\n  token: { env: SB_TEST_TOKEN }\nsteps:\n  a:\n    \
                run: |\n      head -c 65530 /dev/zero | tr '\\0' x; echo \" {{ secrets.token }} after\"\n";
    let file = write(dir.path(), yaml);
    let cmd = with_token(signalbox(
        dir.path(),
        &["run", "--json", file.to_str().unwrap()],
    ));
    let done = Live::spawn(cmd).finish();
    done.expect(0, "succeeded");
    let said = lines(&done, "a");
    assert_eq!(said.len(), 2, "the line was cut in two");
    assert!(
        said[0].ends_with("x ***"),
        "{}",
        &said[0][said[0].len() - 12..]
    );
    assert!(said[1].starts_with("*** after"), "{:?}", said[1]);
    for (piece, part) in [(said[0], &TOKEN[..5]), (said[1], &TOKEN[5..])] {
        assert!(!piece.contains(part), "{part:?} in {piece:?}");
    }
    assert!(files_holding(&dir.path().join("state"), &TOKEN[..5]).is_empty());
    assert!(files_holding(&dir.path().join("state"), &TOKEN[6..]).is_empty());
}

#[test]
fn a_hook_gets_the_secret_its_run_names_and_the_journal_keeps_none() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: hooked\nsecrets:\n  token: { env: SB_TEST_TOKEN }\nhooks:\n  - on: [run_finished]\n    \
                run: test {{ secrets.token }} = \"$WANT\" && echo {{ secrets.token }} > hook.out\nsteps:\n  a:\n    run: \"true\"\n";
    let file = write(dir.path(), yaml);
    let cmd = with_token(signalbox(
        dir.path(),
        &["run", "--json", file.to_str().unwrap()],
    ));
    let done = Live::spawn(cmd).finish();
    done.expect(0, "succeeded");
    let said = std::fs::read_to_string(dir.path().join("hook.out")).unwrap();
    assert_eq!(said.trim_end(), TOKEN, "the hook got the value itself");
    assert!(
        (done.events.iter()).any(|e| e["type"] == "hook_finished" && e["exit_code"] == 0),
        "{:?}",
        done.events
    );
    assert!(files_holding(&dir.path().join("state"), TOKEN).is_empty());
}
