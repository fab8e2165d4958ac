//! A PromQL reader that knows what `--metrics` serves (SPEC §8): each
//! metric's type and labels, and the values of the closed ones. It reads a
//! query as far as the dashboard and the alert rules need, and says what
//! labels each part yields and where a query asks for something no run
//! serves. Prometheus's own parser (promtool) checks the syntax beside it.

use std::collections::BTreeSet;

// ---------------------------------------------------------------------------
// What `--metrics` serves (SPEC §8)
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    Gauge,
    Counter,
    Histogram,
}

/// A label and its values; none listed: any value (named in the file).
pub type Label = (&'static str, &'static [&'static str]);

const STATUS: &[&str] = &[
    "pending",
    "ready",
    "running",
    "retrying",
    "waiting",
    "succeeded",
    "failed",
    "skipped",
    "cancelled",
];
const FINAL: &[&str] = &["succeeded", "failed", "skipped", "cancelled"];
const OUTCOME: &[&str] = &["succeeded", "failed", "timed_out", "refused"];
const KIND: &[&str] = &["approval", "question"];
const BY: &[&str] = &["keyboard", "socket", "flag", "prompt", "timeout"];
const BREAKER: &[&str] = &["closed", "open", "half_open"];
const HOOK: &[&str] = &["ok", "failed", "timed_out"];

pub const METRICS: &[(&str, Kind, &[Label])] = &[
    ("signalbox_steps", Kind::Gauge, &[("status", STATUS)]),
    (
        "signalbox_steps_finished_total",
        Kind::Counter,
        &[("status", FINAL)],
    ),
    (
        "signalbox_attempts_total",
        Kind::Counter,
        &[("outcome", OUTCOME)],
    ),
    ("signalbox_attempt_duration_seconds", Kind::Histogram, &[]),
    ("signalbox_retries_total", Kind::Counter, &[]),
    ("signalbox_waits_open", Kind::Gauge, &[("kind", KIND)]),
    (
        "signalbox_wait_duration_seconds",
        Kind::Histogram,
        &[("kind", KIND), ("by", BY)],
    ),
    (
        "signalbox_breaker_state",
        Kind::Gauge,
        &[("breaker", &[]), ("state", BREAKER)],
    ),
    ("signalbox_events_total", Kind::Counter, &[]),
    ("signalbox_subscribers_dropped_total", Kind::Counter, &[]),
    (
        "signalbox_journal_sync_duration_seconds",
        Kind::Histogram,
        &[],
    ),
    ("signalbox_hooks_total", Kind::Counter, &[("outcome", HOOK)]),
];

/// The labels Prometheus puts on every series it scrapes: which target.
pub const SCRAPE: &[&str] = &["instance", "job"];

/// A series name as a query names it: which metric of [`METRICS`], whether
/// it only grows, and its labels (`workflow` on each, `le` on a bucket).
pub fn series(name: &str) -> Option<(&'static str, bool, Vec<Label>)> {
    METRICS.iter().find_map(|&(metric, kind, labels)| {
        let mut all = vec![("workflow", &[] as &[&str])];
        all.extend_from_slice(labels);
        let counter = match (kind, name.strip_prefix(metric)?) {
            (_, "") if kind != Kind::Histogram => kind == Kind::Counter,
            (Kind::Histogram, "_bucket") => {
                all.push(("le", &[]));
                true
            }
            (Kind::Histogram, "_sum" | "_count") => true,
            _ => return None,
        };
        Some((metric, counter, all))
    })
}

// ---------------------------------------------------------------------------
// A PromQL reader: what labels each part of a query yields
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Op(String),
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '$';
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let mut text = String::new();
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                }
                text.extend(chars.get(i));
                i += 1;
            }
            if i == chars.len() {
                return Err(format!("unterminated string in `{src}`"));
            }
            i += 1;
            out.push(Tok::Str(text));
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            // a number, or a duration such as 15m
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Tok::Num(chars[start..i].iter().collect()));
        } else if word(c) {
            while i < chars.len() && word(chars[i]) {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = if ["=~", "!~", "!=", "==", "<=", ">="].contains(&two.as_str()) {
                two
            } else if "(){}[],=<>+-*/%^:".contains(c) {
                c.to_string()
            } else {
                return Err(format!("unexpected `{c}` in `{src}`"));
            };
            i += op.len();
            out.push(Tok::Op(op));
        }
    }
    Ok(out)
}

/// What an expression yields: a scalar, or series that all carry `labels`.
#[derive(Clone, Debug)]
pub struct Out {
    /// `None`: a scalar (or a string).
    pub labels: Option<BTreeSet<String>>,
    /// A range vector (`x[5m]`).
    range: bool,
    /// Every series only grows, so `rate` and `increase` apply.
    counter: bool,
}

impl Out {
    fn scalar() -> Out {
        Out {
            labels: None,
            range: false,
            counter: false,
        }
    }
    fn vector(labels: BTreeSet<String>) -> Out {
        Out {
            labels: Some(labels),
            range: false,
            counter: false,
        }
    }
}

const AGGREGATIONS: &str = "sum min max avg count group stddev stdvar topk bottomk quantile";
/// Functions of a range vector of counters.
const COUNTER_RANGE: &str = "rate irate increase resets";
/// Functions of a range vector of anything.
const ANY_RANGE: &str = "delta idelta deriv changes avg_over_time min_over_time max_over_time \
    sum_over_time count_over_time last_over_time present_over_time quantile_over_time";
/// Functions that keep their vector's labels. (Each list: names, spaces between.)
const KEEP: &str = "abs ceil floor round clamp clamp_min clamp_max sort sort_desc sqrt";

fn listed(list: &str, name: &str) -> bool {
    list.split_whitespace().any(|n| n == name)
}

/// Reads one query and records every way it asks for something `--metrics`
/// does not serve.
struct Reader {
    toks: Vec<Tok>,
    at: usize,
    /// The metrics the query names.
    named: BTreeSet<&'static str>,
    problems: Vec<String>,
}

type Parsed<T> = Result<T, String>;

impl Reader {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }
    fn is_op(&self, op: &str) -> bool {
        self.peek() == Some(&Tok::Op(op.into()))
    }
    fn is_ident(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w == word)
    }
    fn next(&mut self) -> Parsed<Tok> {
        let tok = self.peek().cloned().ok_or("the query ends too soon")?;
        self.at += 1;
        Ok(tok)
    }
    fn expect(&mut self, op: &str) -> Parsed<()> {
        match self.next()? {
            Tok::Op(o) if o == op => Ok(()),
            other => Err(format!("expected `{op}`, found {other:?}")),
        }
    }
    fn ident(&mut self) -> Parsed<String> {
        match self.next()? {
            Tok::Ident(w) => Ok(w),
            other => Err(format!("expected a name, found {other:?}")),
        }
    }
    fn problem(&mut self, text: String) {
        self.problems.push(text);
    }

    /// `(a, b, ...)` after `by`, `without`, `on`, `ignoring`, `group_left`.
    fn label_list(&mut self) -> Parsed<BTreeSet<String>> {
        self.expect("(")?;
        let mut labels = BTreeSet::new();
        while !self.is_op(")") {
            labels.insert(self.ident()?);
            if !self.is_op(")") {
                self.expect(",")?;
            }
        }
        self.expect(")")?;
        Ok(labels)
    }

    fn expr(&mut self, min_prec: u8) -> Parsed<Out> {
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op(o)) => o.clone(),
                Some(Tok::Ident(w)) if ["and", "or", "unless"].contains(&w.as_str()) => w.clone(),
                _ => return Ok(lhs),
            };
            let prec = match op.as_str() {
                "or" => 1,
                "and" | "unless" => 2,
                "==" | "!=" | "<" | ">" | "<=" | ">=" => 3,
                "+" | "-" => 4,
                "*" | "/" | "%" => 5,
                "^" => 6,
                _ => return Ok(lhs),
            };
            if prec < min_prec {
                return Ok(lhs);
            }
            self.at += 1;
            if self.is_ident("bool") {
                self.at += 1;
            }
            let mut on = None;
            let mut ignoring = BTreeSet::new();
            if self.is_ident("on") {
                self.at += 1;
                on = Some(self.label_list()?);
            } else if self.is_ident("ignoring") {
                self.at += 1;
                ignoring = self.label_list()?;
            }
            let mut group = None;
            if self.is_ident("group_left") || self.is_ident("group_right") {
                let left = self.is_ident("group_left");
                self.at += 1;
                let extra = if self.is_op("(") {
                    self.label_list()?
                } else {
                    BTreeSet::new()
                };
                group = Some((left, extra));
            }
            let rhs = self.expr(if op == "^" { prec } else { prec + 1 })?;
            lhs = self.binary(&op, lhs, rhs, on, ignoring, group);
        }
    }

    fn binary(
        &mut self,
        op: &str,
        lhs: Out,
        rhs: Out,
        on: Option<BTreeSet<String>>,
        ignoring: BTreeSet<String>,
        group: Option<(bool, BTreeSet<String>)>,
    ) -> Out {
        let (l, r) = match (lhs.labels, rhs.labels) {
            (Some(l), Some(r)) => (l, r),
            (Some(v), None) | (None, Some(v)) => return Out::vector(v),
            (None, None) => return Out::scalar(),
        };
        for side in [&l, &r] {
            for label in on.iter().flatten().chain(&ignoring) {
                if !side.contains(label) {
                    self.problem(format!("`{op}` matches on `{label}`, which one side lacks"));
                }
            }
        }
        if op == "or" {
            return Out::vector(l.intersection(&r).cloned().collect());
        }
        let key = |side: &BTreeSet<String>| -> BTreeSet<String> {
            match &on {
                Some(on) => on.clone(),
                None => side.difference(&ignoring).cloned().collect(),
            }
        };
        if group.is_none() && key(&l) != key(&r) {
            self.problem(format!(
                "`{op}` matches series on all their labels, but one side has {l:?} and the other {r:?}: nothing matches"
            ));
        }
        match group {
            Some((false, extra)) => Out::vector(r.union(&extra).cloned().collect()),
            Some((true, extra)) => Out::vector(l.union(&extra).cloned().collect()),
            None => Out::vector(l),
        }
    }

    fn unary(&mut self) -> Parsed<Out> {
        if self.is_op("-") || self.is_op("+") {
            self.at += 1;
            return self.expr(6);
        }
        let mut out = self.primary()?;
        if self.is_op("[") {
            self.at += 1;
            self.next()?;
            // a subquery: `[range:step]`, the step optional
            if self.is_op(":") {
                self.at += 1;
                if !self.is_op("]") {
                    self.next()?;
                }
            }
            self.expect("]")?;
            if out.range || out.labels.is_none() {
                self.problem("a range of something that is not an instant vector".into());
            }
            out.range = true;
        }
        if self.is_ident("offset") {
            self.at += 1;
            self.next()?;
        }
        Ok(out)
    }

    fn primary(&mut self) -> Parsed<Out> {
        match self.next()? {
            Tok::Num(_) | Tok::Str(_) => Ok(Out::scalar()),
            Tok::Op(o) if o == "(" => {
                let out = self.expr(0)?;
                self.expect(")")?;
                Ok(out)
            }
            Tok::Op(o) => Err(format!("unexpected `{o}`")),
            Tok::Ident(word) if listed(AGGREGATIONS, &word) => self.aggregation(&word),
            Tok::Ident(word) if self.is_op("(") => self.call(&word),
            Tok::Ident(word) => self.selector(&word),
        }
    }

    fn grouping(&mut self) -> Parsed<Option<(bool, BTreeSet<String>)>> {
        for (word, by) in [("by", true), ("without", false)] {
            if self.is_ident(word) {
                self.at += 1;
                return Ok(Some((by, self.label_list()?)));
            }
        }
        Ok(None)
    }

    fn aggregation(&mut self, op: &str) -> Parsed<Out> {
        let before = self.grouping()?;
        self.expect("(")?;
        if ["topk", "bottomk", "quantile"].contains(&op) {
            self.expr(0)?;
            self.expect(",")?;
        }
        let inner = self.expr(0)?;
        self.expect(")")?;
        let grouping = match before {
            Some(g) => Some(g),
            None => self.grouping()?,
        };
        let Some(labels) = inner.labels.filter(|_| !inner.range) else {
            return Err(format!("`{op}` of something that is not an instant vector"));
        };
        if ["topk", "bottomk"].contains(&op) {
            return Ok(Out::vector(labels));
        }
        Ok(Out::vector(match grouping {
            Some((true, by)) => {
                for label in by.difference(&labels) {
                    self.problem(format!("`{op} by` names `{label}`, which its series lack"));
                }
                by
            }
            Some((false, without)) => labels.difference(&without).cloned().collect(),
            None => BTreeSet::new(),
        }))
    }

    fn call(&mut self, name: &str) -> Parsed<Out> {
        self.expect("(")?;
        let mut args = Vec::new();
        while !self.is_op(")") {
            args.push(self.expr(0)?);
            if !self.is_op(")") {
                self.expect(",")?;
            }
        }
        self.expect(")")?;
        let vector = args.iter().find(|a| a.labels.is_some()).cloned();
        let Some(arg) = vector else {
            return match name {
                "time" | "pi" => Ok(Out::scalar()),
                "vector" => Ok(Out::vector(BTreeSet::new())),
                _ => Err(format!("`{name}` of no vector")),
            };
        };
        let labels = arg.labels.clone().unwrap_or_default();
        let ranged = listed(COUNTER_RANGE, name) || listed(ANY_RANGE, name);
        if ranged != arg.range {
            let wants = if ranged { "a range" } else { "an instant" };
            return Err(format!("`{name}` wants {wants} vector"));
        }
        if listed(COUNTER_RANGE, name) && !arg.counter {
            self.problem(format!(
                "`{name}` of a gauge: only counters and histogram series only grow"
            ));
        }
        match name {
            "histogram_quantile" => {
                if !labels.contains("le") {
                    self.problem("`histogram_quantile` of series without `le`".into());
                }
                Ok(Out::vector(
                    labels.into_iter().filter(|l| l != "le").collect(),
                ))
            }
            "scalar" => Ok(Out::scalar()),
            "absent" | "absent_over_time" => Ok(Out::vector(BTreeSet::new())),
            _ if ranged || listed(KEEP, name) => Ok(Out::vector(labels)),
            _ => Err(format!("`{name}` is not a function this reader knows")),
        }
    }

    fn selector(&mut self, name: &str) -> Parsed<Out> {
        let known = series(name);
        match &known {
            Some((metric, _, _)) => {
                self.named.insert(metric);
            }
            None => self.problem(format!("`{name}` is not a metric signalbox serves")),
        }
        let labels: Vec<Label> = known.as_ref().map(|k| k.2.clone()).unwrap_or_default();
        if self.is_op("{") {
            self.at += 1;
            while !self.is_op("}") {
                let label = self.ident()?;
                let op = match self.next()? {
                    Tok::Op(o) if ["=", "!=", "=~", "!~"].contains(&o.as_str()) => o,
                    other => {
                        return Err(format!(
                            "expected a matcher after `{label}`, found {other:?}"
                        ));
                    }
                };
                let Tok::Str(value) = self.next()? else {
                    return Err(format!("`{label}{op}` wants a string"));
                };
                self.matcher(name, &labels, &label, &op, &value);
                if !self.is_op("}") {
                    self.expect(",")?;
                }
            }
            self.expect("}")?;
        }
        let counter = known.as_ref().is_some_and(|k| k.1);
        let labels = labels.iter().map(|(l, _)| *l).chain(SCRAPE.iter().copied());
        let labels = labels.map(String::from).collect();
        Ok(Out {
            labels: Some(labels),
            range: false,
            counter,
        })
    }

    /// A label the metric has, and, where its values are a closed set, one
    /// of them (a Grafana variable may stand for any).
    fn matcher(&mut self, name: &str, labels: &[Label], label: &str, op: &str, value: &str) {
        let Some((_, values)) = labels.iter().find(|(l, _)| *l == label) else {
            if series(name).is_some() && !SCRAPE.contains(&label) {
                self.problem(format!("`{name}` has no label `{label}`"));
            }
            return;
        };
        if values.is_empty() || value.contains('$') {
            return;
        }
        let plain = |v: &str| v.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        let alternatives: Vec<&str> = if op.contains('~') {
            value.split('|').collect()
        } else {
            vec![value]
        };
        for alt in alternatives.into_iter().filter(|a| plain(a)) {
            if !values.contains(&alt) {
                self.problem(format!(
                    "`{name}{{{label}}}` is never \"{alt}\": it is one of {values:?}"
                ));
            }
        }
    }
}

/// What a query yields and the metrics it names, or everything it asks
/// for that `--metrics` does not serve.
pub fn read(expr: &str) -> Result<(Out, BTreeSet<&'static str>), Vec<String>> {
    let toks = lex(expr).map_err(|e| vec![e])?;
    let mut reader = Reader {
        toks,
        at: 0,
        named: BTreeSet::new(),
        problems: Vec::new(),
    };
    match reader.expr(0) {
        Ok(_) if reader.at < reader.toks.len() => reader
            .problems
            .push(format!("trailing {:?}", reader.toks[reader.at])),
        Ok(out) if reader.problems.is_empty() => return Ok((out, reader.named)),
        Ok(_) => {}
        Err(e) => reader.problems.push(e),
    }
    Err(reader
        .problems
        .into_iter()
        .map(|p| format!("{p}\n    in `{expr}`"))
        .collect())
}

/// The labels a template (`{{workflow}}`, `{{ $labels.kind }}`) shows.
pub fn shown_labels(template: &str, open: &str) -> Vec<String> {
    template
        .split(open)
        .skip(1)
        .filter_map(|rest| {
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}
