//! DOT and Mermaid: every step a node, every need an edge, each matrix
//! step a box (DOT's `subgraph cluster_<step>`, Mermaid's `subgraph`)
//! around its instances.

use std::fmt::Write;

use crate::workflow::{Action, Step, Workflow};

fn dot_quote(text: &str) -> String {
    format!(
        "\"{}\"",
        text.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}

fn details(step: &Step) -> Vec<String> {
    let mut lines = Vec::new();
    match &step.action {
        Action::Run(r) => lines.push(format!("run: {}", shorten(&r.text, 40))),
        Action::Approval(_) => lines.push("approval".to_string()),
        Action::Ask(a) if !a.choices.is_empty() => {
            lines.push(format!("ask: {}", a.choices.join(" | ")))
        }
        Action::Ask(_) => lines.push("ask".to_string()),
    }
    if step.retry.attempts > 1 {
        lines.push(format!("retry ×{}", step.retry.attempts));
    }
    if let Some(b) = &step.breaker {
        lines.push(format!("breaker: {b}"));
    }
    if let Some(w) = &step.when {
        lines.push(format!("when: {}", shorten(&w.text, 40)));
    }
    // An instance's description is its group's, on the group's box.
    if let (Some(d), None) = (&step.description, &step.instance) {
        lines.push(shorten(d, 40));
    }
    lines
}

pub(super) fn shorten(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// A matrix step's title: `build ×4: Compile every target`.
pub(super) fn group_title(wf: &Workflow, g: usize) -> String {
    let group = &wf.groups[g];
    let mut title = format!("{} ×{}", group.id, group.members.len());
    if let Some(d) = &group.description {
        let _ = write!(title, ": {}", shorten(d, 40));
    }
    title
}

/// Whether `id` can be written unquoted in DOT and as a Mermaid id.
fn plain(id: &str) -> bool {
    id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Graphviz DOT: `signalbox graph FILE --format dot | dot -Tsvg`.
pub fn dot(wf: &Workflow) -> String {
    let mut out = format!(
        "digraph {} {{\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n",
        dot_quote(&wf.name)
    );
    let node = |step: &Step, indent: &str, out: &mut String| {
        let shape = match step.action {
            Action::Run(_) => "box",
            Action::Approval(_) => "diamond",
            Action::Ask(_) => "parallelogram",
        };
        let label = std::iter::once(step.id.clone())
            .chain(details(step))
            .collect::<Vec<_>>()
            .join("\n");
        let _ = writeln!(
            out,
            "{indent}{} [shape={shape}, label={}];",
            dot_quote(&step.id),
            dot_quote(&label)
        );
    };
    let mut drawn = 0;
    for (i, step) in wf.steps.iter().enumerate() {
        if i < drawn {
            continue;
        }
        let Some(inst) = &step.instance else {
            node(step, "  ", &mut out);
            continue;
        };
        let group = &wf.groups[inst.group];
        let name = format!("cluster_{}", group.id);
        let name = if plain(&group.id) {
            name
        } else {
            dot_quote(&name)
        };
        let _ = writeln!(
            out,
            "  subgraph {name} {{\n    label={};\n    style=rounded;",
            dot_quote(&group_title(wf, inst.group))
        );
        for &m in &group.members {
            node(&wf.steps[m], "    ", &mut out);
        }
        out.push_str("  }\n");
        drawn = group.members.last().map_or(i, |&m| m + 1);
    }
    for step in &wf.steps {
        for &n in &step.needs {
            let _ = writeln!(
                out,
                "  {} -> {};",
                dot_quote(&wf.steps[n].id),
                dot_quote(&step.id)
            );
        }
    }
    out.push_str("}\n");
    out
}

fn mermaid_text(text: &str) -> String {
    text.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// Mermaid, as GitHub renders it in a ```mermaid block.
pub fn mermaid(wf: &Workflow) -> String {
    let mut out = String::from("flowchart LR\n");
    let node = |i: usize, step: &Step, indent: &str, out: &mut String| {
        let label = std::iter::once(step.id.clone())
            .chain(details(step))
            .map(|l| mermaid_text(&l))
            .collect::<Vec<_>>()
            .join("<br/>");
        let node = match step.action {
            Action::Run(_) => format!("s{i}[\"{label}\"]"),
            Action::Approval(_) => format!("s{i}{{\"{label}\"}}"),
            Action::Ask(_) => format!("s{i}[/\"{label}\"/]"),
        };
        let _ = writeln!(out, "{indent}{node}");
    };
    let mut drawn = 0;
    for (i, step) in wf.steps.iter().enumerate() {
        if i < drawn {
            continue;
        }
        let Some(inst) = &step.instance else {
            node(i, step, "  ", &mut out);
            continue;
        };
        let group = &wf.groups[inst.group];
        // Node ids are `s<N>`: a group named like one, or like one of
        // Mermaid's words (`end` would close the subgraph), gets an id of
        // its own.
        let clashes = group
            .id
            .strip_prefix('s')
            .is_some_and(|n| n.parse::<usize>().is_ok())
            || MERMAID_WORDS.contains(&group.id.to_ascii_lowercase().as_str());
        let id = if plain(&group.id) && !clashes {
            group.id.clone()
        } else {
            format!("group{}", inst.group)
        };
        let title = mermaid_text(&group_title(wf, inst.group));
        let _ = writeln!(out, "  subgraph {id} [\"{title}\"]");
        for &m in &group.members {
            node(m, &wf.steps[m], "    ", &mut out);
        }
        out.push_str("  end\n");
        drawn = group.members.last().map_or(i, |&m| m + 1);
    }
    for (i, step) in wf.steps.iter().enumerate() {
        for &n in &step.needs {
            let _ = writeln!(out, "  s{n} --> s{i}");
        }
    }
    out
}

/// Words Mermaid's flowchart grammar reads as its own, never as an id.
const MERMAID_WORDS: &[&str] = &[
    "end",
    "graph",
    "flowchart",
    "subgraph",
    "style",
    "class",
    "classdef",
    "click",
    "linkstyle",
    "direction",
    "call",
    "href",
    "default",
];
