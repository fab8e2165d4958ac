//! A template's value reaches the command as one literal word or literal
//! text in every shell context, or the file is refused at load naming the
//! context (SPEC §2 Templates). A corpus of command shapes times hostile
//! values runs through the binary under `sh`, `dash` and `bash`: the bytes
//! each command prints must be the value's, and no canary file may appear.
//! `fuzz.rs` throws random command texts at the same promise.

mod fuzz;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{self, Live};

/// A file that appears only if a value ran as code.
const CANARY: &str = "CANARY";

/// Values an operator or a step's output could hold.
pub const HOSTILE: &[&str] = &[
    "$(touch CANARY)",
    "`touch CANARY`",
    "; touch CANARY; echo",
    "a[$(touch CANARY)]",
    "' ; touch CANARY ; '",
    "\" ; touch CANARY ; \"",
    "*",
    "[a-z]?* {a,b} ~",
    "two  spaces\tand a tab",
    "line one\nline two",
    "back\\slash\\",
    "$HOME ${PATH} $((1+1))",
    "",
    "EOF",
    "-n",
    "h\u{e9}llo \u{2713} \u{65e5}\u{672c}",
];

/// A command shape: the command (with `{{ X }}` for the template), and what
/// it prints around the value. `strips`: the value comes through `$(...)`,
/// which drops trailing newlines.
struct Shape {
    name: &'static str,
    run: &'static str,
    before: &'static str,
    after: &'static str,
}

const SHAPES: &[Shape] = &[
    shape("plain word", "printf %s {{ X }}", "", ""),
    shape("double quotes", "printf %s \"<{{ X }}>\"", "<", ">"),
    shape(
        "odd quote in a comment before",
        "# don't \"panic\nprintf %s {{ X }}",
        "",
        "",
    ),
    shape("comment after", "printf %s {{ X }} # it's \"fine\"", "", ""),
    shape("here-document", "cat <<EOF\n{{ X }}\nEOF", "", "\n"),
    shape(
        "here-document, tabs",
        "cat <<-EOF\n\t[{{ X }}]\n\tEOF",
        "[",
        "]\n",
    ),
    shape(
        "here-document with quotes",
        "cat <<EOF\n\"{{ X }}\" 'q'\nEOF",
        "\"",
        "\" 'q'\n",
    ),
    shape(
        "printf in $( ) in quotes",
        "printf %s \"$(printf %s \"{{ X }}\")\"",
        "",
        "",
    ),
    shape(
        "bare in $( ) in quotes",
        "printf %s \"$(printf %s {{ X }})\"",
        "",
        "",
    ),
    shape(
        "backticks in quotes",
        "printf %s \"`printf %s {{ X }}`\"",
        "",
        "",
    ),
    shape(
        "quotes in backticks in quotes",
        "printf %s \"`printf %s \"{{ X }}\"`\"",
        "",
        "",
    ),
    shape(
        "nested $( \"$( )\" )",
        "printf %s \"$(printf %s \"$(printf %s \"{{ X }}\")\")\"",
        "",
        "",
    ),
    shape(
        "case",
        "case {{ X }} in {{ X }}) printf %s {{ X }};; *) echo no;; esac",
        "",
        "",
    ),
    shape(
        "case in $( )",
        "printf %s \"$(case a in a) printf %s {{ X }};; esac)\"",
        "",
        "",
    ),
    shape("for", "for v in {{ X }}; do printf %s \"$v\"; done", "", ""),
    shape(
        "redirections",
        "2>/dev/null >\"$SIGNALBOX_STEP.tmp\" printf %s {{ X }}; cat <\"$SIGNALBOX_STEP.tmp\"",
        "",
        "",
    ),
    shape("assignment", "a={{ X }}; printf %s \"$a\"", "", ""),
    shape("export", "export b={{ X }}; printf %s \"$b\"", "", ""),
    shape(
        "function argument",
        "f() { printf %s \"$1\"; }; f {{ X }}",
        "",
        "",
    ),
    shape("function body", "f() { printf %s {{ X }}; }\nf", "", ""),
    shape("subshell and pipe", "(printf %s {{ X }}) | cat", "", ""),
    shape(
        "after ${ }",
        "printf %s \"${unset_var:-d}\"{{ X }}",
        "d",
        "",
    ),
    shape(
        "after escaped quotes",
        "printf %s \\\"{{ X }}\\\"",
        "\"",
        "\"",
    ),
    shape(
        "comment with ) in $( )",
        "printf %s \"$(printf %s {{ X }} # ) \"\n)\"",
        "",
        "",
    ),
    shape(
        "here-document in $( )",
        "printf %s \"$(cat <<EOF\n{{ X }}\nEOF\n)\"",
        "",
        "",
    ),
    shape(
        "if",
        "if [ -n {{ X }} ] || true; then printf %s {{ X }}; fi",
        "",
        "",
    ),
];

const fn shape(
    name: &'static str,
    run: &'static str,
    before: &'static str,
    after: &'static str,
) -> Shape {
    Shape {
        name,
        run,
        before,
        after,
    }
}

impl Shape {
    fn strips(&self) -> bool {
        self.run.contains("$(") || self.run.contains('`')
    }

    fn expected(&self, value: &str) -> String {
        let value = if self.strips() {
            value.trim_end_matches('\n')
        } else {
            value
        };
        format!("{}{value}{}", self.before, self.after)
    }
}

/// The shell's program, found on PATH; a test without it must fail.
pub fn shell(name: &str) -> String {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => p.display().to_string(),
        None => panic!("`{name}` is not installed; these tests need it (apt-get install {name})"),
    }
}

pub fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sbx-templates-{label}-{}", common::marker()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn yaml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// One workflow: a step per shape and value, each printing into its own file.
fn corpus_workflow(shell: &str) -> String {
    let mut yaml = format!("name: corpus\ndefaults:\n  shell: [{shell}, -c]\nvars:\n");
    for (v, value) in HOSTILE.iter().enumerate() {
        yaml.push_str(&format!("  v{v}: {}\n", yaml_string(value)));
    }
    yaml.push_str("steps:\n");
    for (s, shape) in SHAPES.iter().enumerate() {
        for v in 0..HOSTILE.len() {
            let run = shape
                .run
                .replace("{{ X }}", &format!("{{{{ vars.v{v} }}}}"));
            let run = format!("exec >\"$SIGNALBOX_STEP.out\"\n{run}");
            yaml.push_str(&format!("  s{s}-v{v}:\n    run: {}\n", yaml_string(&run)));
        }
    }
    yaml
}

fn signalbox(dir: &Path, args: &[&str]) -> common::Done {
    let mut cmd = Command::new(common::BIN);
    cmd.args(args)
        .current_dir(dir)
        .env_remove("SIGNALBOX_STATE_DIR");
    Live::spawn(cmd).finish()
}

fn run_corpus(shell_name: &str) {
    let shell = shell(shell_name);
    let dir = temp_dir(shell_name);
    std::fs::write(dir.join("wf.yaml"), corpus_workflow(&shell)).unwrap();
    let done = signalbox(
        &dir,
        &[
            "run",
            "wf.yaml",
            "--headless",
            "--json",
            "--state-dir",
            "state",
        ],
    );
    done.expect(0, "succeeded");
    let mut failures = Vec::new();
    for (s, shape) in SHAPES.iter().enumerate() {
        for (v, value) in HOSTILE.iter().enumerate() {
            let file = dir.join(format!("s{s}-v{v}.out"));
            let got = std::fs::read(&file).unwrap_or_default();
            let want = shape.expected(value);
            if got != want.as_bytes() {
                failures.push(format!(
                    "{shell_name}, {}: value {value:?} printed {:?}, expected {want:?}",
                    shape.name,
                    String::from_utf8_lossy(&got)
                ));
            }
        }
    }
    assert!(
        !dir.join(CANARY).exists(),
        "{shell_name}: a value ran as code"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hostile_values_round_trip_under_sh() {
    run_corpus("sh");
}

#[test]
fn hostile_values_round_trip_under_dash() {
    run_corpus("dash");
}

#[test]
fn hostile_values_round_trip_under_bash() {
    run_corpus("bash");
}

/// Contexts where no quoting keeps a value literal: each is refused when
/// the file is loaded, at the template, naming the context.
const REFUSED: &[(&str, &str)] = &[
    ("printf %s $(( {{ X }} + 1 ))", "arithmetic `$(( ))`"),
    ("(( {{ X }} > 1 )) && echo big", "arithmetic `(( ))`"),
    ("[[ {{ X }} -eq 1 ]] && echo one", "`[[ ]]`"),
    ("[[ -n a && {{ X }} -eq 1 ]]", "`[[ ]]`"),
    ("eval \"printf %s {{ X }}\"", "the arguments of `eval`"),
    ("command eval printf %s {{ X }}", "the arguments of `eval`"),
    ("trap \"echo {{ X }}\" EXIT", "the arguments of `trap`"),
    ("let n={{ X }}", "the arguments of `let`"),
    (
        "read -r {{ X }} </dev/null",
        "a variable name given to `read`",
    ),
    (
        "printf -v {{ X }} %s 1",
        "a variable name given to `printf`",
    ),
    ("test -v {{ X }}", "a variable name given to `test`"),
    ("unset {{ X }}", "a variable name given to `unset`"),
    ("a[{{ X }}]=1", "an array subscript"),
    ("a=( [{{ X }}]=1 )", "an array assignment"),
    ("declare -i n; n={{ X }}", "declares integer"),
    (
        "printf %s ${unset_var:-{{ X }}}",
        "a parameter expansion `${...}`",
    ),
    (
        "printf %s \"${#{{ X }}}\"",
        "a parameter expansion `${...}`",
    ),
    ("$SHELL_CMD {{ X }}", "a command whose name is an expansion"),
    ("echo ok # {{ X }}", "a `#` comment"),
    ("cat <<'EOF'\n{{ X }}\nEOF", "a quoted here-document"),
    ("cat <<\"EOF\"\n{{ X }}\nEOF", "a quoted here-document"),
    ("printf %s '{{ X }}'", "single quotes"),
    ("printf %s \\{{ X }}", "a `\\` right before a template"),
    ("alias p=printf\np %s {{ X }}", "defines an alias"),
    (
        "n={{ X }}; printf %s $(( n + 1 ))",
        "arithmetic on a variable",
    ),
    ("n={{ X }}; [[ $n -eq 1 ]]", "`[[ ]]` with `-eq`"),
    (
        "for v in {{ X }}; do eval \"printf %s $v\"; done",
        "uses `eval`",
    ),
    ("i={{ X }}; a[$i]=1", "an array subscript"),
    ("sh -c \"printf %s {{ X }}\"", "the script of `sh -c`"),
    (
        "bash <<EOF\nprintf %s {{ X }}\nEOF",
        "a here-document given to `bash`",
    ),
];

/// A workflow whose one step runs `run` under `shell`, with a hostile var.
fn refusal_workflow(shell: &str, run: &str) -> String {
    format!(
        "name: refused\nvars:\n  x: 'a[$(touch CANARY)]'\nsteps:\n  s:\n    shell: [{shell}, -c]\n    run: {}\n",
        yaml_string(&run.replace("{{ X }}", "{{ vars.x }}"))
    )
}

#[test]
fn unsafe_contexts_are_refused_at_load_naming_the_context() {
    let dir = temp_dir("refused");
    let mut failures = Vec::new();
    for (run, context) in REFUSED {
        std::fs::write(dir.join("wf.yaml"), refusal_workflow("bash", run)).unwrap();
        let done = signalbox(&dir, &["validate", "wf.yaml"]);
        // The `run` is one quoted line in the file (escapes inside a quoted
        // scalar can shift the position a little; the fixtures pin it).
        let line = done.stderr.lines().next().unwrap_or("");
        let positioned = line.strip_prefix("wf.yaml:").is_some_and(|rest| {
            let mut parts = rest.splitn(3, ':');
            parts.next().is_some_and(|l| l.parse::<u32>().is_ok())
                && parts.next().is_some_and(|c| c.parse::<u32>().is_ok())
                && parts.next().is_some_and(|m| m.starts_with(" error: "))
        });
        if done.code != Some(2) || !positioned || !line.contains(context) {
            failures.push(format!(
                "{run:?}: expected `wf.yaml:LINE:COL: error: ...{context}...`, got exit {:?}: {}",
                done.code, done.stderr
            ));
        }
        let done = signalbox(
            &dir,
            &[
                "run",
                "wf.yaml",
                "--headless",
                "--json",
                "--state-dir",
                "state",
            ],
        );
        if done.code != Some(2) || !done.stdout.is_empty() {
            failures.push(format!("{run:?}: `run` was not refused: {}", done.dump()));
        }
    }
    assert!(!dir.join(CANARY).exists(), "a value ran as code");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The issue's own case: under bash, `$(( {{ vars.n }} + 1 ))` with
/// `n='a[$(touch CANARY)]'` ran the canary. It is now refused before
/// anything runs, with the template's position.
#[test]
fn bash_arithmetic_with_a_subscript_never_runs() {
    let dir = temp_dir("arith");
    let yaml = "name: arith\nvars:\n  n: 'a[$(touch CANARY)]'\nsteps:\n  s:\n    shell: [bash, -c]\n    run: echo $(( {{ vars.n }} + 1 ))\n";
    std::fs::write(dir.join("wf.yaml"), yaml).unwrap();
    let done = signalbox(
        &dir,
        &[
            "run",
            "wf.yaml",
            "--headless",
            "--json",
            "--state-dir",
            "state",
        ],
    );
    done.expect_refused("wf.yaml:7:19: error: a template inside arithmetic `$(( ))` is not safe");
    assert!(!dir.join(CANARY).exists(), "the subscript ran");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `# don't panic` before a template used to make a valid file a load
/// error (the `'` opened a quote that never closed).
#[test]
fn a_quote_in_a_comment_does_not_refuse_the_file() {
    let dir = temp_dir("comment");
    let yaml = "name: comment\nvars:\n  x: '$(touch CANARY) *'\nsteps:\n  s:\n    run: |\n      # don't panic\n      printf %s {{ vars.x }} > out.txt\n";
    std::fs::write(dir.join("wf.yaml"), yaml).unwrap();
    let done = signalbox(
        &dir,
        &[
            "run",
            "wf.yaml",
            "--headless",
            "--json",
            "--state-dir",
            "state",
        ],
    );
    done.expect(0, "succeeded");
    assert_eq!(
        std::fs::read_to_string(dir.join("out.txt")).unwrap(),
        "$(touch CANARY) *"
    );
    assert!(!dir.join(CANARY).exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A shell whose quoting signalbox does not know cannot take templates in
/// `run`: the value would reach it as text of its own language.
#[test]
fn a_non_posix_shell_is_refused_templates() {
    let dir = temp_dir("python");
    let yaml = "name: py\nvars:\n  x: '__import__(\"os\").system(\"touch CANARY\")'\nsteps:\n  s:\n    shell: [python3, -c]\n    run: print({{ vars.x }})\n";
    std::fs::write(dir.join("wf.yaml"), yaml).unwrap();
    let done = signalbox(&dir, &["validate", "wf.yaml"]);
    assert_eq!(done.code, Some(2), "{}", done.dump());
    assert!(
        done.stderr
            .starts_with("wf.yaml:7:16: error: templates in `run` need a POSIX shell"),
        "{}",
        done.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}
