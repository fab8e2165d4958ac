//! The fast path against the granit path: on generated documents, on the
//! repository's workflows and fixtures, and on the 100,000-step file.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::super::{Node, Value, granit};

/// Equal trees, with NaN equal to itself.
fn same(a: &Node, b: &Node) -> bool {
    if a.pos != b.pos {
        return false;
    }
    match (&a.value, &b.value) {
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::Seq(x), Value::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, a), (kb, b))| ka == kb && same(a, b))
        }
        (x, y) => x == y,
    }
}

/// Whether the fast path took `text`; panics if it took it differently.
fn agrees(text: &str) -> bool {
    let Some(fast) = super::parse(text) else {
        return false;
    };
    match granit::parse(text) {
        Ok(slow) => assert!(same(&fast, &slow), "{text:?}\nfast {fast:?}\nslow {slow:?}"),
        Err(e) => panic!("{text:?}: the fast path read it, the granit path says {e:?}"),
    }
    true
}

#[derive(Debug, Clone)]
enum Doc {
    /// A scalar or flow value as written; empty for nothing.
    Leaf(String),
    /// A block scalar's header and its lines, relative to its indent.
    Block(String, Vec<String>),
    Map(Vec<(String, Doc)>),
    Seq(Vec<Doc>),
}

/// Values the fast path should read.
const LEAVES: &[&str] = &[
    "x",
    "~",
    "null",
    "",
    "",
    "",
    "true",
    "True",
    "yes",
    "0x1f",
    "1e3",
    "-0",
    ".5",
    "+1",
    "1.0",
    "a b",
    "a#b",
    "a #b",
    "a:b",
    "é日本",
    "😀",
    "'it''s'",
    "'a: b'",
    "\"a: b\"",
    "\"esc\\n\\t\\\\\\\"\"",
    "[]",
    "[ ]",
    "[a, \"b\", 'c']",
    "[a b,c]",
    "{}",
    "-x",
    "--",
    "x  ",
    "'x' # c",
    ".nan",
    ".inf",
    "-.inf",
    "0o17",
    "12345678901234567890",
    "${x}",
    "x]",
    "a,b",
    "\u{a0}x",
    "[1, -2, .5, ~]",
    "[\"a, b\", 'c''d']",
    "a\\b",
    "x # c: d",
    "''",
];
/// Values it should leave to the granit path, or read with care.
const ODD_LEAVES: &[&str] = &[
    "a: b",
    "x:",
    "\"\\u00e9\"",
    "[a,]",
    "{ }",
    "{a: 1}",
    "&a x",
    "*a",
    "!t x",
    "- x",
    "? x",
    "> x",
    "%x",
    "@x",
    "x\t",
    "\"x\" y",
    "'x'#c",
    "{{ x }}",
    "---",
    "[[a]]",
    "\"\\x41\"",
    "'",
    "\"",
    "[a",
    "x: y: z",
    "|",
    "`x`",
];
const KEYS: &[&str] = &[
    "a", "b", "c0-s1", "run", "needs", "\"q k\"", "'s k'", "'i''s'", "1", "1.0", "true", "é",
    "\"\"", "a b", "a:b", "x#y", "k  ", "a'b", "\"a: b\"", "0x10", "\"\\t\"", "日本", "a|b",
];
const ODD_KEYS: &[&str] = &[
    "~", "<<", "a #b", "-x", "[k]", "null", "?k", "&k", "a: b", "- k",
];
const HEADERS: &[&str] = &["|", "|", "|", "|-", "|+", "|  # c", "|- # a|b", "|+ #"];
const ODD_HEADERS: &[&str] = &["|2", ">", ">-", "|x", "|#"];
const FIRST_LINES: &[&str] = &[
    "x",
    "echo hi",
    "é",
    "a: b",
    "\"q\"",
    "# not a comment",
    "  y",
];
const BLOCK_LINES: &[&str] = &[
    "x",
    "echo hi",
    "  y",
    "",
    "",
    "  ",
    "# not a comment",
    "\tz",
    "a: b",
    "é",
    "x  ",
    "- y",
    "\"q\"",
];

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        60 => prop::sample::select(LEAVES).prop_map(String::from),
        3 => prop::sample::select(ODD_LEAVES).prop_map(String::from),
        1 => "[a-z0-9 :#'\".,é-]{0,6}",
        1 => "\"[a-z :#'\\\\né]{0,5}\"",
        1 => "'[a-z :#'\"é]{0,5}'",
        1 => "\\[([a-z0-9\"' ]{0,3}, ?){0,3}[a-z0-9\"]{0,3}\\]",
        1 => "\\{ ?([a-z:]{0,3}: ?[a-z0-9\"' ]{0,3}, ?){0,2}[a-z]{0,3}:? ?(\\[[a-z, ]{0,4}\\]|[a-z0-9'\" ]{0,3}) ?\\}",
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        20 => prop::sample::select(KEYS).prop_map(String::from),
        20 => "[a-z][a-z0-9_-]{0,4}",
        1 => prop::sample::select(ODD_KEYS).prop_map(String::from),
    ]
}

fn doc() -> impl Strategy<Value = Doc> {
    let header = prop_oneof![
        12 => prop::sample::select(HEADERS),
        1 => prop::sample::select(ODD_HEADERS),
    ];
    let first = prop_oneof![
        12 => prop::sample::select(FIRST_LINES).prop_map(Some),
        1 => Just(None),
    ];
    let block = (
        header,
        first,
        prop::collection::vec(prop::sample::select(BLOCK_LINES), 0..5),
    )
        .prop_map(|(h, first, rest)| {
            let lines = first.into_iter().chain(rest).map(String::from).collect();
            Doc::Block(h.into(), lines)
        });
    let leaf = prop_oneof![5 => leaf().prop_map(Doc::Leaf), 1 => block];
    let tree = leaf.prop_recursive(4, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec((key(), inner.clone()), 1..5).prop_map(Doc::Map),
            prop::collection::vec(inner, 1..5).prop_map(Doc::Seq),
        ]
    });
    prop_oneof![
        3 => prop::collection::vec((key(), tree.clone()), 1..6).prop_map(Doc::Map),
        1 => prop::collection::vec(tree, 1..5).prop_map(Doc::Seq),
    ]
}

/// Lays a document out as text, choosing indents, comments, blank lines and
/// spacing from `seed`.
struct Render {
    out: String,
    seed: u64,
}

impl Render {
    fn roll(&mut self, n: u64) -> u64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed % n
    }

    /// Ends a line, sometimes with trailing spaces or a comment, and
    /// sometimes adds blank, whitespace or comment lines after it.
    fn end_line(&mut self) {
        match self.roll(12) {
            0 => self.out.push_str("  "),
            1 => self.out.push_str(" # note: a|b"),
            _ => {}
        }
        self.out.push('\n');
        match self.roll(40) {
            0..=2 => self.out.push('\n'),
            3 | 4 => {
                let pad = " ".repeat(self.roll(6) as usize);
                self.out.push_str(&format!("{pad}# comment\n"));
            }
            5 => {
                let pad = " ".repeat(self.roll(6) as usize);
                self.out.push_str(&format!("{pad}\n"));
            }
            _ => {}
        }
    }

    fn step(&mut self) -> usize {
        [2, 2, 2, 4, 1, 3][self.roll(6) as usize]
    }

    /// The part of an entry after `key:` or `-`, then the lines below it.
    fn value(&mut self, doc: &Doc, indent: usize, in_map: bool) {
        match doc {
            Doc::Leaf(text) if text.is_empty() => self.end_line(),
            Doc::Leaf(text) => {
                self.out.push(' ');
                self.out.push_str(text);
                self.end_line();
            }
            Doc::Block(header, lines) => {
                self.out.push(' ');
                self.out.push_str(header);
                self.out.push('\n');
                let pad = " ".repeat(indent + self.step());
                for line in lines {
                    if line.is_empty() {
                        self.out.push('\n');
                    } else {
                        self.out.push_str(&format!("{pad}{line}\n"));
                    }
                }
                // What follows a block scalar decides its chomping.
                match self.roll(6) {
                    0 => self.out.push('\n'),
                    1 => self.out.push_str("\n\n"),
                    2 => self
                        .out
                        .push_str(&format!("{}# after\n", " ".repeat(indent))),
                    3 => self.out.push_str(&format!("{pad}\n")),
                    _ => {}
                }
            }
            Doc::Map(entries) => {
                self.end_line();
                let deeper = indent + self.step();
                self.map(entries, deeper, None);
            }
            Doc::Seq(items) => {
                self.end_line();
                let same = in_map && self.roll(3) == 0;
                let deeper = if same { indent } else { indent + self.step() };
                self.seq(items, deeper);
            }
        }
    }

    /// A mapping at `indent`; its first key follows `first` if given.
    fn map(&mut self, entries: &[(String, Doc)], indent: usize, first: Option<String>) {
        let mut first = first;
        for (key, value) in entries {
            let prefix = first.take().unwrap_or_else(|| " ".repeat(indent));
            self.out.push_str(&format!("{prefix}{key}:"));
            self.value(value, indent, true);
        }
    }

    fn seq(&mut self, items: &[Doc], indent: usize) {
        for item in items {
            let pad = " ".repeat(indent);
            match item {
                Doc::Map(entries) if self.roll(3) != 0 => {
                    let gap = if self.roll(4) == 0 { "   " } else { " " };
                    let first = format!("{pad}-{gap}");
                    self.map(entries, indent + 1 + gap.len(), Some(first));
                }
                _ => {
                    self.out.push_str(&format!("{pad}-"));
                    self.value(item, indent, false);
                }
            }
        }
    }
}

fn render(doc: &Doc, seed: u64) -> String {
    let mut r = Render {
        out: String::new(),
        seed: seed | 1,
    };
    if r.roll(6) == 0 {
        r.out.push_str("---\n");
    }
    match doc {
        Doc::Map(entries) => r.map(entries, 0, None),
        Doc::Seq(items) => r.seq(items, 0),
        other => r.value(other, 0, false),
    }
    if r.roll(5) == 0 {
        r.out.pop();
    }
    r.out
}

#[test]
fn whatever_the_fast_path_reads_the_granit_path_reads_the_same() {
    static TAKEN: AtomicUsize = AtomicUsize::new(0);
    static VALID: AtomicUsize = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 4000,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&(doc(), any::<u64>()), |(doc, seed)| {
        let text = render(&doc, seed);
        if agrees(&text) {
            TAKEN.fetch_add(1, Ordering::Relaxed);
        }
        if granit::parse(&text).is_ok() {
            VALID.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    // Most generated documents are not YAML at all; of those that are, the
    // fast path must read a good share, or this test would prove nothing.
    let (taken, valid) = (TAKEN.load(Ordering::Relaxed), VALID.load(Ordering::Relaxed));
    assert!(
        taken * 3 >= valid && valid >= 1000,
        "the fast path read only {taken} of {valid} YAML documents"
    );
}

/// The 100,000-step file of `benches/ninja_100k.sh`: 10 chains of 10,000.
pub(crate) fn chains(n_chains: usize, length: usize) -> String {
    let mut out = String::from("name: bench\nsteps:\n");
    for c in 0..n_chains {
        for i in 0..length {
            out.push_str(&format!("  c{c}-s{i}:\n"));
            if i > 0 {
                out.push_str(&format!("    needs: [c{c}-s{}]\n", i - 1));
            }
            out.push_str("    run: true\n");
        }
    }
    out
}

#[test]
fn the_100k_step_file_is_read_fast_and_the_same() {
    assert!(agrees(&chains(10, 10_000)));
}

#[test]
fn a_list_of_100000_needs_on_one_line_is_read_the_same() {
    let all: Vec<String> = (0..100_000).map(|i| format!("s{i}")).collect();
    assert!(agrees(&format!("last:\n  needs: [{}]\n", all.join(", "))));
    let wide: Vec<String> = (0..1_000).map(|i| format!("é{i}")).collect();
    assert!(!agrees(&format!("needs: [{}]\n", wide.join(", "))));
}

#[test]
fn the_shipped_workflows_and_fixtures_read_the_same() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut taken = Vec::new();
    for folder in [
        "workflows",
        "tests/fixtures/valid",
        "tests/fixtures/invalid",
    ] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(folder))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        for file in files {
            let Ok(text) = String::from_utf8(std::fs::read(&file).unwrap()) else {
                continue;
            };
            if agrees(&text) {
                taken.push(file.clone());
            } else if folder == "workflows" {
                // Only what the subset leaves out may fall back.
                let odd = ["&", "*", "<<", ": >", "- >"]
                    .iter()
                    .any(|s| text.contains(s));
                assert!(odd, "{} fell back to the granit path", file.display());
            }
        }
    }
    assert!(taken.len() >= 8, "{taken:?}");
}

/// Cases the granit path places or chomps in its own way; each must either
/// be read exactly as it reads them, or be left to it (`false`).
#[test]
fn edge_cases_are_read_the_same_or_left_alone() {
    let cases: &[(&str, bool)] = &[
        ("a:\nb: 1\n", true),
        ("b  :\n", true),
        ("- a\n-\n- b: 1\n  c: 2\n- \n", true),
        ("-   \n- # c\n- x\n", true),
        ("a:\n-   1\n", true),
        ("a:\n- # c\n- x\n", true),
        ("a:\n-\n  b: 1\n", true),
        ("a:\n- |\n  x\n", true),
        ("a: |\n  x\n  y\n\nb: 1\n", true),
        ("a: |\n\n  x\n", true),
        ("a: |+\n  x\n\n\nb: 1\n", true),
        ("a: |\n  x", true),
        ("a: |+\n  x", false),
        ("a: |-\n  x\n\n", true),
        ("a: |+\n  x\n\n", true),
        ("a: |\n  x\n  \ty  \n", true),
        ("a: |\n  \tx\n  y  \n", false),
        ("\"x #y\": |\n  z\n", false),
        ("a: |+\n  x\n\n  ", false),
        ("a: |\nb: 1\n", false),
        ("a: |\n", false),
        ("a: |2\n   x\n", false),
        ("a: |\n  x\n    \n  y\n", false),
        ("é: ü\nk: [é, \"x\", 'y']\nm: {}\nn: []\n", true),
        ("k: [a, []]\n", false),
        ("---\na: 1\n", true),
        ("--- # c\na: 1\n", true),
        ("a: 1\n---\nb: 2\n", false),
        ("a: 1\n...\n", false),
        ("  a: 1\n  b: 2\n", true),
        ("a: b: c\n", false),
        ("- a\n - b\n", false),
        ("a: &x 1\nb: *x\n", false),
        ("<<: {}\n", false),
        ("a: >\n  x\n", false),
        ("a: 1\r\n", false),
        ("\u{feff}a: 1\n", false),
        ("a:\n\t- 1\n", false),
        ("~: 1\n", false),
        ("", false),
        ("# only a comment\n", false),
        ("[a]\n", false),
        ("s: { run: 'true' }\n", true),
        ("s: {run: x, needs: [a, b]}\n", true),
        ("s: { a: 1, a: ~, b: \"q\" }\n", true),
        ("- { a: [] }\n", false),
        ("s: { a: }\n", false),
        ("s: { a: 1, }\n", false),
        ("s: { a: { b: 1 } }\n", false),
        ("s: { \"a\": 1 }\n", false),
        ("s: { a:1 }\n", false),
    ];
    for &(text, read) in cases {
        assert_eq!(agrees(text), read, "{text:?}");
    }
}

#[test]
fn nesting_and_size_limits_are_left_to_the_granit_path() {
    let deep: String = (0..40).map(|i| format!("{}k:\n", "  ".repeat(i))).collect();
    assert!(super::parse(&deep).is_none());
    let shallow: String = (0..10).map(|i| format!("{}k:\n", "  ".repeat(i))).collect();
    assert!(agrees(&shallow));
    let wide: String = (0..950_000).map(|i| format!("- {i}\n")).collect();
    assert!(super::parse(&wide).is_none());
}
