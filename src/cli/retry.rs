//! `signalbox retry RUN [STEP]... [--downstream]`: a failed or cancelled
//! run goes on as the same run, with the named steps (by default every
//! failed and cancelled one) run again from attempt 1. Driven as `resume`
//! drives a run: on the screen, headless, `--json` or `--detach`.

use clap::Args;

use super::run::RunFlags;
use crate::engine::By;
use crate::engine::retry::RetryAsk;

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// A run id under the state dir, or a run folder.
    #[arg(value_name = "RUN")]
    pub run: String,
    /// The steps to run again (default: every failed and cancelled step).
    #[arg(value_name = "STEP")]
    pub steps: Vec<String>,
    /// Also run again the named steps' descendants that succeeded.
    #[arg(long)]
    pub downstream: bool,
    /// Asked with `R` on the run's screen, which starts this command:
    /// journaled `by: keyboard` rather than `flag`.
    #[arg(long = "from-screen", hide = true)]
    pub from_screen: bool,
    #[command(flatten)]
    pub flags: RunFlags,
}

pub fn retry(args: RetryArgs) -> u8 {
    let ask = RetryAsk {
        steps: args.steps,
        downstream: args.downstream,
        by: if args.from_screen {
            By::Keyboard
        } else {
            By::Flag
        },
        user: None,
    };
    super::history::carry_on(&args.run, &args.flags, super::history::Carry::Retry(ask))
}
