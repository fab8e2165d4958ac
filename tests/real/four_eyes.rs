//! Issue 14: four_eyes, through the binary.
