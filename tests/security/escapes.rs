//! (filled in by the escapes work)
