//! The status line: the workflow, the run's clock or outcome, steps counted
//! by status, the failed steps by name, open breakers, whose screen this is
//! and how many are attached, and the main keys
//! (or the latest notice, or where a replay stands). When it does not all
//! fit, the least useful parts go first and whole: a word is never cut
//! mid-way. A function of the model only.

use crate::safe::cells;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::theme::{self, Theme};
use crate::engine::event::BreakerState;
use crate::tui::model::ui::{Pane, Role};
use crate::tui::model::{Kind, Model, Status};

mod pools;

pub struct StatusLine<'a> {
    pub model: &'a Model,
    pub theme: Theme,
}

/// Failed steps named at most, before `+N more`.
const NAMES: usize = 12;

/// What the line counts, from one pass over the steps.
struct Seen {
    counts: [(Status, usize); 9],
    /// In graph order.
    failed: Vec<usize>,
}

/// One way to lay the line out.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// Counts with their words (`✓5 succeeded`), else glyphs (`✓5`).
    wordy: bool,
    /// Failed steps named.
    names: usize,
    /// Which of the hints, if any.
    hint: Option<usize>,
}

impl Widget for &StatusLine<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.is_empty() {
            return;
        }
        let (m, t) = (self.model, self.theme);
        let width = area.width as usize;
        let hints = hints(m);
        // Counted once a frame: the shapes tried below only format them.
        let seen = Seen {
            counts: m.counts(),
            failed: failed_in_order(m),
        };
        let fits = |s: &Shape| {
            let left = Line::from(left_spans(m, t, &seen, s, width)).width();
            left + s.hint.map_or(0, |h| cols(&hints[h])) <= width
        };
        // A lost run says so for good; a notice for now.
        let notice = m.ui.notice.as_ref().or(m.run.lost.as_ref());
        let best = shapes(seen.failed.len(), hints.len(), notice.is_some())
            .into_iter()
            .find(fits);
        let compact = Shape {
            wordy: false,
            names: 0,
            hint: None,
        };
        // A notice that cannot show whole takes all the room there is.
        let shape = match best {
            Some(s) if notice.is_none() || s.hint.is_some() => s,
            _ => compact,
        };
        let spans = left_spans(m, t, &seen, &shape, width);
        let used = put_whole(buf, area, &spans);
        let hint = match (shape.hint, notice) {
            (Some(h), _) => Some(hints[h].clone()),
            // A notice always shows, cut at a word to the room there is.
            (None, Some(n)) => {
                let room = width.saturating_sub(used + 3);
                Some(format!(" {} ", fit_words(&cells(n), room)))
            }
            (None, None) => None,
        };
        if let Some(hint) = hint {
            let style = match notice {
                Some(_) => t.notice(),
                None => t.dim(),
            };
            let w = cols(&hint).min(width) as u16;
            buf.set_string(area.x + area.width - w, area.y, hint, style);
        }
    }
}

/// Every shape, most useful first: the notice, at least one failed name,
/// some keys, counts in words, more names, the longer keys.
fn shapes(failed: usize, hints: usize, notice: bool) -> Vec<Shape> {
    let mut all = Vec::new();
    for wordy in [true, false] {
        for names in 0..=failed.min(NAMES) {
            for hint in (0..hints).map(Some).chain([None]) {
                all.push(Shape { wordy, names, hint });
            }
        }
    }
    let score = |s: &Shape| {
        (
            notice && s.hint == Some(0),
            s.names.min(1),
            s.hint.is_some(),
            s.names,
            s.wordy,
            std::cmp::Reverse(s.hint),
        )
    };
    all.sort_by_key(|s| std::cmp::Reverse(score(s)));
    all
}

/// Writes whole spans from the left while they fit; returns the columns used.
fn put_whole(buf: &mut Buffer, area: Rect, spans: &[Span<'_>]) -> usize {
    let mut x = 0usize;
    for s in spans {
        let w = s.width();
        if x + w > area.width as usize {
            break;
        }
        buf.set_span(area.x + x as u16, area.y, s, w as u16);
        x += w;
    }
    x
}

fn cols(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// `text` cut after the last whole word that fits in `max` columns, with
/// `…`; a single word too long for it is cut with `…`.
pub fn fit_words(text: &str, max: usize) -> String {
    if cols(text) <= max {
        return text.to_string();
    }
    let cut = super::fit(text, max);
    let body = cut.trim_end_matches('…');
    match body.rfind(' ') {
        Some(i) if i > 0 => format!("{}…", body[..i].trim_end()),
        _ => cut,
    }
}

/// The failed steps in graph order (layer, then row), as `n` visits them.
pub fn failed_in_order(m: &Model) -> Vec<usize> {
    let mut failed: Vec<usize> = (0..m.steps.len())
        .filter(|&i| m.steps[i].status == Status::Failed)
        .collect();
    failed.sort_unstable_by_key(|&i| (m.graph.step_place(i), i));
    failed
}

fn left_spans(m: &Model, t: Theme, seen: &Seen, shape: &Shape, width: usize) -> Vec<Span<'static>> {
    // A long workflow name leaves room for what the run is doing.
    let name = super::fit(&cells(&m.name), (width / 4).max(12));
    let mut spans = vec![Span::styled(format!(" {name} "), t.bold())];
    if m.run.revision > 0 {
        spans.push(Span::styled(format!("rev {} ", m.run.revision), t.dim()));
    }
    spans.push(clock(m, t));
    for &(status, n) in &seen.counts {
        if n == 0 || status == Status::Failed {
            continue;
        }
        let glyph = theme::glyph(status, Kind::Run);
        let text = match shape.wordy {
            true => format!("{glyph}{n} {} ", theme::word(status)),
            false => format!("{glyph}{n} "),
        };
        spans.push(Span::styled(text, t.status(status)));
    }
    if !seen.failed.is_empty() {
        let text = failed_text(m, &seen.failed, shape);
        spans.push(Span::styled(text, t.status(Status::Failed)));
    }
    for (name, state) in &m.breakers {
        let word = match state {
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
            BreakerState::Closed => "closed",
        };
        // An open breaker's time left until half-open, while the run goes.
        let left = match m.breaker_until.get(name) {
            Some(&until) if !m.ended() => {
                format!(" {}", theme::countdown(until.saturating_sub(m.now_ms)))
            }
            _ => String::new(),
        };
        let name = cells(name);
        spans.push(Span::styled(
            format!("⊗ {name} {word}{left} "),
            t.breaker(*state),
        ));
    }
    spans.extend(pools::span(m, t, shape.wordy));
    if let Some(text) = screens(m) {
        spans.push(Span::styled(text, t.bold()));
    }
    spans
}

/// `attached · 3 screens `, `read-only `, `2 screens `: whose screen this
/// is when it is not the run's own, and how many watch the run when more
/// than this one does.
fn screens(m: &Model) -> Option<String> {
    let role = match m.ui.role {
        Role::Own => None,
        Role::Attached => Some("attached"),
        Role::ReadOnly => Some("attached · read-only"),
    };
    // Once the run is over the others leave too: the count would go stale.
    let count = (m.ui.screens > 1 && !m.ended()).then(|| format!("{} screens", m.ui.screens));
    match (role, count) {
        (Some(r), Some(c)) => Some(format!("{r} · {c} ")),
        (Some(r), None) => Some(format!("{r} ")),
        (None, Some(c)) => Some(format!("{c} ")),
        (None, None) => None,
    }
}

/// `✗2 failed: test-linux, clippy `, `✗5 failed: test +4 more `, `✗5 `.
fn failed_text(m: &Model, failed: &[usize], shape: &Shape) -> String {
    let n = failed.len();
    let glyph = theme::glyph(Status::Failed, Kind::Run);
    if shape.names == 0 {
        return match shape.wordy {
            true => format!("{glyph}{n} failed "),
            false => format!("{glyph}{n} "),
        };
    }
    // Whole ids: a cut one could read as another step's.
    let names: Vec<String> = failed[..shape.names.min(n)]
        .iter()
        .map(|&i| cells(&m.steps[i].id).into_owned())
        .collect();
    let more = n - names.len();
    let mut text = format!("{glyph}{n} failed: {}", names.join(", "));
    if more > 0 {
        text.push_str(&format!(" +{more} more"));
    }
    text.push(' ');
    text
}

fn clock(m: &Model, t: Theme) -> Span<'static> {
    match m.run.outcome {
        Some((status, ms)) => Span::styled(
            format!(
                "{} {} in {} ",
                match status {
                    crate::engine::RunStatus::Succeeded => "✓",
                    crate::engine::RunStatus::Failed => "✗",
                    crate::engine::RunStatus::Cancelled => "⊘",
                },
                theme::outcome_word(status),
                theme::elapsed(ms)
            ),
            t.outcome(status),
        ),
        None if m.ui.quit => Span::styled("cancelling… ", t.notice()),
        None => {
            let ms = m.run.started_ms.map_or(0, |s| m.now_ms.saturating_sub(s));
            Span::styled(format!("{} ", theme::seconds(ms)), t.dim())
        }
    }
}

/// What the right of the line may say, most useful first: the notice,
/// where a replay stands, then the main keys in shorter and shorter forms.
fn hints(m: &Model) -> Vec<String> {
    let mut out = Vec::new();
    // A notice answers the key just pressed: it never gives way to keys;
    // nor does a lost run's, which says what to do.
    if let Some(n) = m.ui.notice.as_ref().or(m.run.lost.as_ref()) {
        out.push(format!(" {} ", cells(n)));
        return out;
    }
    if let Some((at, total)) = m.ui.replay {
        let at = format!("replay: event {at} of {total}");
        out.extend([
            format!(" {at} · . next · , back · g start · G end · F next failure · q quit "),
            format!(" {at} · . next · , back · F failure · q quit "),
            format!(" {at} · . next · , back · q quit "),
            format!(" {at} · q quit "),
            format!(" {at} "),
        ]);
        return out;
    }
    let keys: &[&str] = if m.ended() {
        &[
            " n next failure · q quit · ? help ",
            " q quit · ? help ",
            " q quit ",
        ]
    } else if m.ui.quit {
        &[" q: stop waiting "]
    } else if !m.waits.is_empty() && m.ui.role != Role::ReadOnly {
        // The keys for the selected wait: never "a approve" over a question.
        use crate::tui::model::waits::WaitKind;
        match m.selected_wait().map(|w| w.kind) {
            Some(WaitKind::Approval) => &[
                " a approve · r reject · w waits · ? help · q quit ",
                " a/r approve/reject · ? help ",
                " ? help ",
            ],
            Some(WaitKind::Question) if m.ui.focus == Pane::Waits => &[
                " Enter answer · ? help · q quit ",
                " Enter answer · ? help ",
                " ? help ",
            ],
            Some(WaitKind::Question) => &[
                " w, Enter answer · ? help · q quit ",
                " Enter answer · ? help ",
                " ? help ",
            ],
            None => &[
                " w selects a wait · ? help · q quit ",
                " w waits · ? help ",
                " ? help ",
            ],
        }
    } else {
        &[
            " Tab pane · Enter output · ? help · q quit ",
            " ? help · q quit ",
            " ? help ",
        ]
    };
    // `n` is only worth its room once something failed.
    let failed = m.steps.iter().any(|s| s.status == Status::Failed);
    let mut keys: Vec<String> = keys
        .iter()
        .filter(|k| failed || !k.contains(" n next"))
        .map(|k| k.to_string())
        .collect();
    if !m.ended() && !m.ui.quit {
        by_role(m.ui.role, &mut keys);
        // `e` where there is room, on a screen that may edit the run.
        let with_e = (keys.first())
            .filter(|k| m.ui.role != Role::ReadOnly && k.starts_with(" Tab pane"))
            .map(|k| k.replace("Enter output · ", "Enter output · e edit · "));
        if let Some(k) = with_e {
            keys.insert(0, k);
        }
    }
    out.extend(keys);
    out
}

/// A live run's keys for this screen: the own screen also offers `d` when
/// there is room; on an attached one `q` is the way out and detaches.
fn by_role(role: Role, keys: &mut Vec<String>) {
    match role {
        Role::Own => {
            let longest = keys
                .first()
                .filter(|k| k.ends_with("· q quit "))
                .map(|k| k.replace("· q quit ", "· d detach · q quit "));
            if let Some(k) = longest {
                keys.insert(0, k);
            }
        }
        // The way out matters more here than the shorter forms' room.
        Role::Attached | Role::ReadOnly => {
            for k in keys.iter_mut() {
                *k = match k.contains("q quit") {
                    true => k.replace("q quit", "q detach"),
                    false => format!("{}· q detach ", k),
                };
            }
            keys.push(" q detach ".to_string());
        }
    }
}
