//! Output order (SPEC §1 `output`, §2 "Output order", §3 `stream`): by
//! default a step's stdout and stderr share one pipe, so its lines keep the
//! order written, in the events and in `logs/<step>.log`; `output:
//! separate` keeps two pipes and tags each line.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{BIN, Done, Live};

const INTERLEAVED: &str = "echo 1; echo 2 >&2; echo 3; echo 4 >&2; echo 5";

/// Runs `yaml` headless with `--json` in a folder of its own.
fn run(dir: &Path, yaml: &str) -> Done {
    let file = dir.join("wf.yaml");
    std::fs::write(&file, yaml).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--headless", "--json"])
        .arg(&file)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .current_dir(dir)
        .stdin(Stdio::null());
    Live::spawn(cmd).finish()
}

fn log(dir: &Path, done: &Done, step: &str) -> Vec<String> {
    let path = dir
        .join("state/runs")
        .join(done.run_id())
        .join("logs")
        .join(format!("{step}.log"));
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines().map(str::to_owned).collect()
}

/// Every output line of a step, with its stream, in event order.
fn tagged<'a>(done: &'a Done, step: &str) -> Vec<(&'a str, &'a str)> {
    done.of("step_output", step)
        .into_iter()
        .map(|e| (e["stream"].as_str().unwrap(), e["line"].as_str().unwrap()))
        .collect()
}

#[test]
fn stdout_and_stderr_keep_the_order_written_by_default() {
    let yaml = format!("name: order\nsteps:\n  mixed:\n    run: {INTERLEAVED}\n");
    let want = ["1", "2", "3", "4", "5"];
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let done = run(dir.path(), &yaml);
        done.expect(0, "succeeded");
        let lines = tagged(&done, "mixed");
        let expected: Vec<(&str, &str)> = want.iter().map(|l| ("output", *l)).collect();
        assert_eq!(lines, expected, "round {round}\n{}", done.dump());
        assert_eq!(log(dir.path(), &done, "mixed"), want, "round {round}");
    }
}

#[test]
fn output_separate_tags_each_line_with_its_stream() {
    let dir = tempfile::tempdir().unwrap();
    let yaml =
        format!("name: apart\nsteps:\n  mixed:\n    output: separate\n    run: {INTERLEAVED}\n");
    let done = run(dir.path(), &yaml);
    done.expect(0, "succeeded");
    assert_eq!(done.lines("mixed", "stdout"), ["1", "3", "5"]);
    assert_eq!(done.lines("mixed", "stderr"), ["2", "4"]);
    assert!(done.lines("mixed", "output").is_empty(), "{}", done.dump());
    let mut logged = log(dir.path(), &done, "mixed");
    logged.sort();
    assert_eq!(logged, ["1", "2", "3", "4", "5"]);
}

#[test]
fn defaults_output_applies_to_every_step_that_sets_none() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: dflt\ndefaults: { output: separate }\nsteps:\n  \
                a:\n    run: echo out; echo err >&2\n  \
                b:\n    output: merged\n    run: echo out; echo err >&2\n";
    let done = run(dir.path(), yaml);
    done.expect(0, "succeeded");
    assert_eq!(done.lines("a", "stdout"), ["out"]);
    assert_eq!(done.lines("a", "stderr"), ["err"]);
    assert_eq!(tagged(&done, "b"), [("output", "out"), ("output", "err")]);
}

#[test]
fn a_bad_output_value_is_refused_at_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "name: bad\nsteps:\n  a:\n    run: echo hi\n    output: seperate\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let at = format!("{}:5:13: error:", file.display());
    assert!(stderr.contains(&at), "{stderr}");
    assert!(stderr.contains("`merged`, `separate`"), "{stderr}");
    assert!(stderr.contains("did you mean `separate`"), "{stderr}");
}

#[test]
fn the_schema_describes_output() {
    let out = Command::new(BIN).arg("schema").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = schema.to_string();
    let step = &schema["$defs"]["StepSpec"]["properties"]["output"];
    assert!(!step.is_null(), "no `output` on steps: {text}");
    let mode = &schema["$defs"]["OutputMode"];
    let names: Vec<&str> = mode["oneOf"]
        .as_array()
        .map(|v| v.iter().filter_map(|o| o["const"].as_str()).collect())
        .or_else(|| {
            mode["enum"]
                .as_array()
                .map(|v| v.iter().filter_map(|o| o.as_str()).collect())
        })
        .unwrap_or_default();
    assert_eq!(names, ["merged", "separate"], "{mode}");
}
