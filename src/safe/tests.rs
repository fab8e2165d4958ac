use super::*;

#[test]
fn control_characters_are_shown_escaped_and_the_rest_is_kept() {
    let osc = "k=\x1b]0;pwned\x07\x1b]52;c;ZWNobyBoaQ==\x07";
    assert_eq!(line(osc), r"k=\x1b]0;pwned\x07\x1b]52;c;ZWNobyBoaQ==\x07");
    let cases = [
        ("plain text, ünïcode ✓", "plain text, ünïcode ✓"),
        ("a\tb", "a\tb"),
        ("two\nlines\r", r"two\nlines\r"),
        ("\0nul \x7f del", r"\x00nul \x7f del"),
        ("c1 \u{9b}31m \u{85}", r"c1 \u{9b}31m \u{85}"),
        ("bidi \u{202e}abc\u{2066}", r"bidi \u{202e}abc\u{2066}"),
        (r"back\slash", r"back\slash"),
    ];
    for (raw, shown) in cases {
        assert_eq!(line(raw), shown, "{raw:?}");
    }
    assert!(matches!(line("plain"), Cow::Borrowed(_)));
}

#[test]
fn messages_keep_their_lines_and_cells_have_no_tabs() {
    assert_eq!(
        text("a:1:2: error\n  | \x1b[2J\n"),
        "a:1:2: error\n  | \\x1b[2J\n"
    );
    assert_eq!(cells("a\tb\x1b"), r"a    b\x1b");
    assert_eq!(cells("a\nb"), r"a\nb");
}

#[test]
fn the_line_wrapper_escapes_whatever_it_displays() {
    let shown = format!("answer {}", Line(format_args!("{}-{}", "\x1b[31m", 7)));
    assert_eq!(shown, r"answer \x1b[31m-7");
}

#[test]
fn json_lines_keep_their_value_without_c1_characters() {
    let value = serde_json::json!({ "line": "x\u{9b}31m\u{7f}\x1b\u{202e}" });
    let raw = serde_json::to_string(&value).unwrap();
    assert!(raw.contains('\u{9b}'), "serde_json leaves C1 raw: {raw}");
    let safe = json_line(&raw);
    assert!(!safe.chars().any(|c| c.is_control()), "{safe}");
    let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
    assert_eq!(back, value);
}

/// Every writer to stdout or stderr goes through this module: a new
/// `println!` elsewhere would be a path that forgets the rule.
#[test]
fn nothing_else_prints_to_the_terminal_directly() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.ends_with("safe.rs")
                || path.parent().is_some_and(|p| p.ends_with("safe"))
                || path.extension().is_none_or(|e| e != "rs")
            {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for (n, l) in source.lines().enumerate() {
                let code = l.split("//").next().unwrap_or_default();
                let raw = ["println!", "print!(", "eprint!(", "dbg!("]
                    .iter()
                    .any(|m| code.contains(m) && !code.contains("say!") && !code.contains("show!"));
                if raw {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, l.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "print through crate::safe::say!/show! (stderr/stdout), which escape \
         control characters:\n{}",
        found.join("\n")
    );
}
