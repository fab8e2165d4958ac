//! What the operator is doing on the screen: the focused pane, selections,
//! scroll positions, open dialogs, and whether they asked to quit. Only
//! `update` changes it; nothing here comes from the engine.

/// The three panes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Graph,
    Waits,
    Log,
}

impl Pane {
    /// `Tab` goes the way the panes read: the graph, then the wait queue
    /// above the log, or on a wide screen the log and the queue beside it.
    fn order(side_by_side: bool) -> [Pane; 3] {
        match side_by_side {
            true => [Pane::Graph, Pane::Log, Pane::Waits],
            false => [Pane::Graph, Pane::Waits, Pane::Log],
        }
    }

    pub fn next(self, side_by_side: bool) -> Pane {
        let order = Pane::order(side_by_side);
        let i = order.iter().position(|&p| p == self).unwrap_or(0);
        order[(i + 1) % order.len()]
    }

    pub fn prev(self, side_by_side: bool) -> Pane {
        let order = Pane::order(side_by_side);
        let i = order.iter().position(|&p| p == self).unwrap_or(0);
        order[(i + order.len() - 1) % order.len()]
    }
}

/// The text box that answers a question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerBox {
    /// The wait it answers; the box closes if that wait does.
    pub wait: String,
    pub text: String,
    /// The highlighted choice, for questions that have choices.
    pub choice: Option<usize>,
    /// Why the last `Enter` sent nothing.
    pub error: Option<String>,
    /// The text is the default as filled in: the first key typed replaces
    /// it (Backspace clears it), as a selected field does.
    pub fresh: bool,
}

/// Which wait `a`, `r` and `Enter` act on (SPEC §5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum WaitSelection {
    /// The operator has chosen none yet: the top wait is selected.
    #[default]
    Top,
    /// The operator moved to this wait: it stays selected wherever it
    /// moves in the queue as others come and go, until it closes.
    Pinned(String),
    /// The selected wait was decided or closed: nothing is selected until
    /// the operator moves the selection, so a key pressed twice never
    /// decides two waits. `row` is where it stood, for ↑↓ to start from;
    /// `wait` is that wait, never selected again while the run's answer to
    /// the key is on its way.
    Cleared { row: usize, wait: String },
}

/// A step command that asks `y`/`n` first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepAction {
    Retry,
    Skip,
    Cancel,
    /// `B`: reset (close) the breaker the step uses.
    ResetBreaker,
}

/// Whose screen this is (SPEC §5): the run's own (started with `run` or
/// `resume` in this terminal) or one attached to it later (`attach`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// `q` on a live run asks to cancel it (or `d` to detach).
    #[default]
    Own,
    /// `q` detaches at once; `C` cancels the run after asking.
    Attached,
    /// `attach --read-only`: sends nothing; keys that would act say so.
    ReadOnly,
}

/// `e`: what the editor opens on (the app loop opens it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditFrom {
    /// The run's current revision.
    Revision,
    /// The text edited last time, to edit it again.
    Text(String),
}

/// The plan dialog of an edit: the edited file and the run's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanDialog {
    /// What was asked: `y` asks it again without `dry_run`, `e` edits its
    /// source again.
    pub ask: crate::engine::edit::EditAsk,
    pub shown: PlanShown,
    /// Lines scrolled off the top.
    pub scroll: usize,
}

/// What the plan dialog shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanShown {
    /// Asked; the run has not answered yet.
    Waiting,
    /// The plan: `y` applies it.
    Plan(Box<crate::engine::edit::Plan>),
    /// Refused, with the run's words, and the plan of an edit refused for
    /// its errors.
    Refused(String, Option<Box<crate::engine::edit::Plan>>),
}

/// What covers the panes and takes the keys, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    Help,
    /// "Quit? The run is cancelled." y/n, or `d` to detach.
    ConfirmQuit,
    /// `C`: "Cancel the whole run?" y/n; the screen stays after.
    ConfirmCancel,
    /// `R`, `s`, `x` or `B` on a step: `question` names the step and what will
    /// happen; `y` sends the command, anything else closes it.
    ConfirmStep {
        action: StepAction,
        step: usize,
        question: String,
    },
    /// `R`, `s` or `x` on a matrix group: the same, for the instances it
    /// names (by index), as they stood when asked.
    ConfirmGroup {
        action: StepAction,
        group: usize,
        steps: Vec<usize>,
        question: String,
    },
    Answer(AnswerBox),
    /// Typing the log filter (the text lives in the log).
    Filter,
    /// `e`: the plan of the edited workflow; `y` applies, `e` edits again.
    Plan(PlanDialog),
    /// One step's output, `scroll` lines up from its newest; `mark` is the
    /// seq of a line to highlight (opened from that line of the log).
    Output {
        step: usize,
        scroll: usize,
        mark: Option<u64>,
    },
}

#[derive(Debug, Clone)]
pub struct Ui {
    pub focus: Pane,
    /// The step selected in the graph (index into the workflow's steps).
    pub selected: usize,
    /// The selection is the matrix group of that step (its box, or its
    /// header when open), not the step itself. A step of a closed group
    /// is always selected as its group.
    pub on_group: bool,
    /// Top-left cell of the graph canvas that the pane shows.
    pub graph_offset: (usize, usize),
    /// The wait the keys act on.
    pub wait: WaitSelection,
    /// The operator's choice of compact graph (`z`); unset, the size decides.
    pub compact: Option<bool>,
    pub overlay: Option<Overlay>,
    /// Terminal size, to keep the graph selection in view.
    pub screen: (u16, u16),
    /// False under `NO_COLOR`: glyphs and text attributes only.
    pub color: bool,
    /// A one-line message for the status line, cleared by the next key.
    pub notice: Option<String>,
    /// On a replay: (events applied, events in all), for the status line.
    pub replay: Option<(usize, usize)>,
    /// The operator quit: leave as soon as the run has ended.
    pub quit: bool,
    /// The operator quit a second time while the run was being cancelled:
    /// stop waiting for it.
    pub force: bool,
    pub role: Role,
    /// The operator detached: the screen leaves at once and the run goes on.
    pub detach: bool,
    /// Screens attached to the run, this one included (0 while unknown).
    pub screens: usize,
    /// Waits this screen decided that the run has not closed yet: never
    /// selected again, however far behind the events are.
    pub sent: Vec<String>,
    /// `R` on a failed step of a finished run: that step (on a matrix
    /// group, its failed and cancelled instances). The screen leaves, and
    /// the run goes on as `signalbox retry RUN STEP...` does.
    pub retry: Vec<String>,
    /// Commands after the one `update` returned, sent in order by the app
    /// loop (`R` on a group retries each failed instance).
    pub outbox: Vec<crate::engine::Command>,
    /// `e`: the app loop opens the editor on this, then asks the run.
    pub edit: Option<EditFrom>,
}

impl Default for Ui {
    fn default() -> Ui {
        Ui {
            focus: Pane::Graph,
            selected: 0,
            on_group: false,
            graph_offset: (0, 0),
            wait: WaitSelection::Top,
            compact: None,
            overlay: None,
            screen: (80, 24),
            color: true,
            notice: None,
            replay: None,
            quit: false,
            force: false,
            role: Role::Own,
            detach: false,
            screens: 0,
            sent: Vec::new(),
            retry: Vec::new(),
            outbox: Vec::new(),
            edit: None,
        }
    }
}
