//! Python's `json.dumps`: the default text of a `serde_json::Value` (`", "` and `": "`
//! separators, non-ASCII escaped as `\uXXXX`), and the string and number writers any walker of
//! values (the template's, over minijinja values) builds on.

use std::fmt::Write;

use serde_json::Value;

/// `json.dumps(value)` with default arguments.
pub(crate) fn dumps(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => {
                let _ = write!(out, "{i}");
            }
            (_, Some(u), _) => {
                let _ = write!(out, "{u}");
            }
            (_, _, Some(f)) => out.push_str(&float(f)),
            _ => out.push_str("null"),
        },
        Value::String(s) => write_str(out, s, true),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, k, true);
                out.push_str(": ");
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

/// A JSON float as Python writes it: `float.__repr__`, and `NaN`, `Infinity`, `-Infinity` for
/// the non-finite (which serde_json never holds, but a template's values may).
pub(crate) fn float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        super::float::repr(f)
    }
}

/// A JSON string; `ensure_ascii` escapes everything outside `' '..='~'` as `\uXXXX` (UTF-16).
pub(crate) fn write_str(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && (c as u32) > 0x7e) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python_default_dumps() {
        let v = serde_json::json!({"a": [1, 2.5, null, true], "é": "x\"y\n", "n": 1e20});
        assert_eq!(
            dumps(&v),
            r#"{"a": [1, 2.5, null, true], "\u00e9": "x\"y\n", "n": 1e+20}"#
        );
    }
}
