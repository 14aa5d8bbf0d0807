//! Python's behaviour of template values: `str()`/`repr()`, operators and mutable literals, `%`,
//! `json.dumps`, `pprint`, `yaml.dump`. Depends on the Python library objects (`pylib`) whose
//! values it prints and computes with, never on the Airflow objects or the Jinja filters.

pub mod json;
pub mod ops;
pub mod percent;
pub mod pprint;
pub mod repr;
pub mod yaml;

use std::sync::Mutex;

use minijinja::value::{ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind};

use crate::template::pylib::datetime::{DateTimeObj, TimeDeltaObj};
use crate::template::pylib::dateutil::RelativeDelta;
use crate::template::pylib::time::StructTime;
use crate::template::pylib::uuid::UuidObj;

/// A template value from anything serde can serialize (JSON values, maps).
pub fn to_value<T: serde::Serialize>(value: &T) -> Value {
    Value::from(minijinja::value::Serde(value))
}

pub fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Python's type name of a value, for `TypeError` messages.
pub fn type_name(v: &Value) -> String {
    if let Some(d) = v.downcast_object_ref::<DateTimeObj>() {
        return if d.pendulum { "DateTime" } else { "datetime" }.into();
    }
    if v.downcast_object_ref::<TimeDeltaObj>().is_some() {
        return "timedelta".into();
    }
    if v.downcast_object_ref::<UuidObj>().is_some() {
        return "UUID".into();
    }
    if v.downcast_object_ref::<RelativeDelta>().is_some() {
        return "relativedelta".into();
    }
    if v.downcast_object_ref::<StructTime>().is_some() {
        return "struct_time".into();
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
    .into()
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
