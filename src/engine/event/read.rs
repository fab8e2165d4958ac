//! Reading an [`Envelope`] back: its own fields (`seq`, `ts`, `run`) are
//! taken out of the object as they come, in any order, and every other key
//! goes straight on to [`Event`]'s internally tagged reading. With
//! `#[serde(flatten)]` the whole object was first copied into serde's
//! buffer and the event then read from that copy (which it copies again):
//! a third of what a screen spends on an event.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::{Envelope, Event};

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Envelope, D::Error> {
        d.deserialize_map(EnvelopeVisitor)
    }
}

/// The envelope's fields, as they are met.
#[derive(Default)]
struct Head {
    seq: Option<u64>,
    ts: Option<String>,
    run: Option<String>,
}

struct EnvelopeVisitor;

impl<'de> Visitor<'de> for EnvelopeVisitor {
    type Value = Envelope;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object (seq, ts, run, type and the event's fields)")
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Envelope, M::Error> {
        let mut head = Head::default();
        let event = Event::deserialize(MapAccessDeserializer::new(Rest {
            map,
            head: &mut head,
        }))?;
        Ok(Envelope {
            seq: head.seq.ok_or_else(|| de::Error::missing_field("seq"))?,
            ts: head.ts.ok_or_else(|| de::Error::missing_field("ts"))?,
            run: head.run.ok_or_else(|| de::Error::missing_field("run"))?,
            event,
        })
    }
}

/// The object's keys as the event sees them: the envelope's own are read
/// into `head` and passed over.
struct Rest<'h, M> {
    map: M,
    head: &'h mut Head,
}

impl<'de, M: MapAccess<'de>> MapAccess<'de> for Rest<'_, M> {
    type Error = M::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, M::Error> {
        loop {
            let Some(key) = self.map.next_key::<Key<'de>>()? else {
                return Ok(None);
            };
            match key {
                Key::Seq => self.head.seq = Some(self.map.next_value()?),
                Key::Ts => self.head.ts = Some(self.map.next_value()?),
                Key::Run => self.head.run = Some(self.map.next_value()?),
                Key::Other(Cow::Borrowed(k)) => {
                    return seed.deserialize(BorrowedStrDeserializer::new(k)).map(Some);
                }
                Key::Other(Cow::Owned(k)) => {
                    return seed.deserialize(StringDeserializer::new(k)).map(Some);
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, M::Error> {
        self.map.next_value_seed(seed)
    }
}

/// A key of the object: one of the envelope's, or the event's (borrowed
/// from the input where it can be).
enum Key<'de> {
    Seq,
    Ts,
    Run,
    Other(Cow<'de, str>),
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl KeyVisitor {
    fn known(k: &str) -> Option<Key<'static>> {
        match k {
            "seq" => Some(Key::Seq),
            "ts" => Some(Key::Ts),
            "run" => Some(Key::Run),
            _ => None,
        }
    }
}

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E: de::Error>(self, k: &'de str) -> Result<Key<'de>, E> {
        Ok(KeyVisitor::known(k).unwrap_or(Key::Other(Cow::Borrowed(k))))
    }

    fn visit_str<E: de::Error>(self, k: &str) -> Result<Key<'de>, E> {
        Ok(KeyVisitor::known(k).unwrap_or_else(|| Key::Other(Cow::Owned(k.to_string()))))
    }

    fn visit_string<E: de::Error>(self, k: String) -> Result<Key<'de>, E> {
        Ok(KeyVisitor::known(&k).unwrap_or(Key::Other(Cow::Owned(k))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(line: &str) -> Result<Envelope, serde_json::Error> {
        serde_json::from_str(line)
    }

    #[test]
    fn an_envelope_is_read_whatever_the_order_of_its_keys() {
        let want = Envelope {
            seq: 7,
            ts: "2026-01-01T00:00:00.000Z".into(),
            run: "r1".into(),
            event: Event::StepStarted {
                step: "a".into(),
                attempt: 2,
                pool: None,
                worker: None,
            },
        };
        let journal = r#"{"seq":7,"ts":"2026-01-01T00:00:00.000Z","run":"r1","type":"step_started","step":"a","attempt":2}"#;
        assert_eq!(serde_json::to_string(&want).unwrap(), journal);
        assert_eq!(read(journal).unwrap(), want);
        let shuffled = r#"{"attempt":2,"run":"r1","type":"step_started","seq":7,"step":"a","ts":"2026-01-01T00:00:00.000Z","new_field":[1,{"x":null}]}"#;
        assert_eq!(read(shuffled).unwrap(), want);
        // Escaped keys and values are owned, not borrowed, and read the same.
        let escaped = r#"{"s\u0065q":7,"ts":"2026-01-01T00:00:00.000Z","run":"r\u0031","typ\u0065":"step_started","step":"a","attempt":2}"#;
        assert_eq!(read(escaped).unwrap(), want);
        let value = serde_json::to_value(&want).unwrap();
        assert_eq!(serde_json::from_value::<Envelope>(value).unwrap(), want);
    }

    #[test]
    fn a_line_without_an_envelope_field_or_type_is_refused() {
        let no_seq = read(r#"{"ts":"t","run":"r","type":"step_ready","step":"a"}"#);
        assert!(
            no_seq
                .unwrap_err()
                .to_string()
                .contains("missing field `seq`")
        );
        let no_run = read(r#"{"seq":1,"ts":"t","type":"step_ready","step":"a"}"#);
        assert!(
            no_run
                .unwrap_err()
                .to_string()
                .contains("missing field `run`")
        );
        let no_type = read(r#"{"seq":1,"ts":"t","run":"r","step":"a"}"#);
        assert!(no_type.unwrap_err().to_string().contains("type"));
        let bad_seq = read(r#"{"seq":"1","ts":"t","run":"r","type":"step_ready","step":"a"}"#);
        assert!(bad_seq.is_err());
        assert!(read(r#"[1,"t","r"]"#).is_err());
    }
}
