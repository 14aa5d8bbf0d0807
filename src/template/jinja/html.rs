//! Jinja's markup and URL filters: `striptags`, `escape`, `xmlattr`, `urlencode`, and
//! `filesizeformat`.

use minijinja::Error;
use minijinja::value::{Value, ValueKind};

use crate::py::text::repr as quote;
use crate::template::budget;
use crate::template::pyvalue::invalid;
use crate::template::pyvalue::repr::py_str;

use crate::template::jinja::filters::iterate;
use crate::template::pyvalue::pprint::is_container;

/// markupsafe's `Markup.striptags`: comments, then tags, removed; whitespace
/// collapsed; entities unescaped.
pub(crate) fn striptags(s: &str) -> String {
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
pub(crate) fn html_unescape(s: &str) -> String {
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
pub(crate) fn checked_html_escape(s: &str) -> Result<Value, Error> {
    let specials = s.bytes().filter(|b| b"&<>\"'".contains(b)).count();
    budget::check_bytes_wide(
        "the result of escape()",
        s.len() as u128 + 4 * specials as u128,
    )?;
    Ok(Value::from_safe_string(html_escape(s)))
}

/// markupsafe's `escape`.
pub(crate) fn html_escape(s: &str) -> String {
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
pub(crate) fn filesizeformat(bytes: f64, binary: bool) -> String {
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
pub(crate) fn xmlattr(value: &Value, autospace: bool) -> Result<Value, Error> {
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
pub(crate) fn urlencode(value: &Value) -> Result<Value, Error> {
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
