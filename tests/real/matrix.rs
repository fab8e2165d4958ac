//! Matrix steps through the binary (SPEC §1 "Matrix", §2 "Matrix
//! steps"): the instances' ids and order as `validate`, `graph` and a real
//! run show them, `same:` pairing, `matrix.X` in commands, conditions and
//! prompts, `x-` keys, and the load errors with their positions.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::{BIN, Done, Live};

mod errors;

/// Writes `yaml` as `wf.yaml` in `dir` and runs `signalbox ARGS wf.yaml`.
fn on_file(dir: &Path, yaml: &str, args: &[&str]) -> Output {
    std::fs::write(dir.join("wf.yaml"), yaml).unwrap();
    Command::new(BIN)
        .args(args)
        .arg("wf.yaml")
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs `yaml` headless with `--json` (and `extra`) in `dir`.
fn run(dir: &Path, yaml: &str, extra: &[&str]) -> Done {
    std::fs::write(dir.join("wf.yaml"), yaml).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args([
        "run",
        "wf.yaml",
        "--headless",
        "--json",
        "--state-dir",
        "state",
    ])
    .args(extra)
    .current_dir(dir)
    .stdin(Stdio::null());
    Live::spawn(cmd).finish()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The node ids of a DOT graph, in the order they are declared.
fn dot_nodes(dot: &str) -> Vec<String> {
    dot.lines()
        .filter(|l| l.trim_start().starts_with('"') && l.contains(" [shape="))
        .map(|l| l.trim().split('"').nth(1).unwrap().to_string())
        .collect()
}

/// The edges of a DOT graph as `from -> to`.
fn dot_edges(dot: &str) -> Vec<String> {
    dot.lines()
        .filter(|l| l.contains(" -> "))
        .map(|l| l.trim().trim_end_matches(';').replace('"', ""))
        .collect()
}

const TWO_BY_TWO: &str = "\
name: two
steps:
  build:
    description: Compile every target
    matrix:
      os: [linux, mac]
      arch: [x64, arm]
      exclude: [{ os: mac, arch: x64 }]
      include:
        - { os: linux, arch: arm, extra: lto }
        - { os: wasm, arch: wasm32 }
    max_parallel: 2
    run: echo {{ matrix.os }}
  after:
    needs: [build]
    run: echo done
";

const IDS: [&str; 4] = [
    "build:linux-x64",
    "build:linux-arm",
    "build:mac-arm",
    "build:wasm-wasm32",
];

#[test]
fn a_two_by_two_matrix_less_an_exclude_plus_an_include_has_these_ids_in_this_order() {
    let dir = tempfile::tempdir().unwrap();
    let out = on_file(dir.path(), TWO_BY_TWO, &["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.ends_with(&format!(": build ×4: {}\n", IDS.join(" "))),
        "validate names the instances in order: {said}"
    );

    let dot = text(&on_file(dir.path(), TWO_BY_TWO, &["graph", "--format", "dot"]).stdout);
    let mut want: Vec<String> = IDS.iter().map(|s| s.to_string()).collect();
    want.push("after".into());
    assert_eq!(dot_nodes(&dot), want, "{dot}");
    assert!(dot.contains("subgraph cluster_build {"), "{dot}");
    assert!(
        dot.contains("label=\"build ×4: Compile every target\""),
        "{dot}"
    );
    let edges: Vec<String> = IDS.iter().map(|id| format!("{id} -> after")).collect();
    assert_eq!(dot_edges(&dot), edges, "{dot}");

    let mermaid = text(&on_file(dir.path(), TWO_BY_TWO, &["graph", "--format", "mermaid"]).stdout);
    assert!(
        mermaid.contains("  subgraph build [\"build ×4: Compile every target\"]\n"),
        "{mermaid}"
    );
    assert_eq!(mermaid.matches("\n  end\n").count(), 1, "{mermaid}");

    let drawing = text(&on_file(dir.path(), TWO_BY_TWO, &["graph"]).stdout);
    assert!(
        drawing.contains(
            "build: matrix of 4 over os, arch, extra, at most 2 at once: Compile every target\n  \
         build:linux-x64  build:linux-arm  build:mac-arm  build:wasm-wasm32\n"
        ),
        "{drawing}"
    );
    for id in IDS {
        assert!(drawing.contains(&format!("[▸ {id}]")), "{drawing}");
    }

    // One job at a time: instances start in expansion order.
    let done = run(dir.path(), TWO_BY_TWO, &["--jobs", "1"]);
    done.expect(0, "succeeded");
    assert_eq!(done.all("run_started")[0]["steps"], 5, "{}", done.dump());
    let mut order = IDS.to_vec();
    order.push("after");
    assert_eq!(done.started_order(), order, "{}", done.dump());
    assert_eq!(done.lines("build:mac-arm", "output"), ["mac"]);
    assert!(done.pos("step_started", "after") > done.pos("step_succeeded", "build:wasm-wasm32"));
}

#[test]
fn same_pairs_each_instance_with_the_instances_whose_axes_match() {
    let yaml = "\
name: pairs
steps:
  build:
    matrix: { target: [x86, arm], profile: [release, debug] }
    # The arm builds end only once the x86 tests ran: were the tests
    # waiting for every build, the arm builds would fail after 10s.
    run: |
      if [ {{ matrix.target }} = arm ]; then
        for _ in $(seq 200); do [ -e x86-tested ] && exit 0; sleep 0.05; done; exit 1
      fi
  test:
    matrix: { target: [x86, arm] }
    needs: [{ step: build, same: [target] }]
    run: touch {{ matrix.target }}-tested; echo tested {{ matrix.target }}
  one:
    needs: [build:arm-debug]
    run: echo {{ steps.build:arm-debug.outputs.sha }}
";
    let dir = tempfile::tempdir().unwrap();
    let dot = text(&on_file(dir.path(), yaml, &["graph", "--format", "dot"]).stdout);
    assert_eq!(
        dot_edges(&dot),
        [
            "build:x86-release -> test:x86",
            "build:x86-debug -> test:x86",
            "build:arm-release -> test:arm",
            "build:arm-debug -> test:arm",
            "build:arm-debug -> one",
        ],
        "{dot}"
    );
    let done = run(dir.path(), yaml, &["--jobs", "8"]);
    done.expect(0, "succeeded");
    // test:x86 waits for the x86 builds only, not for the arm ones.
    assert!(done.pos("step_started", "test:x86") < done.pos("step_succeeded", "build:arm-debug"));
    assert!(done.pos("step_started", "test:arm") > done.pos("step_succeeded", "build:arm-debug"));
    assert!(done.pos("step_started", "test:arm") > done.pos("step_succeeded", "build:arm-release"));
    assert_eq!(done.lines("test:arm", "output"), ["tested arm"]);
}

#[test]
fn matrix_values_reach_commands_as_one_word_conditions_and_prompts_per_instance() {
    let yaml = "\
name: values
steps:
  greet:
    matrix:
      who: ['a b', '$(touch pwned)', plain]
    instance: '{{ matrix.who }}'
    when: matrix.who != 'plain'
    run: |
      printf '[%s]' {{ matrix.who }}; echo \" $SIGNALBOX_MATRIX_WHO\"
      echo \"sha=${SIGNALBOX_STEP}\" >> \"$SIGNALBOX_OUTPUT\"
  ship:
    matrix: { region: [eu, us] }
    needs: [greet]
    approval: { prompt: 'Ship {{ matrix.region }} after {{ steps.greet:a_b.outputs.sha }}?' }
";
    let dir = tempfile::tempdir().unwrap();
    let done = run(dir.path(), yaml, &["--auto-approve"]);
    done.expect(0, "succeeded");
    assert_eq!(done.lines("greet:a_b", "output"), ["[a b] a b"]);
    assert_eq!(
        done.lines("greet:__touch_pwned_", "output"),
        ["[$(touch pwned)] $(touch pwned)"]
    );
    assert!(!dir.path().join("pwned").exists());
    assert_eq!(
        done.one("step_skipped", "greet:plain")["reason"],
        "condition"
    );
    let prompts: Vec<&str> = done
        .all("approval_requested")
        .iter()
        .map(|e| e["prompt"].as_str().unwrap())
        .collect();
    assert_eq!(
        prompts,
        ["Ship eu after greet:a_b?", "Ship us after greet:a_b?"]
    );
}

#[test]
fn top_level_x_keys_are_ignored_and_hold_anchors() {
    let yaml = "\
name: anchors
x-retry: &retry { attempts: 2, delay: 0 }
x-notes: [anything, { at: all }]
steps:
  flaky:
    retry: *retry
    run: test -e once || { touch once; exit 1; }
";
    let dir = tempfile::tempdir().unwrap();
    let out = on_file(dir.path(), yaml, &["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let done = run(dir.path(), yaml, &[]);
    done.expect(0, "succeeded");
    assert_eq!(done.one("step_succeeded", "flaky")["attempt"], 2);
    // Only `x-` keys: anything else at the top is still refused.
    let out = on_file(dir.path(), &yaml.replace("x-notes", "notes"), &["validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "wf.yaml:3:1: error: unknown key `notes` in the workflow\n"
    );
}

#[test]
fn keys_other_tools_use_get_the_signalbox_word() {
    let yaml = "\
name: words
steps:
  a:
    command: echo
    script: echo
    depends: [b]
    depends_on: [b]
    if: vars.x
    timeout-minutes: 5
    continue-on-error: true
    retries: 3
  b:
    run: echo
";
    let dir = tempfile::tempdir().unwrap();
    let out = on_file(dir.path(), yaml, &["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let expected = [
        "wf.yaml:3:3: error: step `a` needs exactly one of `run`, `approval` or `ask`",
        "wf.yaml:4:5: error: unknown key `command` in step `a` (did you mean `run`?)",
        "wf.yaml:5:5: error: unknown key `script` in step `a` (did you mean `run`?)",
        "wf.yaml:6:5: error: unknown key `depends` in step `a` (did you mean `needs`?)",
        "wf.yaml:7:5: error: unknown key `depends_on` in step `a` (did you mean `needs`?)",
        "wf.yaml:8:5: error: unknown key `if` in step `a` (did you mean `when`?)",
        "wf.yaml:9:5: error: unknown key `timeout-minutes` in step `a` (did you mean `timeout`?)",
        "wf.yaml:10:5: error: unknown key `continue-on-error` in step `a` (did you mean `on_failure: continue`?)",
        "wf.yaml:11:5: error: unknown key `retries` in step `a` (did you mean `retry`?)",
    ];
    assert_eq!(text(&out.stderr), expected.join("\n") + "\n");
}

#[test]
fn a_matrix_step_named_like_a_mermaid_word_gets_an_id_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: m\nsteps:\n  end:\n    matrix: { x: [a] }\n    run: \"true\"\n";
    let out = text(&on_file(dir.path(), yaml, &["graph", "--format", "mermaid"]).stdout);
    assert!(out.contains("subgraph group0 [\"end ×1\"]"), "{out}");
    assert!(!out.contains("subgraph end"), "{out}");
}

#[test]
fn keys_github_argo_and_dagu_use_get_the_signalbox_word() {
    let yaml = "\
name: words
steps:
  a:
    run: echo
    strategy: { matrix: { os: [linux] } }
    working-directory: src
    dependencies: [b]
    retryStrategy: { limit: 3 }
    continueOn: { failure: true }
    preconditions: []
    timeoutSec: 5
  b:
    run: echo
";
    let dir = tempfile::tempdir().unwrap();
    let out = on_file(dir.path(), yaml, &["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let expected = [
        "wf.yaml:5:5: error: unknown key `strategy` in step `a` (did you mean `matrix`?)",
        "wf.yaml:6:5: error: unknown key `working-directory` in step `a` (did you mean `cwd`?)",
        "wf.yaml:7:5: error: unknown key `dependencies` in step `a` (did you mean `needs`?)",
        "wf.yaml:8:5: error: unknown key `retryStrategy` in step `a` (did you mean `retry`?)",
        "wf.yaml:9:5: error: unknown key `continueOn` in step `a` (did you mean `on_failure: continue`?)",
        "wf.yaml:10:5: error: unknown key `preconditions` in step `a` (did you mean `when`?)",
        "wf.yaml:11:5: error: unknown key `timeoutSec` in step `a` (did you mean `timeout`?)",
    ];
    assert_eq!(text(&out.stderr), expected.join("\n") + "\n");
}

#[test]
fn a_misspelled_exclude_is_not_read_as_an_axis() {
    let yaml = "\
name: m
steps:
  b:
    matrix:
      os: [linux, mac]
      exlude: [{ os: mac }]
    run: echo {{ matrix.os }}
";
    let dir = tempfile::tempdir().unwrap();
    let out = on_file(dir.path(), yaml, &["validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "wf.yaml:6:7: error: `exlude` in `matrix` of step `b` is not an axis: its values are mappings (did you mean `exclude`?)\n"
    );
}

#[test]
fn an_empty_matrix_value_stands_as_an_underscore_in_the_id() {
    let yaml = "\
name: m
steps:
  cargo:
    matrix: { flags: [\"\", --release], os: [linux] }
    run: echo {{ matrix.flags }}
";
    let dir = tempfile::tempdir().unwrap();
    let done = run(dir.path(), yaml, &[]);
    let ids: Vec<&str> = done
        .all("step_succeeded")
        .iter()
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"cargo:_-linux"), "{ids:?}");
    assert!(ids.contains(&"cargo:--release-linux"), "{ids:?}");
}
