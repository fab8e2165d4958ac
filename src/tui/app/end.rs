//! How the app loop takes the run's end: the run's task's outcome, the
//! events closing (after the end, or before it when the run was lost),
//! and the outcome of a run reached through its socket.

use ratatui::backend::Backend;

use super::Loop;
use crate::engine::RunOutcome;

impl<B: Backend> Loop<'_, B> {
    /// The run's task is over: its outcome, unless it was aborted or failed.
    pub(super) fn ended(
        &mut self,
        r: Result<RunOutcome, tokio::task::JoinError>,
    ) -> Option<RunOutcome> {
        if let Err(e) = &r
            && !e.is_cancelled()
        {
            tracing::error!("the run's task failed: {e}");
        }
        self.dirty = true;
        r.ok()
    }

    /// The events are over: after the run's end, or (the journal could not
    /// be read back while catching up) before it.
    pub(super) fn events_closed(&mut self, lost: Option<&str>) {
        if self.model.ended() {
            return;
        }
        match lost {
            // Nothing more will come: the screen shows the run as it last
            // heard of it, and says so until it is left.
            Some(why) => {
                self.model.run.lost = Some(format!("lost the run · q leaves · {why}"));
                self.model.ui.overlay = None;
            }
            None => self.model.ui.notice = Some(
                "the screen lost the run's events (see signalbox.log); the journal has every one"
                    .into(),
            ),
        }
        self.dirty = true;
    }

    /// The outcome of a run reached through its socket, once its events
    /// ended: what its `run_finished` said, if it came.
    pub(super) fn remote_outcome(&self, remote: &crate::tui::link::Remote) -> Option<RunOutcome> {
        let (status, _) = self.model.run.outcome?;
        Some(RunOutcome {
            status,
            run_id: remote.run_id.clone(),
            dir: remote.dir.clone(),
            journal_error: None,
        })
    }
}
