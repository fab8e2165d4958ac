//! The log model: windows, bounds, selection.

use super::*;

fn line(seq: u64, text: &str) -> LogLine {
    LogLine {
        seq,
        ts_ms: 0,
        step: None,
        tone: Tone::Info,
        text: text.into(),
    }
}

#[test]
fn window_scrolls_and_stops_at_the_oldest_line() {
    let mut log = Log::default();
    for i in 0..10 {
        log.push(line(i, &format!("line {i}")));
    }
    let seqs = |log: &Log| log.window(3).iter().map(|l| l.seq).collect::<Vec<_>>();
    assert_eq!(seqs(&log), [7, 8, 9]);
    log.select(4, true, 3);
    assert_eq!(seqs(&log), [5, 6, 7]);
    log.push(line(10, "new"));
    assert_eq!(seqs(&log), [5, 6, 7], "scrolled back, the view stays put");
    log.select(100, true, 3);
    assert_eq!(seqs(&log), [0, 1, 2]);
    log.set_filter("LINE 1".into());
    assert_eq!(seqs(&log), [1]);
}

fn output(seq: u64, text: &str) -> LogLine {
    LogLine {
        tone: Tone::Output,
        step: Some(0),
        ..line(seq, text)
    }
}

#[test]
fn output_is_bounded_in_bytes_and_waits_are_never_dropped() {
    let mut log = Log::default();
    log.push(line(1, "a waits for approval"));
    let long = "x".repeat(64 << 10);
    for seq in 2..2000 {
        log.push(output(seq, &long));
    }
    log.push(line(2000, "run ended"));
    assert!(log.output_bytes() <= OUTPUT_BYTES);
    assert!(log.output_count(0) > 100, "the newest output is kept");
    let all = log.window(10_000);
    let texts: Vec<&str> = all.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        texts[0], "a waits for approval",
        "in seq order, oldest first"
    );
    assert_eq!(texts[1], DROPPED, "where the dropped lines were");
    assert_eq!(*texts.last().unwrap(), "run ended");
    let seqs: Vec<u64> = all.iter().map(|l| l.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(seqs.last(), Some(&2000));
}

#[test]
fn clean_shows_escapes_and_control_characters() {
    assert_eq!(
        clean("\x1b[1;31merror\x1b[0m: bad\tthing\r"),
        r"\x1b[1;31merror\x1b[0m: bad    thing\r"
    );
    assert_eq!(clean("\x1b]0;title\x07done"), r"\x1b]0;title\x07done");
    assert_eq!(clean("plain"), "plain");
}

#[test]
fn the_selection_moves_the_pane_and_stays_on_its_line() {
    let mut log = Log::default();
    for i in 0..10 {
        log.push(line(i, &format!("line {i}")));
    }
    let picked = |log: &Log| log.selected_line().map(|l| l.seq);
    assert_eq!(picked(&log), Some(9), "the newest line at first");
    log.select(4, true, 3);
    assert_eq!(picked(&log), Some(5));
    assert_eq!(log.scroll, 2, "the pane of 3 lines keeps it in view");
    assert!(!log.follow);
    log.push(line(10, "new"));
    assert_eq!(picked(&log), Some(5), "a new line moves nothing");
    log.select(100, false, 3);
    assert_eq!(picked(&log), Some(10));
    assert!(log.follow, "back at the newest line, the pane follows");
    log.select(100, true, 3);
    assert_eq!(picked(&log), Some(0), "stops at the oldest");
}

#[test]
fn output_after_counts_a_steps_newer_output_lines() {
    let mut log = Log::default();
    for seq in 1..=6 {
        let step = if seq % 2 == 0 { 0 } else { 1 };
        log.push(LogLine {
            step: Some(step),
            ..output(seq, "x")
        });
    }
    assert_eq!(log.output_after(0, 2), 2, "seqs 4 and 6");
    assert_eq!(log.output_after(1, 0), 3);
    assert_eq!(log.output_after(0, 6), 0);
}
