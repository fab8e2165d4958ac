//! Issue 14: matrix_screen, through the binary.
