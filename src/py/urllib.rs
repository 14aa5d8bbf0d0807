//! CPython's `urllib.parse` (3.11+), the parts Airflow's connections use: `urlsplit` and its
//! `hostname`/`username`/`password`/`port` properties, `quote`, `quote_plus`, `unquote`,
//! `parse_qsl`, `urlencode`. Written out because no crate has Python's exact quirks.

use std::net::Ipv6Addr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// The `ValueError`s `urlsplit` and `SplitResult.port` raise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueError {
    /// A bracketed host that is not an IPv6 or IPvFuture literal, or unbalanced brackets.
    BadBrackets(&'static str),
    PortNotNumber,
    PortOutOfRange,
}

/// `quote(s, safe='')`: everything but `A-Za-z0-9_.-~` is percent-encoded (UTF-8, upper hex).
pub(crate) const SAFE_NONE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');
/// `quote(s)` (default `safe='/'`).
pub(crate) const SAFE_SLASH: &AsciiSet = &SAFE_NONE.remove(b'/');
/// `quote_plus`'s intermediate set: spaces kept, then turned into `+`.
const SAFE_SPACE: &AsciiSet = &SAFE_NONE.remove(b' ');

pub(crate) fn quote(s: &str, set: &'static AsciiSet) -> String {
    utf8_percent_encode(s, set).to_string()
}

/// `quote_plus(s, safe='')`.
pub(crate) fn quote_plus(s: &str) -> String {
    quote(s, SAFE_SPACE).replace(' ', "+")
}

/// `urlencode(pairs)` with its default `quote_plus`.
pub(crate) fn urlencode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `unquote(s)`: `%XX` (either case) decoded, malformed escapes kept, invalid UTF-8 replaced by
/// U+FFFD. Splitting on ASCII runs as CPython does gives the same result as decoding whole.
pub(crate) fn unquote(s: &str) -> String {
    if s.contains('%') {
        percent_decode_str(s).decode_utf8_lossy().into_owned()
    } else {
        s.to_owned()
    }
}

/// `parse_qsl(qs, keep_blank_values=True)`: split on `&` only, empty fields skipped, a field
/// without `=` is a key with an empty value, `+` is a space in both key and value.
pub(crate) fn parse_qsl(qs: &str) -> Vec<(String, String)> {
    qs.split('&')
        .filter(|field| !field.is_empty())
        .map(|field| {
            let (name, value) = field.split_once('=').unwrap_or((field, ""));
            (
                unquote(&name.replace('+', " ")),
                unquote(&value.replace('+', " ")),
            )
        })
        .collect()
}

/// The parts of `urlsplit()` Airflow uses (the fragment is dropped).
pub(crate) struct SplitUrl {
    pub scheme: String,
    pub netloc: String,
    pub path: String,
    pub query: String,
}

/// `urlsplit(url)` with default arguments, including its `ValueError`s for bracketed hosts.
/// Not reproduced: the NFKC check on non-ASCII netlocs (`_checknetloc`).
pub(crate) fn urlsplit(url: &str) -> Result<SplitUrl, ValueError> {
    let url: String = url
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let mut scheme = String::new();
    let mut rest = url.as_str();
    if let Some(i) = url.find(':') {
        let candidate = &url[..i];
        let first_is_alpha = candidate
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphabetic);
        let all_scheme_chars = candidate
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if first_is_alpha && all_scheme_chars {
            scheme = candidate.to_ascii_lowercase();
            rest = &url[i + 1..];
        }
    }
    let mut netloc = "";
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = &after[..end];
        rest = &after[end..];
        match (netloc.contains('['), netloc.contains(']')) {
            (true, true) => {
                let bracketed = netloc.split_once('[').map_or("", |(_, b)| b);
                check_bracketed_host(bracketed.split_once(']').map_or(bracketed, |(h, _)| h))?;
            }
            (false, false) => {}
            _ => return Err(ValueError::BadBrackets("unbalanced `[` or `]` in the host")),
        }
    }
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    Ok(SplitUrl {
        scheme,
        netloc: netloc.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
    })
}

/// CPython `_check_bracketed_host`: an IPvFuture literal or an IPv6 address (with an optional
/// non-empty zone id); IPv4 in brackets is refused.
fn check_bracketed_host(host: &str) -> Result<(), ValueError> {
    if let Some(future) = host.strip_prefix('v') {
        let valid = future.split_once('.').is_some_and(|(version, tail)| {
            !version.is_empty()
                && version.bytes().all(|b| b.is_ascii_hexdigit())
                && !tail.is_empty()
        });
        return if valid {
            Ok(())
        } else {
            Err(ValueError::BadBrackets(
                "invalid IPvFuture address in brackets",
            ))
        };
    }
    let (address, zone) = match host.split_once('%') {
        Some((address, zone)) => (address, Some(zone)),
        None => (host, None),
    };
    let zone_ok = zone.is_none_or(|z| !z.is_empty() && !z.contains('%'));
    if zone_ok && address.parse::<Ipv6Addr>().is_ok() {
        Ok(())
    } else {
        Err(ValueError::BadBrackets("invalid IPv6 address in brackets"))
    }
}

/// `SplitResult._userinfo`: split at the last `@`, then at the first `:`.
pub(crate) fn userinfo(netloc: &str) -> (Option<&str>, Option<&str>) {
    match netloc.rsplit_once('@') {
        Some((info, _)) => match info.split_once(':') {
            Some((user, password)) => (Some(user), Some(password)),
            None => (Some(info), None),
        },
        None => (None, None),
    }
}

/// `SplitResult._hostinfo`: host and raw port text after the last `@`; brackets stripped.
pub(crate) fn hostinfo(netloc: &str) -> (&str, Option<&str>) {
    let info = netloc.rsplit_once('@').map_or(netloc, |(_, info)| info);
    let (host, port) = match info.split_once('[') {
        Some((_, bracketed)) => {
            let (host, after) = bracketed.split_once(']').unwrap_or((bracketed, ""));
            (host, after.split_once(':').map_or("", |(_, port)| port))
        }
        None => info.split_once(':').unwrap_or((info, "")),
    };
    (host, Some(port).filter(|p| !p.is_empty()))
}

/// `SplitResult.hostname`: lower-cased up to the first `%` (a zone id keeps its case).
pub(crate) fn hostname(netloc: &str) -> Option<String> {
    let (host, _) = hostinfo(netloc);
    if host.is_empty() {
        return None;
    }
    Some(match host.split_once('%') {
        Some((address, zone)) => format!("{}%{zone}", address.to_lowercase()),
        None => host.to_lowercase(),
    })
}

/// `SplitResult.port` (3.11+: ASCII digits only, 0..=65535).
pub(crate) fn port(netloc: &str) -> Result<Option<u16>, ValueError> {
    match hostinfo(netloc).1 {
        None => Ok(None),
        Some(port) if port.bytes().all(|b| b.is_ascii_digit()) => port_from_digits(false, port)
            .map(Some)
            .ok_or(ValueError::PortOutOfRange),
        Some(_) => Err(ValueError::PortNotNumber),
    }
}

/// A port from decimal digits, if within 0..=65535 (`-0` is 0, as in Python).
pub(crate) fn port_from_digits(negative: bool, digits: &str) -> Option<u16> {
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Some(0);
    }
    if negative || significant.len() > 5 {
        return None;
    }
    significant.parse::<u32>().ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_helpers() {
        assert_eq!(quote_plus("a b+c/é"), "a+b%2Bc%2F%C3%A9");
        assert_eq!(quote("a~b_c.d-e f", SAFE_NONE), "a~b_c.d-e%20f");
        assert_eq!(unquote("%41%4g%%e2%82%ac%E2%82"), "A%4g%€\u{fffd}");
        assert_eq!(
            parse_qsl("a=1&&b&=c&d=%20+"),
            [("a", "1"), ("b", ""), ("", "c"), ("d", "  ")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }
}
