use super::*;

#[test]
fn nothing_to_mask_without_secrets_or_with_short_ones() {
    assert!(Masker::new([]).is_empty());
    let m = Masker::new(["abc", "x\nyz"]);
    assert!(m.is_empty());
    assert!(matches!(m.text("abc abc"), Cow::Borrowed(_)));
}

#[test]
fn masks_every_line_of_four_bytes_or_more() {
    let m = Masker::new(["hunter22", "line-one\nab\nline-two\n"]);
    assert_eq!(m.text("pw=hunter22!"), "pw=***!");
    assert_eq!(m.text("hunter22hunter22"), "******");
    assert_eq!(m.text("line-two and ab"), "*** and ab");
    assert!(matches!(m.text("nothing here"), Cow::Borrowed(_)));
}

#[test]
fn overlapping_secrets_leave_no_byte_of_either() {
    let m = Masker::new(["abcdef", "defghi", "cdef"]);
    assert_eq!(m.text("xxabcdefghiyy"), "xx***yy");
    // One inside another.
    let m = Masker::new(["token-123", "en-1"]);
    assert_eq!(m.text("[token-123] [en-1]"), "[***] [***]");
}

#[test]
fn a_secret_cut_at_a_line_limit_is_masked_on_both_sides() {
    let m = Masker::new(["s3cr3t-value"]);
    assert_eq!(&*m.piece(b"output s3cr", false, true), b"output ***");
    assert_eq!(&*m.piece(b"3t-value rest", true, false), b"*** rest");
    assert_eq!(&*m.piece(b"3t-value rest", false, false), b"3t-value rest");
}

#[test]
fn events_are_masked_but_for_the_names_of_the_workflow() {
    let m = Masker::new(["tok3n"]);
    let event = Event::StepSucceeded {
        step: "tok3n".into(),
        attempt: 1,
        duration_ms: 3,
        outputs: [
            ("k".to_string(), "a tok3n".to_string()),
            ("tok3n".to_string(), "v".to_string()),
        ]
        .into_iter()
        .collect(),
        fallback: false,
    };
    let line = serde_json::to_string(&event).unwrap();
    assert!(m.in_json(&line));
    let Some(Event::StepSucceeded { step, outputs, .. }) = m.event(&event).unwrap() else {
        panic!("not masked");
    };
    assert_eq!(step, "tok3n");
    assert_eq!(outputs.get("k").map(String::as_str), Some("a ***"));
    assert_eq!(outputs.get("***").map(String::as_str), Some("v"));
}

#[test]
fn a_journal_line_is_checked_as_json_spells_it() {
    let m = Masker::new(["quo\"te\\\u{7f}"]);
    let event = Event::StepOutput {
        step: "s".into(),
        stream: super::super::event::Stream::Output,
        line: "a quo\"te\\\u{7f} b".into(),
    };
    let line = serde_json::to_string(&event).unwrap();
    let line = crate::safe::json_line(&line).into_owned();
    assert!(m.in_json(&line));
    let Some(Event::StepOutput { line, .. }) = m.event(&event).unwrap() else {
        panic!("not masked");
    };
    assert_eq!(line, "a *** b");
    assert!(!m.in_json(r#"{"type":"step_output","line":"quo te"}"#));
}
