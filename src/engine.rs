//! The orchestrator: runs a loaded [`Workflow`](crate::workflow::Workflow)
//! and reports every change of state as an [`Event`]. It
//! knows nothing of screens or terminals.
//!
//! One task, the scheduler, owns a run's state; step attempts
//! (`attempt`), wait timers (`waits`) and front ends (through a
//! [`RunHandle`]) talk to it by message. What happens after a step becomes
//! ready or fails is decided by the [`policy`] chain.

pub mod allow;
mod attempt;
pub mod backoff;
pub mod breaker;
mod breaker_ctl;
mod breaker_resume;
pub mod bus;
mod control;
pub mod edit;
mod env;
pub mod event;
pub mod fsafe;
mod hooks;
pub mod journal;
pub mod journal_check;
pub mod lock;
pub mod mask;
pub mod matrix;
pub mod policy;
pub mod process;
mod ready;
pub mod remote;
mod resume;
pub mod retry;
mod run;
pub mod run_dir;
mod scheduler;
pub mod secrets;
mod sink;
mod state;
pub mod stats;
pub mod trace_ctx;
mod waits;
pub mod who;

pub use bus::{Published, Subscription};
pub use event::{By, Command, Envelope, Event, Refusal, RunStatus};
pub use run::{EngineError, Preset, Run, RunHandle, RunOptions, RunOutcome};
pub use waits::{flag_notes, progress_text};
