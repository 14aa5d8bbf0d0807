//! The Python modules Airflow's `macros` exposes (`uuid`, `time`, `dateutil`
//! with `relativedelta`, `yaml`), Python's `json.dumps` with its keyword
//! arguments, Python's printf-style `%` formatting, and pendulum's
//! `diff_for_humans` — each written to print byte for byte what CPython 3.11,
//! PyYAML 6, python-dateutil 2.9 and pendulum 3 print.

use std::fmt::Write;
use std::sync::{Arc, Mutex};

use chrono::{Datelike, NaiveDate, Timelike};
use minijinja::value::{DynObject, Kwargs, Object, ObjectRepr, Value, ValueKind, from_args};
use minijinja::{Error, ErrorKind, State};

use crate::context::{DateTime, TimeDelta, Zone};
use crate::template::budget;
use crate::template::objects::{DateTimeObj, TimeDeltaObj, as_datetime, invalid, to_value};
use crate::template::pyfmt::{py_float, py_repr, py_str};

/// `macros.<name>` for the modules this file provides.
pub fn module(name: &str) -> Option<Value> {
    Some(match name {
        "uuid" => Value::from_object(UuidModule),
        "time" => Value::from_object(TimeModule),
        "dateutil" => Value::from_object(DateutilModule),
        "yaml" => Value::from_object(YamlModule),
        _ => return None,
    })
}

fn unknown_method(module: &str, method: &str) -> Error {
    Error::new(
        ErrorKind::UnknownMethod,
        format!("module '{module}' has no attribute '{method}'"),
    )
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
fn is_plain_object(v: &Value) -> bool {
    v.as_object().is_some_and(|o| o.repr() == ObjectRepr::Plain)
}

fn is_mapping(v: &Value) -> bool {
    v.kind() == ValueKind::Map && !is_plain_object(v)
}

fn is_sequence(v: &Value) -> bool {
    matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable) && !is_plain_object(v)
}

// ---------------------------------------------------------------------------
// json.dumps

/// The options of Python's `json.dumps`.
#[derive(Debug, Clone)]
pub struct JsonOptions {
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
    pub fn set_indent(&mut self, indent: &Value) -> Result<(), Error> {
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
pub fn json_dumps(value: &Value, kwargs: &Kwargs) -> Result<String, Error> {
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
pub fn json_dumps_with(value: &Value, opts: &JsonOptions) -> Result<String, Error> {
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
            write_json_str(out, value.as_str().unwrap_or_default(), opts.ensure_ascii)
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
                write_json_str(out, &key, opts.ensure_ascii);
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

/// Python's JSON number: ints as they are, floats by `float.__repr__`,
/// `Infinity`/`NaN` for the non-finite.
fn json_number(v: &Value) -> String {
    if v.is_integer() {
        return v.to_string();
    }
    let f = f64::try_from(v.clone()).unwrap_or(f64::NAN);
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        py_float(f)
    }
}

fn write_json_str(out: &mut String, s: &str, ensure_ascii: bool) {
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

// ---------------------------------------------------------------------------
// printf-style formatting: `fmt % args`

/// Python's `fmt % args`: `args` is a tuple (several values), a mapping (for
/// `%(name)s`), or any other single value.
pub fn percent_format(fmt: &str, args: &Value) -> Result<String, Error> {
    let tuple: Vec<Value> = if args.is_tuple() {
        args.try_iter()?.collect()
    } else {
        vec![args.clone()]
    };
    // CPython takes any non-tuple, non-str object with `__getitem__` as the
    // mapping: then unused arguments are not an error.
    let mapping = (!args.is_tuple() && args.kind() != ValueKind::String)
        && (is_mapping(args) || is_sequence(args));
    let mut next = 0usize;
    let mut out = String::with_capacity(fmt.len() + 16);
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let take_arg = |next: &mut usize| -> Result<Value, Error> {
        let v = tuple
            .get(*next)
            .cloned()
            .ok_or_else(|| invalid("not enough arguments for format string"))?;
        *next += 1;
        Ok(v)
    };
    let mut used_key = false;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        let incomplete = || Error::new(ErrorKind::InvalidOperation, "incomplete format");
        // %(name)
        let mut keyed: Option<Value> = None;
        if chars.get(i) == Some(&'(') {
            if !is_mapping(args) {
                return Err(invalid("format requires a mapping"));
            }
            let mut depth = 1;
            let mut j = i + 1;
            while j < chars.len() && depth > 0 {
                match chars[j] {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                j += 1;
            }
            if depth > 0 {
                return Err(invalid("incomplete format key"));
            }
            let key: String = chars[i + 1..j - 1].iter().collect();
            let v = args.get_item(&Value::from(key.clone()))?;
            if v.is_undefined() {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("KeyError: {}", crate::template::pyfmt::quote(&key)),
                ));
            }
            keyed = Some(v);
            used_key = true;
            i = j;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.get(i) {
            match f {
                '-' => spec.left = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alt = true,
                '0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        if chars.get(i) == Some(&'*') {
            let w = take_arg(&mut next)?;
            let w = w.as_i64().ok_or_else(|| invalid("* wants int"))?;
            if w < 0 {
                spec.left = true;
            }
            spec.width = budget::check_bytes_wide("a `%` format width", w.unsigned_abs().into())?;
            i += 1;
        } else {
            // Widths past 2^64 must not wrap: count in u128, saturating.
            let mut w: u128 = 0;
            while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                w = w.saturating_mul(10).saturating_add(d.into());
                i += 1;
            }
            spec.width = budget::check_bytes_wide("a `%` format width", w)?;
        }
        if chars.get(i) == Some(&'.') {
            i += 1;
            let p;
            if chars.get(i) == Some(&'*') {
                let v = take_arg(&mut next)?;
                let v = v.as_i64().ok_or_else(|| invalid("* wants int"))?.max(0);
                p = budget::check_bytes_wide(
                    "a `%` format precision",
                    u128::try_from(v).unwrap_or(0),
                )?;
                i += 1;
            } else {
                let mut w: u128 = 0;
                while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                    w = w.saturating_mul(10).saturating_add(d.into());
                    i += 1;
                }
                p = budget::check_bytes_wide("a `%` format precision", w)?;
            }
            spec.precision = Some(p);
        }
        // Length modifiers are accepted and ignored, as in CPython.
        while matches!(chars.get(i), Some('h' | 'l' | 'L')) {
            i += 1;
        }
        let Some(&conv) = chars.get(i) else {
            return Err(incomplete());
        };
        i += 1;
        if conv == '%' {
            out.push('%');
            continue;
        }
        let arg = match keyed.take() {
            Some(v) => v,
            None if mapping && used_key => args.clone(),
            None => take_arg(&mut next)?,
        };
        // What this field adds is at most its width or its precision (and
        // the number itself): check the total before formatting it.
        budget::check_bytes_wide(
            "the `%` formatted string",
            out.len() as u128 + spec.width.max(spec.precision.unwrap_or(0)) as u128,
        )?;
        let text = format_one(conv, &arg, &spec).map_err(|e| match e {
            FmtErr::Msg(m) => invalid(m),
            FmtErr::Unsupported => invalid(format!(
                "unsupported format character '{conv}' (0x{:x}) at index {}",
                conv as u32,
                chars[..i - 1]
                    .iter()
                    .map(|c| c.len_utf16())
                    .sum::<usize>()
                    .max(start)
            )),
        })?;
        out.push_str(&text);
    }
    if !mapping && next < tuple.len() {
        return Err(invalid(
            "not all arguments converted during string formatting",
        ));
    }
    Ok(out)
}

#[derive(Debug, Default, Clone)]
struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    alt: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
}

enum FmtErr {
    Msg(String),
    Unsupported,
}

fn format_one(conv: char, arg: &Value, spec: &Spec) -> Result<String, FmtErr> {
    let pad_text = |s: String| -> String { pad(s, spec, false) };
    match conv {
        's' | 'r' | 'a' => {
            let mut s = match conv {
                's' => py_str(arg),
                'r' => py_repr(arg),
                _ => ascii(&py_repr(arg)),
            };
            if let Some(p) = spec.precision {
                s = s.chars().take(p).collect();
            }
            Ok(pad_text(s))
        }
        'd' | 'i' | 'u' => {
            let n = as_int_for(arg, conv, true)?;
            let mut digits = n.unsigned_abs().to_string();
            if let Some(p) = spec.precision {
                while digits.len() < p {
                    digits.insert(0, '0');
                }
            }
            Ok(pad(sign(n < 0, spec) + &digits, spec, true))
        }
        'x' | 'X' | 'o' => {
            let n = as_int_for(arg, conv, false)?;
            let mut digits = match conv {
                'x' => format!("{:x}", n.unsigned_abs()),
                'X' => format!("{:X}", n.unsigned_abs()),
                _ => format!("{:o}", n.unsigned_abs()),
            };
            if let Some(p) = spec.precision {
                while digits.len() < p {
                    digits.insert(0, '0');
                }
            }
            let prefix = match (spec.alt, conv) {
                (false, _) => "",
                (true, 'x') => "0x",
                (true, 'X') => "0X",
                (true, _) => "0o",
            };
            Ok(pad(
                format!("{}{prefix}{digits}", sign(n < 0, spec)),
                spec,
                true,
            ))
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            let f = match arg.kind() {
                ValueKind::Number | ValueKind::Bool => {
                    f64::try_from(arg.clone()).unwrap_or(f64::NAN)
                }
                _ => {
                    return Err(FmtErr::Msg(format!(
                        "must be real number, not {}",
                        type_name(arg)
                    )));
                }
            };
            let p = spec.precision.unwrap_or(6);
            let body = format_float(f.abs(), conv, p, spec.alt);
            Ok(pad(
                sign(f.is_sign_negative() && !f.is_nan(), spec) + &body,
                spec,
                true,
            ))
        }
        'c' => {
            let ch = if let Some(s) = arg.as_str() {
                let mut it = s.chars();
                match (it.next(), it.next()) {
                    (Some(c), None) => c,
                    _ => return Err(FmtErr::Msg("%c requires int or char".into())),
                }
            } else if arg.is_integer() {
                let n = arg.as_i64().unwrap_or(-1);
                u32::try_from(n)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| FmtErr::Msg("%c arg not in range(0x110000)".into()))?
            } else {
                return Err(FmtErr::Msg("%c requires int or char".into()));
            };
            Ok(pad_text(ch.to_string()))
        }
        _ => Err(FmtErr::Unsupported),
    }
}

fn sign(negative: bool, spec: &Spec) -> String {
    if negative {
        "-".into()
    } else if spec.plus {
        "+".into()
    } else if spec.space {
        " ".into()
    } else {
        String::new()
    }
}

/// Pads to the width: left-aligned with `-`, zero-filled after the sign and
/// prefix with `0` (numbers only), else right-aligned with spaces.
fn pad(s: String, spec: &Spec, numeric: bool) -> String {
    let len = s.chars().count();
    if len >= spec.width {
        return s;
    }
    let fill = spec.width - len;
    if spec.left {
        return s + &" ".repeat(fill);
    }
    if numeric && spec.zero {
        // After the sign and any 0x/0o prefix.
        let mut head = 0;
        let b = s.as_bytes();
        if matches!(b.first(), Some(b'-' | b'+' | b' ')) {
            head = 1;
        }
        if b.len() >= head + 2 && b[head] == b'0' && matches!(b[head + 1], b'x' | b'X' | b'o') {
            head += 2;
        }
        return format!("{}{}{}", &s[..head], "0".repeat(fill), &s[head..]);
    }
    " ".repeat(fill) + &s
}

fn as_int_for(arg: &Value, conv: char, allow_float: bool) -> Result<i128, FmtErr> {
    match arg.kind() {
        ValueKind::Bool => Ok(i128::from(arg.is_true())),
        ValueKind::Number if arg.is_integer() => {
            i128::try_from(arg.clone()).map_err(|_| FmtErr::Msg("integer out of range".into()))
        }
        ValueKind::Number if allow_float => {
            let f = f64::try_from(arg.clone()).unwrap_or(f64::NAN);
            if f.is_nan() {
                Err(FmtErr::Msg("cannot convert float NaN to integer".into()))
            } else if f.is_infinite() {
                Err(FmtErr::Msg(
                    "cannot convert float infinity to integer".into(),
                ))
            } else {
                Ok(f.trunc() as i128)
            }
        }
        ValueKind::Number => Err(FmtErr::Msg(format!(
            "%{conv} format: an integer is required, not float"
        ))),
        _ if allow_float => Err(FmtErr::Msg(format!(
            "%{conv} format: a real number is required, not {}",
            type_name(arg)
        ))),
        _ => Err(FmtErr::Msg(format!(
            "%{conv} format: an integer is required, not {}",
            type_name(arg)
        ))),
    }
}

/// Python's `ascii()` of a repr: non-ASCII as `\xe9`, `\u20ac`, `\U0001f600`.
fn ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let n = c as u32;
        if n < 0x80 {
            out.push(c);
        } else if n <= 0xff {
            let _ = write!(out, "\\x{n:02x}");
        } else if n <= 0xffff {
            let _ = write!(out, "\\u{n:04x}");
        } else {
            let _ = write!(out, "\\U{n:08x}");
        }
    }
    out
}

/// A non-negative float in `%e`, `%f` or `%g` style (`conv` upper case for
/// upper-case output), as CPython's correctly rounded formatting writes it.
pub fn format_float(f: f64, conv: char, precision: usize, alt: bool) -> String {
    let upper = conv.is_ascii_uppercase();
    let case = |s: String| if upper { s.to_uppercase() } else { s };
    if f.is_nan() {
        return case("nan".into());
    }
    if f.is_infinite() {
        return case("inf".into());
    }
    match conv.to_ascii_lowercase() {
        'f' => {
            let s = format!("{f:.precision$}");
            if alt && precision == 0 { s + "." } else { s }
        }
        'e' => {
            let s = exp_format(f, precision);
            let s = if alt && precision == 0 {
                s.replacen('e', ".e", 1)
            } else {
                s
            };
            case(s)
        }
        _ => {
            let p = precision.max(1);
            let exp = if f == 0.0 {
                0
            } else {
                let s = format!("{:.*e}", p - 1, f);
                s.split_once('e')
                    .and_then(|(_, e)| e.parse::<i32>().ok())
                    .unwrap_or(0)
            };
            let p_i = i32::try_from(p).unwrap_or(i32::MAX);
            let mut s = if (-4..p_i).contains(&exp) {
                let decimals = usize::try_from(p_i - 1 - exp).unwrap_or(0);
                let s = format!("{f:.decimals$}");
                if alt && decimals == 0 { s + "." } else { s }
            } else {
                exp_format(f, p - 1)
            };
            if !alt {
                let (mantissa, rest) = match s.find('e') {
                    Some(at) => (s[..at].to_string(), s[at..].to_string()),
                    None => (s.clone(), String::new()),
                };
                let mantissa = if mantissa.contains('.') {
                    mantissa
                        .trim_end_matches('0')
                        .trim_end_matches('.')
                        .to_string()
                } else {
                    mantissa
                };
                s = mantissa + &rest;
            }
            case(s)
        }
    }
}

/// `1.5e+16`-style exponent: a sign and at least two digits.
fn exp_format(f: f64, precision: usize) -> String {
    let s = format!("{f:.precision$e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

// ---------------------------------------------------------------------------
// uuid

#[derive(Debug)]
struct UuidModule;

/// A `uuid.UUID`.
#[derive(Debug, Clone)]
pub struct UuidObj(pub uuid::Uuid);

fn uuid_arg(v: &Value) -> Result<uuid::Uuid, Error> {
    v.downcast_object_ref::<UuidObj>()
        .map(|u| u.0)
        .ok_or_else(|| {
            invalid(format!(
                "'{}' object has no attribute 'bytes'",
                type_name(v)
            ))
        })
}

/// Python's `UUID(hex)`: braces, `urn:uuid:` and hyphens are ignored; 32 hex
/// digits must remain.
fn parse_uuid(text: &str) -> Result<uuid::Uuid, Error> {
    let s = text.replace("urn:", "").replace("uuid:", "");
    let s = s.trim_matches(|c| c == '{' || c == '}').replace('-', "");
    if s.len() != 32 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(invalid("badly formed hexadecimal UUID string"));
    }
    u128::from_str_radix(&s, 16)
        .map(uuid::Uuid::from_u128)
        .map_err(|_| invalid("badly formed hexadecimal UUID string"))
}

impl Object for UuidModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let ns = match key.as_str()? {
            "NAMESPACE_DNS" => uuid::Uuid::NAMESPACE_DNS,
            "NAMESPACE_URL" => uuid::Uuid::NAMESPACE_URL,
            "NAMESPACE_OID" => uuid::Uuid::NAMESPACE_OID,
            "NAMESPACE_X500" => uuid::Uuid::NAMESPACE_X500,
            _ => return None,
        };
        Some(Value::from_object(UuidObj(ns)))
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let u = match method {
            "UUID" => {
                let (hex, kwargs): (Option<&str>, Kwargs) = from_args(args)?;
                let hex = match hex {
                    Some(h) => h.to_string(),
                    None => kwargs
                        .get::<Option<String>>("hex")?
                        .ok_or_else(|| invalid("one of the hex, bytes, bytes_le, fields, or int arguments must be given"))?,
                };
                kwargs.assert_all_used()?;
                parse_uuid(&hex)?
            }
            "uuid4" => {
                let () = from_args(args)?;
                uuid::Uuid::new_v4()
            }
            "uuid5" | "uuid3" => {
                let (ns, name): (Value, Value) = from_args(args)?;
                let ns = uuid_arg(&ns)?;
                let bytes = match name.as_str() {
                    Some(s) => s.as_bytes().to_vec(),
                    None => name
                        .as_bytes()
                        .map(<[u8]>::to_vec)
                        .ok_or_else(|| invalid("name must be a str or bytes"))?,
                };
                if method == "uuid5" {
                    uuid::Uuid::new_v5(&ns, &bytes)
                } else {
                    uuid::Uuid::new_v3(&ns, &bytes)
                }
            }
            other => return Err(unknown_method("uuid", other)),
        };
        Ok(Value::from_object(UuidObj(u)))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<module 'uuid'>")
    }
}

impl Object for UuidObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let u = self.0;
        Some(match key.as_str()? {
            "hex" => u.simple().to_string().into(),
            "int" => Value::from(u.as_u128()),
            "urn" => format!("urn:uuid:{}", u.hyphenated()).into(),
            "version" => {
                // Python reports a version only for RFC 4122 variants.
                if u.get_variant() == uuid::Variant::RFC4122 {
                    Value::from(u.get_version_num())
                } else {
                    Value::from(())
                }
            }
            "bytes" => Value::from_bytes(u.as_bytes().to_vec()),
            _ => return None,
        })
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<std::cmp::Ordering> {
        Some(self.0.cmp(&other.downcast_ref::<Self>()?.0))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

// ---------------------------------------------------------------------------
// time

#[derive(Debug)]
struct TimeModule;

/// A `time.struct_time` (UTC: `gmtime`, and `localtime` in a container whose
/// zone is UTC).
#[derive(Debug, Clone)]
pub struct StructTime(pub chrono::NaiveDateTime);

const STRUCT_FIELDS: [&str; 9] = [
    "tm_year", "tm_mon", "tm_mday", "tm_hour", "tm_min", "tm_sec", "tm_wday", "tm_yday", "tm_isdst",
];

impl StructTime {
    fn fields(&self) -> [i64; 9] {
        let t = self.0;
        [
            i64::from(t.year()),
            i64::from(t.month()),
            i64::from(t.day()),
            i64::from(t.hour()),
            i64::from(t.minute()),
            i64::from(t.second()),
            i64::from(t.weekday().num_days_from_monday()),
            i64::from(t.ordinal()),
            0,
        ]
    }
}

impl Object for StructTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let fields = self.fields();
        if let Some(i) = key.as_i64() {
            let i = if i < 0 { i + 9 } else { i };
            return fields
                .get(usize::try_from(i).ok()?)
                .map(|v| Value::from(*v));
        }
        match key.as_str()? {
            "tm_zone" => Some("UTC".into()),
            "tm_gmtoff" => Some(0.into()),
            name => STRUCT_FIELDS
                .iter()
                .position(|f| *f == name)
                .map(|i| Value::from(fields[i])),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("time.struct_time(")?;
        for (i, (name, v)) in STRUCT_FIELDS.iter().zip(self.fields()).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name}={v}")?;
        }
        f.write_str(")")
    }
}

fn now_utc() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

fn struct_time_arg(v: Option<Value>) -> Result<chrono::NaiveDateTime, Error> {
    match v {
        None => Ok(now_utc().naive_utc()),
        Some(v) if v.is_none() => Ok(now_utc().naive_utc()),
        Some(v) => {
            if let Some(st) = v.downcast_object_ref::<StructTime>() {
                return Ok(st.0);
            }
            if is_sequence(&v) {
                let parts: Vec<i64> = v.try_iter()?.map(|x| x.as_i64().unwrap_or(0)).collect();
                if parts.len() == 9 {
                    let u = |x: i64| u32::try_from(x).unwrap_or(0);
                    let date = NaiveDate::from_ymd_opt(
                        i32::try_from(parts[0]).unwrap_or(1970),
                        u(parts[1]),
                        u(parts[2]),
                    )
                    .ok_or_else(|| invalid("day of month out of range"))?;
                    return date
                        .and_hms_opt(u(parts[3]), u(parts[4]), u(parts[5]))
                        .ok_or_else(|| invalid("time out of range"));
                }
            }
            Err(invalid("Tuple or struct_time argument required"))
        }
    }
}

fn gmtime(secs: Option<Value>) -> Result<chrono::NaiveDateTime, Error> {
    let Some(secs) = secs.filter(|v| !v.is_none()) else {
        return Ok(now_utc().naive_utc());
    };
    let f = f64::try_from(secs.clone()).map_err(|_| {
        invalid(format!(
            "'{}' object cannot be interpreted as an integer",
            type_name(&secs)
        ))
    })?;
    // Python floors the seconds (a negative fraction goes to the earlier second).
    let whole = f.floor();
    if !whole.is_finite() || whole.abs() > 1e14 {
        return Err(invalid("timestamp out of range for platform time_t"));
    }
    chrono::DateTime::from_timestamp(whole as i64, 0)
        .map(|d| d.naive_utc())
        .ok_or_else(|| invalid("timestamp out of range for platform time_t"))
}

impl Object for TimeModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "time" => {
                let () = from_args(args)?;
                let now = now_utc();
                Ok(Value::from(
                    now.timestamp() as f64 + f64::from(now.timestamp_subsec_micros()) / 1e6,
                ))
            }
            "time_ns" => {
                let () = from_args(args)?;
                Ok(Value::from(now_utc().timestamp_nanos_opt().unwrap_or(0)))
            }
            "gmtime" | "localtime" => {
                let (secs,): (Option<Value>,) = from_args(args)?;
                Ok(Value::from_object(StructTime(gmtime(secs)?)))
            }
            "strftime" => {
                let (fmt, t): (&str, Option<Value>) = from_args(args)?;
                let t = struct_time_arg(t)?;
                let dt = DateTime::from_local(t, Zone::Utc)
                    .ok_or_else(|| invalid("date out of range"))?;
                // A struct_time from gmtime names its zone GMT.
                let mut fixed = String::with_capacity(fmt.len());
                let mut chars = fmt.chars();
                while let Some(c) = chars.next() {
                    match (c, c == '%') {
                        (_, true) => match chars.next() {
                            Some('Z') => fixed.push_str("GMT"),
                            Some(d) => {
                                fixed.push('%');
                                fixed.push(d);
                            }
                            None => fixed.push('%'),
                        },
                        _ => fixed.push(c),
                    }
                }
                Ok(dt.strftime(&fixed).into())
            }
            "mktime" | "timegm" => {
                let (t,): (Value,) = from_args(args)?;
                let t = struct_time_arg(Some(t))?;
                let secs = t.and_utc().timestamp();
                Ok(if method == "mktime" {
                    Value::from(secs as f64)
                } else {
                    Value::from(secs)
                })
            }
            other => Err(unknown_method("time", other)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<module 'time' (built-in)>")
    }
}

// ---------------------------------------------------------------------------
// dateutil.relativedelta

#[derive(Debug)]
struct DateutilModule;

#[derive(Debug)]
struct RelativeDeltaModule;

#[derive(Debug)]
struct RelativeDeltaClass;

/// dateutil's weekday constant: `MO`, `MO(+2)`, `FR(-1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weekday {
    /// Monday = 0.
    pub weekday: u8,
    pub n: Option<i64>,
}

const WEEKDAY_NAMES: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

impl Object for Weekday {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "weekday" => Some(self.weekday.into()),
            "n" => Some(self.n.map_or(Value::from(()), Value::from)),
            _ => None,
        }
    }

    fn call(self: &Arc<Self>, _: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (n,): (i64,) = from_args(args)?;
        if n == 0 {
            return Err(invalid("Can't create weekday with n==0"));
        }
        Ok(Value::from_object(Weekday {
            weekday: self.weekday,
            n: Some(n),
        }))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = WEEKDAY_NAMES[usize::from(self.weekday % 7)];
        match self.n {
            Some(n) if n != 0 => write!(f, "{name}({n:+})"),
            _ => f.write_str(name),
        }
    }
}

fn weekday_const(name: &str) -> Option<Value> {
    let i = WEEKDAY_NAMES.iter().position(|n| *n == name)?;
    Some(Value::from_object(Weekday {
        weekday: u8::try_from(i).unwrap_or(0),
        n: None,
    }))
}

impl Object for DateutilModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "relativedelta" => Some(Value::from_object(RelativeDeltaModule)),
            "parser" => Some(Value::from_object(DateutilParser)),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<module 'dateutil'>")
    }
}

/// `dateutil.parser`: `parse` and `isoparse` for the forms DAGs feed it
/// (ISO 8601 dates and date-times, `2024/06/01`, `01 Jun 2024`); naive unless
/// the text has an offset, as dateutil returns.
#[derive(Debug)]
struct DateutilParser;

impl Object for DateutilParser {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "parse" | "isoparse" => {
                let (text, _kwargs): (&str, Kwargs) = from_args(args)?;
                let t = text.trim();
                if let Ok(dt) = DateTime::parse_python(t) {
                    return Ok(crate::template::dates::DateTimeObj::stdlib(dt));
                }
                for fmt in [
                    "%Y/%m/%d %H:%M:%S",
                    "%Y/%m/%d",
                    "%d %b %Y",
                    "%d %B %Y",
                    "%b %d %Y",
                    "%B %d, %Y",
                    "%Y%m%d",
                ] {
                    let parsed = chrono::NaiveDateTime::parse_from_str(t, fmt)
                        .ok()
                        .or_else(|| {
                            chrono::NaiveDate::parse_from_str(t, fmt)
                                .ok()
                                .and_then(|d| d.and_hms_opt(0, 0, 0))
                        });
                    if let Some(naive) = parsed
                        && let Some(dt) = DateTime::from_local(naive, crate::context::Zone::Naive)
                    {
                        return Ok(crate::template::dates::DateTimeObj::stdlib(dt));
                    }
                }
                Err(invalid(format!("Unknown string format: {t}")))
            }
            _ => Err(Error::from(minijinja::ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<module 'dateutil.parser'>")
    }
}

impl Object for RelativeDeltaModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "relativedelta" => Some(Value::from_object(RelativeDeltaClass)),
            name => weekday_const(name),
        }
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "relativedelta" => Value::from_object(RelativeDeltaClass).call(state, args),
            other => Err(unknown_method("dateutil.relativedelta", other)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<module 'dateutil.relativedelta'>")
    }
}

/// `dateutil.relativedelta.relativedelta`: relative fields (plural) add,
/// absolute fields (singular) replace.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RelativeDelta {
    pub years: i64,
    pub months: i64,
    pub days: i64,
    pub leapdays: i64,
    pub hours: i64,
    pub minutes: i64,
    pub seconds: i64,
    pub microseconds: i64,
    pub year: Option<i64>,
    pub month: Option<i64>,
    pub day: Option<i64>,
    pub weekday: Option<Weekday>,
    pub hour: Option<i64>,
    pub minute: Option<i64>,
    pub second: Option<i64>,
    pub microsecond: Option<i64>,
}

impl RelativeDelta {
    /// dateutil's `_fix`: carries overflowing units upwards, keeping the sign.
    fn fix(&mut self) {
        fn carry(low: &mut i64, high: &mut i64, limit: i64) {
            if low.abs() > limit - 1 {
                let s = low.signum();
                let (div, rem) = ((*low * s).div_euclid(limit), (*low * s).rem_euclid(limit));
                *low = rem * s;
                *high += div * s;
            }
        }
        carry(&mut self.microseconds, &mut self.seconds, 1_000_000);
        carry(&mut self.seconds, &mut self.minutes, 60);
        carry(&mut self.minutes, &mut self.hours, 60);
        carry(&mut self.hours, &mut self.days, 24);
        carry(&mut self.months, &mut self.years, 12);
    }

    /// `-rd`: the relative fields negated, the absolute ones kept.
    pub fn negated(&self) -> RelativeDelta {
        RelativeDelta {
            years: -self.years,
            months: -self.months,
            days: -self.days,
            leapdays: self.leapdays,
            hours: -self.hours,
            minutes: -self.minutes,
            seconds: -self.seconds,
            microseconds: -self.microseconds,
            ..self.clone()
        }
    }

    fn from_kwargs(args: &[Value]) -> Result<RelativeDelta, Error> {
        let (positional, kwargs): (&[Value], Kwargs) = from_args(args)?;
        if !positional.is_empty() {
            // relativedelta(dt1, dt2): the difference of two date-times.
            let (a, b): (Value, Value) = from_args(positional)?;
            let (a, b) = (
                as_datetime(&a).ok_or_else(|| invalid("relativedelta only diffs datetime/date"))?,
                as_datetime(&b).ok_or_else(|| invalid("relativedelta only diffs datetime/date"))?,
            );
            kwargs.assert_all_used()?;
            return Ok(relativedelta_between(a, b));
        }
        let int = |name: &str| -> Result<Option<i64>, Error> {
            match kwargs.get::<Option<Value>>(name)? {
                None => Ok(None),
                Some(v) if v.is_none() => Ok(None),
                Some(v) => {
                    if let Some(i) = v.as_i64() {
                        return Ok(Some(i));
                    }
                    let f = f64::try_from(v.clone()).map_err(|_| {
                        invalid(format!("`{name}` must be a number, not {}", type_name(&v)))
                    })?;
                    if f.fract() == 0.0 && f.is_finite() {
                        Ok(Some(f as i64))
                    } else if matches!(name, "years" | "months") {
                        Err(invalid(
                            "Non-integer years and months are ambiguous and not currently supported.",
                        ))
                    } else {
                        Err(invalid(format!("non-integer `{name}` is not supported")))
                    }
                }
            }
        };
        let mut rd = RelativeDelta {
            years: int("years")?.unwrap_or(0),
            months: int("months")?.unwrap_or(0),
            days: int("days")?.unwrap_or(0) + 7 * int("weeks")?.unwrap_or(0),
            leapdays: int("leapdays")?.unwrap_or(0),
            hours: int("hours")?.unwrap_or(0),
            minutes: int("minutes")?.unwrap_or(0),
            seconds: int("seconds")?.unwrap_or(0),
            microseconds: int("microseconds")?.unwrap_or(0),
            year: int("year")?,
            month: int("month")?,
            day: int("day")?,
            hour: int("hour")?,
            minute: int("minute")?,
            second: int("second")?,
            microsecond: int("microsecond")?,
            weekday: None,
        };
        if let Some(w) = kwargs.get::<Option<Value>>("weekday")?
            && !w.is_none()
        {
            rd.weekday = Some(if let Some(wd) = w.downcast_object_ref::<Weekday>() {
                *wd
            } else {
                let i = w
                    .as_i64()
                    .filter(|i| (0..7).contains(i))
                    .ok_or_else(|| invalid("weekday must be 0-6 or a weekday constant"))?;
                Weekday {
                    weekday: u8::try_from(i).unwrap_or(0),
                    n: None,
                }
            });
        }
        // yearday/nlyearday: day of the year, as dateutil converts them.
        let yearday = int("nlyearday")?
            .map(|d| (d, false))
            .or(int("yearday")?.map(|d| (d, true)));
        if let Some((mut yday, leap)) = yearday {
            if leap && yday > 59 {
                rd.leapdays = -1;
            }
            if !leap {
                yday = yday.max(0);
            }
            const YDAY_IDX: [i64; 12] = [31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 366];
            let idx = YDAY_IDX
                .iter()
                .position(|&d| yday <= d)
                .ok_or_else(|| invalid(format!("invalid year day ({yday})")))?;
            rd.month = Some(idx as i64 + 1);
            rd.day = Some(if idx == 0 {
                yday
            } else {
                yday - YDAY_IDX[idx - 1]
            });
        }
        kwargs.assert_all_used()?;
        rd.fix();
        Ok(rd)
    }
}

/// `relativedelta(dt1, dt2)`: the calendar difference `dt1 - dt2`.
fn relativedelta_between(dt1: DateTime, dt2: DateTime) -> RelativeDelta {
    let (a, b) = (dt1.local(), dt2.local());
    let mut months = (i64::from(a.year()) - i64::from(b.year())) * 12 + i64::from(a.month())
        - i64::from(b.month());
    let shifted = |m: i64| -> Option<chrono::NaiveDateTime> {
        let rd = RelativeDelta {
            months: m % 12,
            years: m / 12,
            ..RelativeDelta::default()
        };
        apply_relativedelta(dt2, &rd, false).ok().map(|d| d.local())
    };
    let mut dtm = shifted(months).unwrap_or(b);
    let compare = |x: &chrono::NaiveDateTime| if a > b { a < *x } else { a > *x };
    while compare(&dtm) {
        months += if a > b { -1 } else { 1 };
        dtm = shifted(months).unwrap_or(b);
    }
    let delta = (a - dtm).num_microseconds().unwrap_or(0);
    let mut rd = RelativeDelta {
        years: months / 12,
        months: months % 12,
        seconds: delta.div_euclid(1_000_000),
        microseconds: delta.rem_euclid(1_000_000),
        ..RelativeDelta::default()
    };
    // dateutil: `seconds=delta.seconds + delta.days * 86400` then `_fix`.
    rd.fix();
    rd
}

/// `{:+g}` of an int, as dateutil's repr writes relative fields.
fn plus_g(n: i64) -> String {
    let body = format_float((n as f64).abs(), 'g', 6, false);
    format!("{}{body}", if n < 0 { '-' } else { '+' })
}

impl Object for RelativeDelta {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let opt = |v: Option<i64>| v.map_or(Value::from(()), Value::from);
        Some(match key.as_str()? {
            "years" => self.years.into(),
            "months" => self.months.into(),
            "days" => self.days.into(),
            "weeks" => (self.days / 7).into(),
            "leapdays" => self.leapdays.into(),
            "hours" => self.hours.into(),
            "minutes" => self.minutes.into(),
            "seconds" => self.seconds.into(),
            "microseconds" => self.microseconds.into(),
            "year" => opt(self.year),
            "month" => opt(self.month),
            "day" => opt(self.day),
            "hour" => opt(self.hour),
            "minute" => opt(self.minute),
            "second" => opt(self.second),
            "microsecond" => opt(self.microsecond),
            "weekday" => self.weekday.map_or(Value::from(()), Value::from_object),
            _ => return None,
        })
    }

    fn is_true(self: &Arc<Self>) -> bool {
        **self != RelativeDelta::default()
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "normalized" => {
                let () = from_args(args)?;
                Ok(Value::from_object((**self).clone()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        for (name, v) in [
            ("years", self.years),
            ("months", self.months),
            ("days", self.days),
            ("leapdays", self.leapdays),
            ("hours", self.hours),
            ("minutes", self.minutes),
            ("seconds", self.seconds),
            ("microseconds", self.microseconds),
        ] {
            if v != 0 {
                parts.push(format!("{name}={}", plus_g(v)));
            }
        }
        for (name, v) in [
            ("year", self.year),
            ("month", self.month),
            ("day", self.day),
        ] {
            if let Some(v) = v {
                parts.push(format!("{name}={v}"));
            }
        }
        if let Some(w) = &self.weekday {
            parts.push(format!("weekday={}", Value::from_object(*w)));
        }
        for (name, v) in [
            ("hour", self.hour),
            ("minute", self.minute),
            ("second", self.second),
            ("microsecond", self.microsecond),
        ] {
            if let Some(v) = v {
                parts.push(format!("{name}={v}"));
            }
        }
        write!(f, "relativedelta({})", parts.join(", "))
    }
}

impl Object for RelativeDeltaClass {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, _: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        Ok(Value::from_object(RelativeDelta::from_kwargs(args)?))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<class 'dateutil.relativedelta.relativedelta'>")
    }
}

fn month_days(year: i64, month: i64) -> i64 {
    i64::from(super::dates::days_in_month(
        year,
        u32::try_from(month).unwrap_or(1),
    ))
}

/// `dt + rd` (or `dt - rd` with `negate`) as dateutil computes it: absolute
/// fields replace, then years and months shift with the day clamped to the
/// month's length, then the days/hours/... are added as a `timedelta` (an
/// exact duration, as pendulum adds it), then the weekday jump.
pub fn apply_relativedelta(
    dt: DateTime,
    rd: &RelativeDelta,
    negate: bool,
) -> Result<DateTime, Error> {
    let negated;
    let rd = if negate {
        negated = rd.negated();
        &negated
    } else {
        rd
    };
    let out_of_range = || invalid("year is out of range");
    let l = dt.local();
    let mut year = rd
        .year
        .unwrap_or(i64::from(l.year()))
        .checked_add(rd.years)
        .ok_or_else(out_of_range)?;
    let mut month = rd.month.unwrap_or(i64::from(l.month()));
    if rd.months != 0 {
        month = month.saturating_add(rd.months);
        if month > 12 {
            year = year.saturating_add(1);
            month -= 12;
        } else if month < 1 {
            year = year.saturating_sub(1);
            month += 12;
        }
    }
    if !(1..=9999).contains(&year) {
        return Err(out_of_range());
    }
    if !(1..=12).contains(&month) {
        return Err(invalid("month must be in 1..12"));
    }
    let day = month_days(year, month).min(rd.day.unwrap_or(i64::from(l.day())));
    let u = |v: i64, what: &str| {
        u32::try_from(v).map_err(|_| invalid(format!("{what} must be in range")))
    };
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(year).map_err(|_| out_of_range())?,
        u(month, "month")?,
        u(day, "day")?,
    )
    .ok_or_else(|| invalid("day is out of range for month"))?;
    let time = chrono::NaiveTime::from_hms_micro_opt(
        u(rd.hour.unwrap_or(i64::from(l.hour())), "hour")?,
        u(rd.minute.unwrap_or(i64::from(l.minute())), "minute")?,
        u(rd.second.unwrap_or(i64::from(l.second())), "second")?,
        u(
            rd.microsecond.unwrap_or(i64::from(l.nanosecond() / 1000)),
            "microsecond",
        )?,
    )
    .ok_or_else(|| invalid("time out of range"))?;
    let replaced = DateTime::from_local(date.and_time(time), dt.zone())
        .ok_or_else(|| invalid("the local time does not exist in its timezone"))?;
    let mut days = i128::from(rd.days);
    if rd.leapdays != 0 && month > 2 && super::dates::is_leap(year) {
        days += i128::from(rd.leapdays);
    }
    // In i128: huge counts are Python's OverflowError, not a wrap.
    let micros = ((days * 24 + i128::from(rd.hours)) * 60 + i128::from(rd.minutes)) * 60_000_000
        + i128::from(rd.seconds) * 1_000_000
        + i128::from(rd.microseconds);
    let micros = i64::try_from(micros).map_err(|_| invalid("date value out of range"))?;
    let mut ret = replaced
        .add(TimeDelta { micros })
        .ok_or_else(|| invalid("date value out of range"))?;
    if let Some(w) = rd.weekday {
        let nth = w.n.unwrap_or(1);
        let current = i64::from(ret.local().weekday().num_days_from_monday());
        let target = i64::from(w.weekday);
        let mut jump = (nth.abs() - 1) * 7;
        if nth > 0 {
            jump += (7 - current + target).rem_euclid(7);
        } else {
            jump += (current - target).rem_euclid(7);
            jump = -jump;
        }
        ret = ret
            .add(TimeDelta {
                micros: jump * 86_400_000_000,
            })
            .ok_or_else(|| invalid("date value out of range"))?;
    }
    Ok(ret)
}

// ---------------------------------------------------------------------------
// diff_for_humans

/// pendulum's `precise_diff` between `a <= b`: calendar years, months, days,
/// hours, minutes, seconds.
fn precise_diff(a: chrono::NaiveDateTime, b: chrono::NaiveDateTime) -> [i64; 6] {
    let mut year = i64::from(b.year()) - i64::from(a.year());
    let mut month = i64::from(b.month()) - i64::from(a.month());
    let mut day = i64::from(b.day()) - i64::from(a.day());
    let mut hour = i64::from(b.hour()) - i64::from(a.hour());
    let mut minute = i64::from(b.minute()) - i64::from(a.minute());
    let mut second = i64::from(b.second()) - i64::from(a.second());
    let micro = i64::from(b.nanosecond() / 1000) - i64::from(a.nanosecond() / 1000);
    if micro < 0 {
        second -= 1;
    }
    if second < 0 {
        second += 60;
        minute -= 1;
    }
    if minute < 0 {
        minute += 60;
        hour -= 1;
    }
    if hour < 0 {
        hour += 24;
        day -= 1;
    }
    if day < 0 {
        let (py, pm) = if b.month() == 1 {
            (i64::from(b.year()) - 1, 12)
        } else {
            (i64::from(b.year()), i64::from(b.month()) - 1)
        };
        let days_in_last_month = month_days(py, pm);
        let days_in_month = month_days(i64::from(b.year()), i64::from(b.month()));
        if day < days_in_month - days_in_last_month {
            if days_in_last_month < i64::from(a.day()) {
                day += i64::from(a.day());
            } else {
                day += days_in_last_month;
            }
        } else if day == days_in_month - days_in_last_month {
            day = 0;
            month += 1;
        } else {
            day += days_in_last_month;
        }
        month -= 1;
    }
    if month < 0 {
        month += 12;
        year -= 1;
    }
    [year, month, day, hour, minute, second]
}

/// Airflow's `macros.datetime_diff_for_humans(dt, since)`: pendulum 3's
/// `diff_for_humans(since)` in English ("3 days before", "1 day after",
/// "in 2 hours", "a few seconds ago").
pub fn datetime_diff_for_humans(dt: DateTime, since: Option<DateTime>) -> String {
    let is_now = since.is_none();
    let other = since.unwrap_or_else(|| DateTime::from_utc(now_utc(), Zone::Utc));
    // Interval(self, other): inverted when self is later.
    let invert = dt.utc() > other.utc();
    let (start, end) = if invert { (other, dt) } else { (dt, other) };
    let (a, b) = if start.zone() == end.zone() {
        (start.local(), end.local())
    } else {
        (start.utc().naive_utc(), end.utc().naive_utc())
    };
    let [years, months, days, hours, minutes, seconds] = precise_diff(a, b);
    let (weeks, remaining_days) = (days / 7, days % 7);
    let (unit, mut count) = if years > 0 {
        ("year", years + i64::from(months > 6))
    } else if months == 11 && weeks * 7 + remaining_days > 15 {
        ("year", 1)
    } else if months > 0 {
        (
            "month",
            months + i64::from(weeks * 7 + remaining_days >= 27),
        )
    } else if weeks > 0 {
        ("week", weeks + i64::from(remaining_days > 3))
    } else if remaining_days > 0 {
        ("day", remaining_days + i64::from(hours >= 22))
    } else if hours > 0 {
        ("hour", hours)
    } else if minutes > 0 {
        ("minute", minutes)
    } else if (11..=59).contains(&seconds) {
        ("second", seconds)
    } else {
        let time = "a few seconds";
        return match (is_now, invert) {
            (true, true) => format!("in {time}"),
            (true, false) => format!("{time} ago"),
            (false, true) => format!("{time} after"),
            (false, false) => format!("{time} before"),
        };
    };
    if count == 0 {
        count = 1;
    }
    let units = if count == 1 {
        format!("{count} {unit}")
    } else {
        format!("{count} {unit}s")
    };
    match (is_now, invert) {
        (true, true) => format!("in {units}"),
        (true, false) => format!("{units} ago"),
        (false, true) => format!("{units} after"),
        (false, false) => format!("{units} before"),
    }
}

// ---------------------------------------------------------------------------
// yaml

#[derive(Debug)]
struct YamlModule;

impl Object for YamlModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "safe_dump" | "dump" => {
                let (data, kwargs): (Value, Kwargs) = from_args(args)?;
                let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(true);
                let allow_unicode = kwargs
                    .get::<Option<bool>>("allow_unicode")?
                    .unwrap_or(false);
                let explicit_start = kwargs
                    .get::<Option<bool>>("explicit_start")?
                    .unwrap_or(false);
                if let Some(flow) = kwargs.get::<Option<Value>>("default_flow_style")?
                    && flow.is_true()
                {
                    return Err(invalid(
                        "yaml.dump(default_flow_style=True) is not supported",
                    ));
                }
                let indent = kwargs
                    .get::<Option<usize>>("indent")?
                    .unwrap_or(2)
                    .clamp(2, 9);
                let width = kwargs.get::<Option<usize>>("width")?.unwrap_or(80);
                kwargs.assert_all_used()?;
                let mut e = YamlEmitter {
                    out: String::new(),
                    column: 0,
                    sort_keys,
                    allow_unicode,
                    best_indent: indent,
                    best_width: if width <= indent * 2 { 80 } else { width },
                };
                Ok(e.document(&data, explicit_start)?.into())
            }
            "safe_load" | "load" | "full_load" => {
                let (text, _kwargs): (&str, Kwargs) = from_args(args)?;
                let v = crate::spec::yaml::load(text, crate::spec::yaml::Schema::PyYaml)
                    .map_err(|e| invalid(format!("yaml: {e}")))?;
                Ok(to_value(&v))
            }
            other => Err(unknown_method("yaml", other)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<module 'yaml'>")
    }
}

/// PyYAML's emitter in block style (`default_flow_style=False`), for the
/// values a template has: scalars chosen plain, single- or double-quoted by
/// PyYAML's `analyze_scalar` rules, long lines folded at `width`.
struct YamlEmitter {
    out: String,
    column: usize,
    sort_keys: bool,
    allow_unicode: bool,
    best_indent: usize,
    best_width: usize,
}

enum Node {
    Scalar(String, Style),
    EmptySeq,
    EmptyMap,
    Seq(Vec<Value>),
    Map(Vec<(Value, Value)>),
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
}

const YAML_BREAKS: &[char] = &['\n', '\u{85}', '\u{2028}', '\u{2029}'];

impl YamlEmitter {
    fn write(&mut self, s: &str) {
        self.out.push_str(s);
        match s.rfind('\n') {
            Some(at) => self.column = s[at + 1..].chars().count(),
            None => self.column += s.chars().count(),
        }
    }

    fn newline_indent(&mut self, indent: usize) {
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.write("\n");
        }
        let pad = " ".repeat(indent.saturating_sub(self.column));
        self.write(&pad);
    }

    fn document(&mut self, data: &Value, explicit_start: bool) -> Result<String, Error> {
        if explicit_start {
            self.write("---");
        }
        let node = self.node(data, false)?;
        match node {
            Node::Scalar(text, style) => {
                if explicit_start {
                    self.write(" ");
                }
                self.scalar(&text, style, 2, true);
                self.write("\n");
                if style == Style::Plain {
                    self.write("...\n");
                }
            }
            Node::EmptySeq => self.write(if explicit_start { " []\n" } else { "[]\n" }),
            Node::EmptyMap => self.write(if explicit_start { " {}\n" } else { "{}\n" }),
            Node::Seq(items) => {
                if explicit_start {
                    self.write("\n");
                }
                self.seq(&items, 0, true)?;
                self.write("\n");
            }
            Node::Map(pairs) => {
                if explicit_start {
                    self.write("\n");
                }
                self.map(&pairs, 0, true)?;
                self.write("\n");
            }
        }
        Ok(std::mem::take(&mut self.out))
    }

    fn node(&self, v: &Value, simple_key: bool) -> Result<Node, Error> {
        Ok(match v.kind() {
            ValueKind::None => Node::Scalar("null".into(), Style::Plain),
            ValueKind::Bool => Node::Scalar(
                if v.is_true() { "true" } else { "false" }.into(),
                Style::Plain,
            ),
            ValueKind::Number if v.is_integer() => Node::Scalar(v.to_string(), Style::Plain),
            ValueKind::Number => {
                let f = f64::try_from(v.clone()).unwrap_or(f64::NAN);
                let text = if f.is_nan() {
                    ".nan".to_string()
                } else if f.is_infinite() {
                    if f > 0.0 { ".inf" } else { "-.inf" }.to_string()
                } else {
                    let r = py_float(f).to_lowercase();
                    if !r.contains('.') && r.contains('e') {
                        r.replacen('e', ".0e", 1)
                    } else {
                        r
                    }
                };
                Node::Scalar(text, Style::Plain)
            }
            ValueKind::String => {
                let s = v.as_str().unwrap_or_default();
                Node::Scalar(s.to_string(), self.choose_style(s, simple_key))
            }
            _ if is_plain_object(v) => {
                return Err(invalid(format!(
                    "cannot represent an object: {}",
                    py_str(v)
                )));
            }
            ValueKind::Seq | ValueKind::Iterable => {
                let items: Vec<Value> = v.try_iter()?.collect();
                if items.is_empty() {
                    Node::EmptySeq
                } else {
                    Node::Seq(items)
                }
            }
            ValueKind::Map => {
                let mut pairs = Vec::new();
                for k in v.try_iter()? {
                    let val = v.get_item(&k)?;
                    pairs.push((k, val));
                }
                if self.sort_keys {
                    pairs.sort_by(|a, b| a.0.cmp(&b.0));
                }
                if pairs.is_empty() {
                    Node::EmptyMap
                } else {
                    Node::Map(pairs)
                }
            }
            _ => {
                return Err(invalid(format!(
                    "cannot represent an object: {}",
                    py_str(v)
                )));
            }
        })
    }

    fn choose_style(&self, s: &str, simple_key: bool) -> Style {
        let a = analyze_scalar(s, self.allow_unicode);
        let implicit_str = !resolves_to_non_str(s);
        if implicit_str && !(simple_key && (a.empty || a.multiline)) && a.allow_block_plain {
            return Style::Plain;
        }
        if a.allow_single_quoted && !(simple_key && a.multiline) {
            return Style::Single;
        }
        Style::Double
    }

    fn map(
        &mut self,
        pairs: &[(Value, Value)],
        indent: usize,
        inline_first: bool,
    ) -> Result<(), Error> {
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 || !inline_first {
                self.newline_indent(indent);
            }
            match self.node(k, true)? {
                Node::Scalar(text, style) => {
                    self.scalar(&text, style, indent + self.best_indent, false)
                }
                _ => return Err(invalid("complex mapping keys are not supported")),
            }
            self.write(":");
            match self.node(v, false)? {
                Node::Scalar(text, style) => {
                    self.write(" ");
                    self.scalar(&text, style, indent + self.best_indent, true);
                }
                Node::EmptySeq => self.write(" []"),
                Node::EmptyMap => self.write(" {}"),
                Node::Map(inner) => self.map(&inner, indent + self.best_indent, false)?,
                // PyYAML writes a mapping's sequence value unindented.
                Node::Seq(items) => self.seq(&items, indent, false)?,
            }
        }
        Ok(())
    }

    fn seq(&mut self, items: &[Value], indent: usize, inline_first: bool) -> Result<(), Error> {
        for (i, item) in items.iter().enumerate() {
            if i > 0 || !inline_first {
                self.newline_indent(indent);
            }
            self.write("-");
            match self.node(item, false)? {
                Node::Scalar(text, style) => {
                    self.write(" ");
                    self.scalar(&text, style, indent + self.best_indent, true);
                }
                Node::EmptySeq => self.write(" []"),
                Node::EmptyMap => self.write(" {}"),
                Node::Map(inner) => {
                    self.write(&" ".repeat(self.best_indent - 1));
                    self.map(&inner, indent + self.best_indent, true)?;
                }
                Node::Seq(inner) => {
                    self.write(&" ".repeat(self.best_indent - 1));
                    self.seq(&inner, indent + self.best_indent, true)?;
                }
            }
        }
        Ok(())
    }

    /// Writes a scalar; continuation lines of folded text start at `indent`.
    fn scalar(&mut self, text: &str, style: Style, indent: usize, split: bool) {
        match style {
            Style::Plain => self.write_plain(text, indent, split),
            Style::Single => self.write_single(text, indent, split),
            Style::Double => self.write_double(text, indent, split),
        }
    }

    fn write_indent(&mut self, indent: usize) {
        self.write("\n");
        self.write(&" ".repeat(indent));
    }

    fn write_plain(&mut self, text: &str, indent: usize, split: bool) {
        let chars: Vec<char> = text.chars().collect();
        let (mut start, mut spaces) = (0, false);
        for end in 0..=chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > self.best_width && split {
                        self.write_indent(indent);
                    } else {
                        let s: String = chars[start..end].iter().collect();
                        self.write(&s);
                    }
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || YAML_BREAKS.contains(&c)) {
                let s: String = chars[start..end].iter().collect();
                self.write(&s);
                start = end;
            }
            spaces = ch == Some(' ');
        }
    }

    fn write_single(&mut self, text: &str, indent: usize, split: bool) {
        self.write("'");
        let chars: Vec<char> = text.chars().collect();
        let (mut start, mut spaces, mut breaks) = (0, false, false);
        for end in 0..=chars.len() {
            let ch = chars.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end
                        && self.column > self.best_width
                        && split
                        && start != 0
                        && end != chars.len()
                    {
                        self.write_indent(indent);
                    } else {
                        let s: String = chars[start..end].iter().collect();
                        self.write(&s);
                    }
                    start = end;
                }
            } else if breaks {
                if ch.is_none_or(|c| !YAML_BREAKS.contains(&c)) {
                    if chars[start] == '\n' {
                        self.write("\n");
                    }
                    for br in &chars[start..end] {
                        if *br == '\n' {
                            self.write("\n");
                        } else {
                            self.write(&br.to_string());
                        }
                    }
                    self.write(&" ".repeat(indent));
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || c == '\'' || YAML_BREAKS.contains(&c))
                && start < end
            {
                let s: String = chars[start..end].iter().collect();
                self.write(&s);
                start = end;
            }
            if ch == Some('\'') {
                self.write("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = YAML_BREAKS.contains(&c);
            }
        }
        self.write("'");
    }

    fn write_double(&mut self, text: &str, indent: usize, split: bool) {
        self.write("\"");
        let chars: Vec<char> = text.chars().collect();
        let mut start = 0;
        for end in 0..=chars.len() {
            let ch = chars.get(end).copied();
            let printable = |c: char| {
                (' '..='~').contains(&c)
                    || (self.allow_unicode
                        && (('\u{a0}'..='\u{d7ff}').contains(&c)
                            || ('\u{e000}'..='\u{fffd}').contains(&c)))
            };
            if ch.is_none_or(|c| {
                matches!(
                    c,
                    '"' | '\\' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}'
                ) || !printable(c)
            }) {
                if start < end {
                    let s: String = chars[start..end].iter().collect();
                    self.write(&s);
                    start = end;
                }
                if let Some(c) = ch {
                    let data = match c {
                        '\0' => "\\0".to_string(),
                        '\x07' => "\\a".into(),
                        '\x08' => "\\b".into(),
                        '\t' => "\\t".into(),
                        '\n' => "\\n".into(),
                        '\x0b' => "\\v".into(),
                        '\x0c' => "\\f".into(),
                        '\r' => "\\r".into(),
                        '\x1b' => "\\e".into(),
                        '"' => "\\\"".into(),
                        '\\' => "\\\\".into(),
                        '\u{85}' => "\\N".into(),
                        '\u{a0}' => "\\_".into(),
                        '\u{2028}' => "\\L".into(),
                        '\u{2029}' => "\\P".into(),
                        c if (c as u32) <= 0xff => format!("\\x{:02X}", c as u32),
                        c if (c as u32) <= 0xffff => format!("\\u{:04X}", c as u32),
                        c => format!("\\U{:08X}", c as u32),
                    };
                    self.write(&data);
                    start = end + 1;
                }
            }
            if end > 0
                && end + 1 < chars.len()
                && (ch == Some(' ') || start >= end)
                && self.column + (end.saturating_sub(start)) > self.best_width
                && split
            {
                let mut data: String = chars[start.min(end)..end].iter().collect();
                data.push('\\');
                if start < end {
                    start = end;
                }
                self.write(&data);
                self.write_indent(indent);
                if chars.get(start) == Some(&' ') {
                    self.write("\\");
                }
            }
        }
        self.write("\"");
    }
}

#[derive(Default)]
struct ScalarAnalysis {
    empty: bool,
    multiline: bool,
    allow_block_plain: bool,
    allow_single_quoted: bool,
}

/// PyYAML's `Emitter.analyze_scalar`, for block context.
fn analyze_scalar(s: &str, allow_unicode: bool) -> ScalarAnalysis {
    if s.is_empty() {
        return ScalarAnalysis {
            empty: true,
            multiline: false,
            allow_block_plain: false,
            allow_single_quoted: true,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let ws = |c: Option<&char>| {
        c.is_none_or(|c| {
            matches!(
                c,
                '\0' | ' ' | '\t' | '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}'
            )
        })
    };
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut previous_space, mut previous_break) =
        (false, false, false, false);
    let mut preceded_by_ws = true;
    for (i, &ch) in chars.iter().enumerate() {
        let followed_by_ws = ws(chars.get(i + 1));
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(ch) {
                block_indicators = true;
            }
            if (ch == '?' || ch == ':') && followed_by_ws {
                block_indicators = true;
            }
            if ch == '-' && followed_by_ws {
                block_indicators = true;
            }
        } else {
            if ch == ':' && followed_by_ws {
                block_indicators = true;
            }
            if ch == '#' && preceded_by_ws {
                block_indicators = true;
            }
        }
        let is_break = YAML_BREAKS.contains(&ch);
        if is_break {
            line_breaks = true;
        }
        if !(ch == '\n' || (' '..='~').contains(&ch)) {
            let unicode = (ch == '\u{85}'
                || ('\u{a0}'..='\u{d7ff}').contains(&ch)
                || ('\u{e000}'..='\u{fffd}').contains(&ch)
                || ('\u{10000}'..'\u{10ffff}').contains(&ch))
                && ch != '\u{feff}';
            if !unicode || !allow_unicode {
                special = true;
            }
        }
        if ch == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == chars.len() - 1 {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break {
            if i == 0 {
                leading_break = true;
            }
            if i == chars.len() - 1 {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_ws = ws(Some(&ch));
    }
    let mut allow_block_plain = true;
    let mut allow_single_quoted = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        allow_block_plain = false;
    }
    if break_space {
        allow_block_plain = false;
        allow_single_quoted = false;
    }
    if space_break || special {
        allow_block_plain = false;
        allow_single_quoted = false;
    }
    if line_breaks || block_indicators {
        allow_block_plain = false;
    }
    ScalarAnalysis {
        empty: false,
        multiline: line_breaks,
        allow_block_plain,
        allow_single_quoted,
    }
}

/// Whether PyYAML's implicit resolvers read the plain text as something other
/// than a string (bool, int, float, null, timestamp, merge, value).
fn resolves_to_non_str(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF", "~", "null", "Null", "NULL", "", "<<", "=",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let digits_us = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '_');
    // int: 0b.., 0x.., octal 0.., decimal, sexagesimal
    if let Some(b) = body.strip_prefix("0b")
        && !b.is_empty()
        && b.chars().all(|c| matches!(c, '0' | '1' | '_'))
    {
        return true;
    }
    if let Some(x) = body.strip_prefix("0x")
        && !x.is_empty()
        && x.chars().all(|c| c.is_ascii_hexdigit() || c == '_')
    {
        return true;
    }
    if body == "0" || (body.starts_with(|c: char| c.is_ascii_digit()) && digits_us(body)) {
        return true;
    }
    let sexagesimal = |t: &str, float: bool| -> bool {
        let mut parts = t.split(':');
        let first = parts.next().unwrap_or("");
        if !(first.starts_with(|c: char| c.is_ascii_digit()) && digits_us(first)) {
            return false;
        }
        let rest: Vec<&str> = parts.collect();
        if rest.is_empty() {
            return false;
        }
        rest.iter().enumerate().all(|(i, p)| {
            let p = if float && i == rest.len() - 1 {
                match p.split_once('.') {
                    Some((a, b)) if b.chars().all(|c| c.is_ascii_digit() || c == '_') => a,
                    _ => return false,
                }
            } else {
                p
            };
            !p.is_empty()
                && p.len() <= 2
                && p.chars().all(|c| c.is_ascii_digit())
                && (p.len() == 1 || p.as_bytes()[0] <= b'5')
        })
    };
    if sexagesimal(body, false) {
        return true;
    }
    // float
    if matches!(body, ".inf" | ".Inf" | ".INF") || matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let float_exp = |t: &str| -> bool {
        let (mant, exp) = match t.find(['e', 'E']) {
            Some(at) => (&t[..at], Some(&t[at + 1..])),
            None => (t, None),
        };
        if let Some(e) = exp {
            let Some(d) = e.strip_prefix(['-', '+']) else {
                return false;
            };
            if d.is_empty() || !d.chars().all(|c| c.is_ascii_digit()) {
                return false;
            }
        }
        match mant.split_once('.') {
            Some((a, b)) => {
                let frac_ok = b.chars().all(|c| c.is_ascii_digit() || c == '_');
                if a.is_empty() {
                    // `.5` form: needs a fractional part, no sign.
                    !b.is_empty() && frac_ok && !t.starts_with(['-', '+'])
                } else {
                    a.starts_with(|c: char| c.is_ascii_digit()) && digits_us(a) && frac_ok
                }
            }
            None => false,
        }
    };
    if float_exp(body) && !(body.starts_with('.') && body.len() != s.len()) {
        return true;
    }
    if sexagesimal(body, true) {
        return true;
    }
    // timestamp: YYYY-MM-DD, optionally with a time
    let b = s.as_bytes();
    let d = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    if b.len() >= 8 && (0..4).all(d) && b[4] == b'-' {
        if b.len() == 10 && d(5) && d(6) && b[7] == b'-' && d(8) && d(9) {
            return true;
        }
        // the long form: loosely, a date followed by T or space and a time
        let rest = &s[5..];
        let mut it = rest.splitn(3, '-');
        let (m, dd) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
        let _ = dd;
        if (1..=2).contains(&m.len()) && m.chars().all(|c| c.is_ascii_digit()) {
            let after_month = &rest[m.len()..];
            if let Some(after) = after_month.strip_prefix('-') {
                let day_len = after.chars().take_while(char::is_ascii_digit).count();
                let tail = &after[day_len..];
                if (1..=2).contains(&day_len)
                    && (tail.starts_with(['T', 't', ' ', '\t']))
                    && tail[1..].trim_start().split(':').count() >= 3
                {
                    return true;
                }
            }
        }
    }
    false
}

/// The interior of a `Mutex` that survives poisoning.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> DateTime {
        DateTime::parse(s).unwrap()
    }

    fn tuple(items: Vec<Value>) -> Value {
        Value::from(minijinja::value::Tuple::from(items))
    }

    #[test]
    fn percent_formatting_matches_python() {
        let p = |fmt: &str, args: Value| percent_format(fmt, &args).unwrap();
        assert_eq!(p("%05d", Value::from(100)), "00100");
        assert_eq!(p("%-6s|", Value::from("ab")), "ab    |");
        assert_eq!(p("%.3f", Value::from(0.5)), "0.500");
        assert_eq!(p("%02d", Value::from(6)), "06");
        assert_eq!(p("%05f", Value::from(f64::INFINITY)), "00inf");
        assert_eq!(p("%+.2e", Value::from(12345.678)), "+1.23e+04");
        assert_eq!(p("%g", Value::from(1e-5)), "1e-05");
        assert_eq!(p("%#g", Value::from(1.0)), "1.00000");
        assert_eq!(p("%10.3s|", Value::from("abcdef")), "       abc|");
        assert_eq!(p("%-5d|", Value::from(-3)), "-3   |");
        assert_eq!(p("%05d", Value::from(-3)), "-0003");
        assert_eq!(
            p("%#x %#o %X", tuple(vec![255.into(), 8.into(), 255.into()])),
            "0xff 0o10 FF"
        );
        assert_eq!(p("%c%c", tuple(vec![65.into(), "b".into()])), "Ab");
        assert_eq!(p("%d", Value::from(3.9)), "3");
        assert_eq!(p("%.3d", Value::from(5)), "005");
        assert_eq!(p("%+05.1f", Value::from(2.25)), "+02.2");
        assert_eq!(p("% d", Value::from(5)), " 5");
        assert_eq!(p("%s", Value::from(())), "None");
        let m = to_value(&serde_json::json!({"a": 1, "b": 2}));
        assert_eq!(p("%(a)s-%(b)05d", m), "1-00002");
        assert_eq!(p("%r", Value::from("x")), "'x'");
        assert_eq!(p("%a", Value::from("é")), "'\\xe9'");
        assert_eq!(p("%%|%s", Value::from("x")), "%|x");
        assert_eq!(p("abc", Value::from(vec![1])), "abc");
        assert_eq!(p("%s", Value::from(vec![1, 2])), "[1, 2]");
        assert_eq!(p("%*d", tuple(vec![5.into(), 3.into()])), "    3");
        assert_eq!(p("%.*f", tuple(vec![2.into(), 1.23456.into()])), "1.23");
        assert_eq!(p("%i", Value::from(true)), "1");
        assert_eq!(p("%g", Value::from(123456789)), "1.23457e+08");
        assert_eq!(p("%G", Value::from(1e-10)), "1E-10");
        assert_eq!(p("%x", Value::from(-255)), "-ff");
        assert_eq!(p("%e", Value::from(0)), "0.000000e+00");
        assert_eq!(p("%.0f", Value::from(0.5)), "0");
        assert_eq!(p("%.0f", Value::from(1.5)), "2");
        assert_eq!(p("%5.1f%%", Value::from(99.95)), "100.0%");
        assert_eq!(
            p(
                "%s-%05.2f|%d",
                tuple(vec!["x".into(), 1.23456.into(), 42.into()])
            ),
            "x-01.23|42"
        );
        for (fmt, args, msg) in [
            (
                "%d",
                Value::from("x"),
                "%d format: a real number is required, not str",
            ),
            (
                "%x",
                Value::from(1.5),
                "%x format: an integer is required, not float",
            ),
            (
                "%s %s",
                tuple(vec![1.into()]),
                "not enough arguments for format string",
            ),
            (
                "abc",
                Value::from(5),
                "not all arguments converted during string formatting",
            ),
            ("%f", Value::from("x"), "must be real number, not str"),
            ("%c", Value::from("ab"), "%c requires int or char"),
            (
                "%z",
                Value::from(1),
                "unsupported format character 'z' (0x7a) at index 1",
            ),
            ("%(a)s", tuple(vec![1.into()]), "format requires a mapping"),
            ("%", Value::from(1), "incomplete format"),
        ] {
            let err = percent_format(fmt, &args).unwrap_err();
            assert!(err.to_string().contains(msg), "{fmt}: {err}");
        }
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

    #[test]
    fn relativedelta_repr_and_arithmetic() {
        let rd = |months: i64, days: i64| RelativeDelta {
            months,
            days,
            ..RelativeDelta::default()
        };
        assert_eq!(
            Value::from_object(rd(1, -1)).to_string(),
            "relativedelta(months=+1, days=-1)"
        );
        let mut big = RelativeDelta {
            days: 1_000_000,
            hours: 25,
            months: 14,
            ..RelativeDelta::default()
        };
        big.fix();
        // python: relativedelta(days=1000000, hours=25, months=14)
        assert_eq!(
            Value::from_object(big).to_string(),
            "relativedelta(years=+1, months=+2, days=+1e+06, hours=+1)"
        );
        let d = dt("2024-06-01T00:00:00+00:00");
        assert_eq!(
            apply_relativedelta(d, &rd(1, 0), false).unwrap().py_str(),
            "2024-07-01 00:00:00+00:00"
        );
        assert_eq!(
            apply_relativedelta(d, &rd(1, 1), true).unwrap().py_str(),
            "2024-04-30 00:00:00+00:00"
        );
        let jan31 = dt("2024-01-31T10:00:00+00:00");
        assert_eq!(
            apply_relativedelta(jan31, &rd(1, 0), false)
                .unwrap()
                .py_str(),
            "2024-02-29 10:00:00+00:00"
        );
        let day31 = RelativeDelta {
            day: Some(31),
            ..RelativeDelta::default()
        };
        assert_eq!(
            apply_relativedelta(d, &day31, false).unwrap().py_str(),
            "2024-06-30 00:00:00+00:00"
        );
        // relativedelta(weekday=FR(-1)) and (weekday=MO(+2)) from Sat 2024-06-01
        let wd = |weekday: u8, n: Option<i64>| RelativeDelta {
            weekday: Some(Weekday { weekday, n }),
            ..RelativeDelta::default()
        };
        assert_eq!(
            apply_relativedelta(d, &wd(4, Some(-1)), false)
                .unwrap()
                .py_str(),
            "2024-05-31 00:00:00+00:00"
        );
        assert_eq!(
            apply_relativedelta(d, &wd(0, Some(2)), false)
                .unwrap()
                .py_str(),
            "2024-06-10 00:00:00+00:00"
        );
        assert_eq!(
            apply_relativedelta(d, &wd(5, None), false)
                .unwrap()
                .py_str(),
            "2024-06-01 00:00:00+00:00"
        );
        assert_eq!(
            Value::from_object(wd(4, Some(-1))).to_string(),
            "relativedelta(weekday=FR(-1))"
        );
        // relativedelta(datetime(2024,6,1), datetime(2023,1,15,12))
        let between = relativedelta_between(d, dt("2023-01-15T12:00:00+00:00"));
        assert_eq!(
            Value::from_object(between).to_string(),
            "relativedelta(years=+1, months=+4, days=+16, hours=+12)"
        );
    }

    #[test]
    fn diff_for_humans_matches_pendulum() {
        let d = dt("2024-06-01T00:00:00+00:00");
        let plus = |micros: i64| d.add(TimeDelta { micros }).unwrap();
        const H: i64 = 3_600_000_000;
        assert_eq!(
            datetime_diff_for_humans(d, Some(plus(72 * H))),
            "3 days before"
        );
        assert_eq!(
            datetime_diff_for_humans(plus(24 * H), Some(d)),
            "1 day after"
        );
        assert_eq!(
            datetime_diff_for_humans(d, Some(plus(5 * H))),
            "5 hours before"
        );
        assert_eq!(
            datetime_diff_for_humans(d, Some(plus(5_000_000))),
            "a few seconds before"
        );
        assert_eq!(
            datetime_diff_for_humans(d, Some(plus(30_000_000))),
            "30 seconds before"
        );
        assert_eq!(
            datetime_diff_for_humans(d, Some(plus(10 * 24 * H))),
            "1 week before"
        );
        assert_eq!(
            datetime_diff_for_humans(d, Some(plus(12 * 24 * H))),
            "2 weeks before"
        );
        assert_eq!(
            datetime_diff_for_humans(plus(400 * 24 * H), Some(d)),
            "1 year after"
        );
        assert_eq!(
            datetime_diff_for_humans(plus(60 * 24 * H), Some(d)),
            "2 months after"
        );
    }

    fn yaml(v: serde_json::Value) -> String {
        let mut e = YamlEmitter {
            out: String::new(),
            column: 0,
            sort_keys: true,
            allow_unicode: false,
            best_indent: 2,
            best_width: 80,
        };
        e.document(&to_value(&v), false).unwrap()
    }

    #[test]
    fn yaml_dump_matches_pyyaml() {
        use serde_json::json;
        // Expected values from PyYAML 6.0 `yaml.safe_dump(...)`.
        assert_eq!(yaml(json!({"a": 1, "b": [1, 2]})), "a: 1\nb:\n- 1\n- 2\n");
        assert_eq!(
            yaml(json!({"b": {"x": null, "y": [{"k": 1, "j": 2}]}, "a": "hello world"})),
            "a: hello world\nb:\n  x: null\n  y:\n  - j: 2\n    k: 1\n"
        );
        assert_eq!(yaml(json!(1)), "1\n...\n");
        assert_eq!(yaml(json!("abc")), "abc\n...\n");
        assert_eq!(yaml(json!([])), "[]\n");
        assert_eq!(yaml(json!({})), "{}\n");
        assert_eq!(
            yaml(json!({"l": [[1, 2], [3]]})),
            "l:\n- - 1\n  - 2\n- - 3\n"
        );
        assert_eq!(yaml(json!([{"a": 1}, {"b": []}])), "- a: 1\n- b: []\n");
        assert_eq!(
            yaml(json!({"f": 0.5, "g": 1e20, "i": 1.0})),
            "f: 0.5\ng: 1.0e+20\ni: 1.0\n"
        );
        for (s, want) in [
            ("", "''"),
            ("123", "'123'"),
            ("true", "'true'"),
            ("a: b", "'a: b'"),
            ("é", "\"\\xE9\""),
            ("a\nb", "'a\n\n  b'"),
            (" lead", "' lead'"),
            ("- x", "'- x'"),
            ("#x", "'#x'"),
            ("x #y", "'x #y'"),
            ("it's", "it's"),
            ("null", "'null'"),
            ("~", "'~'"),
            ("2024-06-01", "'2024-06-01'"),
            ("yes", "'yes'"),
            ("1.5", "'1.5'"),
            ("a\tb", "\"a\\tb\""),
            ("@x", "'@x'"),
            ("x:", "'x:'"),
            ("0x1A", "'0x1A'"),
            ("1e3", "1e3"),
            ("on", "'on'"),
            ("a,b", "a,b"),
            ("[x]", "'[x]'"),
            ("x]", "x]"),
            ("?x", "?x"),
            ("? x", "'? x'"),
            ("\"x", "'\"x'"),
            ("x\"", "x\""),
        ] {
            assert_eq!(yaml(json!({"s": s})), format!("s: {want}\n"), "{s:?}");
        }
        let long = format!("{} {}", "x".repeat(50), "y".repeat(50));
        assert_eq!(yaml(json!({"s": long})), format!("s: {long}\n"));
        let words = vec!["word"; 30].join(" ");
        // python: yaml.safe_dump({'s': ' '.join(['word'] * 30)})
        assert_eq!(
            yaml(json!({"s": words})),
            "s: word word word word word word word word word word word word word word word word\n  word word word word word word word word word word word word word word\n"
        );
    }

    #[test]
    fn uuid_parsing() {
        let u = parse_uuid("12345678123456781234567812345678").unwrap();
        assert_eq!(
            u.hyphenated().to_string(),
            "12345678-1234-5678-1234-567812345678"
        );
        assert_eq!(
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, b"example.com").to_string(),
            "cfbff0d1-9375-5685-968c-48ce8b15ae17"
        );
        assert!(parse_uuid("xyz").is_err());
    }
}
