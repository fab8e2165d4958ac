//! What the text drawing has no room for, under it: each matrix step with
//! its instance count, keys and limit, and each step's description.

use std::fmt::Write;

use crate::workflow::Workflow;

/// Instances listed by name under a matrix step; the rest are counted.
const LISTED: usize = 8;

pub(super) fn notes(wf: &Workflow) -> String {
    let mut out = String::new();
    let mut drawn = 0;
    for (i, step) in wf.steps.iter().enumerate() {
        if i < drawn {
            continue;
        }
        let Some(inst) = &step.instance else {
            if let Some(d) = &step.description {
                let _ = writeln!(out, "{}: {}", step.id, super::formats::shorten(d, 100));
            }
            continue;
        };
        let group = &wf.groups[inst.group];
        drawn = group.members.last().map_or(i, |&m| m + 1);
        let _ = write!(
            out,
            "{}: matrix of {} over {}",
            group.id,
            group.members.len(),
            group.axes.join(", ")
        );
        if let Some(n) = group.max_parallel {
            let _ = write!(out, ", at most {n} at once");
        }
        if group.fail_fast {
            out.push_str(", fail fast");
        }
        if let Some(d) = &group.description {
            let _ = write!(out, ": {}", super::formats::shorten(d, 100));
        }
        out.push('\n');
        let names: Vec<&str> = group
            .members
            .iter()
            .take(LISTED)
            .map(|&m| wf.steps[m].id.as_str())
            .collect();
        let _ = write!(out, "  {}", names.join("  "));
        if group.members.len() > LISTED {
            let _ = write!(out, "  … and {} more", group.members.len() - LISTED);
        }
        out.push('\n');
    }
    if out.is_empty() {
        return out;
    }
    format!("\n{out}")
}
