//! The `signalbox` binary: parse the command line, hand it to the front end.

use clap::Parser;

fn main() -> std::process::ExitCode {
    signalbox::cli::run(signalbox::cli::Cli::parse())
}
