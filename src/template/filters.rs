//! Jinja's built-in filters and globals where minijinja's are missing or
//! render differently from Jinja 3.1.6 in Airflow (jinja2/filters.py,
//! jinja2/utils.py): `tojson`, `pprint`, `int`, `float`, `replace`, `center`,
//! `indent`, `truncate`, `wordwrap`, `wordcount`, `striptags`,
//! `filesizeformat`, `xmlattr`, `urlencode`, `escape`, `format`, `join`, and
//! the `joiner` and `cycler` globals.

use std::sync::{Arc, Mutex};

use minijinja::value::{
    Kwargs, Object, ObjectRepr, Rest, Tuple, Value, ValueKind, ValueOrKwargs, from_args,
};
use minijinja::{Environment, Error, ErrorKind, State};

use crate::py::text::{is_line_break, repr as quote, splitlines_keepends};
use crate::template::budget;
use crate::template::objects::invalid;
use crate::template::pyfmt::{py_repr, py_str};
use crate::template::pymodules::{JsonOptions, json_dumps_with, percent_format, type_name};

/// Registers the filters and globals on `env`, replacing minijinja's own
/// where Jinja renders differently.
pub fn register(env: &mut Environment<'static>) {
    env.add_filter(
        "tojson",
        |args: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let (value, p) = bind("tojson", args.into_values(), &["indent"])?;
            tojson(&value, p[0].as_ref())
        },
    );
    env.add_filter("pprint", |value: Value| pformat(&value));
    env.add_filter("int", |args: Rest<ValueOrKwargs>| -> Result<Value, Error> {
        let (value, p) = bind("int", args.into_values(), &["default", "base"])?;
        let base = match &p[1] {
            Some(b) => b.as_i64().ok_or_else(|| invalid("base must be an int"))?,
            None => 10,
        };
        do_int(&value, p[0].clone().unwrap_or(Value::from(0)), base)
    });
    env.add_filter(
        "float",
        |args: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let (value, p) = bind("float", args.into_values(), &["default"])?;
            Ok(py_float_of(&value)
                .map_or_else(|| p[0].clone().unwrap_or(Value::from(0.0)), Value::from))
        },
    );
    env.add_filter(
        "replace",
        |args: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let (value, p) = bind("replace", args.into_values(), &["old", "new", "count"])?;
            let (Some(old), Some(new)) = (&p[0], &p[1]) else {
                return Err(invalid(
                    "replace() missing required arguments 'old' and 'new'",
                ));
            };
            let s = py_str(&value);
            let (old, new) = (py_str(old), py_str(new));
            let count = p[2].as_ref().and_then(Value::as_i64);
            let limit = match count {
                Some(c) if c >= 0 => Some(usize::try_from(c).unwrap_or(usize::MAX)),
                _ => None,
            };
            budget::check_replace(&s, &old, &new, limit)?;
            let out = match count {
                Some(n) if n >= 0 => {
                    s.replacen(&old, &new, usize::try_from(n).unwrap_or(usize::MAX))
                }
                _ => s.replace(&old, &new),
            };
            Ok(keep_safety(&value, out))
        },
    );
    env.add_filter(
        "center",
        |args: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let (value, p) = bind("center", args.into_values(), &["width"])?;
            let width = int_arg(&p[0], 80)?;
            center(&py_str(&value), width).map(Value::from)
        },
    );
    env.add_filter(
        "indent",
        |args: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let (value, p) = bind("indent", args.into_values(), &["width", "first", "blank"])?;
            let indention = match &p[0] {
                Some(w) if w.as_str().is_some() => w.as_str().unwrap_or_default().to_string(),
                other => {
                    let w = u128::try_from(int_arg(other, 4)?).unwrap_or(0);
                    " ".repeat(budget::check_bytes_wide("the indent() width", w)?)
                }
            };
            let text = py_str(&value);
            // Each line (at most one per character, and one more) gets the indention.
            let lines = text.chars().filter(|c| is_line_break(*c)).count() as u128 + 1;
            budget::check_bytes_wide(
                "the result of indent()",
                text.len() as u128 + lines * indention.len() as u128,
            )?;
            let first = p[1].as_ref().is_some_and(Value::is_true);
            let blank = p[2].as_ref().is_some_and(Value::is_true);
            Ok(keep_safety(&value, indent(&text, &indention, first, blank)))
        },
    );
    env.add_filter(
        "truncate",
        |args: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let (value, p) = bind(
                "truncate",
                args.into_values(),
                &["length", "killwords", "end", "leeway"],
            )?;
            let length = int_arg(&p[0], 255)?;
            let killwords = p[1].as_ref().is_some_and(Value::is_true);
            let end = p[2].as_ref().map_or_else(|| "...".to_string(), py_str);
            let leeway = int_arg(&p[3], 5)?;
            truncate(&py_str(&value), length, killwords, &end, leeway).map(Value::from)
        },
    );
    env.add_filter(
        "wordwrap",
        |args: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let (value, p) = bind(
                "wordwrap",
                args.into_values(),
                &[
                    "width",
                    "break_long_words",
                    "wrapstring",
                    "break_on_hyphens",
                ],
            )?;
            let width = int_arg(&p[0], 79)?;
            if width <= 0 {
                return Err(invalid(format!("invalid width {width} (must be > 0)")));
            }
            let break_long = p[1].as_ref().is_none_or(Value::is_true);
            let wrapstring = p[2]
                .as_ref()
                .filter(|v| !v.is_none())
                .map_or_else(|| "\n".to_string(), py_str);
            let hyphens = p[3].as_ref().is_none_or(Value::is_true);
            let width = usize::try_from(width).unwrap_or(1);
            let mut pieces: Vec<String> = Vec::new();
            for line in splitlines(&py_str(&value)) {
                pieces.extend(wrap(&line, width, break_long, hyphens));
            }
            let total = pieces.iter().map(|p| p.len() as u128).sum::<u128>()
                + (pieces.len().saturating_sub(1) as u128) * wrapstring.len() as u128;
            budget::check_bytes_wide("the result of wordwrap()", total)?;
            Ok(Value::from(pieces.join(&wrapstring)))
        },
    );
    env.add_filter("wordcount", |value: Value| -> Value {
        Value::from(wordcount(&py_str(&value)))
    });
    env.add_filter("striptags", |value: Value| -> Value {
        Value::from(striptags(&py_str(&value)))
    });
    env.add_filter(
        "filesizeformat",
        |args: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let (value, p) = bind("filesizeformat", args.into_values(), &["binary"])?;
            let bytes = py_float_of(&value).ok_or_else(|| {
                invalid(format!(
                    "could not convert string to float: {}",
                    py_repr(&value)
                ))
            })?;
            Ok(Value::from(filesizeformat(
                bytes,
                p[0].as_ref().is_some_and(Value::is_true),
            )))
        },
    );
    env.add_filter(
        "xmlattr",
        |args: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let (value, p) = bind("xmlattr", args.into_values(), &["autospace"])?;
            xmlattr(&value, p[0].as_ref().is_none_or(Value::is_true))
        },
    );
    env.add_filter("urlencode", |value: Value| urlencode(&value));
    let escape = |value: Value| -> Result<Value, Error> {
        if value.is_safe() {
            Ok(value)
        } else {
            checked_html_escape(&py_str(&value))
        }
    };
    env.add_filter("escape", escape);
    env.add_filter("e", escape);
    env.add_filter("forceescape", |value: Value| {
        checked_html_escape(&py_str(&value))
    });
    env.add_filter(
        "format",
        |args: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let args = args.into_values();
            let (value, rest, kwargs): (Value, &[Value], Kwargs) = from_args(&args)?;
            let names: Vec<String> = kwargs.args().map(str::to_string).collect();
            let operand = if !names.is_empty() {
                if !rest.is_empty() {
                    return Err(invalid(
                        "can't handle positional and keyword arguments at the same time",
                    ));
                }
                let mut pairs = std::collections::BTreeMap::new();
                for n in &names {
                    pairs.insert(n.clone(), kwargs.get::<Value>(n)?);
                }
                Value::from(pairs)
            } else {
                Value::from(Tuple::from(rest))
            };
            percent_format(&py_str(&value), &operand).map(Value::from)
        },
    );
    env.add_filter(
        "join",
        |state: &State, args: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let (value, p) = bind("join", args.into_values(), &["d", "attribute"])?;
            let sep = p[0].as_ref().map_or_else(String::new, py_str);
            let items = iterate(&value)?;
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                let item = match &p[1] {
                    Some(attr) if !attr.is_none() => get_attribute(state, &item, attr)?,
                    _ => item,
                };
                parts.push(py_str(&item));
            }
            let total = parts.iter().map(|p| p.len() as u128).sum::<u128>()
                + (parts.len().saturating_sub(1) as u128) * sep.len() as u128;
            budget::check_bytes_wide("the result of join()", total)?;
            Ok(Value::from(parts.join(&sep)))
        },
    );
    // minijinja's `slice` builds `count` lists and `batch` pads to `count`
    // items: a count from the template must fit the budget first.
    env.add_filter(
        "slice",
        |state: &State, value: Value, count: usize, fill: Option<Value>| {
            budget::check_items("the result of slice()", count as u128)?;
            minijinja::filters::slice(state, value, count, fill)
        },
    );
    env.add_filter(
        "batch",
        |state: &State, value: Value, count: usize, fill: Option<Value>| {
            if fill.is_some() {
                budget::check_items("a batch()", count as u128)?;
            }
            minijinja::filters::batch(state, value, count, fill)
        },
    );
    // minijinja's `divisibleby` panics on a zero divisor; Jinja's is
    // `value % num == 0`, which raises ZeroDivisionError.
    env.add_test(
        "divisibleby",
        |value: Value, num: Value| -> Result<bool, Error> { divisibleby(&value, &num) },
    );
    env.add_function(
        "joiner",
        |args: Rest<ValueOrKwargs>| -> Result<Value, Error> {
            let (_, p) = bind("joiner", prepend_none(args.into_values()), &["sep"])?;
            Ok(Value::from_object(Joiner {
                sep: p[0].as_ref().map_or_else(|| ", ".to_string(), py_str),
                used: Mutex::new(false),
            }))
        },
    );
    env.add_function("cycler", |items: Rest<Value>| -> Result<Value, Error> {
        if items.is_empty() {
            return Err(invalid("at least one item has to be provided"));
        }
        Ok(Value::from_object(Cycler {
            items: items.0,
            pos: Mutex::new(0),
        }))
    });
}

/// Jinja's `divisibleby`: `value % num == 0`, Python's errors for a zero
/// divisor and for what `%` does not take.
fn divisibleby(value: &Value, num: &Value) -> Result<bool, Error> {
    let int = |v: &Value| match v.kind() {
        ValueKind::Bool => Some(i128::from(v.is_true())),
        ValueKind::Number if v.is_integer() => i128::try_from(v.clone()).ok(),
        _ => None,
    };
    let float = |v: &Value| match v.kind() {
        ValueKind::Bool | ValueKind::Number => f64::try_from(v.clone()).ok(),
        _ => None,
    };
    if let (Some(a), Some(b)) = (int(value), int(num)) {
        if b == 0 {
            return Err(invalid("ZeroDivisionError: integer modulo by zero"));
        }
        // i128::MIN % -1 overflows in Rust; in Python it is 0.
        return Ok(a.checked_rem(b).unwrap_or(0) == 0);
    }
    if let (Some(a), Some(b)) = (float(value), float(num)) {
        if b == 0.0 {
            return Err(invalid("ZeroDivisionError: float modulo"));
        }
        return Ok(a % b == 0.0);
    }
    Err(invalid(format!(
        "unsupported operand type(s) for %: '{}' and '{}'",
        type_name(value),
        type_name(num)
    )))
}

/// Splits a filter's arguments into the value and its parameters, bound by
/// position or keyword as Python binds them.
fn bind(
    name: &str,
    args: Vec<Value>,
    params: &[&str],
) -> Result<(Value, Vec<Option<Value>>), Error> {
    let (value, positional, kwargs): (Value, &[Value], Kwargs) = from_args(&args)?;
    if positional.len() > params.len() {
        return Err(Error::new(
            ErrorKind::TooManyArguments,
            format!("{name}() takes at most {} arguments", params.len() + 1),
        ));
    }
    let mut out: Vec<Option<Value>> = vec![None; params.len()];
    for (slot, v) in out.iter_mut().zip(positional) {
        *slot = Some(v.clone());
    }
    for (i, p) in params.iter().enumerate() {
        if kwargs.has(p) {
            if out[i].is_some() {
                return Err(invalid(format!(
                    "{name}() got multiple values for argument '{p}'"
                )));
            }
            out[i] = Some(kwargs.get::<Value>(p)?);
        }
    }
    kwargs.assert_all_used()?;
    Ok((value, out))
}

/// For globals, which have no filtered value: a placeholder first argument.
fn prepend_none(mut args: Vec<Value>) -> Vec<Value> {
    args.insert(0, Value::from(()));
    args
}

fn int_arg(v: &Option<Value>, default: i64) -> Result<i64, Error> {
    match v {
        None => Ok(default),
        Some(v) => v.as_i64().ok_or_else(|| {
            invalid(format!(
                "'{}' object cannot be interpreted as an integer",
                type_name(v)
            ))
        }),
    }
}

fn keep_safety(original: &Value, s: String) -> Value {
    if original.is_safe() {
        Value::from_safe_string(s)
    } else {
        Value::from(s)
    }
}

/// Python's iteration of a value: strings by character, mappings by key;
/// `None` and numbers are not iterable.
fn iterate(value: &Value) -> Result<Vec<Value>, Error> {
    match value.kind() {
        ValueKind::String => Ok(value
            .as_str()
            .unwrap_or_default()
            .chars()
            .map(|c| Value::from(c.to_string()))
            .collect()),
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map
            if value
                .as_object()
                .is_none_or(|o| o.repr() != ObjectRepr::Plain) =>
        {
            Ok(value.try_iter()?.collect())
        }
        ValueKind::Undefined => Err(Error::new(ErrorKind::UndefinedError, "undefined value")),
        _ => Err(invalid(format!(
            "'{}' object is not iterable",
            type_name(value)
        ))),
    }
}

/// Jinja's `make_attrgetter`: dotted attribute paths, integers as indexes.
fn get_attribute(state: &State, item: &Value, attr: &Value) -> Result<Value, Error> {
    let _ = state;
    let mut cur = item.clone();
    let path = py_str(attr);
    for part in path.split('.') {
        let next = match part.parse::<i64>() {
            Ok(i) => cur.get_item(&Value::from(i))?,
            Err(_) => cur.get_attr(part)?,
        };
        if next.is_undefined() {
            return Err(Error::new(
                ErrorKind::UndefinedError,
                format!("{} has no attribute '{part}'", type_name(&cur)),
            ));
        }
        cur = next;
    }
    Ok(cur)
}

// ---------------------------------------------------------------------------
// tojson

/// Jinja's `htmlsafe_json_dumps`: `json.dumps(value, sort_keys=True,
/// indent=indent)` with `<`, `>`, `&`, `'` escaped, marked safe.
fn tojson(value: &Value, indent: Option<&Value>) -> Result<Value, Error> {
    let mut opts = JsonOptions {
        sort_keys: true,
        ..JsonOptions::default()
    };
    if let Some(indent) = indent {
        opts.set_indent(indent)?;
    }
    let text = json_dumps_with(value, &opts)?
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\'', "\\u0027");
    Ok(Value::from_safe_string(text))
}

// ---------------------------------------------------------------------------
// pprint

/// Python's `pprint.pformat(value)` (width 80, dict keys sorted).
pub fn pformat(value: &Value) -> String {
    let mut out = String::new();
    pp_format(&mut out, value, 0, 0, 0);
    out
}

fn pp_sorted_pairs(value: &Value) -> Vec<(Value, Value)> {
    let mut pairs: Vec<(Value, Value)> = value
        .try_iter()
        .map(|keys| {
            keys.map(|k| {
                let v = value.get_item(&k).unwrap_or_default();
                (k, v)
            })
            .collect()
        })
        .unwrap_or_default();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
}

fn is_container(value: &Value) -> bool {
    matches!(
        value.kind(),
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map
    ) && value
        .as_object()
        .is_none_or(|o| o.repr() != ObjectRepr::Plain)
}

/// `pprint`'s `_safe_repr`: the repr with dict keys sorted.
fn pp_repr(value: &Value) -> String {
    if !is_container(value) {
        return py_repr(value);
    }
    if value.kind() == ValueKind::Map {
        let items: Vec<String> = pp_sorted_pairs(value)
            .iter()
            .map(|(k, v)| format!("{}: {}", pp_repr(k), pp_repr(v)))
            .collect();
        return format!("{{{}}}", items.join(", "));
    }
    let items: Vec<String> = value
        .try_iter()
        .map(|it| it.map(|v| pp_repr(&v)).collect())
        .unwrap_or_default();
    if value.is_tuple() {
        if items.len() == 1 {
            return format!("({},)", items[0]);
        }
        return format!("({})", items.join(", "));
    }
    format!("[{}]", items.join(", "))
}

const PP_WIDTH: usize = 80;

fn pp_format(out: &mut String, value: &Value, indent: usize, allowance: usize, level: usize) {
    let rep = pp_repr(value);
    let max_width = PP_WIDTH.saturating_sub(indent + allowance);
    if rep.chars().count() <= max_width {
        out.push_str(&rep);
        return;
    }
    if value.kind() == ValueKind::String {
        pp_str(
            out,
            value.as_str().unwrap_or_default(),
            indent,
            allowance,
            level + 1,
            &rep,
        );
        return;
    }
    if !is_container(value) {
        out.push_str(&rep);
        return;
    }
    if value.kind() == ValueKind::Map {
        out.push('{');
        let pairs = pp_sorted_pairs(value);
        let indent = indent + 1;
        let last_index = pairs.len().saturating_sub(1);
        for (i, (k, v)) in pairs.iter().enumerate() {
            let krep = pp_repr(k);
            out.push_str(&krep);
            out.push_str(": ");
            let allow = if i == last_index { allowance + 1 } else { 1 };
            pp_format(out, v, indent + krep.chars().count() + 2, allow, level + 1);
            if i != last_index {
                out.push_str(",\n");
                out.push_str(&" ".repeat(indent));
            }
        }
        out.push('}');
        return;
    }
    let items: Vec<Value> = value.try_iter().map(Iterator::collect).unwrap_or_default();
    let (open, close) = if value.is_tuple() {
        ("(", if items.len() == 1 { ",)" } else { ")" })
    } else {
        ("[", "]")
    };
    out.push_str(open);
    let indent = indent + 1;
    let allowance = allowance + close.len();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(",\n");
            out.push_str(&" ".repeat(indent));
        }
        let last = i + 1 == items.len();
        pp_format(
            out,
            item,
            indent,
            if last { allowance } else { 1 },
            level + 1,
        );
    }
    out.push_str(close);
}

/// `pprint._pprint_str`: a long string split into adjacent literals.
fn pp_str(
    out: &mut String,
    s: &str,
    mut indent: usize,
    mut allowance: usize,
    level: usize,
    whole: &str,
) {
    let lines = splitlines_keepends(s);
    if level == 1 {
        indent += 1;
        allowance += 1;
    }
    let max_width = PP_WIDTH.saturating_sub(indent);
    let mut max_width1 = max_width;
    let mut chunks: Vec<String> = Vec::new();
    let mut last_rep = whole.to_string();
    for (i, line) in lines.iter().enumerate() {
        let rep = quote(line);
        last_rep.clone_from(&rep);
        if i == lines.len() - 1 {
            max_width1 = max_width1.saturating_sub(allowance);
        }
        if rep.chars().count() <= max_width1 {
            chunks.push(rep);
            continue;
        }
        // Alternating non-space and space runs: re.findall(r'\S*\s*', line).
        let mut parts: Vec<String> = Vec::new();
        let mut cur = String::new();
        let mut in_space = false;
        for c in line.chars() {
            if c.is_whitespace() {
                in_space = true;
            } else if in_space {
                parts.push(std::mem::take(&mut cur));
                in_space = false;
            }
            cur.push(c);
        }
        if !cur.is_empty() {
            parts.push(cur);
        }
        let mut max_width2 = max_width;
        let mut current = String::new();
        for (j, part) in parts.iter().enumerate() {
            let candidate = format!("{current}{part}");
            if j == parts.len() - 1 && i == lines.len() - 1 {
                max_width2 = max_width2.saturating_sub(allowance);
            }
            if quote(&candidate).chars().count() > max_width2 {
                if !current.is_empty() {
                    chunks.push(quote(&current));
                }
                current.clone_from(part);
            } else {
                current = candidate;
            }
        }
        if !current.is_empty() {
            chunks.push(quote(&current));
        }
    }
    if chunks.len() == 1 {
        out.push_str(&last_rep);
        return;
    }
    if level == 1 {
        out.push('(');
    }
    for (i, rep) in chunks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(rep);
    }
    if level == 1 {
        out.push(')');
    }
}

// ---------------------------------------------------------------------------
// int / float

/// Python's `int(text, base)` for strings: whitespace, a sign, the base's
/// prefix, single underscores between digits.
fn parse_py_int(text: &str, base: i64) -> Option<i128> {
    let s = text.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let lower = s.to_ascii_lowercase();
    let (base, digits) = match base {
        0 => {
            if let Some(r) = lower.strip_prefix("0x") {
                (16, r.to_string())
            } else if let Some(r) = lower.strip_prefix("0o") {
                (8, r.to_string())
            } else if let Some(r) = lower.strip_prefix("0b") {
                (2, r.to_string())
            } else {
                if lower.len() > 1
                    && lower.starts_with('0')
                    && lower.chars().any(|c| c != '0' && c != '_')
                {
                    return None;
                }
                (10, lower.clone())
            }
        }
        16 => (
            16,
            lower
                .strip_prefix("0x")
                .map_or(lower.clone(), str::to_string),
        ),
        8 => (
            8,
            lower
                .strip_prefix("0o")
                .map_or(lower.clone(), str::to_string),
        ),
        2 => (
            2,
            lower
                .strip_prefix("0b")
                .map_or(lower.clone(), str::to_string),
        ),
        b if (2..=36).contains(&b) => (b, lower.clone()),
        _ => return None,
    };
    let prefixed = digits.len() != lower.len();
    let digits = if prefixed {
        digits.strip_prefix('_').unwrap_or(&digits).to_string()
    } else {
        digits
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let n = i128::from_str_radix(&clean, u32::try_from(base).ok()?).ok()?;
    Some(if neg { -n } else { n })
}

/// Python's `float(value)`; `None` where Python raises `ValueError` or
/// `TypeError`.
fn py_float_of(value: &Value) -> Option<f64> {
    match value.kind() {
        ValueKind::Bool | ValueKind::Number => f64::try_from(value.clone()).ok(),
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default().trim();
            if s.contains('_') {
                let b = s.as_bytes();
                let ok = b.iter().enumerate().all(|(i, c)| {
                    *c != b'_'
                        || (i > 0
                            && i + 1 < b.len()
                            && b[i - 1].is_ascii_digit()
                            && b[i + 1].is_ascii_digit())
                });
                if !ok {
                    return None;
                }
            }
            let clean = s.replace('_', "");
            let lower = clean.to_ascii_lowercase();
            let body = lower.trim_start_matches(['+', '-']);
            if matches!(body, "inf" | "infinity" | "nan") {
                return clean.parse::<f64>().ok();
            }
            // Rust also reads "infinity"-like words Python refuses; only
            // digits, a point, an exponent and a sign get here.
            if !body
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
            {
                return None;
            }
            clean.parse::<f64>().ok()
        }
        _ => None,
    }
}

fn int_value(n: i128) -> Value {
    i64::try_from(n).map_or_else(|_| Value::from(n), Value::from)
}

/// Jinja's `do_int`: `int(value)` (strings in `base`), else
/// `int(float(value))`, else the default.
fn do_int(value: &Value, default: Value, base: i64) -> Result<Value, Error> {
    let from_float = |f: f64| -> Result<Value, Error> {
        if f.is_infinite() {
            return Err(invalid("cannot convert float infinity to integer"));
        }
        if f.is_nan() {
            return Ok(default.clone());
        }
        Ok(int_value(f.trunc() as i128))
    };
    match value.kind() {
        ValueKind::Bool => Ok(Value::from(i64::from(value.is_true()))),
        ValueKind::Number if value.is_integer() => Ok(value.clone()),
        ValueKind::Number => from_float(f64::try_from(value.clone()).unwrap_or(f64::NAN)),
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default();
            if let Some(n) = parse_py_int(s, base) {
                return Ok(int_value(n));
            }
            match py_float_of(value) {
                Some(f) => from_float(f),
                None => Ok(default),
            }
        }
        _ => Ok(default),
    }
}

// ---------------------------------------------------------------------------
// string filters

/// Python's `str.center(width)`: the odd space goes left when the width is odd.
fn center(s: &str, width: i64) -> Result<String, Error> {
    let len = i64::try_from(s.chars().count()).unwrap_or(i64::MAX);
    if width <= len {
        return Ok(s.to_string());
    }
    let marg = width - len;
    budget::check_bytes_wide(
        "the result of center()",
        s.len() as u128 + marg.unsigned_abs() as u128,
    )?;
    let left = marg / 2 + (marg & width & 1);
    let right = marg - left;
    let n = |x: i64| " ".repeat(usize::try_from(x).unwrap_or(0));
    Ok(format!("{}{s}{}", n(left), n(right)))
}

/// Python's `str.splitlines()`.
fn splitlines(s: &str) -> Vec<String> {
    splitlines_keepends(s)
        .into_iter()
        .map(|l| l.trim_end_matches(is_line_break).to_string())
        .collect()
}

/// Jinja's `do_indent`.
fn indent(s: &str, indention: &str, first: bool, blank: bool) -> String {
    let s = format!("{s}\n");
    let lines = splitlines(&s);
    let mut rv = if blank {
        lines.join(&format!("\n{indention}"))
    } else {
        let mut it = lines.into_iter();
        let mut rv = it.next().unwrap_or_default();
        let rest: Vec<String> = it
            .map(|line| {
                if line.is_empty() {
                    line
                } else {
                    format!("{indention}{line}")
                }
            })
            .collect();
        if !rest.is_empty() {
            rv.push('\n');
            rv.push_str(&rest.join("\n"));
        }
        rv
    };
    if first {
        rv = format!("{indention}{rv}");
    }
    rv
}

/// Jinja's `do_truncate`.
fn truncate(
    s: &str,
    length: i64,
    killwords: bool,
    end: &str,
    leeway: i64,
) -> Result<String, Error> {
    let end_len = i64::try_from(end.chars().count()).unwrap_or(0);
    if length < end_len {
        return Err(invalid(format!(
            "expected length >= {end_len}, got {length}"
        )));
    }
    if leeway < 0 {
        return Err(invalid(format!("expected leeway >= 0, got {leeway}")));
    }
    let len = i64::try_from(s.chars().count()).unwrap_or(i64::MAX);
    if len <= length + leeway {
        return Ok(s.to_string());
    }
    let keep: String = s
        .chars()
        .take(usize::try_from(length - end_len).unwrap_or(0))
        .collect();
    if killwords {
        return Ok(keep + end);
    }
    let result = match keep.rfind(' ') {
        Some(at) => keep[..at].to_string(),
        None => keep,
    };
    Ok(result + end)
}

/// `textwrap`'s whitespace.
fn tw_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// `TextWrapper._split`: whitespace runs and words; with `break_on_hyphens`
/// a word also splits after a hyphen between letters (`wordsep_re`).
fn tw_chunks(text: &str, hyphens: bool) -> Vec<String> {
    let mut chunks: Vec<String> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let space = tw_space(chars[i]);
        let mut j = i;
        while j < chars.len() && tw_space(chars[j]) == space {
            j += 1;
        }
        if space || !hyphens {
            chunks.push(chars[i..j].iter().collect());
        } else {
            let mut start = i;
            let letter = |k: usize| chars.get(k).is_some_and(|c| c.is_alphabetic());
            for k in i..j {
                if chars[k] == '-'
                    && k >= start + 2
                    && letter(k - 1)
                    && (letter(k - 2) || (k >= 3 && chars[k - 2] == '-' && letter(k - 3)))
                    && k + 1 < j
                    && (letter(k + 1) || (chars[k + 1] == '-' && letter(k + 2)))
                {
                    chunks.push(chars[start..=k].iter().collect());
                    start = k + 1;
                }
            }
            chunks.push(chars[start..j].iter().collect());
        }
        i = j;
    }
    chunks
}

/// `textwrap.wrap(text, width, expand_tabs=False, replace_whitespace=False,
/// break_long_words, break_on_hyphens)`.
fn wrap(text: &str, width: usize, break_long: bool, hyphens: bool) -> Vec<String> {
    let mut chunks = tw_chunks(text, hyphens);
    chunks.reverse();
    let len = |s: &str| s.chars().count();
    let mut lines: Vec<String> = Vec::new();
    while !chunks.is_empty() {
        let mut cur: Vec<String> = Vec::new();
        let mut cur_len = 0;
        if chunks
            .last()
            .is_some_and(|c| c.trim_matches(tw_space).is_empty())
            && !lines.is_empty()
        {
            chunks.pop();
        }
        while let Some(c) = chunks.last() {
            let l = len(c);
            if cur_len + l <= width {
                cur_len += l;
                cur.push(chunks.pop().unwrap_or_default());
            } else {
                break;
            }
        }
        if chunks.last().is_some_and(|c| len(c) > width) {
            let space_left = if width < 1 { 1 } else { width - cur_len };
            if break_long {
                let chunk: Vec<char> = chunks.pop().unwrap_or_default().chars().collect();
                let mut end = space_left;
                if hyphens
                    && chunk.len() > space_left
                    && let Some(h) = chunk[..space_left].iter().rposition(|c| *c == '-')
                    && h > 0
                    && chunk[..h].iter().any(|c| *c != '-')
                {
                    end = h + 1;
                }
                cur.push(chunk[..end].iter().collect());
                chunks.push(chunk[end..].iter().collect());
            } else if cur.is_empty() {
                cur.push(chunks.pop().unwrap_or_default());
            }
        }
        if cur
            .last()
            .is_some_and(|c| c.trim_matches(tw_space).is_empty())
        {
            cur.pop();
        }
        if !cur.is_empty() {
            lines.push(cur.concat());
        }
    }
    lines
}

/// Jinja's `do_wordcount`: the matches of `\w+`.
fn wordcount(s: &str) -> usize {
    let mut count = 0;
    let mut in_word = false;
    for c in s.chars() {
        let w = c.is_alphanumeric() || c == '_';
        if w && !in_word {
            count += 1;
        }
        in_word = w;
    }
    count
}

/// markupsafe's `Markup.striptags`: comments, then tags, removed; whitespace
/// collapsed; entities unescaped.
fn striptags(s: &str) -> String {
    let mut value = s.to_string();
    for (open, close) in [("<!--", "-->"), ("<", ">")] {
        while let Some(start) = value.find(open) {
            let Some(end) = value[start..].find(close) else {
                break;
            };
            value = format!("{}{}", &value[..start], &value[start + end + close.len()..]);
        }
    }
    let collapsed = value.split_whitespace().collect::<Vec<_>>().join(" ");
    html_unescape(&collapsed)
}

/// Python's `html.unescape` for the named entities templates meet and all
/// numeric ones.
fn html_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest[1..].find(';').map(|e| e + 1);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = if let Some(num) = name.strip_prefix('#') {
                let n = match num.strip_prefix(['x', 'X']) {
                    Some(h) => u32::from_str_radix(h, 16).ok()?,
                    None => num.parse::<u32>().ok()?,
                };
                char::from_u32(n).unwrap_or('\u{fffd}')
            } else {
                match name {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    "nbsp" => '\u{a0}',
                    "copy" => '©',
                    "reg" => '®',
                    "hellip" => '…',
                    "mdash" => '—',
                    "ndash" => '–',
                    "euro" => '€',
                    _ => return None,
                }
            };
            Some((c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// [`html_escape`] once its size fits the budget: each of `&<>"'` grows by
/// up to 4 bytes.
fn checked_html_escape(s: &str) -> Result<Value, Error> {
    let specials = s.bytes().filter(|b| b"&<>\"'".contains(b)).count();
    budget::check_bytes_wide(
        "the result of escape()",
        s.len() as u128 + 4 * specials as u128,
    )?;
    Ok(Value::from_safe_string(html_escape(s)))
}

/// markupsafe's `escape`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Jinja's `do_filesizeformat`.
fn filesizeformat(bytes: f64, binary: bool) -> String {
    let base: f64 = if binary { 1024.0 } else { 1000.0 };
    let prefixes = if binary {
        ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
    } else {
        ["kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
    };
    if bytes == 1.0 {
        return "1 Byte".into();
    }
    if bytes < base {
        return format!("{} Bytes", bytes.trunc() as i64);
    }
    let mut unit = base;
    for (i, prefix) in prefixes.iter().enumerate() {
        unit = base.powi(i32::try_from(i).unwrap_or(0) + 2);
        if bytes < unit {
            return format!("{:.1} {prefix}", base * bytes / unit);
        }
    }
    format!("{:.1} {}", base * bytes / unit, prefixes[7])
}

/// Jinja's `do_xmlattr`.
fn xmlattr(value: &Value, autospace: bool) -> Result<Value, Error> {
    let mut items = Vec::new();
    for key in value.try_iter()? {
        let v = value.get_item(&key)?;
        if v.is_none() || v.is_undefined() {
            continue;
        }
        let k = py_str(&key);
        if k.chars()
            .any(|c| c.is_ascii_whitespace() || matches!(c, '/' | '>' | '='))
        {
            return Err(invalid(format!(
                "Invalid character in attribute name: {}",
                quote(&k)
            )));
        }
        items.push(format!(
            "{}=\"{}\"",
            html_escape(&k),
            html_escape(&py_str(&v))
        ));
    }
    let mut rv = items.join(" ");
    if autospace && !rv.is_empty() {
        rv.insert(0, ' ');
    }
    Ok(Value::from_safe_string(rv))
}

/// Jinja's `url_quote`: UTF-8 percent-encoding; `/` stays unless for a query
/// string, where a space becomes `+`.
fn url_quote(value: &Value, for_qs: bool) -> String {
    let text = match value.as_bytes() {
        Some(b) if value.kind() == ValueKind::Bytes => b.to_vec(),
        _ => py_str(value).into_bytes(),
    };
    let mut out = String::with_capacity(text.len());
    for b in text {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'_' | b'.' | b'-' | b'~')
            || (b == b'/' && !for_qs)
        {
            out.push(b as char);
        } else if b == b' ' && for_qs {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Jinja's `do_urlencode`.
fn urlencode(value: &Value) -> Result<Value, Error> {
    if value.kind() == ValueKind::String || !is_container(value) {
        // A quoted byte is three.
        let len = value.as_str().map_or_else(|| py_str(value).len(), str::len);
        budget::check_bytes_wide("the result of urlencode()", 3 * len as u128)?;
        return Ok(Value::from(url_quote(value, false)));
    }
    let pairs: Vec<(Value, Value)> = if value.kind() == ValueKind::Map {
        value
            .try_iter()?
            .map(|k| {
                let v = value.get_item(&k).unwrap_or_default();
                (k, v)
            })
            .collect()
    } else {
        let mut out = Vec::new();
        for item in value.try_iter()? {
            let kv: Vec<Value> = iterate(&item)?;
            match kv.as_slice() {
                [k, v] => out.push((k.clone(), v.clone())),
                _ => {
                    return Err(invalid(format!(
                        "expected 2 values to unpack, got {}",
                        kv.len()
                    )));
                }
            }
        }
        out
    };
    Ok(Value::from(
        pairs
            .iter()
            .map(|(k, v)| format!("{}={}", url_quote(k, true), url_quote(v, true)))
            .collect::<Vec<_>>()
            .join("&"),
    ))
}

// ---------------------------------------------------------------------------
// joiner / cycler

/// Jinja's `joiner(sep)`: `""` the first call, `sep` after.
#[derive(Debug)]
struct Joiner {
    sep: String,
    used: Mutex<bool>,
}

impl Object for Joiner {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, _: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let () = from_args(args)?;
        let mut used = crate::template::pymodules::lock(&self.used);
        if *used {
            Ok(Value::from(self.sep.clone()))
        } else {
            *used = true;
            Ok(Value::from(""))
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<jinja2.utils.Joiner object>")
    }
}

/// Jinja's `cycler(*items)`: `.next()`, `.current`, `.reset()`.
#[derive(Debug)]
struct Cycler {
    items: Vec<Value>,
    pos: Mutex<usize>,
}

impl Object for Cycler {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "current" => self
                .items
                .get(*crate::template::pymodules::lock(&self.pos))
                .cloned(),
            "items" => Some(Value::from(Tuple::from(self.items.clone()))),
            "pos" => Some(Value::from(*crate::template::pymodules::lock(&self.pos))),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let () = from_args(args)?;
        let mut pos = crate::template::pymodules::lock(&self.pos);
        match method {
            "next" | "__next__" => {
                let rv = self.items.get(*pos).cloned().unwrap_or_default();
                *pos = (*pos + 1) % self.items.len().max(1);
                Ok(rv)
            }
            "reset" => {
                *pos = 0;
                Ok(Value::from(()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<jinja2.utils.Cycler object>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Environment<'static> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_formatter(|out, _state, value| {
            out.write_str(&py_str(value))?;
            Ok(())
        });
        register(&mut env);
        env
    }

    fn render(src: &str) -> String {
        env()
            .render_str(src, ())
            .unwrap_or_else(|e| format!("ERROR: {e}"))
    }

    /// Expected outputs are Jinja 3.1.6's (`jinja2.Environment().from_string(src).render()`).
    #[test]
    fn filters_render_as_jinja() {
        for (src, want) in [
            (
                "{{ {'b': 2, 'a': \"<x>'&\"} | tojson }}",
                r#"{"a": "\u003cx\u003e\u0027\u0026", "b": 2}"#,
            ),
            (
                "{{ {'k': 'é', 'l': [1, 2]} | tojson(indent=2) }}",
                "{\n  \"k\": \"\\u00e9\",\n  \"l\": [\n    1,\n    2\n  ]\n}",
            ),
            (
                "{{ {'b': 1, 'a': [1, 2]} | pprint }}",
                "{'a': [1, 2], 'b': 1}",
            ),
            (
                "{{ '42' | int }}|{{ '3.7' | int }}|{{ 'abc' | int }}|{{ 'abc' | int(-1) }}|{{ 3.99 | int }}|{{ '0x1A' | int(0, 16) }}",
                "42|3|0|-1|3|26",
            ),
            (
                "{{ '0.85' | float }}|{{ 10 | float }}|{{ 'x' | float }}|{{ '1_000' | int }}|{{ ' 7 ' | int }}|{{ none | int }}",
                "0.85|10.0|0.0|1000|7|0",
            ),
            (
                "{{ '2024-06-01' | replace('-', '/') }}|{{ 'aaa' | replace('a', 'b', 2) }}",
                "2024/06/01|bba",
            ),
            (
                "[{{ 'ab' | center(6) }}]|[{{ 'abc' | center(6) }}]|[{{ 'ab' | center(7) }}]",
                "[  ab  ]|[ abc  ]|[   ab  ]",
            ),
            (
                "{{ 'a\nb' | indent(2) }}|{{ 'a\nb' | indent(2, first=true) }}|{{ 'a\n\nb' | indent }}|{{ 'a\n\nb' | indent(1, blank=true) }}",
                "a\n  b|  a\n  b|a\n\n    b|a\n \n b",
            ),
            (
                "{{ 'the quick brown fox jumps' | truncate(12) }}|{{ 'the quick brown fox' | wordcount }}|{{ 'the quick brown fox' | wordwrap(10) }}",
                "the...|4|the quick\nbrown fox",
            ),
            (
                "{{ 'abcdefghijklmnop' | truncate(10, true) }}|{{ 'the quick brown fox jumps' | truncate(14, end='!') }}",
                "abcdefg...|the quick!",
            ),
            (
                "{{ 'a supercalifragilistic word-wrapping test' | wordwrap(8) }}",
                "a superc\nalifragi\nlistic\nword-\nwrapping\ntest",
            ),
            (
                "{{ 'a b&c=d/é' | urlencode }}|{{ {'q': 'a b', 'n': 1} | urlencode }}|{{ '<b>&' | escape }}|{{ '<b>x</b>' | striptags }}",
                "a%20b%26c%3Dd/%C3%A9|q=a+b&n=1|&lt;b&gt;&amp;|x",
            ),
            (
                "{{ '<p>a  &amp; <!-- c --> b</p>' | striptags }}|{{ '\"x\\'' | e }}",
                "a & b|&#34;x&#39;",
            ),
            (
                "{{ 1536 | filesizeformat }}|{{ 1536 | filesizeformat(true) }}|{{ 123456789 | filesizeformat }}|{{ 1 | filesizeformat }}|{{ 999 | filesizeformat }}",
                "1.5 kB|1.5 KiB|123.5 MB|1 Byte|999 Bytes",
            ),
            (
                "<td{{ {'class': 'x', 'id': 'y', 'n': none} | xmlattr }}>",
                "<td class=\"x\" id=\"y\">",
            ),
            (
                "{{ '%s-%05.2f|%d' | format('x', 3.14159, 42) }}|{{ '%(a)s' | format(a=1) }}",
                "x-03.14|42|1",
            ),
            (
                "{{ [1, true, none] | join(',') }}|{{ 'abc' | join('-') }}|{{ [{'n': 'a'}, {'n': 'b'}] | join('-', attribute='n') }}",
                "1,True,None|a-b-c|a-b",
            ),
            (
                "{% set j = joiner(' AND ') %}{% for r in ['a', 'b', 'c'] %}{{ j() }}{{ r }}{% endfor %}",
                "a AND b AND c",
            ),
            (
                "{% set c = cycler('odd', 'even') %}{{ c.next() }} {{ c.next() }} {{ c.next() }} {{ c.current }}{{ c.reset() }} {{ c.current }}",
                "odd even odd evenNone odd",
            ),
        ] {
            assert_eq!(render(src), want, "{src}");
        }
        assert!(render("{{ none | join(',') }}").contains("'NoneType' object is not iterable"));
        assert!(render("{{ 5 | join(',') }}").contains("'int' object is not iterable"));
    }

    #[test]
    fn pprint_wraps_as_python() {
        use crate::template::objects::to_value;
        // python3 -c "import pprint; print(pprint.pformat({...}))"
        let v = to_value(&serde_json::json!({
            "regions": ["emea", "apac", "amer", "latam", "north-america-east", "north-america-west"],
            "thresholds": {"low": 10, "high": 90},
            "name": "a fairly long description string that goes past the eighty column limit of pprint"
        }));
        assert_eq!(
            pformat(&v),
            "{'name': 'a fairly long description string that goes past the eighty column '\n         'limit of pprint',\n 'regions': ['emea',\n             'apac',\n             'amer',\n             'latam',\n             'north-america-east',\n             'north-america-west'],\n 'thresholds': {'high': 90, 'low': 10}}"
        );
    }
}
