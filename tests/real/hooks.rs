//! Issue 14: hooks, through the binary.
