//! Python's `str()` and `repr()` of template values, since Jinja prints values
//! with `str()`: `None`, `True`, `['a', 'b']`, `{'k': 1}`, `1.0`.

use std::fmt::Write;

use minijinja::value::{Value, ValueKind};

/// Sequences that print as something other than a list in Python.
fn custom_render(value: &Value) -> Option<String> {
    if value
        .downcast_object_ref::<crate::template::objects::LazySeq>()
        .is_some()
        || value.downcast_object_ref::<DictView>().is_some()
        || value
            .downcast_object_ref::<crate::template::pyops::PyRange>()
            .is_some()
    {
        return Some(value.to_string());
    }
    None
}

/// `str(value)`: strings as they are, everything else as Python shows it.
pub fn py_str(value: &Value) -> String {
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
pub fn py_repr(value: &Value) -> String {
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
pub struct DictView {
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

/// Python methods minijinja's values lack: dict views as Python prints them,
/// then minijinja-contrib's pycompat for the rest (`str.upper()`, ...).
pub fn unknown_method(
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
            a.downcast_object_ref::<crate::template::dates::DateTimeObj>()
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
                match arg.downcast_object_ref::<crate::template::dates::DateTimeObj>() {
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

/// Python's `repr(float)`: `1.0`, `1e+16`, `1.5e-05`, `inf`, `nan`.
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    py_float_repr(f)
}

/// Python `float.__repr__`: shortest round-trip digits, scientific notation when the decimal
/// exponent is < -4 or >= 16, `.0` on integral values, at least two exponent digits.
fn py_float_repr(f: f64) -> String {
    let (digits, exp) = if f == 0.0 {
        ("0".to_owned(), 0)
    } else {
        shortest_digits(f.abs())
    };
    let ndigits = digits.len() as i32;
    let decpt = exp + 1;
    let body = if !(-3..=16).contains(&decpt) {
        let (first, tail) = digits.split_at(1);
        let sign = if exp < 0 { '-' } else { '+' };
        let dot = if tail.is_empty() { "" } else { "." };
        format!("{first}{dot}{tail}e{sign}{:02}", exp.abs())
    } else if decpt <= 0 {
        format!("0.{}{digits}", "0".repeat(decpt.unsigned_abs() as usize))
    } else if decpt >= ndigits {
        format!("{digits}{}.0", "0".repeat((decpt - ndigits) as usize))
    } else {
        let (int, frac) = digits.split_at(decpt as usize);
        format!("{int}.{frac}")
    };
    if f.is_sign_negative() {
        format!("-{body}")
    } else {
        body
    }
}

/// Shortest round-trip significant digits of a positive finite `f` and its decimal exponent.
/// Rust's `{:e}` gives them, except that when `f` lies exactly halfway between two shortest
/// candidates Rust rounds up while CPython's dtoa rounds to the even digit.
fn shortest_digits(f: f64) -> (String, i32) {
    let (digits, exp) = sci_parts(&format!("{f:e}"));
    // 800 digits cover the exact binary expansion of any double.
    let (exact, exact_exp) = sci_parts(&format!("{f:.800e}"));
    let exact = exact.trim_end_matches('0');
    if exact_exp == exp && exact.len() == digits.len() + 1 && exact.ends_with('5') {
        let down = &exact[..digits.len()];
        for candidate in [Some(down.to_owned()), decimal_increment(down)]
            .into_iter()
            .flatten()
        {
            let even = candidate
                .bytes()
                .last()
                .is_some_and(|d| matches!(d, b'0' | b'2' | b'4' | b'6' | b'8'));
            let (first, tail) = candidate.split_at(1);
            if even && format!("{first}.{tail}0e{exp}").parse::<f64>() == Ok(f) {
                return (candidate, exp);
            }
        }
    }
    (digits, exp)
}

/// `"1.2345e-7"` -> (`"12345"`, -7).
fn sci_parts(sci: &str) -> (String, i32) {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let digits = mantissa.chars().filter(char::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0))
}

/// Adds one to the last digit; `None` when that would carry into a new leading digit.
fn decimal_increment(digits: &str) -> Option<String> {
    let mut bytes = digits.as_bytes().to_vec();
    for b in bytes.iter_mut().rev() {
        if *b == b'9' {
            *b = b'0';
        } else {
            *b += 1;
            return String::from_utf8(bytes).ok();
        }
    }
    None
}

/// Python's string repr: single quotes unless the text has `'` and no `"`.
pub fn quote(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::objects::to_value;

    #[test]
    fn python_float_repr() {
        assert_eq!(py_float_repr(0.0), "0.0");
        assert_eq!(py_float_repr(-0.0), "-0.0");
        assert_eq!(py_float_repr(1.0), "1.0");
        assert_eq!(py_float_repr(1e15), "1000000000000000.0");
        assert_eq!(py_float_repr(1e16), "1e+16");
        assert_eq!(py_float_repr(0.1), "0.1");
        assert_eq!(py_float_repr(1.5e-5), "1.5e-05");
        assert_eq!(py_float_repr(0.00015), "0.00015");
        assert_eq!(
            py_float_repr(1.7976931348623157e308),
            "1.7976931348623157e+308"
        );
        assert_eq!(py_float_repr(5e-324), "5e-324");
        // Exactly halfway between two 16-digit candidates: Python picks the even one.
        assert_eq!(py_float_repr(694789595660970.2), "694789595660970.2");
        assert_eq!(py_float_repr(-88978591943781.62), "-88978591943781.62");
    }

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
