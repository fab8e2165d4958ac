//! `needs` to step indices: a step id, `STEP:KEY` (one instance), a
//! matrix step's id (every instance), or `{ step, same: [AXIS...] }` (the
//! instances whose listed axes equal this instance's).

use super::super::spec::{Need, NeedOf};
use super::Cx;

/// Up to this many `needs`, duplicates are found by looking through the
/// list rather than through a set.
const SMALL_NEEDS: usize = 16;

/// Dependencies in one workflow, all steps together: ten times the
/// 100,000-step file's, and far below what would exhaust memory (two
/// 10,000-instance matrix steps, one needing the other whole, make 100
/// million).
const MAX_NEEDS: usize = 4_000_000;

impl Cx<'_> {
    pub(super) fn resolve_needs(&mut self, i: usize, needs: &[Need]) -> Vec<usize> {
        if self.edges > MAX_NEEDS {
            // Said once already; the rest would only cost time and memory.
            return Vec::new();
        }
        let out = self.needs_of(i, needs);
        let before = self.edges;
        self.edges = self.edges.saturating_add(out.len());
        if self.edges <= MAX_NEEDS {
            return out;
        }
        if before <= MAX_NEEDS {
            let pos = self.at.need(i, 0).unwrap_or(self.at.id(i));
            let who = self.written_id(i);
            self.diags.push(
                pos,
                format!(
                    "the steps' needs come to more than {MAX_NEEDS} dependencies from `{who}` on: a matrix step needing a whole matrix step makes one per pair of instances; name instances, or pair them with `{{ step: X, same: [AXIS] }}`"
                ),
            );
        }
        Vec::new()
    }

    fn needs_of(&mut self, i: usize, needs: &[Need]) -> Vec<usize> {
        let mut out = Vec::with_capacity(needs.len());
        // A set once the list is long, not `out.contains`: a step may need
        // 100,000 others; most need one or two, and a set costs more then.
        let mut seen = std::collections::HashSet::new();
        let mut add = |n: usize, out: &mut Vec<usize>| {
            if needs.len() <= SMALL_NEEDS && out.len() <= SMALL_NEEDS {
                if !out.contains(&n) {
                    out.push(n);
                }
            } else if seen.is_empty() {
                seen.extend(out.iter().copied());
                if seen.insert(n) {
                    out.push(n);
                }
            } else if seen.insert(n) {
                out.push(n);
            }
        };
        for (k, need) in needs.iter().enumerate() {
            let pos = self.at.need(i, k).unwrap_or(self.at.id(i));
            let found = match need {
                Need::Step(id) => self.need_ids(i, id),
                Need::Of(of) => self.need_same(i, of),
            };
            match found {
                Ok(ns) => ns.into_iter().for_each(|n| add(n, &mut out)),
                Err(message) => self.diags.push(pos, message),
            }
        }
        out
    }

    /// The written name of step `i`: its matrix step's id for an instance,
    /// so an error every instance makes reads (and is reported) once.
    pub(super) fn written_id(&self, i: usize) -> &str {
        match self.instances.get(i).and_then(|x| x.as_deref()) {
            Some(inst) => &self.groups[inst.group].id,
            None => &self.ids[i],
        }
    }

    fn need_ids(&self, i: usize, id: &str) -> Result<Vec<usize>, String> {
        if let Some(n) = self.index_of(id) {
            return Ok(vec![n]);
        }
        if let Some(&g) = self.group_ids.get(id) {
            return Ok(self.groups[g].members.clone());
        }
        let hint = self.hint(id, self.step_ids());
        let who = self.written_id(i);
        Err(format!("step `{who}` needs unknown step `{id}`{hint}"))
    }

    fn need_same(&mut self, i: usize, of: &NeedOf) -> Result<Vec<usize>, String> {
        let who = self.written_id(i);
        let target = &of.step;
        if of.same.is_empty() {
            return self.need_ids(i, target);
        }
        let Some(&g) = self.group_ids.get(target.as_str()) else {
            if self.index_of(target).is_some() {
                return Err(format!(
                    "step `{target}` is not a matrix step, so `same` cannot pair its instances with `{who}`'s; write `needs: [{target}]`"
                ));
            }
            return self.need_ids(i, target);
        };
        let Some(mine) = self.instances.get(i).and_then(|x| x.as_deref()) else {
            return Err(format!(
                "step `{who}` has no `matrix`, so it has no axes for `same` to pair with `{target}`'s"
            ));
        };
        let (theirs, ours) = (&self.groups[g], &self.groups[mine.group]);
        for axis in &of.same {
            let side = match (theirs.axes.contains(axis), ours.axes.contains(axis)) {
                (true, true) => continue,
                (false, _) => target.as_str(),
                (true, false) => who,
            };
            let hint = super::super::diag::did_you_mean(
                axis,
                theirs
                    .axes
                    .iter()
                    .filter(|a| ours.axes.contains(a))
                    .map(String::as_str),
            );
            return Err(format!(
                "`same: [{axis}]` in the needs of `{who}`: `{axis}` is not a matrix key of step `{side}`{hint}; `same` names keys both matrices have"
            ));
        }
        let value = |inst: &super::super::model::Instance, axis: &str| {
            inst.values
                .iter()
                .find(|(k, _)| k == axis)
                .map(|(_, v)| v.clone())
        };
        let ours: Option<Vec<String>> = of.same.iter().map(|a| value(mine, a)).collect();
        // The target's instances by their values of these axes, built once
        // for all the instances that pair with them: 100 instances pairing
        // with 10,000 would otherwise compare a million times.
        let instances = self.instances;
        let by_values = self
            .same_index
            .entry((g, of.same.clone()))
            .or_insert_with(|| {
                let mut by: std::collections::HashMap<Vec<String>, Vec<usize>> =
                    std::collections::HashMap::new();
                for &m in &theirs.members {
                    let Some(Some(other)) = instances.get(m) else {
                        continue;
                    };
                    let key: Option<Vec<String>> =
                        of.same.iter().map(|a| value(other, a)).collect();
                    if let Some(key) = key {
                        by.entry(key).or_default().push(m);
                    }
                }
                by
            });
        let matched = ours
            .and_then(|ours| by_values.get(&ours).cloned())
            .unwrap_or_default();
        if matched.is_empty() {
            let pairs: Vec<String> = of
                .same
                .iter()
                .map(|a| format!("{a}={}", value(mine, a).unwrap_or_default()))
                .collect();
            return Err(format!(
                "instance `{}` needs the instances of `{target}` with {}, and there are none",
                self.ids[i],
                pairs.join(", ")
            ));
        }
        Ok(matched)
    }
}
