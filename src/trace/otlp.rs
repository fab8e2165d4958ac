//! The OTLP/JSON shapes of an `ExportTraceServiceRequest`, as the
//! OpenTelemetry protocol's JSON mapping spells them: lowerCamelCase
//! field names, trace and span ids as lowercase hex (not base64), 64-bit
//! integers (times, `intValue`) as decimal strings, enums as integers.

use serde::Serialize;

/// `SPAN_KIND_INTERNAL`.
pub const KIND_INTERNAL: i32 = 1;
/// `SPAN_KIND_SERVER`: the run span (CI/CD semantic conventions).
pub const KIND_SERVER: i32 = 2;
/// `STATUS_CODE_UNSET`.
pub const STATUS_UNSET: i32 = 0;
/// `STATUS_CODE_OK`.
pub const STATUS_OK: i32 = 1;
/// `STATUS_CODE_ERROR`.
pub const STATUS_ERROR: i32 = 2;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportTraceServiceRequest {
    pub resource_spans: Vec<ResourceSpans>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSpans {
    pub resource: Resource,
    pub scope_spans: Vec<ScopeSpans>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    pub attributes: Vec<KeyValue>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScopeSpans {
    pub scope: Scope,
    pub spans: Vec<Span>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scope {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span: left out.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub parent_span_id: String,
    pub name: String,
    pub kind: i32,
    pub start_time_unix_nano: String,
    pub end_time_unix_nano: String,
    pub attributes: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Event>,
    pub status: Status,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub time_unix_nano: String,
    pub name: String,
    pub attributes: Vec<KeyValue>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub code: i32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyValue {
    pub key: String,
    pub value: AnyValue,
}

/// One attribute value; the variant's name is its JSON key
/// (`{"stringValue": "..."}`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AnyValue {
    StringValue(String),
    /// A decimal string, as OTLP/JSON writes every 64-bit integer.
    IntValue(String),
    BoolValue(bool),
    ArrayValue(ArrayValue),
}

#[derive(Debug, Clone, Serialize)]
pub struct ArrayValue {
    pub values: Vec<AnyValue>,
}

impl KeyValue {
    pub fn str(key: &str, value: impl Into<String>) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: AnyValue::StringValue(value.into()),
        }
    }

    pub fn int(key: &str, value: impl Into<i64>) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: AnyValue::IntValue(value.into().to_string()),
        }
    }

    pub fn bool(key: &str, value: bool) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: AnyValue::BoolValue(value),
        }
    }

    pub fn strs<'a>(key: &str, values: impl IntoIterator<Item = &'a String>) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: AnyValue::ArrayValue(ArrayValue {
                values: values
                    .into_iter()
                    .map(|v| AnyValue::StringValue(v.clone()))
                    .collect(),
            }),
        }
    }
}

impl ExportTraceServiceRequest {
    /// One resource (`service.name` signalbox) and one scope holding `spans`.
    pub fn of(spans: Vec<Span>) -> ExportTraceServiceRequest {
        let version = env!("CARGO_PKG_VERSION");
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Resource {
                    attributes: vec![
                        KeyValue::str("service.name", "signalbox"),
                        KeyValue::str("service.version", version),
                    ],
                },
                scope_spans: vec![ScopeSpans {
                    scope: Scope {
                        name: "signalbox".into(),
                        version: version.into(),
                    },
                    spans,
                }],
            }],
        }
    }

    pub fn span_count(&self) -> usize {
        (self.resource_spans.iter())
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum()
    }
}
