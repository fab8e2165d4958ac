//! A plan as text: what `signalbox edit` prints and the screen's dialog
//! shows. One line per step that the edit adds, removes or changes, with
//! its status, the keys that changed and what happens next; the steps kept
//! as they were listed only when few (else counted); then the top-level
//! keys that changed and the diagnostics. The text is the file's and the
//! run's words: the caller prints it through `crate::safe`.

use super::Plan;

/// Kept steps shown one by one up to this many; past it, one count line.
const KEPT_SHOWN: usize = 20;

impl Plan {
    /// The plan as the CLI prints it and the screen's dialog shows it:
    /// `revision N of RUN`, one aligned line per step (`=` lines folded to
    /// a count past 20), the changed top-level keys, then the diagnostics.
    /// Control characters, newlines included, are escaped so every line
    /// stays one; the caller still prints it through `crate::safe`.
    pub fn render(&self) -> String {
        let kept = self.steps.iter().filter(|s| s.mark == '=').count();
        let fold = kept > KEPT_SHOWN;
        let rows: Vec<[String; 4]> = self
            .steps
            .iter()
            .filter(|s| !(fold && s.mark == '=' && s.note.is_empty()))
            .map(|s| {
                let mut detail = s.fields.join(", ");
                if !s.note.is_empty() {
                    if !detail.is_empty() {
                        detail.push(' ');
                    }
                    detail.push_str(&format!("({})", s.note));
                }
                [
                    s.mark.to_string(),
                    one_line(&s.step),
                    one_line(&s.status),
                    one_line(&detail),
                ]
            })
            .collect();
        let width = |n: usize| rows.iter().map(|r| r[n].chars().count()).max().unwrap_or(0);
        let (id_w, status_w) = (width(1), width(2));
        let mut out = format!("revision {} of {}\n", self.revision, one_line(&self.run));
        for [mark, id, status, detail] in &rows {
            let line = format!("  {mark} {id:id_w$}  {status:status_w$}  {detail}");
            out.push_str(line.trim_end());
            out.push('\n');
        }
        if fold {
            let shown = rows.iter().filter(|r| r[0] == "=").count();
            out.push_str(&format!("  = {} steps kept\n", thousands(kept - shown)));
        }
        if !self.top.is_empty() {
            out.push_str(&format!(
                "  top-level keys changed: {}\n",
                one_line(&self.top.join(", "))
            ));
        }
        for d in &self.diagnostics {
            out.push_str(&one_line(d));
            out.push('\n');
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

/// Text from the file on one line: control characters (newlines too) and
/// bidirectional controls written as escapes.
pub(crate) fn one_line(text: &str) -> String {
    let risky =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.contains(risky) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if risky(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
