//! Python's printf-style formatting, `fmt % args` (`%s`, `%r`, `%d`, `%f`, `%e`, `%g`, `%x`, ...).

use std::fmt::Write;

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

use crate::template::budget;
use crate::template::pyvalue::repr::{py_repr, py_str};
use crate::template::pyvalue::{invalid, is_mapping, is_sequence, type_name};

/// Python's `fmt % args`: `args` is a tuple (several values), a mapping (for
/// `%(name)s`), or any other single value.
pub(crate) fn percent_format(fmt: &str, args: &Value) -> Result<String, Error> {
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
                    format!("KeyError: {}", crate::py::text::repr(&key)),
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
pub(crate) fn format_float(f: f64, conv: char, precision: usize, alt: bool) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::pyvalue::to_value;

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
}
