//! Issue 14: matrix, through the binary.
