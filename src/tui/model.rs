//! The screen's model: everything the view draws, built only from the
//! [`Workflow`] and the events applied to it ([`Model::apply`]), so a
//! journal replayed through it gives the same screen. The operator's side
//! (focus, selections, dialogs) lives in [`ui`]. No terminal, no engine
//! handle, no clock of its own: time moves when an event or
//! [`Model::set_now`] says so.

mod apply;
pub mod graph;
pub mod group;
pub mod log;
pub mod pools;
mod revision;
pub mod ui;
mod views;
pub mod waits;

use std::collections::{BTreeMap, HashMap};

use crate::engine::RunStatus;
use crate::engine::event::{BreakerState, SkipReason};
use crate::workflow::Workflow;

use self::graph::Graph;
use self::group::GroupView;
use self::log::Log;
use self::ui::{Ui, WaitSelection};
use self::views::{group_views, step_views};
use self::waits::{OpenWait, Waits};

/// Where a step stands, as the screen shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Ready,
    Running,
    /// Waiting out the delay before the next attempt, due at this time (ms).
    Backoff {
        due_ms: u64,
    },
    Waiting,
    Succeeded,
    Failed,
    Skipped,
    Cancelled,
}

impl Status {
    pub fn is_done(self) -> bool {
        matches!(
            self,
            Status::Succeeded | Status::Failed | Status::Skipped | Status::Cancelled
        )
    }
}

/// What the graph's selection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    Step(usize),
    /// A matrix group, by index into [`Model::groups`].
    Group(usize),
}

/// What kind of step, for the glyph of a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Run,
    Approval,
    Ask,
}

#[derive(Debug, Clone)]
pub struct StepView {
    pub id: String,
    pub kind: Kind,
    /// From the workflow: orders the wait queue.
    pub priority: i64,
    /// A question's timeout (its event does not carry one).
    pub ask_timeout_ms: u64,
    /// Distinct users an approval needs (`approvers`); 1 for other steps.
    pub approvers: u32,
    pub status: Status,
    /// The attempt running, or the last one made.
    pub attempt: u32,
    /// Milliseconds since the epoch.
    pub first_start_ms: Option<u64>,
    pub end_ms: Option<u64>,
    /// From `step_succeeded`.
    pub duration_ms: Option<u64>,
    /// Ended with its fallback outputs.
    pub fallback: bool,
    /// When its open wait times out, while one is open: a box needs no
    /// search of every wait.
    pub wait_deadline_ms: Option<u64>,
    /// The last failed attempt's exit code (none when it had no process,
    /// e.g. killed by a signal, timed out, or refused by a breaker).
    pub exit_code: Option<i32>,
    /// The last failed attempt's error, as the event says it.
    pub error: Option<String>,
    /// The steps it needs (indices), for what a retry or cancel would move.
    pub needs: Vec<usize>,
    /// Why it was skipped, while it is.
    pub skip: Option<SkipReason>,
    /// The breaker it uses, for `B`.
    pub breaker: Option<String>,
    /// An edit changed it (or runs it again) and it has not started since:
    /// its box is marked `~`.
    pub edited: bool,
    /// A matrix instance: its group, as an index into [`Model::groups`].
    pub group: Option<usize>,
    /// `on_failure: continue`: its failure still satisfies its dependents
    /// (and its matrix step's aggregate).
    pub continues: bool,
    /// Free text for people (`description`; an instance's is its matrix
    /// step's unless it has its own), shown in the output viewer.
    pub description: Option<Box<str>>,
    /// The pool of workers its attempts run on (`pool`); none: here.
    pub pool: Option<std::sync::Arc<str>>,
    /// The worker its last attempt started on, as its `step_started` says;
    /// none for an attempt that ran here.
    pub worker: Option<String>,
}

/// The run as a whole.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    pub id: Option<String>,
    pub started_ms: Option<u64>,
    /// Set by `run_finished`: the status and the run's duration.
    pub outcome: Option<(RunStatus, u64)>,
    /// The screen lost the run before its end (its process died): why,
    /// and what to do. Nothing more will come; the screen is over too.
    pub lost: Option<String>,
    /// The run's folder, where an edit's revisions are read from.
    pub dir: Option<std::path::PathBuf>,
    /// The workflow revision in force: N of `<run>/revisions/N.yaml`, 0
    /// for the file the run started with.
    pub revision: u32,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub steps: Vec<StepView>,
    /// The matrix steps, in file order.
    pub groups: Vec<GroupView>,
    index: HashMap<String, usize>,
    pub graph: Graph,
    pub log: Log,
    pub waits: Waits,
    /// Breakers that left `closed`, by name.
    pub breakers: BTreeMap<String, BreakerState>,
    /// When each open breaker turns half-open (ms since the epoch): its
    /// `breaker_changed` time plus the workflow's cooldown.
    pub breaker_until: BTreeMap<String, u64>,
    /// Each breaker's cooldown (ms), from the workflow.
    pub cooldowns: BTreeMap<String, u64>,
    pub run: RunInfo,
    /// The time the view draws at, in milliseconds since the epoch.
    pub now_ms: u64,
    /// The last event's number.
    pub seq: u64,
    /// The run's transport to its pools, once heard of (SPEC §7).
    pub pools: Option<pools::Pools>,
    pub ui: Ui,
}

impl Model {
    pub fn new(wf: &Workflow) -> Model {
        let steps = step_views(wf);
        let groups = group_views(wf, |_| None);
        Model {
            name: wf.name.clone(),
            graph: Graph::new(&steps, &groups),
            steps,
            groups,
            index: wf
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id.clone(), i))
                .collect(),
            log: Log::default(),
            waits: Waits::default(),
            breakers: BTreeMap::new(),
            breaker_until: BTreeMap::new(),
            cooldowns: (wf.breakers.iter())
                .map(|(name, b)| (name.clone(), millis(b.cooldown)))
                .collect(),
            run: RunInfo::default(),
            now_ms: 0,
            seq: 0,
            pools: None,
            ui: Ui::default(),
        }
    }

    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// What the graph's selection is: a step, or a matrix group (always,
    /// for a step of a closed group).
    pub fn selection(&self) -> Selection {
        let i = self.ui.selected;
        match self.steps.get(i).and_then(|s| s.group) {
            Some(g) if self.ui.on_group || !self.groups.get(g).is_some_and(|g| g.open) => {
                Selection::Group(g)
            }
            _ => Selection::Step(i),
        }
    }

    /// The graph node the selection is drawn on.
    pub fn selected_node(&self) -> usize {
        match self.selection() {
            Selection::Group(g) => {
                (self.graph.nodes.group_node.get(g).copied()).unwrap_or(usize::MAX)
            }
            Selection::Step(i) => self.graph.node_of(i),
        }
    }

    /// Selects graph node `n`: its step, or its group.
    pub fn select_node(&mut self, n: usize) {
        match self.graph.node(n) {
            Some(graph::Node::Step(i)) => {
                self.ui.selected = i;
                self.ui.on_group = false;
            }
            Some(graph::Node::Group(g) | graph::Node::Header(g)) => {
                if let Some(&first) = self.groups.get(g).and_then(|g| g.members.first()) {
                    self.ui.selected = first;
                    self.ui.on_group = true;
                }
            }
            None => {}
        }
    }

    /// Opens or closes group `g`; the graph is laid out again, the
    /// selection kept (on the group when it was on one of its instances).
    pub fn set_open(&mut self, g: usize, open: bool) {
        let Some(group) = self.groups.get_mut(g) else {
            return;
        };
        if group.open == open {
            return;
        }
        group.open = open;
        if self.steps.get(self.ui.selected).and_then(|s| s.group) == Some(g) {
            self.ui.on_group = true;
        }
        self.graph = Graph::new(&self.steps, &self.groups);
    }

    /// Selects step `i` itself, opening its group if it is closed (keys
    /// that find a step: `n`/`N`, the log filter, a replay's failure).
    pub fn reveal(&mut self, i: usize) {
        if let Some(g) = self.steps.get(i).and_then(|s| s.group) {
            self.set_open(g, true);
        }
        self.ui.selected = i;
        self.ui.on_group = false;
    }

    /// Time moves forward only.
    pub fn set_now(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
    }

    /// The run has ended (`run_finished` arrived).
    pub fn ended(&self) -> bool {
        self.run.outcome.is_some() || self.run.lost.is_some()
    }

    /// Steps run or waits are open: quitting now would cut work short.
    pub fn busy(&self) -> bool {
        !self.ended()
            && (!self.waits.is_empty()
                || self
                    .steps
                    .iter()
                    .any(|s| matches!(s.status, Status::Running | Status::Backoff { .. })))
    }

    /// Something on screen counts: a wait's time left, a backoff, a running
    /// step's elapsed time, an open breaker's cooldown. Only then does the
    /// once-a-second clock run.
    pub fn needs_clock(&self) -> bool {
        let settling = (self.pools.as_ref()).is_some_and(|p| p.settling(self.now_ms));
        self.busy() || (!self.ended() && (!self.breaker_until.is_empty() || settling))
    }

    /// A step waits for a worker of `pool`: queued on it, or waiting out
    /// the delay before its next attempt goes there.
    pub fn queued_on(&self, pool: &str) -> bool {
        self.steps.iter().any(|s| {
            s.pool.as_deref() == Some(pool)
                && matches!(s.status, Status::Ready | Status::Backoff { .. })
        })
    }

    /// What is wrong with the run's workers now, while the run goes.
    pub fn pool_trouble(&self) -> Option<pools::Trouble> {
        let pools = self.pools.as_ref().filter(|_| !self.ended())?;
        pools.trouble(self.now_ms, |pool| self.queued_on(pool))
    }

    /// The selected wait (SPEC §5): the top one until the operator chose
    /// one, then the one they moved to while it is open; none after the
    /// selected one was decided or closed.
    pub fn selected_wait(&self) -> Option<&OpenWait> {
        match &self.ui.wait {
            WaitSelection::Top => self.waits.list().first(),
            WaitSelection::Pinned(w) => self.waits.get(w),
            WaitSelection::Cleared { .. } => None,
        }
    }

    pub fn selected_wait_index(&self) -> Option<usize> {
        let w = self.selected_wait()?;
        self.waits.position(&w.wait)
    }

    /// How many steps are in each status, in the order the status line
    /// lists them (backoff counted under its own name).
    pub fn counts(&self) -> [(Status, usize); 9] {
        let mut out = [
            (Status::Running, 0),
            (Status::Backoff { due_ms: 0 }, 0),
            (Status::Waiting, 0),
            (Status::Ready, 0),
            (Status::Pending, 0),
            (Status::Succeeded, 0),
            (Status::Failed, 0),
            (Status::Skipped, 0),
            (Status::Cancelled, 0),
        ];
        for s in &self.steps {
            let status = match s.status {
                Status::Backoff { .. } => Status::Backoff { due_ms: 0 },
                other => other,
            };
            if let Some(slot) = out.iter_mut().find(|(st, _)| *st == status) {
                slot.1 += 1;
            }
        }
        out
    }
}

/// An event's `ts` in milliseconds since the epoch.
pub fn parse_ts(ts: &str) -> Option<u64> {
    let t = humantime::parse_rfc3339(ts).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(millis(d))
}

pub fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
