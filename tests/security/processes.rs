//! (filled in by the processes work)
