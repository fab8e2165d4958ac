//! (filled in by the journal work)
