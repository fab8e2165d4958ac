//! The open approvals and questions, kept in the order the wait queue shows
//! them: highest priority first, then oldest. Knows nothing of drawing.

/// Approval or question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitKind {
    Approval,
    Question,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenWait {
    /// The step's index in the workflow.
    pub step: usize,
    /// The step's id, for commands.
    pub step_id: String,
    /// The engine's wait id (`w1`, ...).
    pub wait: String,
    pub kind: WaitKind,
    /// The prompt or question.
    pub prompt: String,
    pub choices: Vec<String>,
    pub default: Option<String>,
    pub priority: i64,
    /// Milliseconds since the Unix epoch.
    pub opened_ms: u64,
    pub deadline_ms: u64,
    /// The event that opened it, to keep equal waits in arrival order.
    pub seq: u64,
    /// Distinct approvals it needs (`approvers`; 1 for a question).
    pub needed: u32,
    /// Who has approved it so far, in order, while it needs more.
    pub approved: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Waits {
    /// Sorted: priority descending, then opened, then seq.
    open: Vec<OpenWait>,
    /// The widest step id's columns, up to [`WIDEST`], while the waits
    /// stay as they are: a frame asks for it, and there may be 10,000.
    widest: std::cell::Cell<Option<usize>>,
}

/// The most columns the queue gives a step id.
pub const WIDEST: usize = 16;

impl Waits {
    pub fn open(&mut self, wait: OpenWait) {
        self.close(wait.step);
        let key = |w: &OpenWait| (std::cmp::Reverse(w.priority), w.opened_ms, w.seq);
        let at = self.open.partition_point(|w| key(w) <= key(&wait));
        self.open.insert(at, wait);
        self.widest.set(None);
    }

    /// Forgets the wait of step `step`, if it has one open.
    pub fn close(&mut self, step: usize) -> Option<OpenWait> {
        let at = self.open.iter().position(|w| w.step == step)?;
        self.widest.set(None);
        Some(self.open.remove(at))
    }

    /// After an edit re-indexed the steps: `map[old]` is each wait's step
    /// now; a wait whose step went is closed.
    pub fn remap(&mut self, map: &[Option<usize>]) {
        self.open
            .retain_mut(|w| match map.get(w.step).copied().flatten() {
                Some(i) => {
                    w.step = i;
                    true
                }
                None => false,
            });
        self.widest.set(None);
    }

    pub fn clear(&mut self) {
        self.open.clear();
        self.widest.set(None);
    }

    /// The columns of the widest step id, at most [`WIDEST`]; `width`
    /// measures one.
    pub fn widest(&self, width: impl Fn(&str) -> usize) -> usize {
        if let Some(w) = self.widest.get() {
            return w;
        }
        let mut most = 0;
        for w in &self.open {
            most = most.max(width(&w.step_id));
            if most >= WIDEST {
                break;
            }
        }
        let most = most.min(WIDEST);
        self.widest.set(Some(most));
        most
    }

    /// The highest and the lowest priority open (the list is sorted by it).
    pub fn priorities(&self) -> (i64, i64) {
        match (self.open.first(), self.open.last()) {
            (Some(hi), Some(lo)) => (hi.priority, lo.priority),
            _ => (0, 0),
        }
    }

    pub fn list(&self) -> &[OpenWait] {
        &self.open
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    pub fn position(&self, wait: &str) -> Option<usize> {
        self.open.iter().position(|w| w.wait == wait)
    }

    pub fn get(&self, wait: &str) -> Option<&OpenWait> {
        self.open.iter().find(|w| w.wait == wait)
    }

    /// `user` approved `wait`, short of the approvals it needs. Progress
    /// changes no order and no step id: the cached width stays.
    pub fn approved(&mut self, wait: &str, user: &str) {
        if let Some(w) = self.open.iter_mut().find(|w| w.wait == wait)
            && !w.approved.iter().any(|u| u == user)
        {
            w.approved.push(user.to_string());
        }
    }
}
