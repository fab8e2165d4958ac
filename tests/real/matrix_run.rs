//! Issue 14: matrix_run, through the binary.
