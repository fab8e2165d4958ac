//! The prompt's texts, its replies and the order it asks in.

use super::{Gate, Kind, Wait, queue_position};
use crate::engine::{By, Command};

fn question(choices: &[&str], has_default: bool) -> Wait {
    Wait {
        step: "q".to_string(),
        kind: Kind::Question {
            choices: choices.iter().map(|c| c.to_string()).collect(),
            default: has_default.then(|| "the default".to_string()),
        },
    }
}

#[test]
fn the_hint_that_empty_takes_the_default_shows_only_with_a_default() {
    let approval = Wait {
        step: "gate".to_string(),
        kind: Kind::Approval(gate(1, &[])),
    };
    let cases = [
        (approval, "approve gate? [y/n] "),
        (question(&[], false), "answer for q: "),
        (
            question(&[], true),
            "answer for q (empty takes the default): ",
        ),
        (question(&["a", "b"], false), "answer for q (a | b): "),
        (
            question(&["a", "b"], true),
            "answer for q (a | b; empty takes the default): ",
        ),
    ];
    for (wait, prompt) in cases {
        assert_eq!(wait.prompt(), prompt);
    }
}

#[test]
fn an_empty_answer_is_sent_only_when_there_is_a_default_to_take() {
    let needed = Err("q has no default: an answer is needed".to_string());
    let answer = |text: &str| {
        Ok(Command::Answer {
            step: "q".to_string(),
            text: text.to_string(),
            by: By::Prompt,
        })
    };
    let not_a_choice = Err("\"c\" is not one of the choices".to_string());
    let cases = [
        (question(&[], true), "", answer("the default")),
        (question(&[], false), "", needed.clone()),
        (question(&["a", "b"], true), "", answer("the default")),
        (question(&["a", "b"], false), "", needed),
        (question(&[], false), "free text", answer("free text")),
        (question(&["a", "b"], false), "b", answer("b")),
        (question(&["a", "b"], false), " B ", answer(" B ")),
        (question(&["a", "b"], true), "c", not_a_choice),
    ];
    for (wait, line, reply) in cases {
        assert_eq!(wait.reply(line.to_string()), reply, "{line:?}");
    }
    let gate = Wait {
        step: "gate".to_string(),
        kind: Kind::Approval(gate(1, &[])),
    };
    for line in ["", "maybe"] {
        assert_eq!(
            gate.reply(line.to_string()),
            Err("y approves, n rejects".to_string())
        );
    }
}

#[test]
fn waits_are_asked_highest_priority_first_then_in_the_order_they_opened() {
    let priorities = [("urgent", 10), ("low", -1), ("later", 10)]
        .map(|(s, p)| (s.to_string(), p))
        .into();
    let mut queue: Vec<&str> = Vec::new();
    for step in ["plain", "low", "urgent", "other", "later"] {
        let at = queue_position(&queue, &priorities, step);
        queue.insert(at, step);
    }
    assert_eq!(queue, ["urgent", "later", "plain", "other", "low"]);
}

fn gate(needed: u32, approved: &[&str]) -> Gate {
    Gate {
        needed,
        approved: approved.iter().map(|u| u.to_string()).collect(),
    }
}

#[test]
fn a_gate_of_several_approvers_says_how_far_it_is() {
    let wait = |g| Wait {
        step: "gate".to_string(),
        kind: Kind::Approval(g),
    };
    let cases = [
        (gate(1, &[]), "approve gate? [y/n] "),
        (gate(2, &[]), "approve gate? needs 2 approvals [y/n] "),
        (
            gate(2, &["alice"]),
            "approve gate? 1 of 2 approvals (alice) [y/n] ",
        ),
        (
            gate(3, &["alice", "bob"]),
            "approve gate? 2 of 3 approvals (alice, bob) [y/n] ",
        ),
    ];
    for (g, prompt) in cases {
        assert_eq!(wait(g).prompt(), prompt);
    }
}
