//! Templates: parsing, references, and the command text in each shell context.

use super::*;

#[test]
fn parses_every_reference_kind() {
    let t = Template::parse("a {{ vars.x }} {{answers.q}} {{ steps.b.outputs.v }} {{ run.id }}")
        .unwrap();
    let refs: Vec<_> = t.refs().map(|(r, _)| r.clone()).collect();
    assert_eq!(
        refs,
        [
            Ref::Var("x".into()),
            Ref::Answer("q".into()),
            Ref::Output {
                step: "b".into(),
                key: "v".into()
            },
            Ref::RunId
        ]
    );
}

#[test]
fn reports_bad_templates_at_their_offset() {
    assert_eq!(Template::parse("ab {{ vars.x").unwrap_err().offset, 3);
    let e = Template::parse("x {{ inputs.k }}").unwrap_err();
    assert_eq!(e.offset, 2);
    assert!(e.message.contains("unknown template"));
}

fn sh() -> Vec<String> {
    vec!["sh".into(), "-c".into()]
}

fn command(text: &str) -> Result<String, Vec<String>> {
    Template::parse(text)
        .unwrap()
        .to_command(&sh())
        .map_err(|errs| errs.into_iter().map(|e| e.message).collect())
}

#[test]
fn commands_refer_to_environment_variables() {
    let t =
        Template::parse("echo {{ vars.x }} \"v={{ answers.note-1 }}\" \\'{{ run.id }}").unwrap();
    assert_eq!(
        t.to_command(&sh()).unwrap(),
        "echo \"$SIGNALBOX_VAR_X\" \"v=${SIGNALBOX_ANSWER_NOTE_1}\" \\'\"$SIGNALBOX_RUN_ID\""
    );
    let single = Template::parse("echo 'x {{ vars.x }}'").unwrap();
    assert_eq!(single.to_command(&sh()).unwrap_err()[0].offset, 8);
    let after = Template::parse("echo 'x' \"it's {{ vars.x }}\"").unwrap();
    assert!(after.to_command(&sh()).is_ok());
}

#[test]
fn each_context_gets_its_form() {
    let cases = [
        (
            "# don't panic\necho {{ vars.x }}",
            "# don't panic\necho \"$SIGNALBOX_VAR_X\"",
        ),
        (
            "echo \"$(printf %s \"{{ vars.x }}\")\"",
            "echo \"$(printf %s \"${SIGNALBOX_VAR_X}\")\"",
        ),
        (
            "echo \"`printf %s {{ vars.x }}`\"",
            "echo \"`printf %s \"$SIGNALBOX_VAR_X\"`\"",
        ),
        (
            "cat <<EOF\n{{ vars.x }}\nEOF\necho {{ vars.x }}",
            "cat <<EOF\n${SIGNALBOX_VAR_X}\nEOF\necho \"$SIGNALBOX_VAR_X\"",
        ),
        (
            "a={{ vars.x }}; export b={{ vars.x }}",
            "a=\"$SIGNALBOX_VAR_X\"; export b=\"$SIGNALBOX_VAR_X\"",
        ),
        (
            "case {{ vars.x }} in ({{ vars.x }}) echo {{ vars.x }};; esac",
            "case \"$SIGNALBOX_VAR_X\" in (\"$SIGNALBOX_VAR_X\") echo \"$SIGNALBOX_VAR_X\";; esac",
        ),
        (
            "echo $(case a in a) echo {{ vars.x }};; esac)",
            "echo $(case a in a) echo \"$SIGNALBOX_VAR_X\";; esac)",
        ),
        (
            "export PATH=\"$HOME/bin:$PATH\"; echo $((1 + 2)) \"${a[@]}\" \"${x:-d}\" {{ vars.x }}",
            "export PATH=\"$HOME/bin:$PATH\"; echo $((1 + 2)) \"${a[@]}\" \"${x:-d}\" \"$SIGNALBOX_VAR_X\"",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(command(text).unwrap(), want, "{text}");
    }
}

#[test]
fn unsafe_contexts_are_refused_by_name() {
    let cases = [
        ("echo x # {{ vars.x }}", "comment"),
        ("cat <<'EOF'\n{{ vars.x }}\nEOF", "quoted here-document"),
        ("cat <<\"EOF\"\n{{ vars.x }}\nEOF", "quoted here-document"),
        ("echo $(( {{ vars.x }} + 1 ))", "arithmetic `$(( ))`"),
        ("(( {{ vars.x }} > 1 ))", "arithmetic `(( ))`"),
        ("[[ {{ vars.x }} -eq 1 ]]", "`[[ ]]`"),
        ("[[ a && {{ vars.x }} -eq 1 ]]", "`[[ ]]`"),
        ("eval echo {{ vars.x }}", "`eval`"),
        ("command eval \"echo {{ vars.x }}\"", "`eval`"),
        ("echo ${y:-{{ vars.x }}}", "`${...}`"),
        ("read {{ vars.x }}", "`read`"),
        ("printf -v {{ vars.x }} %s 1", "`printf`"),
        ("a[{{ vars.x }}]=1", "array subscript"),
        ("declare -i n; n={{ vars.x }}", "integer"),
        ("$cmd {{ vars.x }}", "whose name is an expansion"),
        ("echo \\{{ vars.x }}", "`\\`"),
        ("echo ${{ vars.x }}", "`$`"),
        ("cat <<{{ vars.x }}\nx\n", "delimiter"),
        ("a=( {{ vars.x }} )", "array assignment"),
        ("echo $'{{ vars.x }}'", "`$'...'`"),
        ("function f { eval {{ vars.x }}; }", "`eval`"),
        ("alias e=eval\ne {{ vars.x }}", "alias"),
        (
            "n={{ vars.x }}; echo $(( n + 1 ))",
            "arithmetic on a variable",
        ),
        (
            "echo $((SIGNALBOX_VAR_X)) {{ vars.x }}",
            "arithmetic on a variable",
        ),
        ("for v in {{ vars.x }}; do eval \"$v\"; done", "uses `eval`"),
        ("i={{ vars.x }}; echo \"${a[i]}\"", "an array subscript"),
        ("i={{ vars.x }}; a[$i]=1", "an array subscript"),
        ("n={{ vars.x }}; [[ $n -gt 1 ]]", "`[[ ]]` with `-eq`"),
        (
            "n={{ vars.x }}; read \"$n\"",
            "a variable name from an expansion",
        ),
        ("n={{ vars.x }}; echo \"${s:n}\"", "an offset"),
        ("declare -i n; m={{ vars.x }}; n=$m", "integer"),
        ("coproc eval {{ vars.x }}", "`coproc`"),
        ("sh -c \"echo {{ vars.x }}\"", "`sh -c`"),
        ("/bin/bash -ec 'x'{{ vars.x }}", "`bash -c`"),
        ("bash <<EOF\necho {{ vars.x }}\nEOF", "given to `bash`"),
        ("bash -s <<EOF\necho {{ vars.x }}\nEOF", "given to `bash`"),
        ("while eval {{ vars.x }}; do :; done", "`eval`"),
        ("2>/dev/null eval {{ vars.x }}", "`eval`"),
        ("\"ev\"al {{ vars.x }}", "`eval`"),
    ];
    for (text, want) in cases {
        let errs = command(text).expect_err(text);
        assert!(errs[0].contains(want), "{text}: {errs:?}");
    }
}

#[test]
fn only_posix_shells_take_templates() {
    let t = Template::parse("print({{ vars.x }})").unwrap();
    let python = vec!["python3".to_string(), "-c".to_string()];
    let errs = t.to_command(&python).unwrap_err();
    assert!(errs[0].message.contains("`python3` is not one"), "{errs:?}");
    let bash = vec!["/bin/bash".to_string(), "-c".to_string()];
    assert!(
        Template::parse("echo {{ vars.x }}")
            .unwrap()
            .to_command(&bash)
            .is_ok()
    );
    assert!(
        Template::parse("print(1)")
            .unwrap()
            .to_command(&python)
            .is_ok()
    );
}

/// A shell started anywhere in the command (behind `exec`, `env`, `nice`,
/// `timeout`, a pipe, `.`), bash's indirect and prompt expansions, `-v`
/// tests and prompt or start-up variables may read a value as code: every
/// template in such a command is refused, whatever its own quoting.
#[test]
fn commands_that_may_read_a_value_as_code_take_no_templates() {
    for run in [
        "sh -c 'printf %s \"$1\"' _ {{ vars.x }}",
        "exec sh -c \"echo {{ vars.x }}\"",
        "env bash -c 'true' {{ vars.x }}",
        "timeout 5 /bin/bash -c 'true'; echo {{ vars.x }}",
        "echo {{ vars.x }} | sh -s",
        "bash <<< \"echo {{ vars.x }}\"",
        ". /dev/stdin <<EOF\n{{ vars.x }}\nEOF",
        "x={{ vars.x }}; echo \"${!x}\"",
        "x={{ vars.x }}; echo \"${x@P}\"",
        "x={{ vars.x }}; [[ -v $x ]]",
        "x={{ vars.x }}; test -v \"$x\"",
        "PS4={{ vars.x }}; set -x; true",
        "BASH_ENV={{ vars.x }} true",
    ] {
        let t = Template::parse(run).unwrap();
        let errors = t
            .to_command(&["bash".to_string(), "-c".to_string()])
            .unwrap_err();
        assert!(!errors.is_empty(), "{run}");
    }
    // Words that only look like these are fine.
    for run in ["grep -v x {{ vars.x }}", "echo shell {{ vars.x }}"] {
        let t = Template::parse(run).unwrap();
        assert!(t.to_command(&sh()).is_ok(), "{run}");
    }
}
