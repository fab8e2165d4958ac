//! A plan as text: what `signalbox edit` prints and the screen's dialog
//! shows. One line per step that the edit adds, removes or changes, with
//! its status, the keys that changed and what happens next; the steps kept
//! as they were listed only when few (else counted); then the top-level
//! keys that changed and the diagnostics. The text is the file's and the
//! run's words: the caller prints it through `crate::safe`.

use std::fmt::Write as _;

use super::Plan;

/// Kept steps listed one by one up to this many; past it, counted.
const LIST_KEPT: usize = 20;

/// Widest id column before ids just run on.
const ID_WIDTH: usize = 28;

impl Plan {
    /// The plan as text, one line per step, then the diagnostics.
    pub fn render(&self) -> String {
        let kept = self
            .steps
            .iter()
            .filter(|s| s.mark == '=' && s.note.is_empty())
            .count();
        let list_kept = kept <= LIST_KEPT;
        let shown: Vec<_> = self
            .steps
            .iter()
            .filter(|s| list_kept || s.mark != '=' || !s.note.is_empty())
            .collect();
        let id_w = shown
            .iter()
            .map(|s| s.step.chars().count())
            .max()
            .unwrap_or(0)
            .min(ID_WIDTH);
        let st_w = shown.iter().map(|s| s.status.len()).max().unwrap_or(0);
        let mut out = String::new();
        let (run, n) = (&self.run, self.revision);
        let _ = match (self.applied, self.is_noop() && !self.refused()) {
            (true, _) => writeln!(out, "edit of run {run}: applied as revision {n}"),
            (false, true) => writeln!(out, "edit of run {run}: nothing changes"),
            (false, false) => writeln!(out, "edit of run {run}: makes revision {n}"),
        };
        for s in &shown {
            let mut line = format!("  {} {:id_w$}  {:st_w$}", s.mark, s.step, s.status);
            if !s.fields.is_empty() {
                let _ = write!(line, "  {}", s.fields.join(", "));
            }
            if !s.note.is_empty() {
                let _ = write!(line, "  ({})", s.note);
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        if !list_kept {
            let _ = writeln!(out, "  = {} steps kept as they are", thousands(kept));
        }
        if !self.top.is_empty() {
            let _ = writeln!(out, "  top-level keys changed: {}", self.top.join(", "));
        }
        for d in &self.diagnostics {
            let _ = writeln!(out, "{d}");
        }
        out
    }
}

/// `9985` as `9,985`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::PlanStep;
    use super::*;

    fn step(mark: char, id: &str, status: &str, fields: &[&str], note: &str) -> PlanStep {
        PlanStep {
            mark,
            step: id.into(),
            status: status.into(),
            fields: fields.iter().map(|f| f.to_string()).collect(),
            note: note.into(),
        }
    }

    #[test]
    fn a_plan_reads_as_lines_per_step() {
        let plan = Plan {
            run: "release-1".into(),
            revision: 2,
            steps: vec![
                step('=', "build", "succeeded", &[], ""),
                step('+', "lint", "new", &[], "ready at once"),
                step('-', "notes", "pending", &[], "removed"),
                step('~', "deploy", "pending", &["run", "needs"], "after lint"),
            ],
            top: vec!["concurrency".into()],
            diagnostics: vec!["w.yaml:9:5: warning: `x` will be skipped at once".into()],
            applied: false,
        };
        assert_eq!(
            plan.render(),
            "edit of run release-1: makes revision 2\n\
             \x20 = build   succeeded\n\
             \x20 + lint    new        (ready at once)\n\
             \x20 - notes   pending    (removed)\n\
             \x20 ~ deploy  pending    run, needs  (after lint)\n\
             \x20 top-level keys changed: concurrency\n\
             w.yaml:9:5: warning: `x` will be skipped at once\n"
        );
    }

    #[test]
    fn many_kept_steps_are_counted() {
        let mut steps: Vec<PlanStep> = (0..9985)
            .map(|i| step('=', &format!("s{i}"), "pending", &[], ""))
            .collect();
        steps.push(step('+', "extra", "new", &[], "after gate"));
        let plan = Plan {
            run: "big".into(),
            revision: 1,
            steps,
            applied: true,
            ..Plan::default()
        };
        let text = plan.render();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.contains("  = 9,985 steps kept as they are"), "{text}");
        assert!(
            text.starts_with("edit of run big: applied as revision 1\n"),
            "{text}"
        );
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
    }
}
