//! Random command texts with templates, replayed from a fixed seed: each is
//! either refused by the loader's quoting, or, run through `sh`, `dash` and
//! `bash` with a hostile value, prints exactly what it prints with a plain
//! value (the plain value replaced by the hostile one) and creates no canary.
//!
//! The texts come from a small grammar of the contexts that matter (quotes,
//! comments, here-documents, `$( )`, backticks, `case`, functions,
//! assignments, and the contexts that must be refused), then from random
//! insertions and deletions of shell-significant tokens in them and in the
//! corpus of `templates.rs`. A failure prints the text, the command, the
//! shell and both outputs, ready to become a corpus entry.

use std::process::{Command, Stdio};

use signalbox::workflow::template::Template;

use super::{CANARY, HOSTILE, REFUSED, SHAPES, shell, temp_dir};
use crate::common::Rng;

/// The value every output is compared against.
const PLAIN: &str = "QzQzQ";

/// Hostile values for mutated texts: no blanks and no glob characters, so
/// that what a mutation itself does (an unquoted `$( )` of the author's)
/// cannot change the output; anything that runs leaves the canary.
const COMPACT: &[&str] = &[
    "$(>CANARY)",
    "`>CANARY`",
    ";>CANARY;",
    "'>CANARY'",
    "\">CANARY\"",
    "a[$(>CANARY)]",
    "\\$(>CANARY)\\",
    "$HOME${PATH}",
    "})]>",
    "\u{e9}\u{2713}",
];

const GENERATED: usize = 100;
const MUTANTS: usize = 300;
const VALUES_PER_TEXT: usize = 3;

/// What a mutation inserts.
const TOKENS: &[&str] = &[
    "'",
    "\"",
    "\\",
    "`",
    "$(",
    ")",
    "(",
    "#",
    "\n",
    "<<E\n",
    "<<'E'\n",
    "\nE\n",
    ";",
    "$",
    "{",
    "}",
    "[[ ",
    " ]]",
    "$((",
    "))",
    "eval ",
    " ",
    "|",
    "&&",
    "<",
    ">",
    "=",
    "${",
    "a=",
    "case ",
    " in ",
    ";;",
    " esac",
    "{{ vars.x }}",
    "\"{{ vars.x }}\"",
    "$'",
    "\t",
];

const T: &str = "{{ vars.x }}";

/// A word: a template, literal text, or quotes and substitutions around more.
fn word(rng: &mut Rng, depth: usize) -> String {
    let lit = ["a", "-", "\u{e9}", "b#c", "{x}", "k=v", ":", "}"];
    match rng.below(if depth > 2 { 3 } else { 8 }) {
        0 | 1 => T.to_string(),
        2 => rng.pick(&lit).to_string(),
        3 => format!("\"{}\"", dq(rng, depth + 1)),
        4 => format!("'{}'", rng.pick(&lit)),
        5 => format!("\"$({})\"", command(rng, depth + 1)),
        6 if depth == 0 => format!("\"`{}`\"", command(rng, depth + 1)),
        _ => format!("\\\"{}\\\"", T),
    }
}

/// The inside of double quotes.
fn dq(rng: &mut Rng, depth: usize) -> String {
    (0..1 + rng.below(3))
        .map(|_| match rng.below(if depth > 2 { 2 } else { 5 }) {
            0 => T.to_string(),
            1 => rng
                .pick(&[" ", "a b", "'", "\\\"", "#", "${u:-d}"])
                .to_string(),
            2 => format!("$({})", command(rng, depth + 1)),
            3 if depth == 1 => format!("`{}`", command(rng, depth + 1)),
            _ => format!("$(printf %s {T})"),
        })
        .collect()
}

fn command(rng: &mut Rng, depth: usize) -> String {
    let print = |rng: &mut Rng| {
        let args: Vec<String> = (0..1 + rng.below(3)).map(|_| word(rng, depth)).collect();
        format!("printf '<%s>' {}", args.join(" "))
    };
    if depth > 2 {
        return print(rng);
    }
    let inner = |rng: &mut Rng| command(rng, depth + 1);
    match rng.below(14) {
        0..=3 => print(rng),
        4 => format!("cat <<EOF\n{} '{}' \"\n{}\nEOF\n", T, T, dq(rng, 3)),
        5 => format!("case {T} in {T}) {};; *) echo no;; esac", inner(rng)),
        6 => format!(
            "for v in {}; do printf '<%s>' \"$v\"; done",
            word(rng, depth)
        ),
        7 => format!("f() {{ {}; }}; f", inner(rng)),
        8 => format!("({}) | cat", inner(rng)),
        9 => format!("# it's \"{T}\n{}", inner(rng)),
        10 => match rng.below(4) {
            0 => format!("a={}; printf '<%s>' \"$a\"", word(rng, depth)),
            1 => format!("export a={}; printf '<%s>' \"$a\"", word(rng, depth)),
            2 => format!("sh -c 'printf \"<%s>\" \"$1\"' _ {}", word(rng, depth)),
            _ => format!("cat <<-E\n\t{T} $(printf %s {T}) `printf %s {T}`\n\tE\n"),
        },
        11 => format!("if true; then {}; fi", inner(rng)),
        12 => format!("{} && {}", inner(rng), inner(rng)),
        _ => rng
            .pick(&[
                "echo $(( {{ vars.x }} + 1 ))",
                "eval \"printf %s {{ vars.x }}\"",
                "[[ {{ vars.x }} -eq 1 ]]",
                "printf %s ${u:-{{ vars.x }}}",
                "printf %s '{{ vars.x }}'",
            ])
            .to_string(),
    }
}

fn program(rng: &mut Rng) -> String {
    let n = 1 + rng.below(3);
    let cmds: Vec<String> = (0..n).map(|_| command(rng, 0)).collect();
    cmds.join(if rng.below(2) == 0 { "\n" } else { "; " })
}

fn boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut s = text.to_string();
    for _ in 0..1 + rng.below(3) {
        let at = boundary(&s, rng.below(s.len() + 1));
        match rng.below(3) {
            0 | 1 => s.insert_str(at, rng.pick(TOKENS)),
            _ => {
                let end = boundary(&s, at + 1 + rng.below(4));
                s.replace_range(at..end, "");
            }
        }
    }
    s
}

struct Outcome {
    code: Option<i32>,
    stdout: Vec<u8>,
    canary: bool,
}

fn run(shell: &str, command: &str, value: &str) -> Outcome {
    let dir = temp_dir("fuzz");
    let out = Command::new("timeout")
        .args(["10", shell, "-c", command])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SIGNALBOX_VAR_X", value)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("timeout and the shell run");
    let canary = dir.join(CANARY).exists();
    let _ = std::fs::remove_dir_all(&dir);
    Outcome {
        code: out.status.code(),
        stdout: out.stdout,
        canary,
    }
}

/// Why `text` breaks the promise under `shell` with one of `values`, if it does.
fn check(shell: &str, text: &str, values: &[&str]) -> Option<String> {
    if !comparable(text) {
        return None;
    }
    let Ok(template) = Template::parse(text) else {
        return None;
    };
    let Ok(command) = template.to_command(&[shell.to_string(), "-c".to_string()]) else {
        return None;
    };
    template.refs().next()?;
    let plain = run(shell, &command, PLAIN);
    let plain_out = String::from_utf8_lossy(&plain.stdout).into_owned();
    if plain_out.contains("SIGNALBOX_VAR_X=") {
        // `export` without arguments listed the environment.
        return None;
    }
    if plain_out.contains("SIGNALBOX_VAR_X") {
        // The shell read the reference as quoted text: the quoting was misread.
        return Some(format!(
            "{shell}: printed the reference itself: {plain_out:?}\ntext:\n{text}\ncommand:\n{command}"
        ));
    }
    for value in values {
        let got = run(shell, &command, value);
        let want = plain_out.replace(PLAIN, value);
        let problem = if got.canary {
            Some("created the canary".to_string())
        } else if String::from_utf8_lossy(&got.stdout) != want || got.code != plain.code {
            Some(format!(
                "printed {:?} (exit {:?}), expected {want:?} (exit {:?})",
                String::from_utf8_lossy(&got.stdout),
                got.code,
                plain.code
            ))
        } else {
            None
        };
        if let Some(p) = problem {
            return Some(format!(
                "{shell}, value {value:?}: {p}\ntext:\n{text}\ncommand:\n{command}"
            ));
        }
    }
    None
}

/// Whether the output can depend on the value only by printing it: no
/// `$$` (a new pid each run), no `printf` format but `%s` (`%a` prints a
/// value as a number; a value as the format has its `\` read), no `&` job
/// racing the rest for the output.
fn comparable(text: &str) -> bool {
    let formats = ["%s", "'<%s>'", "\"<%s>\""];
    let printf_ok = text.match_indices("printf").all(|(i, _)| {
        let rest = text[i + "printf".len()..].trim_start_matches([' ', '\t']);
        formats.iter().any(|f| rest.starts_with(f))
    });
    printf_ok
        && !text.contains("$$")
        && !text.replace("&&", "").contains('&')
        && text
            .match_indices('%')
            .all(|(i, _)| text[i + 1..].starts_with('s'))
}

fn sample<'a>(rng: &mut Rng, values: &[&'a str]) -> Vec<&'a str> {
    (0..VALUES_PER_TEXT).map(|_| rng.pick(values)).collect()
}

#[test]
fn random_commands_are_refused_or_literal_in_every_shell() {
    let shells: Vec<String> = ["sh", "dash", "bash"].iter().map(|s| shell(s)).collect();
    // `$( )` drops trailing newlines whatever the quoting, so a value that
    // ends in one (or an empty one, after a newline of the author's) cannot
    // be compared by replacing.
    let full: Vec<&str> = HOSTILE
        .iter()
        .copied()
        .filter(|v| !v.is_empty() && !v.ends_with('\n'))
        .collect();
    let mut rng = Rng(0x5eed_7e3d_1a7e_0010);
    // The corpus, accepted and refused: a mutation of a refused text that is
    // accepted is where the lexer's edges are tried hardest.
    let mut seeds: Vec<String> = SHAPES
        .iter()
        .map(|s| s.run)
        .chain(REFUSED.iter().map(|(run, _)| *run))
        .map(|run| run.replace("{{ X }}", T))
        .collect();
    seeds.extend((0..GENERATED).map(|_| program(&mut rng)));
    let mut failures = Vec::new();
    let mut ran = 0;
    for (i, text) in seeds.iter().enumerate() {
        let values = sample(&mut rng, &full);
        let shell = &shells[i % shells.len()];
        ran += usize::from(accepted(shell, text));
        failures.extend(check(shell, text, &values));
    }
    let ran_seeds = std::mem::take(&mut ran);
    for i in 0..MUTANTS {
        let text = mutate(&seeds[rng.below(seeds.len())], &mut rng);
        let values = sample(&mut rng, COMPACT);
        let shell = &shells[i % shells.len()];
        ran += usize::from(accepted(shell, &text));
        failures.extend(check(shell, &text, &values));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // A generator whose every text is refused would prove nothing.
    assert!(
        ran_seeds > seeds.len() / 3 && ran > MUTANTS / 8,
        "only {ran_seeds} of {} seeds and {ran} of {MUTANTS} mutants ran",
        seeds.len()
    );
}

fn accepted(shell: &str, text: &str) -> bool {
    Template::parse(text).is_ok_and(|t| {
        t.refs().next().is_some() && t.to_command(&[shell.to_string(), "-c".into()]).is_ok()
    })
}
