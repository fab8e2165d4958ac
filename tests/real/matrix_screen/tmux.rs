//! The real binary in tmux: a running matrix workflow's group opened with
//! `Enter`.
