//! `signalbox completions SHELL` and `signalbox man`: both generated from
//! the clap definitions in `cli.rs`, so they cannot drift from the parser.
//!
//! Owns only the rendering; what the commands and options are is `cli.rs`'s.

use clap::{Arg, CommandFactory, ValueEnum};
use roff::{Roff, bold, italic, roman};

use super::{Cli, exit};

/// The shells completions are written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The completion script for `shell`, on stdout.
pub fn completions(shell: Shell) -> u8 {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(generator, &mut cmd, "signalbox", &mut out);
    crate::safe::write_exact(&out);
    exit::OK
}

/// The man page, roff, on stdout: the program, then every command with its
/// usage, what it does and its options, then the exit codes.
pub fn man() -> u8 {
    let cmd = Cli::command();
    let page = clap_mangen::Man::new(cmd.clone()).title("SIGNALBOX");
    let mut out = Vec::new();
    let head = page
        .render_title(&mut out)
        .and_then(|()| page.render_name_section(&mut out))
        .and_then(|()| page.render_synopsis_section(&mut out))
        .and_then(|()| page.render_description_section(&mut out));
    let mut roff = Roff::new();
    commands(&mut roff, &cmd);
    exit_status(&mut roff);
    if let Some(after) = cmd.get_after_help() {
        roff.control("SH", ["EXAMPLES"]);
        verbatim(
            &mut roff,
            after.to_string().trim_start_matches("Examples:\n"),
        );
    }
    let tail = roff
        .to_writer(&mut out)
        .and_then(|()| page.render_version_section(&mut out));
    if let Err(e) = head.and(tail) {
        crate::safe::say!("error: cannot write the man page: {e}");
        return exit::FAILED;
    }
    crate::safe::write_exact(&out);
    exit::OK
}

/// `COMMANDS`: one subsection per subcommand, in the order `--help` lists them.
fn commands(roff: &mut Roff, cmd: &clap::Command) {
    roff.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut sub = sub
            .clone()
            .bin_name(format!("signalbox {}", sub.get_name()));
        let usage = sub.render_usage().to_string();
        let usage = usage.trim_start_matches("Usage: ").trim();
        roff.control("SS", [format!("signalbox {}", sub.get_name()).as_str()]);
        roff.text([bold(usage)]);
        if let Some(about) = sub.get_long_about().or_else(|| sub.get_about()) {
            roff.control("PP", []);
            roff.text([roman(about.to_string())]);
        }
        for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            option(roff, arg);
        }
        if let Some(after) = sub.get_after_help() {
            roff.control("PP", []);
            verbatim(roff, &after.to_string());
        }
    }
}

/// Examples are command lines: kept as written, never refilled.
fn verbatim(roff: &mut Roff, text: &str) {
    roff.control("nf", []);
    for line in text.lines() {
        roff.text([roman(line)]);
    }
    roff.control("fi", []);
}

/// One argument as a tagged paragraph: `-j, --jobs <N>` then its help.
fn option(roff: &mut Roff, arg: &Arg) {
    let value = arg
        .get_value_names()
        .map(|names| {
            names
                .iter()
                .map(|n| format!("<{n}>"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| format!("<{}>", arg.get_id().as_str().to_uppercase()));
    let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
    let mut tag = Vec::new();
    if let Some(short) = arg.get_short() {
        tag.push(bold(format!("-{short}")));
    }
    if let Some(long) = arg.get_long() {
        if !tag.is_empty() {
            tag.push(roman(", "));
        }
        tag.push(bold(format!("--{long}")));
    }
    if tag.is_empty() {
        tag.push(italic(value));
    } else if takes_value {
        tag.push(roman(" "));
        tag.push(italic(value));
    }
    roff.control("TP", []);
    roff.text(tag);
    if let Some(help) = arg.get_long_help().or_else(|| arg.get_help()) {
        roff.text([roman(help.to_string())]);
    }
}

/// `EXIT STATUS`, as SPEC §4 gives the codes.
fn exit_status(roff: &mut Roff) {
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in [
        (exit::OK, "the run succeeded, or the files are valid"),
        (exit::FAILED, "the run failed, or the run cannot be reached"),
        (
            exit::INVALID,
            "an invalid workflow, bad usage, or a refused command",
        ),
        (
            exit::CANCELLED,
            "cancelled by Ctrl-C, a signal or the operator",
        ),
    ] {
        roff.control("TP", []);
        roff.text([bold(code.to_string())]);
        roff.text([roman(meaning)]);
    }
}
