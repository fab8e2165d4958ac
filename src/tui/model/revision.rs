//! An applied edit on the screen (`dag_modified`, `action: edit`): the
//! run's revision N read from `<run>/revisions/N.yaml`, the graph rebuilt
//! from it, and what the screen knew of each kept step (status, attempt,
//! times, output, wait) carried over by id. Added steps start pending,
//! removed ones go with their lines' links; a step the edit changed and
//! that has not started yet is marked (`edited`) until it starts. Replay
//! gets the same by applying the same events: stepping back rebuilds the
//! model from the start, so it shows the graph before the edit.

use std::collections::HashMap;
use std::io::Read;

use crate::engine::event::EditDiff;
use crate::workflow::Workflow;

use super::graph::Graph;
use super::ui::Overlay;
use super::{Model, Status, StepView, millis};

impl Model {
    /// A `dag_modified` edit to revision `revision`: the graph becomes it,
    /// or, when the revision cannot be read, stays and a notice says why.
    pub(super) fn apply_edit(&mut self, revision: Option<u32>, diff: Option<&EditDiff>) {
        let Some(n) = revision else { return };
        self.run.revision = n;
        match self.load_revision(n) {
            Ok(wf) => self.rebuild(&wf, diff),
            Err(why) => {
                self.ui.notice = Some(format!(
                    "cannot show revision {n} of the run ({why}); the graph is the one before it"
                ))
            }
        }
    }

    /// `<run>/revisions/N.yaml`, loaded as the run loaded it.
    fn load_revision(&self, n: u32) -> Result<Workflow, String> {
        let dir = (self.run.dir.as_ref()).ok_or("the screen does not know the run's folder")?;
        let label = format!("revisions/{n}.yaml");
        let path = dir.join(&label);
        let file = crate::engine::fsafe::open_read(&path).map_err(|e| format!("{label}: {e}"))?;
        let limit = crate::workflow::node::MAX_FILE_BYTES as u64 + 1;
        let mut bytes = Vec::new();
        (file.take(limit).read_to_end(&mut bytes)).map_err(|e| format!("{label}: {e}"))?;
        let text = String::from_utf8(bytes).map_err(|_| format!("{label} is not UTF-8"))?;
        crate::workflow::load_text(text, &label).map_err(|d| d.to_string())
    }

    /// The steps, graph and everything that points at a step by index, for
    /// the workflow `wf` the run now runs.
    fn rebuild(&mut self, wf: &Workflow, diff: Option<&EditDiff>) {
        let index: HashMap<String, usize> = (wf.steps.iter().enumerate())
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        let mut steps: Vec<StepView> = super::step_views(wf);
        let old = std::mem::take(&mut self.steps);
        let mut map = vec![None; old.len()];
        for (o, s) in old.into_iter().enumerate() {
            if let Some(&i) = index.get(&s.id) {
                map[o] = Some(i);
                carry(&mut steps[i], s);
            }
        }
        if let Some(d) = diff {
            mark(&mut steps, &index, d);
        }
        let open: HashMap<&str, bool> = (self.groups.iter())
            .map(|g| (g.id.as_str(), g.open))
            .collect();
        self.groups = super::group_views(wf, |id| open.get(id).copied());
        self.steps = steps;
        self.index = index;
        self.graph = Graph::new(&self.steps, &self.groups);
        self.cooldowns = (wf.breakers.iter())
            .map(|(name, b)| (name.clone(), millis(b.cooldown)))
            .collect();
        self.log.remap(&map);
        self.waits.remap(&map);
        self.ui.selected = nearest(&map, self.ui.selected).unwrap_or(0);
        self.ui.overlay = match self.ui.overlay.take() {
            Some(Overlay::ConfirmStep { step, .. })
                if map.get(step).copied().flatten().is_none() =>
            {
                None
            }
            Some(Overlay::ConfirmStep {
                action,
                step,
                question,
            }) => map[step].map(|step| Overlay::ConfirmStep {
                action,
                step,
                question,
            }),
            // Its instances are named by index: asked again after the edit.
            Some(Overlay::ConfirmGroup { .. }) => None,
            Some(Overlay::Output { step, scroll, mark }) => (map.get(step).copied().flatten())
                .map(|step| Overlay::Output { step, scroll, mark }),
            other => other,
        };
    }
}

/// What the screen knew of a kept step; its definition is the new one.
fn carry(new: &mut StepView, old: StepView) {
    new.status = old.status;
    new.attempt = old.attempt;
    new.first_start_ms = old.first_start_ms;
    new.end_ms = old.end_ms;
    new.duration_ms = old.duration_ms;
    new.fallback = old.fallback;
    new.wait_deadline_ms = old.wait_deadline_ms;
    new.exit_code = old.exit_code;
    new.error = old.error;
    new.skip = old.skip;
    new.edited = old.edited;
    new.worker = old.worker;
}

/// Changed steps not yet started are marked; steps run again with their
/// new definition start over, marked, as a retry's do.
fn mark(steps: &mut [StepView], index: &HashMap<String, usize>, d: &EditDiff) {
    for id in d.changed.keys() {
        if let Some(s) = index.get(id).and_then(|&i| steps.get_mut(i))
            && matches!(s.status, Status::Pending | Status::Ready)
        {
            s.edited = true;
        }
    }
    for id in &d.rerun {
        if let Some(s) = index.get(id).and_then(|&i| steps.get_mut(i)) {
            s.status = Status::Pending;
            s.attempt = 0;
            s.first_start_ms = None;
            s.end_ms = None;
            s.duration_ms = None;
            s.fallback = false;
            s.wait_deadline_ms = None;
            s.edited = true;
        }
    }
}

/// The step that stands where old step `at` stood: itself when kept, else
/// the nearest kept one, the next before the previous.
fn nearest(map: &[Option<usize>], at: usize) -> Option<usize> {
    (0..map.len()).find_map(|d| {
        let after = map.get(at + d).copied().flatten();
        after.or_else(|| {
            at.checked_sub(d)
                .and_then(|b| map.get(b).copied().flatten())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::nearest;

    #[test]
    fn the_selection_stays_on_its_step_or_the_nearest_kept_one() {
        let map = [Some(0), None, None, Some(1)];
        assert_eq!(nearest(&map, 0), Some(0));
        assert_eq!(nearest(&map, 1), Some(0));
        assert_eq!(nearest(&map, 2), Some(1));
        assert_eq!(nearest(&map, 3), Some(1));
        assert_eq!(nearest(&[None, None], 1), None);
    }
}
