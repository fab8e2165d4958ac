//! Durations as workflow files write them: `250ms`, `5s`, `10m`, `2h`, or a
//! bare number of seconds.

use std::time::Duration;

/// Parses `250ms`, `5s`, `10m`, `2h`, `1.5s` or `30` (seconds).
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let bad = || {
        format!(
            "invalid duration `{text}`: use a number of seconds or a number with ms, s, m, h or d, such as `250ms`, `5s`, `10m`, `2h`"
        )
    };
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let scale = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return Err(bad()),
    };
    seconds(value * scale).ok_or_else(bad)
}

/// A duration from seconds, refusing what cannot be one.
pub fn seconds(value: f64) -> Option<Duration> {
    if value.is_finite() && (0.0..1e12).contains(&value) {
        Some(Duration::from_secs_f64(value))
    } else {
        None
    }
}

/// The shortest of `2h`, `10m`, `5s`, `250ms` that says it exactly.
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        "0s".to_string()
    } else if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// A duration for people: `850ms`, `4.2s`, then as [`whole`].
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if d.as_secs() < 10 {
        // Cut, not rounded, like every coarser unit: 9.96s is `9.9s`.
        format!("{}.{}s", d.as_secs(), d.subsec_millis() / 100)
    } else {
        whole(d)
    }
}

/// A duration in whole seconds and at most two units, the smaller one cut
/// down: `12s`, `4m10s`, `2h05m`, `6d23h`. Every long duration people read
/// (a wait's time left, how long it waited, a run's clock) goes through it,
/// so a week reads `7d00h`, never `168:00:00`.
pub fn whole(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_form() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn refuses_nonsense() {
        for bad in ["", "s", "5x", "-1s", "five", "1..2s", ".5s", "5 s s"] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn human_durations_read_well() {
        let h = |ms| human(Duration::from_millis(ms));
        assert_eq!(h(850), "850ms");
        assert_eq!(h(4_230), "4.2s");
        // 6.15s and 9.96s: cut like the coarser units, never rounded up.
        assert_eq!(h(6_150), "6.1s");
        assert_eq!(h(9_960), "9.9s");
        assert_eq!(h(59_000), "59s");
        assert_eq!(h(725_000), "12m05s");
        assert_eq!(h(3_598_785), "59m58s");
        assert_eq!(h(3_720_000), "1h02m");
        assert_eq!(h(7 * 86_400_000), "7d00h");
    }

    #[test]
    fn whole_durations_take_two_units_at_most() {
        let w = |s| whole(Duration::from_secs(s));
        assert_eq!(w(0), "0s");
        assert_eq!(w(12), "12s");
        assert_eq!(w(59), "59s");
        assert_eq!(w(60), "1m00s");
        assert_eq!(w(250), "4m10s");
        assert_eq!(w(3599), "59m59s");
        assert_eq!(w(3600), "1h00m");
        assert_eq!(w(2 * 3600 + 5 * 60 + 59), "2h05m");
        assert_eq!(w(86_399), "23h59m");
        assert_eq!(w(86_400), "1d00h");
        assert_eq!(w(7 * 86_400 - 1), "6d23h");
        assert_eq!(w(7 * 86_400), "7d00h");
        assert_eq!(w(400 * 86_400), "400d00h");
        assert_eq!(whole(Duration::from_millis(12_999)), "12s", "cut down");
    }

    #[test]
    fn formats_round_trip() {
        for text in ["2h", "10m", "5s", "250ms"] {
            assert_eq!(format(parse(text).unwrap_or_default()), text);
        }
    }
}
