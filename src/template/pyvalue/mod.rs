//! Python's behaviour of template values: `str()`/`repr()`, operators and mutable literals, `%`,
//! `json.dumps`, `pprint`, `yaml.dump`. Depends on the Python library objects (`pylib`) whose
//! values it prints and computes with, never on the Airflow objects or the Jinja filters.

pub(super) mod json;
pub(super) mod ops;
pub(super) mod percent;
pub(super) mod pprint;
pub(super) mod repr;
pub(super) mod yaml;

use std::sync::Mutex;

use minijinja::value::{Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind};

use crate::template::pylib::datetime::{DateTimeObj, TimeDeltaObj};
use crate::template::pylib::dateutil::RelativeDelta;
use crate::template::pylib::time::StructTime;
use crate::template::pylib::uuid::UuidObj;
use ops::PyRange;
use repr::{DictView, LazySeq};

/// A template value from anything serde can serialize (JSON values, maps).
pub(super) fn to_value<T: serde::Serialize>(value: &T) -> Value {
    Value::from(minijinja::value::Serde(value))
}

pub(super) fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// A template object that stands for a Python object of its own type (a
/// date-time, a UUID, `dict_keys`): what Python calls its type. Its `str()`
/// and `repr()` are its rendering (`Object::render`), even when minijinja
/// sees a sequence.
pub(crate) trait PyObject {
    /// `type(x).__name__`: `datetime` or pendulum's `DateTime`, `UUID`.
    fn type_name(&self) -> &'static str;
}

/// The template value as a [`PyObject`], if it is one. The one list of the
/// types that implement it, since minijinja downcasts to concrete types only.
pub(crate) fn py_object(v: &Value) -> Option<&dyn PyObject> {
    fn cast<T: PyObject + Object + 'static>(v: &Value) -> Option<&dyn PyObject> {
        v.downcast_object_ref::<T>().map(|o| o as &dyn PyObject)
    }
    type Cast = fn(&Value) -> Option<&dyn PyObject>;
    const TYPES: [Cast; 8] = [
        cast::<DateTimeObj>,
        cast::<TimeDeltaObj>,
        cast::<UuidObj>,
        cast::<RelativeDelta>,
        cast::<StructTime>,
        cast::<PyRange>,
        cast::<DictView>,
        cast::<LazySeq>,
    ];
    TYPES.iter().find_map(|cast| cast(v))
}

/// Python's type name of a value (`type(x).__name__`), for `TypeError` texts.
pub(super) fn type_name(v: &Value) -> &'static str {
    if let Some(o) = py_object(v) {
        return o.type_name();
    }
    match v.kind() {
        ValueKind::Undefined => "Undefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if v.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq if v.is_tuple() => "tuple",
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Map if is_plain_object(v) => "object",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

/// An object that is not a container (a date-time, a UUID, ...), whatever
/// kind minijinja gives it.
pub(crate) fn is_plain_object(v: &Value) -> bool {
    v.as_object().is_some_and(|o| o.repr() == ObjectRepr::Plain)
}

pub(crate) fn is_mapping(v: &Value) -> bool {
    v.kind() == ValueKind::Map && !is_plain_object(v)
}

pub(crate) fn is_sequence(v: &Value) -> bool {
    matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable) && !is_plain_object(v)
}

/// The interior of a `Mutex` that survives poisoning.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::DateTime;

    #[test]
    fn one_type_name_for_every_use() {
        let dt = DateTime::parse("2024-01-01T00:00:00+00:00").unwrap();
        // Python: type(pendulum.now()).__name__, type(datetime.now()).__name__
        assert_eq!(type_name(&DateTimeObj::value(dt)), "DateTime");
        assert_eq!(type_name(&DateTimeObj::stdlib(dt)), "datetime");
        let err = ops_error("-", DateTimeObj::stdlib(dt), Value::from("x"));
        assert!(
            err.contains("unsupported operand type(s) for -: 'datetime' and 'str'"),
            "{err}"
        );
        assert_eq!(type_name(&Value::from(1)), "int");
        assert_eq!(type_name(&to_value(&serde_json::json!({}))), "dict");
    }

    fn ops_error(op: &str, a: Value, b: Value) -> String {
        let mut env = minijinja::Environment::new();
        ops::register(&mut env, false);
        env.add_global("a", a);
        env.add_global("b", b);
        env.render_str(&format!("{{{{ __tr_binop('{op}', a, b) }}}}"), ())
            .unwrap_err()
            .to_string()
    }
}
