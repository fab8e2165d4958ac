//! Issue 14: secrets, through the binary.
