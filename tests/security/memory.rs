//! (filled in by the memory work)
