//! Names that would meet in one environment: every expansion in `run` and
//! every answer becomes a variable named after what it holds, and two
//! different things must not share a name.

use std::collections::HashMap;

use super::Cx;
use crate::workflow::template::{Ref, Template, answer_env_name};

impl Cx<'_> {
    /// Each expansion in `run` is an environment variable named after what
    /// it refers to; two different references must not share one name
    /// (`vars.a-b` and `vars.a_b`), or one would read the other's value.
    pub(super) fn check_env_names(&mut self, i: usize, text: &str, template: &Template) {
        let mut seen: HashMap<String, &Ref> = HashMap::new();
        for (r, offset) in template.refs() {
            let name = r.env_name();
            match seen.get(&name) {
                Some(&first) if first != r => {
                    let pos = self.locate(Some(i), "run", text, offset);
                    self.diags.push(
                        pos,
                        format!(
                            "`{}` and `{}` would share the environment variable {name}; rename one",
                            first.text(),
                            r.text()
                        ),
                    );
                }
                Some(_) => {}
                None => {
                    seen.insert(name, r);
                }
            }
        }
    }

    /// Answers reach every later step as `SIGNALBOX_ANSWER_<STEP>`: two
    /// questions whose ids map to one name would hide each other's answer.
    pub(super) fn check_answer_names(&mut self) {
        let mut seen: HashMap<String, &str> = HashMap::new();
        let ids = self.ids;
        for (i, id) in ids.iter().enumerate() {
            if !self.asks[i] {
                continue;
            }
            let name = answer_env_name(id);
            match seen.get(&name) {
                Some(first) => {
                    let pos = self.at.id(i);
                    self.diags.push(
                        pos,
                        format!(
                            "questions `{first}` and `{id}` would share the environment variable {name}; rename one"
                        ),
                    );
                }
                None => {
                    seen.insert(name, id);
                }
            }
        }
    }
}
