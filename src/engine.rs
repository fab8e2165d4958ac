//! The orchestrator: runs a loaded workflow and reports every change of state
//! as an event. It knows nothing of screens or terminals.

pub mod process;
