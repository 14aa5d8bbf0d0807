//! Python truthiness (`bool(x)`) of a decoded JSON value.

use serde_json::Value;

/// `bool(value)`: `None`, `False`, zero, and empty strings, lists and dicts are false.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}
