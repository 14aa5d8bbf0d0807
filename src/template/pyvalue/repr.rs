//! Python's `str()` and `repr()` of template values, since Jinja prints values
//! with `str()`: `None`, `True`, `['a', 'b']`, `{'k': 1}`, `1.0`.

use std::fmt::Write;

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind};

use crate::py::float::repr as py_float;
use crate::py::text::repr as quote;
use crate::template::pyvalue::{PyObject, py_object};

/// `str()` and `repr()` of a Python object of its own type: its rendering, even
/// when minijinja sees a sequence (`dict_keys([...])`, `range(0, 3)`).
fn custom_render(value: &Value) -> Option<String> {
    py_object(value).map(|_| value.to_string())
}

/// `str(value)`: strings as they are, everything else as Python shows it.
pub(crate) fn py_str(value: &Value) -> String {
    if let Some(s) = custom_render(value) {
        return s;
    }
    match value.kind() {
        ValueKind::String => value.as_str().unwrap_or_default().to_string(),
        ValueKind::Plain if value.as_object().is_some() => value.to_string(),
        _ => py_repr(value),
    }
}

/// `repr(value)`.
pub(crate) fn py_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value, 0);
    out
}

fn write_repr(out: &mut String, value: &Value, depth: usize) {
    if depth > 64 {
        out.push_str("...");
        return;
    }
    if let Some(s) = custom_render(value) {
        out.push_str(&s);
        return;
    }
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => {
            if value.is_integer() {
                let _ = write!(out, "{value}");
            } else {
                let f = f64::try_from(value.clone()).unwrap_or(f64::NAN);
                out.push_str(&py_float(f));
            }
        }
        ValueKind::String => out.push_str(&quote(value.as_str().unwrap_or_default())),
        ValueKind::Bytes => {
            let _ = write!(
                out,
                "b{}",
                quote(&String::from_utf8_lossy(
                    value.as_bytes().unwrap_or_default()
                ))
            );
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let (open, close) = if value.is_tuple() {
                ("(", ")")
            } else {
                ("[", "]")
            };
            out.push_str(open);
            let mut n = 0;
            if let Ok(items) = value.try_iter() {
                for (i, item) in items.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &item, depth + 1);
                    n += 1;
                }
            }
            if value.is_tuple() && n == 1 {
                out.push(',');
            }
            out.push_str(close);
        }
        ValueKind::Map => {
            if value
                .as_object()
                .is_some_and(|o| o.repr() == minijinja::value::ObjectRepr::Plain)
            {
                let _ = write!(out, "{value}");
                return;
            }
            out.push('{');
            if let Ok(keys) = value.try_iter() {
                for (i, key) in keys.enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_repr(out, &key, depth + 1);
                    out.push_str(": ");
                    let v = value.get_item(&key).unwrap_or_default();
                    write_repr(out, &v, depth + 1);
                }
            }
            out.push('}');
        }
        _ => {
            let _ = write!(out, "{value}");
        }
    }
}

/// `dict.keys()`, `.values()`, `.items()`: iterate as lists, print as
/// `dict_keys([...])`.
#[derive(Debug)]
pub(crate) struct DictView {
    kind: &'static str,
    items: Vec<Value>,
}

impl minijinja::value::Object for DictView {
    fn repr(self: &std::sync::Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Seq
    }

    fn get_value(self: &std::sync::Arc<Self>, key: &Value) -> Option<Value> {
        self.items
            .get(usize::try_from(key.as_i64()?).ok()?)
            .cloned()
    }

    fn enumerate(self: &std::sync::Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Seq(self.items.len())
    }

    fn render(self: &std::sync::Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}({})",
            self.kind,
            py_repr(&Value::from(self.items.clone()))
        )
    }
}

impl PyObject for DictView {
    fn type_name(&self) -> &'static str {
        self.kind
    }
}

/// Airflow 2's lazy XCom sequence: iterates like a list, prints as
/// `LazySelectSequence([N items])`.
#[derive(Debug)]
pub(crate) struct LazySeq(pub Vec<Value>);

impl Object for LazySeq {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.get(usize::try_from(key.as_i64()?).ok()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.len())
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LazySelectSequence([{} items])", self.0.len())
    }
}

impl PyObject for LazySeq {
    fn type_name(&self) -> &'static str {
        "LazySelectSequence"
    }
}

/// Python methods minijinja's values lack: dict views as Python prints them,
/// then minijinja-contrib's pycompat for the rest (`str.upper()`, ...).
pub(crate) fn unknown_method(
    state: &mut minijinja::State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, minijinja::Error> {
    if value.kind() == ValueKind::Map
        && args.is_empty()
        && matches!(method, "keys" | "values" | "items")
    {
        let keys: Vec<Value> = value.try_iter()?.collect();
        let items = keys
            .into_iter()
            .map(|k| {
                let v = value.get_item(&k).unwrap_or_default();
                match method {
                    "keys" => k,
                    "values" => v,
                    _ => Value::from(minijinja::value::Tuple::from(vec![k, v])),
                }
            })
            .collect();
        let kind = match method {
            "keys" => "dict_keys",
            "values" => "dict_values",
            _ => "dict_items",
        };
        return Ok(Value::from_object(DictView { kind, items }));
    }
    if let Some(s) = value.as_str() {
        check_str_method(s, method, args)?;
    }
    if method == "format"
        && let Some(fmt) = value.as_str()
        && args.iter().any(|a| {
            a.downcast_object_ref::<crate::template::pylib::datetime::DateTimeObj>()
                .is_some()
        })
    {
        return str_format_dates(fmt, args);
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

/// The size of what minijinja-contrib's `str` methods would build, checked
/// against the render budget first: `format`, `join`, `replace`.
fn check_str_method(s: &str, method: &str, args: &[Value]) -> Result<(), minijinja::Error> {
    use crate::template::budget;
    match method {
        "format" => check_format_widths(s, args),
        "join" => {
            let Some(items) = args.first() else {
                return Ok(());
            };
            let (mut total, mut n) = (0u128, 0u128);
            for item in items.try_iter()? {
                total += item
                    .as_str()
                    .map_or_else(|| item.to_string().len(), str::len)
                    as u128;
                n += 1;
            }
            total += n.saturating_sub(1) * s.len() as u128;
            budget::check_bytes_wide("the result of str.join()", total).map(drop)
        }
        "replace" => match (
            args.first().and_then(Value::as_str),
            args.get(1).and_then(Value::as_str),
        ) {
            (Some(old), Some(new)) => {
                let count = args
                    .get(2)
                    .and_then(Value::as_i64)
                    .and_then(|c| usize::try_from(c).ok());
                budget::check_replace(s, old, new, count)
            }
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// `str.format`'s widths and precisions, checked against the render budget
/// before minijinja formats (it would build a 1 GB string for
/// `'{:999999999}'`, and wraps a width past 2^64). Conservative: every
/// number in a format spec counts in full, and a nested `{}` spec counts
/// every integer argument.
fn check_format_widths(fmt: &str, args: &[Value]) -> Result<(), minijinja::Error> {
    let mut total = fmt.len() as u128;
    let mut nested = false;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '{' {
            continue;
        }
        if chars.peek() == Some(&'{') {
            chars.next();
            continue;
        }
        let mut depth = 1;
        let mut in_spec = false;
        let mut run: Option<u128> = None;
        for c in chars.by_ref() {
            match c {
                '{' => {
                    depth += 1;
                    nested |= in_spec;
                }
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                ':' if depth == 1 => in_spec = true,
                _ => {}
            }
            match c.to_digit(10) {
                Some(d) if in_spec => {
                    run = Some(run.unwrap_or(0).saturating_mul(10).saturating_add(d.into()));
                }
                _ => total = total.saturating_add(run.take().unwrap_or(0)),
            }
        }
        total = total.saturating_add(run.unwrap_or(0));
    }
    if nested {
        for a in args {
            if let Some(n) = a.as_i64() {
                total = total.saturating_add(n.unsigned_abs().into());
            } else if a.is_integer() {
                total = u128::MAX;
            }
        }
    }
    crate::template::budget::check_bytes_wide("the string built by str.format()", total)?;
    Ok(())
}

/// `str.format` where an argument is a date-time, whose format spec is a
/// `strftime` format (`'{:%Y/%m/%d}'.format(logical_date)`).
fn str_format_dates(fmt: &str, args: &[Value]) -> Result<Value, minijinja::Error> {
    let bad = || {
        minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("invalid format string {}", quote(fmt)),
        )
    };
    let mut out = String::new();
    let mut auto = 0usize;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut field = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    field.push(c);
                }
                let (name, spec) = field.split_once(':').unwrap_or((&field, ""));
                let index = if name.is_empty() {
                    auto += 1;
                    auto - 1
                } else {
                    name.parse().map_err(|_| bad())?
                };
                let arg = args.get(index).ok_or_else(bad)?;
                match arg.downcast_object_ref::<crate::template::pylib::datetime::DateTimeObj>() {
                    Some(d) if !spec.is_empty() => out.push_str(&d.dt.strftime(spec)),
                    _ if spec.is_empty() => out.push_str(&py_str(arg)),
                    _ => return Err(bad()),
                }
            }
            c => out.push(c),
        }
    }
    Ok(Value::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::pyvalue::to_value;

    #[test]
    fn python_str_of_values() {
        assert_eq!(py_str(&Value::from(())), "None");
        assert_eq!(py_str(&Value::from(true)), "True");
        assert_eq!(py_str(&Value::from(1.0)), "1.0");
        assert_eq!(py_str(&Value::from(0.1)), "0.1");
        assert_eq!(py_str(&Value::from(1e16)), "1e+16");
        assert_eq!(py_str(&Value::from(1.5e-7)), "1.5e-07");
        assert_eq!(py_str(&Value::from(vec!["a", "it's"])), "['a', \"it's\"]");
        let map = to_value(&serde_json::json!({"k": [1, null, true], "s": "x"}));
        assert_eq!(py_str(&map), "{'k': [1, None, True], 's': 'x'}");
    }
}
