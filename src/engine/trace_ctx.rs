//! A run's trace identity (SPEC §8): its trace id, the span it joined
//! (`TRACEPARENT` when it started) and the span ids of its run, steps,
//! attempts and waits. Span ids are derived, never drawn: the engine
//! names an attempt's span in its process's `TRACEPARENT` before the
//! span exists, and `signalbox trace` finds the same id from the journal
//! alone, however often the run was resumed. Pure functions; no HTTP and
//! no OpenTelemetry crate here.

use sha2::{Digest, Sha256};

/// 16 bytes, never all zero (W3C Trace Context).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId(pub [u8; 16]);

/// 8 bytes, never all zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId(pub [u8; 8]);

impl TraceId {
    /// A fresh random one, for a run that starts.
    pub fn random() -> TraceId {
        loop {
            let bytes: [u8; 16] = rand::random();
            if bytes != [0; 16] {
                return TraceId(bytes);
            }
        }
    }

    /// The one of a run folder that kept none (made before traces were):
    /// the same every time for the same run id.
    pub fn derived(run_id: &str) -> TraceId {
        let digest = Sha256::digest(format!("signalbox trace {run_id}").as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        if bytes == [0; 16] {
            bytes[15] = 1;
        }
        TraceId(bytes)
    }

    /// Parses 32 lowercase hex digits, not all zero.
    pub fn parse(text: &str) -> Option<TraceId> {
        let bytes: [u8; 16] = parse_hex(text)?;
        (bytes != [0; 16]).then_some(TraceId(bytes))
    }

    pub fn hex(&self) -> String {
        hex(&self.0)
    }
}

impl SpanId {
    /// Parses 16 lowercase hex digits, not all zero.
    pub fn parse(text: &str) -> Option<SpanId> {
        let bytes: [u8; 8] = parse_hex(text)?;
        (bytes != [0; 8]).then_some(SpanId(bytes))
    }

    pub fn hex(&self) -> String {
        hex(&self.0)
    }
}

/// A W3C `traceparent` value: `00-<trace id>-<parent span id>-<flags>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace: TraceId,
    pub span: SpanId,
    pub flags: u8,
}

impl TraceParent {
    /// Parses version `00` exactly as W3C Trace Context writes it
    /// (lowercase hex, ids not all zero). A higher version is read as W3C
    /// says: its first 55 characters as version 00's, followed by the end
    /// or a `-`; version `ff`, and anything else, is none.
    pub fn parse(text: &str) -> Option<TraceParent> {
        let version = text.get(..2)?;
        let [v]: [u8; 1] = parse_hex(version)?;
        let text = match v {
            0 => text,
            0xff => return None,
            // A later version: its fields as version 00 has them.
            _ => match (text.get(..55), text.get(55..)) {
                (Some(head), Some(rest)) if rest.is_empty() || rest.starts_with('-') => head,
                _ => return None,
            },
        };
        let mut parts = text.split('-');
        let (_, trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let [flags]: [u8; 1] = parse_hex(flags)?;
        Some(TraceParent {
            trace: TraceId::parse(trace)?,
            span: SpanId::parse(span)?,
            flags,
        })
    }

    /// The value for `span` of `trace`, sampled: what an attempt's process
    /// gets as `TRACEPARENT`.
    pub fn header(trace: TraceId, span: SpanId) -> String {
        format!("00-{}-{}-01", trace.hex(), span.hex())
    }
}

/// The run's span: one for the whole run, across resumes.
pub fn run_span(trace: TraceId, run: &str) -> SpanId {
    span(trace, run, "run", &[])
}

/// A step's span for one life of the step: from the event that began it
/// (`seq`) to the step's end. A step run again (retry, rerun) begins a new
/// life, so gets a new span.
pub fn step_span(trace: TraceId, run: &str, step: &str, seq: u64) -> SpanId {
    span(trace, run, "step", &[step.as_bytes(), &seq.to_be_bytes()])
}

/// An attempt's span, named by the seq of its `step_started`: attempt
/// numbers repeat after a crash and resume, seqs never do.
pub fn attempt_span(trace: TraceId, run: &str, started_seq: u64) -> SpanId {
    span(trace, run, "attempt", &[&started_seq.to_be_bytes()])
}

/// A wait's span, named by its wait id (`w7`), which a wait re-opened by
/// a resume keeps.
pub fn wait_span(trace: TraceId, run: &str, wait: &str) -> SpanId {
    span(trace, run, "wait", &[wait.as_bytes()])
}

/// The span of a wait opened again after its span ended (a cancelled run
/// resumed re-opens it under its id): named by the seq that re-opened it.
pub fn wait_span_again(trace: TraceId, run: &str, wait: &str, seq: u64) -> SpanId {
    span(trace, run, "wait", &[wait.as_bytes(), &seq.to_be_bytes()])
}

/// FNV-1a 64, mixed, of the trace id, the run id, the kind and the parts,
/// each ended by a byte no UTF-8 text holds (so `("ab","c")` and
/// `("a","bc")` differ). The run id counts because runs may share a trace
/// id (each started under the same `TRACEPARENT`, say): their spans stay
/// apart.
fn span(trace: TraceId, run: &str, kind: &str, parts: &[&[u8]]) -> SpanId {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes.iter().chain(std::iter::once(&0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    };
    eat(&trace.0);
    eat(run.as_bytes());
    eat(kind.as_bytes());
    for part in parts {
        eat(part);
    }
    // FNV's last bytes barely move the high bits: mixed (murmur3's
    // finalizer), ids of neighbouring seqs look as unrelated as they are.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    SpanId(if h == 0 { 1 } else { h }.to_be_bytes())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_is_taken_only_as_w3c_writes_it() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let p = TraceParent::parse(good).unwrap();
        assert_eq!(p.trace.hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(p.span.hex(), "00f067aa0ba902b7");
        assert_eq!(p.flags, 1);
        assert_eq!(TraceParent::header(p.trace, p.span), good);
        // A later version is read by its version-00 fields.
        for later in [
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds",
        ] {
            let q = TraceParent::parse(later).unwrap();
            assert_eq!((q.trace, q.span, q.flags), (p.trace, p.span, 1), "{later}");
        }
        for bad in [
            "",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bg-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0é",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
    }

    const R: &str = "wf-20260101-000000-0001";

    #[test]
    fn span_ids_are_stable_and_tell_their_parts_apart() {
        let t = TraceId::derived("wf-20260101-000000-0001");
        assert_eq!(t, TraceId::derived("wf-20260101-000000-0001"));
        assert_ne!(t, TraceId::derived("wf-20260101-000000-0002"));
        assert_eq!(attempt_span(t, R, 7), attempt_span(t, R, 7));
        let ids = [
            run_span(t, R),
            step_span(t, R, "a", 3),
            step_span(t, R, "a", 4),
            step_span(t, R, "b", 3),
            attempt_span(t, R, 3),
            attempt_span(t, R, 4),
            wait_span(t, R, "w1"),
            wait_span(t, R, "w2"),
            wait_span_again(t, R, "w1", 3),
            run_span(TraceId::random(), R),
            // Another run under the same trace id (one TRACEPARENT).
            run_span(t, "wf-20260101-000000-0002"),
            step_span(t, "wf-20260101-000000-0002", "a", 3),
            attempt_span(t, "wf-20260101-000000-0002", 3),
            wait_span(t, "wf-20260101-000000-0002", "w1"),
        ];
        for (n, a) in ids.iter().enumerate() {
            assert_ne!(a.0, [0; 8]);
            assert_eq!(a.hex().len(), 16);
            for b in &ids[n + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(TraceId::random().hex().len(), 32);
        assert_eq!(SpanId::parse(&ids[1].hex()), Some(ids[1]));
    }
}
