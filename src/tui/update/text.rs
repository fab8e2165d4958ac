//! The two text boxes: the answer to a question (with its choices and
//! default) and the log filter, whose `Enter` also selects the step it
//! names. Part of `update`: no awaiting, no terminal.

use super::quit;
use crate::engine::event::{check_answer, match_choice};
use crate::engine::{By, Command};
use crate::tui::keys::Action;
use crate::tui::model::Model;
use crate::tui::model::ui::{AnswerBox, Overlay};
use crate::tui::model::waits::{OpenWait, WaitKind};

/// Opens the answer box on the selected wait, if it is a question.
pub fn open_answer(model: &mut Model) {
    let Some(w) = model.selected_wait() else {
        return;
    };
    if w.kind != WaitKind::Question {
        return;
    }
    let choice = (!w.choices.is_empty()).then(|| {
        w.default
            .as_ref()
            .and_then(|d| w.choices.iter().position(|c| c == d))
            .unwrap_or(0)
    });
    // SPEC §5: the default filled in (with choices, also highlighted in
    // the list); Enter takes it as it is, the first key typed replaces it.
    let text = w.default.clone().unwrap_or_default();
    model.ui.overlay = Some(Overlay::Answer(AnswerBox {
        wait: w.wait.clone(),
        fresh: !text.is_empty(),
        text,
        choice,
        error: None,
    }));
}

pub fn answer_key(model: &mut Model, action: Action) -> Option<Command> {
    let Some(Overlay::Answer(mut b)) = model.ui.overlay.take() else {
        return None;
    };
    let w = model.waits.get(&b.wait).cloned()?;
    match action {
        Action::Insert(c) => {
            if std::mem::take(&mut b.fresh) {
                b.text.clear();
            }
            b.text.push(c);
            b.error = None;
        }
        Action::Backspace => {
            if std::mem::take(&mut b.fresh) {
                b.text.clear();
            }
            b.text.pop();
            b.error = None;
        }
        Action::Up | Action::Down if !w.choices.is_empty() => {
            let n = w.choices.len();
            let at = b.choice.unwrap_or(0);
            let at = if action == Action::Up {
                (at + n - 1) % n
            } else {
                (at + 1) % n
            };
            b.choice = Some(at);
            b.text = w.choices[at].clone();
            b.fresh = false;
            b.error = None;
        }
        Action::Enter => match answer(&w, &b) {
            Ok(text) => {
                if model.selected_wait().is_some_and(|s| s.wait == w.wait) {
                    super::waits::decided(model);
                }
                return Some(Command::Answer {
                    step: w.step_id,
                    text,
                    by: By::Keyboard,
                });
            }
            Err(why) => b.error = Some(why),
        },
        Action::Close => return None,
        Action::Quit => return quit(model),
        _ => {}
    }
    model.ui.overlay = Some(Overlay::Answer(b));
    None
}

/// What `Enter` sends: with nothing typed, the default or the highlighted
/// choice; else the text typed, which for a question with choices must
/// match one as SPEC §2 says (the engine's own [`match_choice`], so the box
/// takes what the prompt and the socket take) and is sent as the choice is
/// spelled. Refused here, with the reason, is what the run would refuse.
fn answer(w: &OpenWait, b: &AnswerBox) -> Result<String, String> {
    let typed = b.text.trim();
    if typed.is_empty() {
        return w
            .default
            .clone()
            .or_else(|| b.choice.and_then(|i| w.choices.get(i).cloned()))
            .ok_or_else(|| "type an answer: this question has no default".to_string());
    }
    let text = if w.choices.is_empty() {
        typed.to_string()
    } else {
        match match_choice(&w.choices, &b.text) {
            Some(c) => c.to_string(),
            None => {
                return Err(format!(
                    "\"{}\" is not one of the choices: {}",
                    typed,
                    w.choices.join(", ")
                ));
            }
        }
    };
    check_answer(&w.step_id, &text).map_err(|refusal| refusal.to_string())?;
    Ok(text)
}

pub fn filter_key(model: &mut Model, action: Action) -> Option<Command> {
    let mut filter = model.log.filter.clone();
    match action {
        Action::Insert(c) => filter.push(c),
        Action::Backspace => {
            filter.pop();
        }
        Action::Enter => {
            model.ui.overlay = None;
            // A filter that names a matrix step selects its group (closed
            // or open as it is); one that names a step jumps to it.
            if let Some(g) =
                (model.groups.iter()).position(|g| g.id.eq_ignore_ascii_case(filter.trim()))
            {
                super::find::select_group(model, g);
                model.ui.notice = Some(format!(
                    "{} selected · Enter opens or closes it · Esc clears the filter",
                    model.groups[g].id
                ));
            } else if let Some(i) = super::find::step_named(model, &filter) {
                super::find::select_step(model, i);
                model.ui.notice = Some(format!(
                    "{} selected · Enter: its output · Esc clears the filter",
                    model.steps[i].id
                ));
            }
            return None;
        }
        Action::Close => {
            model.ui.overlay = None;
            filter.clear();
        }
        Action::Quit => {
            model.ui.overlay = None;
            return quit(model);
        }
        _ => return None,
    }
    if filter != model.log.filter {
        model.log.set_filter(filter);
    }
    None
}

/// Pasted text goes into the open text box, on one line.
pub fn paste(model: &mut Model, text: &str) {
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    match &mut model.ui.overlay {
        Some(Overlay::Answer(b)) => {
            b.text.push_str(&clean);
            b.error = None;
        }
        Some(Overlay::Filter) => {
            let filter = format!("{}{clean}", model.log.filter);
            model.log.set_filter(filter);
        }
        _ => {}
    }
}
