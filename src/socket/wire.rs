//! The socket's lines: read with a bounded buffer (a line with no end never
//! takes more than [`MAX_LINE`]), and parsed into one of the commands the
//! socket takes.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::engine::Command;

/// The longest message a client may send (SPEC §6), without its newline.
pub const MAX_LINE: usize = 1024 * 1024;

/// The commands the socket takes, by their `command` name.
const TAKES: &str = "approve, reject, answer, retry, skip, cancel, breaker, edit";

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A whole line, now in the buffer without its newline.
    Whole,
    /// The last bytes before the peer closed, with no newline after them:
    /// a command for a server (a client may end its last line so), a torn
    /// line for a client of a stream (every line the server sends ends).
    Last,
    /// The client closed with nothing more.
    End,
    /// More than [`MAX_LINE`] bytes and no newline: the rest is not read.
    TooLong,
}

/// Reads one line into `line` (cleared by the caller), never holding more
/// than [`MAX_LINE`] bytes of it.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    read: &mut R,
    line: &mut Vec<u8>,
) -> std::io::Result<Line> {
    read_line_max(read, line, MAX_LINE).await
}

/// [`read_line`], with a limit of `max` bytes.
pub async fn read_line_max<R: AsyncBufRead + Unpin>(
    read: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Line> {
    loop {
        let available = read.fill_buf().await?;
        if available.is_empty() {
            return Ok(if line.is_empty() {
                Line::End
            } else {
                Line::Last
            });
        }
        let (take, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (available.len(), false),
        };
        if line.len() + take > max {
            return Ok(Line::TooLong);
        }
        line.extend_from_slice(&available[..take]);
        read.consume(if done { take + 1 } else { take });
        if done {
            return Ok(Line::Whole);
        }
    }
}

/// The command a line holds, or why it is none. `by` may be left out (a
/// command from the socket is `by: socket` whatever it says).
pub fn parse(line: &[u8]) -> Result<Command, String> {
    let mut value: serde_json::Value = serde_json::from_slice(line)
        .map_err(|e| format!("not a command: not a JSON object ({e})"))?;
    let Some(object) = value.as_object_mut() else {
        return Err("not a command: not a JSON object".to_string());
    };
    let name = match object.get("command") {
        Some(serde_json::Value::String(name)) => name.clone(),
        _ => return Err(format!("not a command: no `command` (one of {TAKES})")),
    };
    if !TAKES.split(", ").any(|t| t == name) {
        let shown: String = name.chars().take(40).flat_map(char::escape_debug).collect();
        return Err(format!(
            "unknown command `{shown}`: the socket takes {TAKES}"
        ));
    }
    object
        .entry("by")
        .or_insert(serde_json::Value::String("socket".into()));
    serde_json::from_value(value).map_err(|e| format!("not a command: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8]) -> Vec<(Line, Vec<u8>)> {
        let mut read = tokio::io::BufReader::new(input);
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            let got = read_line(&mut read, &mut line).await.unwrap();
            let stop = got != Line::Whole;

            out.push((got, line));
            if stop {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn lines_are_bounded() {
        let got = lines(b"a\nbc\nd").await;
        let words: Vec<&[u8]> = got.iter().map(|(_, l)| l.as_slice()).collect();
        assert_eq!(words, [&b"a"[..], b"bc", b"d"]);
        assert_eq!(got[2].0, Line::Last, "no newline before the close");
        let long = vec![b'x'; MAX_LINE + 1];
        assert_eq!(lines(&long).await[0].0, Line::TooLong);
        let mut exact = vec![b'x'; MAX_LINE];
        exact.push(b'\n');
        assert_eq!(lines(&exact).await[0].0, Line::Whole);
    }

    #[test]
    fn only_the_socket_commands_are_taken() {
        let ok = parse(br#"{"command":"approve","step":"gate"}"#).unwrap();
        assert!(matches!(ok, Command::Approve { step, .. } if step == "gate"));
        assert!(parse(br#"{"command":"cancel","step":null,"by":"keyboard"}"#).is_ok());
        let reset = parse(br#"{"command":"breaker","breaker":"registry","action":"reset"}"#);
        assert_eq!(
            reset,
            Ok(Command::Breaker {
                breaker: "registry".into(),
                action: crate::engine::event::BreakerAction::Reset,
                by: crate::engine::By::Socket,
            })
        );
        let close = parse(br#"{"command":"breaker","breaker":"registry","action":"close"}"#);
        assert!(close.unwrap_err().contains("unknown variant `close`"));
        let edit =
            parse(br#"{"command":"edit","source":"name: w\n","file":"w.yaml","dry_run":true}"#);
        assert!(
            matches!(&edit, Ok(Command::Edit(ask)) if ask.dry_run && ask.rerun.is_empty() && ask.by == crate::engine::By::Socket),
            "{edit:?}"
        );
        let unknown = parse(br#"{"command":"shutdown","step":"x"}"#).unwrap_err();
        assert!(
            unknown.starts_with("unknown command `shutdown`"),
            "{unknown}"
        );
        assert!(parse(b"[1]").unwrap_err().contains("not a JSON object"));
        assert!(parse(b"approve gate").is_err());
        assert!(
            parse(br#"{"command":"approve"}"#)
                .unwrap_err()
                .contains("step")
        );
    }
}
