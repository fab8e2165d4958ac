//! The keymap: tables from key presses to [`Action`]s, one per input mode,
//! and the help text drawn from the same tables. Data only: what an action
//! does to the model is `update`'s business.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key press means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    NextPane,
    PrevPane,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    WaitQueue,
    Approve,
    Reject,
    Enter,
    Retry,
    Skip,
    Cancel,
    /// `B`: reset the selected step's breaker (asks first).
    ResetBreaker,
    Follow,
    /// `-`: close the selected instance's matrix group to one box.
    Collapse,
    /// `n` / `N`: the next / previous failed step.
    NextFailed,
    PrevFailed,
    /// Long lines wrap, or are cut and scroll sideways.
    Wrap,
    /// Compact graph on and off.
    Compact,
    Filter,
    Help,
    Quit,
    /// `d`: leave the screen, the run goes on.
    Detach,
    /// `C`: cancel the whole run (asks first).
    CancelRun,
    /// `e`: edit the run's workflow; in the plan dialog, edit it again.
    Edit,
    /// Esc: close what is open.
    Close,
    /// In a text box.
    Insert(char),
    Backspace,
    /// In a y/n dialog.
    Yes,
    No,
}

/// Which table reads the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// A text box (an answer, the log filter) has the keys.
    Text,
    /// A dialog (quit, or a step command) asks y/n.
    Confirm,
    /// The help overlay: any key closes it.
    Help,
    /// An edit's plan: `y` applies, `e` edits again, Esc discards.
    Plan,
}

/// One row of a keymap: the keys, the action, and how help shows it.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [(KeyCode, KeyModifiers)],
    pub action: Action,
    /// The keys as help shows them; empty when the row before covers them.
    pub label: &'static str,
    pub help: &'static str,
}

const NONE: KeyModifiers = KeyModifiers::NONE;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;

const fn bind(
    keys: &'static [(KeyCode, KeyModifiers)],
    action: Action,
    label: &'static str,
    help: &'static str,
) -> Binding {
    Binding {
        keys,
        action,
        label,
        help,
    }
}

/// SPEC §5's keys, in the order help lists them.
pub const NORMAL: &[Binding] = &[
    bind(
        &[(KeyCode::Tab, NONE)],
        Action::NextPane,
        "Tab",
        "next pane",
    ),
    bind(
        &[(KeyCode::BackTab, NONE)],
        Action::PrevPane,
        "Shift-Tab",
        "previous pane",
    ),
    bind(
        &[(KeyCode::Up, NONE), (KeyCode::Char('k'), NONE)],
        Action::Up,
        "↑↓ k j",
        "move the selection / scroll",
    ),
    bind(
        &[(KeyCode::Down, NONE), (KeyCode::Char('j'), NONE)],
        Action::Down,
        "",
        "",
    ),
    bind(
        &[(KeyCode::Left, NONE), (KeyCode::Char('h'), NONE)],
        Action::Left,
        "←→ h l",
        "move left / right in the graph; scroll long lines",
    ),
    bind(
        &[(KeyCode::Right, NONE), (KeyCode::Char('l'), NONE)],
        Action::Right,
        "",
        "",
    ),
    bind(
        &[(KeyCode::PageUp, NONE)],
        Action::PageUp,
        "PgUp PgDn",
        "a page up / down",
    ),
    bind(&[(KeyCode::PageDown, NONE)], Action::PageDown, "", ""),
    bind(
        &[(KeyCode::Char('w'), NONE)],
        Action::WaitQueue,
        "w",
        "the wait queue; selects its top wait if none is",
    ),
    bind(
        &[(KeyCode::Char('a'), NONE)],
        Action::Approve,
        "a",
        "approve the selected approval",
    ),
    bind(
        &[(KeyCode::Char('r'), NONE)],
        Action::Reject,
        "r",
        "reject the selected approval",
    ),
    bind(
        &[(KeyCode::Enter, NONE)],
        Action::Enter,
        "Enter",
        "answer (waits) / output (graph, log) / open a group",
    ),
    bind(
        &[(KeyCode::Char('-'), NONE)],
        Action::Collapse,
        "-",
        "close a matrix group to one box",
    ),
    bind(
        &[(KeyCode::Char('R'), NONE)],
        Action::Retry,
        "R",
        "retry the selected step / a group's failed ones (y/n)",
    ),
    bind(
        &[(KeyCode::Char('s'), NONE)],
        Action::Skip,
        "s",
        "skip the selected step / a group's unended (y/n)",
    ),
    bind(
        &[(KeyCode::Char('x'), NONE)],
        Action::Cancel,
        "x",
        "cancel the selected step / a group's unended (y/n)",
    ),
    bind(
        &[(KeyCode::Char('B'), NONE)],
        Action::ResetBreaker,
        "B",
        "reset the step's breaker",
    ),
    bind(
        &[(KeyCode::Char('n'), NONE)],
        Action::NextFailed,
        "n N",
        "select the next / previous failed step",
    ),
    bind(&[(KeyCode::Char('N'), NONE)], Action::PrevFailed, "", ""),
    bind(
        &[(KeyCode::Char('W'), NONE)],
        Action::Wrap,
        "W",
        "wrap long lines on/off",
    ),
    bind(
        &[(KeyCode::Char('z'), NONE)],
        Action::Compact,
        "z",
        "compact graph on/off",
    ),
    bind(
        &[(KeyCode::Char('e'), NONE)],
        Action::Edit,
        "e",
        "edit the workflow ($EDITOR)",
    ),
    bind(
        &[(KeyCode::Char('f'), NONE)],
        Action::Follow,
        "f",
        "follow the log tail on/off",
    ),
    bind(
        &[(KeyCode::Char('/'), NONE)],
        Action::Filter,
        "/",
        "filter the event log",
    ),
    bind(
        &[(KeyCode::Char('d'), NONE)],
        Action::Detach,
        "d",
        "detach: the run goes on",
    ),
    bind(
        &[(KeyCode::Char('?'), NONE)],
        Action::Help,
        "?",
        "this help",
    ),
    bind(
        &[(KeyCode::Esc, NONE)],
        Action::Close,
        "Esc",
        "close / clear the filter",
    ),
    bind(
        &[(KeyCode::Char('q'), NONE), (KeyCode::Char('c'), CTRL)],
        Action::Quit,
        "q Ctrl-C",
        "quit (asks, then cancels a live run); attached: detach",
    ),
    bind(
        &[(KeyCode::Char('C'), NONE)],
        Action::CancelRun,
        "C",
        "cancel the run (asks y/n)",
    ),
];

/// A text box: printable keys type (see [`action`]), these edit.
pub const TEXT: &[Binding] = &[
    bind(&[(KeyCode::Enter, NONE)], Action::Enter, "Enter", "send"),
    bind(&[(KeyCode::Esc, NONE)], Action::Close, "Esc", "close"),
    bind(
        &[(KeyCode::Backspace, NONE)],
        Action::Backspace,
        "Backspace",
        "delete",
    ),
    bind(&[(KeyCode::Up, NONE)], Action::Up, "↑", "previous choice"),
    bind(&[(KeyCode::Down, NONE)], Action::Down, "↓", "next choice"),
    bind(
        &[(KeyCode::Char('c'), CTRL)],
        Action::Quit,
        "Ctrl-C",
        "quit",
    ),
];

/// A y/n dialog. Ctrl-C is not a yes: in the quit dialog it quits, in a
/// step's dialog it closes it and asks to quit. `d` detaches from the quit
/// dialog; any other dialog it closes, as `n` does.
pub const CONFIRM: &[Binding] = &[
    bind(&[(KeyCode::Char('y'), NONE)], Action::Yes, "y", "yes"),
    bind(&[(KeyCode::Char('d'), NONE)], Action::Detach, "d", "detach"),
    bind(
        &[(KeyCode::Char('c'), CTRL)],
        Action::Quit,
        "Ctrl-C",
        "quit",
    ),
    bind(
        &[
            (KeyCode::Char('n'), NONE),
            (KeyCode::Esc, NONE),
            (KeyCode::Char('q'), NONE),
        ],
        Action::No,
        "n Esc",
        "no",
    ),
];

/// An edit's plan: scrolls, applies, edits again or goes.
pub const PLAN: &[Binding] = &[
    bind(&[(KeyCode::Char('y'), NONE)], Action::Yes, "y", "apply"),
    bind(
        &[(KeyCode::Char('e'), NONE)],
        Action::Edit,
        "e",
        "edit again",
    ),
    bind(
        &[(KeyCode::Up, NONE), (KeyCode::Char('k'), NONE)],
        Action::Up,
        "↑↓",
        "scroll",
    ),
    bind(
        &[(KeyCode::Down, NONE), (KeyCode::Char('j'), NONE)],
        Action::Down,
        "",
        "",
    ),
    bind(
        &[(KeyCode::PageUp, NONE)],
        Action::PageUp,
        "PgUp",
        "page up",
    ),
    bind(
        &[(KeyCode::PageDown, NONE)],
        Action::PageDown,
        "PgDn",
        "page down",
    ),
    bind(
        &[(KeyCode::Char('c'), CTRL)],
        Action::Quit,
        "Ctrl-C",
        "quit",
    ),
    bind(
        &[
            (KeyCode::Esc, NONE),
            (KeyCode::Char('n'), NONE),
            (KeyCode::Char('q'), NONE),
        ],
        Action::No,
        "Esc",
        "discard",
    ),
];

/// Shift is part of the character (`R`, `?`), and of Shift-Tab.
fn normalise(key: KeyEvent) -> (KeyCode, KeyModifiers) {
    let mods = match key.code {
        KeyCode::Char(_) | KeyCode::BackTab => key.modifiers - KeyModifiers::SHIFT,
        _ => key.modifiers,
    };
    let code = match key.code {
        KeyCode::Char(c) if mods.contains(CTRL) => KeyCode::Char(c.to_ascii_lowercase()),
        other => other,
    };
    (code, mods)
}

fn lookup(table: &[Binding], key: (KeyCode, KeyModifiers)) -> Option<Action> {
    table
        .iter()
        .find(|b| b.keys.contains(&key))
        .map(|b| b.action)
}

/// What `key` means in `mode`, if anything.
pub fn action(mode: Mode, key: KeyEvent) -> Option<Action> {
    let key = normalise(key);
    match mode {
        Mode::Normal => lookup(NORMAL, key),
        Mode::Confirm => match key {
            (KeyCode::Char('Y'), NONE) => Some(Action::Yes),
            (KeyCode::Char('N'), NONE) => Some(Action::No),
            (KeyCode::Char('D'), NONE) => Some(Action::Detach),
            _ => lookup(CONFIRM, key),
        },
        Mode::Plan => lookup(PLAN, key),
        Mode::Help => match lookup(NORMAL, key) {
            Some(Action::Quit) if key.1 == CTRL => Some(Action::Quit),
            _ => Some(Action::Close),
        },
        Mode::Text => lookup(TEXT, key).or(match key {
            (KeyCode::Char(c), m) if !m.intersects(CTRL | KeyModifiers::ALT) => {
                Some(Action::Insert(c))
            }
            _ => None,
        }),
    }
}
