//! Tests of finding a failure and reading its output (SPEC §4, §5): the
//! status line's names, `n`/`N`, `/` to a step, the output viewer, `Enter`
//! on a log line, wrap and sideways scroll (on `TestBackend`); the headless
//! summary and wait hints (the binary); and `n`, `Enter` in tmux.

mod headless;
mod screen;
mod tmux;
