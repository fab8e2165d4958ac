//! The serde types of a step's matrix and its kin: `needs` with the
//! `{ step, same }` form, the `matrix` mapping (axes in file order, then
//! `include` and `exclude`), and the `x-` keys the top level ignores.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ScalarText;

/// Steps that must finish first: one id or a list of ids and `{ step, same }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, JsonSchema)]
#[schemars(with = "NeedsShape")]
pub struct Needs(pub Vec<Need>);

impl Needs {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One entry of `needs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Need {
    /// A step id, a matrix step's id (all its instances) or `STEP:KEY`.
    Step(String),
    /// The instances of matrix step `step` whose `same` axes equal this
    /// instance's.
    Of(NeedOf),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NeedOf {
    pub step: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub same: Vec<String>,
}

impl Need {
    /// The step id it names, as written.
    pub fn step(&self) -> &str {
        match self {
            Need::Step(s) => s,
            Need::Of(of) => &of.step,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum NeedsShape {
    One(String),
    Many(Vec<Need>),
}

impl<'de> Deserialize<'de> for Needs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Needs, D::Error> {
        Ok(Needs(match NeedsShape::deserialize(d)? {
            NeedsShape::One(id) => vec![Need::Step(id)],
            NeedsShape::Many(needs) => needs,
        }))
    }
}

/// `matrix:` of a step: its axes in file order, then `include` and `exclude`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MatrixSpec {
    pub axes: Vec<(String, Vec<ScalarText>)>,
    pub include: Vec<Combo>,
    pub exclude: Vec<Combo>,
}

/// One entry of `include` or `exclude`: keys and values in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Combo(pub Vec<(String, ScalarText)>);

impl Serialize for Combo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for Combo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Combo, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Combo;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of matrix keys to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Combo, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = m.next_entry::<String, ScalarText>()? {
                    out.push(entry);
                }
                Ok(Combo(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl Serialize for MatrixSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        for (k, v) in &self.axes {
            m.serialize_entry(k, v)?;
        }
        if !self.include.is_empty() {
            m.serialize_entry("include", &self.include)?;
        }
        if !self.exclude.is_empty() {
            m.serialize_entry("exclude", &self.exclude)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for MatrixSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<MatrixSpec, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MatrixSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of axes to lists of values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<MatrixSpec, A::Error> {
                let mut out = MatrixSpec::default();
                while let Some(key) = m.next_key::<String>()? {
                    match key.as_str() {
                        "include" => out.include = m.next_value()?,
                        "exclude" => out.exclude = m.next_value()?,
                        _ => {
                            let values = m.next_value()?;
                            out.axes.push((key, values));
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

impl JsonSchema for MatrixSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "MatrixSpec".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let scalar = generator.subschema_for::<ScalarText>();
        schemars::json_schema!({
            "type": "object",
            "description": "One instance per combination: the axes' cross product in axis order, then value order; `exclude` removes every combination it matches; `include` adds keys to the combinations whose axis values it does not overwrite, or adds a new one (GitHub Actions' rules).",
            "properties": {
                "include": {
                    "type": "array",
                    "items": { "type": "object", "additionalProperties": scalar, "minProperties": 1 }
                },
                "exclude": {
                    "type": "array",
                    "items": { "type": "object", "additionalProperties": scalar, "minProperties": 1 }
                }
            },
            "propertyNames": { "pattern": "^[A-Za-z0-9_][A-Za-z0-9_-]*$" },
            "additionalProperties": { "type": "array", "items": scalar, "minItems": 1 },
            "minProperties": 1,
        })
    }
}

/// The names of the top-level `x-` keys, whose values are ignored (a home
/// for anchors). Any other unknown key is refused, as `deny_unknown_fields`
/// would.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extensions(pub Vec<String>);

impl Extensions {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for Extensions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Extensions, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Extensions;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("top-level keys starting with `x-`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Extensions, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = m.next_key::<String>()? {
                    if !key.starts_with("x-") {
                        return Err(serde::de::Error::custom(format!("unknown field `{key}`")));
                    }
                    m.next_value::<IgnoredAny>()?;
                    out.push(key);
                }
                Ok(Extensions(out))
            }
        }
        d.deserialize_map(V)
    }
}
