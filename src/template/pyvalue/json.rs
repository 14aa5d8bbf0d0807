//! Python's `json.dumps` of template values, with its keyword arguments (`sort_keys`, `indent`,
//! `separators`, `ensure_ascii`), built on [`crate::py::json`]'s string and number writers.

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Error, ErrorKind};

use crate::py;
use crate::template::pyvalue::{invalid, is_plain_object, type_name};

/// The options of Python's `json.dumps`.
#[derive(Debug, Clone)]
pub(crate) struct JsonOptions {
    pub sort_keys: bool,
    /// `None` writes everything on one line.
    pub indent: Option<String>,
    pub item_separator: String,
    pub key_separator: String,
    pub ensure_ascii: bool,
}

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions {
            sort_keys: false,
            indent: None,
            item_separator: ", ".into(),
            key_separator: ": ".into(),
            ensure_ascii: true,
        }
    }
}

impl JsonOptions {
    /// Sets `indent` as Python reads it: a number of spaces or a string;
    /// with an indent the default item separator loses its space.
    pub(crate) fn set_indent(&mut self, indent: &Value) -> Result<(), Error> {
        if indent.is_none() || indent.is_undefined() {
            return Ok(());
        }
        let text = if let Some(s) = indent.as_str() {
            s.to_string()
        } else if let Some(n) = indent.as_i64() {
            let n = crate::template::budget::check_bytes_wide(
                "the JSON indent",
                u128::try_from(n).unwrap_or(0),
            )?;
            " ".repeat(n)
        } else {
            return Err(invalid(format!(
                "indent must be an int or a str, not {}",
                type_name(indent)
            )));
        };
        self.indent = Some(text);
        self.item_separator = ",".into();
        Ok(())
    }
}

/// `json.dumps(value, **kwargs)` as Python writes it; kwargs: `sort_keys`,
/// `indent`, `separators`, `ensure_ascii` (others are refused, as Python
/// refuses unknown ones).
pub(crate) fn json_dumps(value: &Value, kwargs: &Kwargs) -> Result<String, Error> {
    let mut opts = JsonOptions {
        sort_keys: kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false),
        ensure_ascii: kwargs.get::<Option<bool>>("ensure_ascii")?.unwrap_or(true),
        ..JsonOptions::default()
    };
    if let Some(indent) = kwargs.get::<Option<Value>>("indent")? {
        opts.set_indent(&indent)?;
    }
    if let Some(seps) = kwargs.get::<Option<Value>>("separators")?
        && !seps.is_none()
    {
        let parts: Vec<Value> = seps.try_iter()?.collect();
        match parts.as_slice() {
            [a, b] if a.as_str().is_some() && b.as_str().is_some() => {
                opts.item_separator = a.as_str().unwrap_or_default().into();
                opts.key_separator = b.as_str().unwrap_or_default().into();
            }
            _ => return Err(invalid("separators must be a pair of strings")),
        }
    }
    // `default`, `cls`, `allow_nan`, `check_circular`, `skipkeys`: accepted
    // only with their default values.
    for name in ["allow_nan", "check_circular"] {
        if let Some(v) = kwargs.get::<Option<bool>>(name)?
            && !v
        {
            return Err(invalid(format!(
                "json.dumps({name}=False) is not supported"
            )));
        }
    }
    kwargs.assert_all_used()?;
    json_dumps_with(value, &opts)
}

/// `json.dumps` with explicit options.
pub(crate) fn json_dumps_with(value: &Value, opts: &JsonOptions) -> Result<String, Error> {
    let mut out = String::new();
    write_json(&mut out, value, opts, 0)?;
    Ok(out)
}

fn json_error(v: &Value) -> Error {
    invalid(format!(
        "Object of type {} is not JSON serializable",
        type_name(v)
    ))
}

fn write_json(
    out: &mut String,
    value: &Value,
    opts: &JsonOptions,
    level: usize,
) -> Result<(), Error> {
    if level > 500 {
        return Err(invalid("maximum recursion depth exceeded"));
    }
    match value.kind() {
        ValueKind::None => out.push_str("null"),
        ValueKind::Undefined => {
            return Err(Error::new(ErrorKind::UndefinedError, "undefined value"));
        }
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => out.push_str(&json_number(value)),
        ValueKind::String => {
            py::json::write_str(out, value.as_str().unwrap_or_default(), opts.ensure_ascii)
        }
        _ if is_plain_object(value) => return Err(json_error(value)),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&opts.item_separator);
                }
                json_newline(out, opts, level + 1)?;
                write_json(out, item, opts, level + 1)?;
            }
            json_newline(out, opts, level)?;
            out.push(']');
        }
        ValueKind::Map => {
            let mut pairs = Vec::new();
            for key in value.try_iter()? {
                let v = value.get_item(&key)?;
                pairs.push((key, v));
            }
            if pairs.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            if opts.sort_keys {
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
            }
            out.push('{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(&opts.item_separator);
                }
                json_newline(out, opts, level + 1)?;
                let key = match k.kind() {
                    ValueKind::String => k.as_str().unwrap_or_default().to_string(),
                    ValueKind::Number => json_number(k),
                    ValueKind::Bool => if k.is_true() { "true" } else { "false" }.into(),
                    ValueKind::None => "null".into(),
                    _ => {
                        return Err(invalid(format!(
                            "keys must be str, int, float, bool or None, not {}",
                            type_name(k)
                        )));
                    }
                };
                py::json::write_str(out, &key, opts.ensure_ascii);
                out.push_str(&opts.key_separator);
                write_json(out, v, opts, level + 1)?;
            }
            json_newline(out, opts, level)?;
            out.push('}');
        }
        _ => return Err(json_error(value)),
    }
    Ok(())
}

fn json_newline(out: &mut String, opts: &JsonOptions, level: usize) -> Result<(), Error> {
    if let Some(indent) = &opts.indent {
        let more = (indent.len() as u128) * (level as u128) + 1;
        crate::template::budget::check_bytes_wide("the JSON text", out.len() as u128 + more)?;
        out.push('\n');
        for _ in 0..level {
            out.push_str(indent);
        }
    }
    Ok(())
}

/// Python's JSON number: ints as they are, floats as [`py::json::float`] writes them.
fn json_number(v: &Value) -> String {
    if v.is_integer() {
        return v.to_string();
    }
    py::json::float(f64::try_from(v.clone()).unwrap_or(f64::NAN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::DateTime;
    use crate::template::pylib::datetime::DateTimeObj;
    use crate::template::pyvalue::to_value;

    fn dt(s: &str) -> DateTime {
        DateTime::parse(s).unwrap()
    }

    #[test]
    fn json_dumps_matches_python() {
        let v = to_value(&serde_json::json!({"b": [1, 2.5, null, true], "a": "é<"}));
        let mut opts = JsonOptions::default();
        assert_eq!(
            json_dumps_with(&v, &opts).unwrap(),
            r#"{"b": [1, 2.5, null, true], "a": "\u00e9<"}"#
        );
        opts.sort_keys = true;
        opts.set_indent(&Value::from(2)).unwrap();
        assert_eq!(
            json_dumps_with(&v, &opts).unwrap(),
            "{\n  \"a\": \"\\u00e9<\",\n  \"b\": [\n    1,\n    2.5,\n    null,\n    true\n  ]\n}"
        );
        let empty = to_value(&serde_json::json!({"a": [], "b": {}}));
        assert_eq!(
            json_dumps_with(&empty, &opts).unwrap(),
            "{\n  \"a\": [],\n  \"b\": {}\n}"
        );
        let naive = JsonOptions {
            ensure_ascii: false,
            item_separator: ",".into(),
            key_separator: ":".into(),
            ..JsonOptions::default()
        };
        assert_eq!(
            json_dumps_with(&v, &naive).unwrap(),
            r#"{"b":[1,2.5,null,true],"a":"é<"}"#
        );
        let err = json_dumps_with(&DateTimeObj::value(dt("2024-06-01")), &opts).unwrap_err();
        assert!(
            err.to_string()
                .contains("Object of type DateTime is not JSON serializable")
        );
    }
}
