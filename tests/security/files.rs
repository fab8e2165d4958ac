//! (filled in by the files work)
