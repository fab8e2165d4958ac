//! Plain values of a resolved workflow: durations, merged retry policies,
//! breakers, shells, and mapping a position inside a value to the file.

use std::time::Duration;

use super::super::diag::Pos;
use super::super::duration;
use super::super::lines::Lines;
use super::super::model::{BreakerPolicy, RetryPolicy};
use super::super::spec::{DurationSpec, RetrySpec, ShellSpec};

pub fn to_duration(d: &DurationSpec) -> Duration {
    match d {
        DurationSpec::Seconds(s) => duration::seconds(*s).unwrap_or_default(),
        DurationSpec::Text(t) => duration::parse(t).unwrap_or_default(),
    }
}

pub(super) fn breaker(b: &super::super::spec::BreakerSpec) -> BreakerPolicy {
    BreakerPolicy {
        failures: b.failures.map_or(5, clamp_u32),
        cooldown: b
            .cooldown
            .as_ref()
            .map_or(Duration::from_secs(60), to_duration),
        half_open_calls: b.half_open_calls.map_or(1, clamp_u32),
    }
}

pub(super) fn clamp_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A step's retry keys merged one by one over `defaults.retry`.
pub fn merge_retry(step: Option<&RetrySpec>, defaults: Option<&RetrySpec>) -> RetryPolicy {
    let base = RetryPolicy::default();
    let pick = |f: fn(&RetrySpec) -> Option<&DurationSpec>| {
        step.and_then(f)
            .or_else(|| defaults.and_then(f))
            .map(to_duration)
    };
    RetryPolicy {
        attempts: step
            .and_then(|r| r.attempts)
            .or_else(|| defaults.and_then(|r| r.attempts))
            .map_or(base.attempts, clamp_u32),
        delay: pick(|r| r.delay.as_ref()).unwrap_or(base.delay),
        max_delay: pick(|r| r.max_delay.as_ref()).unwrap_or(base.max_delay),
        factor: step
            .and_then(|r| r.factor)
            .or_else(|| defaults.and_then(|r| r.factor))
            .unwrap_or(base.factor),
        jitter: step
            .and_then(|r| r.jitter)
            .or_else(|| defaults.and_then(|r| r.jitter))
            .unwrap_or(base.jitter),
    }
}

pub(super) fn shell_words(shell: &ShellSpec) -> Vec<String> {
    match shell {
        ShellSpec::Line(line) => line.split_whitespace().map(str::to_string).collect(),
        ShellSpec::Words(words) => words.clone(),
    }
}

/// Maps an offset in a scalar's text back to the file, for plain, quoted and
/// block scalars. Escapes inside quotes can shift the column a little.
pub(super) fn locate_in_source(lines: &Lines<'_>, base: Pos, text: &str, offset: usize) -> Pos {
    let before = &text[..offset.min(text.len())];
    let lines_before = before.matches('\n').count();
    let col_in_line = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    });
    let line_text = lines.get(base.line as usize - 1).unwrap_or("");
    let first = line_text.chars().nth(base.col as usize - 1).unwrap_or(' ');
    match first {
        '>' => folded_pos(lines, base, before),
        '|' => {
            let line = base.line as usize + 1 + lines_before;
            let indent = lines
                .get(line - 1)
                .map_or(0, |l| l.len() - l.trim_start().len());
            Pos {
                line: u32::try_from(line).unwrap_or(u32::MAX),
                col: 1,
            }
            .shifted(indent + col_in_line)
        }
        '"' | '\'' if lines_before == 0 => {
            let after_quote: String = line_text.chars().skip(base.col as usize).collect();
            base.shifted(1 + quoted_width(&after_quote, first, col_in_line))
        }
        _ if lines_before == 0 => base.shifted(col_in_line),
        _ => Pos {
            line: base
                .line
                .saturating_add(u32::try_from(lines_before).unwrap_or(0)),
            col: 1,
        },
    }
}

/// The position of decoded byte `offset` in a folded (`>`) block, whose
/// value joins its lines with spaces: each line of text takes its length and
/// one separator; a run of blank lines becomes newlines, one fewer than the
/// run is long. `before` is the value up to the position wanted.
fn folded_pos(lines: &Lines<'_>, base: Pos, before: &str) -> Pos {
    let target = before.chars().count();
    let mut at = 0;
    let mut blank_run = 0;
    let mut block_indent = None;
    for k in base.line as usize..lines.count() {
        let line = lines.get(k).unwrap_or_default();
        let text = line.trim_start();
        let indent = line.len() - text.len();
        if text.is_empty() {
            at += usize::from(blank_run > 0);
            blank_run += 1;
            continue;
        }
        let block = *block_indent.get_or_insert(indent);
        if indent < block {
            break;
        }
        blank_run = 0;
        let width = line[block..].chars().count();
        if target <= at + width {
            return Pos {
                line: u32::try_from(k + 1).unwrap_or(u32::MAX),
                col: 1,
            }
            .shifted(block + (target - at));
        }
        at += width + 1;
    }
    base
}

/// How many source characters of a quoted scalar (after its opening quote)
/// make its first `decoded` characters: an escape (`\n`, `\"`, `\x41`...)
/// in double quotes, or `''` in single quotes, is one character of the
/// value but several in the file.
fn quoted_width(source: &str, quote: char, decoded: usize) -> usize {
    let chars: Vec<char> = source.chars().collect();
    let (mut at, mut n) = (0, 0);
    while n < decoded && at < chars.len() {
        at += match (quote, chars[at], chars.get(at + 1)) {
            ('"', '\\', Some('x')) => 4,
            ('"', '\\', Some('u')) => 6,
            ('"', '\\', Some('U')) => 10,
            ('"', '\\', Some(_)) | ('\'', '\'', Some('\'')) => 2,
            _ => 1,
        };
        n += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_in_quoted_scalars_skip_over_escapes() {
        // run: "echo \"hi\" {{ x }}" -- the value is `echo "hi" {{ x }}`.
        let source = "run: \"echo \\\"hi\\\" {{ x }}\"\n";
        let value = "echo \"hi\" {{ x }}";
        let at = value.find("{{").unwrap();
        let pos = locate_in_source(&Lines::new(source), Pos { line: 1, col: 6 }, value, at);
        assert_eq!(&source[pos.col as usize - 1..][..2], "{{");
        let source = "run: >\n  echo one\n  two\n\n  {{ x }} three\n";
        let value = "echo one two\n{{ x }} three\n";
        let at = value.find("{{").unwrap();
        let pos = locate_in_source(&Lines::new(source), Pos { line: 1, col: 6 }, value, at);
        assert_eq!((pos.line, pos.col), (5, 3));
        let at = value.find("two").unwrap();
        let pos = locate_in_source(&Lines::new(source), Pos { line: 1, col: 6 }, value, at);
        assert_eq!((pos.line, pos.col), (3, 3));
        let source = "run: 'it''s {{ x }}'\n";
        let value = "it's {{ x }}";
        let at = value.find("{{").unwrap();
        let pos = locate_in_source(&Lines::new(source), Pos { line: 1, col: 6 }, value, at);
        assert_eq!(&source[pos.col as usize - 1..][..2], "{{");
    }

    #[test]
    fn steps_without_a_shell_share_the_default_one() {
        let shell = |text: &str| {
            let wf = crate::workflow::load_str(text, "t.yaml").unwrap();
            wf.steps.iter().map(|s| s.shell.clone()).collect::<Vec<_>>()
        };
        let plain = shell("name: t\nsteps:\n  a: {run: 'true'}\n  b: {run: 'true'}\n");
        assert_eq!(&*plain[0], ["sh", "-c"]);
        assert!(std::sync::Arc::ptr_eq(&plain[0], &plain[1]));
        let text = "name: t\ndefaults: {shell: bash -euc}\nsteps:\n  a: {run: 'true'}\n  \
                    b: {run: 'true', shell: [zsh, -c]}\n  c: {run: 'true'}\n";
        let set = shell(text);
        assert_eq!(&*set[0], ["bash", "-euc"]);
        assert_eq!(&*set[1], ["zsh", "-c"]);
        assert!(std::sync::Arc::ptr_eq(&set[0], &set[2]));
    }
}
