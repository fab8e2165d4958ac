//! (filled in by the templates work)
