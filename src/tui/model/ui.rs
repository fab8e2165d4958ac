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
}

/// What covers the panes and takes the keys, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    Help,
    /// "Quit? The run is cancelled." y/n.
    ConfirmQuit,
    Answer(AnswerBox),
    /// Typing the log filter (the text lives in the log).
    Filter,
    /// One step's output, `scroll` lines up from its newest.
    Output {
        step: usize,
        scroll: usize,
    },
}

#[derive(Debug, Clone)]
pub struct Ui {
    pub focus: Pane,
    /// The step selected in the graph (index into the workflow's steps).
    pub selected: usize,
    /// Top-left cell of the graph canvas that the pane shows.
    pub graph_offset: (usize, usize),
    /// The operator's choice of compact graph (`z`); unset, the size decides.
    pub compact: Option<bool>,
    /// The wait the operator moved the selection to; while unset or closed,
    /// the top wait is selected.
    pub wait_pin: Option<String>,
    pub overlay: Option<Overlay>,
    /// Terminal size, to keep the graph selection in view.
    pub screen: (u16, u16),
    /// False under `NO_COLOR`: glyphs and text attributes only.
    pub color: bool,
    /// A one-line message for the status line, cleared by the next key.
    pub notice: Option<String>,
    /// The operator quit: leave as soon as the run has ended.
    pub quit: bool,
    /// The operator quit a second time while the run was being cancelled:
    /// stop waiting for it.
    pub force: bool,
}

impl Default for Ui {
    fn default() -> Ui {
        Ui {
            focus: Pane::Graph,
            selected: 0,
            graph_offset: (0, 0),
            compact: None,
            wait_pin: None,
            overlay: None,
            screen: (80, 24),
            color: true,
            notice: None,
            quit: false,
            force: false,
        }
    }
}
