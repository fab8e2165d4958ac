//! `e` and the plan dialog (SPEC §5): `e` on a live run asks the app loop
//! to open the editor ([`Ui::edit`](crate::tui::model::ui::Ui)); the loop
//! asks the run for the plan of the edited file ([`asked`]) and hands its
//! answer back ([`answered`]). In the dialog `y` applies (the same ask,
//! not a dry run: the run checks it again), `e` edits the same text again,
//! Esc discards. A refused plan offers only `e` and Esc; a no-op says
//! nothing changed. Part of `update`: no awaiting.

use crate::engine::Command;
use crate::engine::edit::{EditAsk, Plan};
use crate::tui::keys::Action;
use crate::tui::link::EditAnswer;
use crate::tui::model::Model;
use crate::tui::model::ui::{EditFrom, Overlay, PlanDialog, PlanShown};
use crate::tui::view;

/// Said for `e` where nothing can be edited from this screen.
pub const ENDED: &str = "the run has ended: `signalbox edit RUN` edits it";
const REPLAY: &str = "a replay changes nothing: `signalbox edit RUN` edits a run";

/// `e` on the screen: the editor opens on the run's revision, unless the
/// run cannot be edited from here.
pub fn start(model: &mut Model) {
    let why = match () {
        _ if model.ui.replay.is_some() => Some(REPLAY),
        _ if model.ended() => Some(ENDED),
        _ if model.ui.quit => Some("the run is being cancelled"),
        _ => None,
    };
    match why {
        Some(why) => model.ui.notice = Some(why.into()),
        None => model.ui.edit = Some(EditFrom::Revision),
    }
}

/// The loop sent `ask` (a dry run after the editor, or `y`'s apply): the
/// dialog waits for the run's answer.
pub fn asked(model: &mut Model, ask: EditAsk) {
    model.ui.overlay = Some(Overlay::Plan(PlanDialog {
        ask,
        shown: PlanShown::Waiting,
        scroll: 0,
    }));
}

/// The run answered `ask`. An applied edit closes the dialog with a
/// notice; anything else shows in it, if it is still open for this ask.
pub fn answered(model: &mut Model, ask: EditAsk, answer: EditAnswer) {
    let open = matches!(&model.ui.overlay, Some(Overlay::Plan(d)) if d.ask == ask);
    let shown = match answer {
        Ok(plan) if plan.applied => {
            model.ui.notice = Some(applied(&plan));
            if open {
                model.ui.overlay = None;
            }
            return;
        }
        Ok(plan) if !ask.dry_run && plan.is_noop() => {
            model.ui.notice = Some("nothing changed: the edit was not applied".into());
            if open {
                model.ui.overlay = None;
            }
            return;
        }
        Ok(plan) => PlanShown::Plan(plan),
        Err((why, plan)) => PlanShown::Refused(why, plan),
    };
    if !open {
        // Discarded while the run was deciding: only an apply is news.
        if !ask.dry_run
            && let PlanShown::Refused(why, _) = &shown
        {
            model.ui.notice = Some(format!("the edit was refused: {why}"));
        }
        return;
    }
    model.ui.overlay = Some(Overlay::Plan(PlanDialog {
        ask,
        shown,
        scroll: 0,
    }));
}

/// `revision 2 applied: +lint -notes ~deploy`.
fn applied(plan: &Plan) -> String {
    let marks: Vec<String> = (plan.steps.iter())
        .filter(|s| s.mark != '=')
        .map(|s| format!("{}{}", s.mark, s.step))
        .collect();
    match marks.is_empty() {
        true => format!("revision {} applied", plan.revision),
        false => format!("revision {} applied: {}", plan.revision, marks.join(" ")),
    }
}

/// Whether `y` may apply what the dialog shows.
pub fn appliable(shown: &PlanShown) -> bool {
    matches!(shown, PlanShown::Plan(p) if !p.refused() && !p.is_noop())
}

/// Someone else's edit applied while the dialog shows a plan: that plan
/// was made against the revision before, so `y` no longer applies it; `e`
/// edits the same text again.
pub fn edited_meanwhile(model: &mut Model, event: &crate::engine::Event) {
    let crate::engine::Event::DagModified {
        action: crate::engine::event::DagAction::Edit,
        revision,
        ..
    } = event
    else {
        return;
    };
    if let Some(Overlay::Plan(d)) = &mut model.ui.overlay
        && let PlanShown::Plan(_) = d.shown
    {
        let n = revision.unwrap_or(0);
        let why = format!(
            "the run was edited meanwhile: revision {n} is in force,\n\
             and this plan was made against the one before.\n\
             e edits your text again; Esc discards it."
        );
        d.shown = PlanShown::Refused(why, None);
        d.scroll = 0;
    }
}

/// A key in the plan dialog.
pub fn key(model: &mut Model, action: Action) -> Option<Command> {
    let Some(Overlay::Plan(mut d)) = model.ui.overlay.take() else {
        return None;
    };
    let most = view::overlay::plan_lines(&d.shown).len().saturating_sub(1);
    let page = (view::layout(model).body.height as usize)
        .saturating_sub(6)
        .max(1);
    match action {
        Action::Yes if appliable(&d.shown) => {
            d.ask.dry_run = false;
            d.shown = PlanShown::Waiting;
            let ask = d.ask.clone();
            model.ui.overlay = Some(Overlay::Plan(d));
            return Some(Command::Edit(ask));
        }
        Action::Edit if d.shown != PlanShown::Waiting => {
            model.ui.edit = Some(EditFrom::Text(d.ask.source));
            return None;
        }
        Action::No => {
            model.ui.notice = Some("the edit was discarded: nothing changed".into());
            return None;
        }
        Action::Quit => return super::quit(model),
        Action::Up => d.scroll = d.scroll.saturating_sub(1),
        Action::Down => d.scroll = (d.scroll + 1).min(most),
        Action::PageUp => d.scroll = d.scroll.saturating_sub(page),
        Action::PageDown => d.scroll = (d.scroll + page).min(most),
        _ => {}
    }
    model.ui.overlay = Some(Overlay::Plan(d));
    None
}
