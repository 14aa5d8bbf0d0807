//! Python's `str`: `repr()`, `isspace()`, `strip()`/`rstrip()` with no argument, `splitlines()`,
//! and `int()` of a string.

use std::fmt::Write;

/// Python's string repr: single quotes unless the text has `'` and no `"`.
pub(crate) fn repr(s: &str) -> String {
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

/// Python `str.isspace()` of one character: Rust's whitespace plus U+001C..U+001F.
pub(crate) fn isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python `str.strip()` with no arguments.
pub(crate) fn strip(s: &str) -> &str {
    s.trim_matches(isspace)
}

/// Python `str.rstrip()` with no arguments.
pub(crate) fn rstrip(s: &str) -> &str {
    s.trim_end_matches(isspace)
}

/// A line boundary of `str.splitlines()`.
pub(crate) fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\x0b'
            | '\x0c'
            | '\x1c'
            | '\x1d'
            | '\x1e'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// Python's `str.splitlines(keepends=True)`.
pub(crate) fn splitlines_keepends(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        cur.push(c);
        if is_line_break(c) {
            if c == '\r' && chars.peek() == Some(&'\n') {
                cur.push('\n');
                chars.next();
            }
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Python `int(s)` for base 10 (ASCII digits): surrounding whitespace, a sign, and single `_`
/// between digits. Returns the sign and the digits.
pub(crate) fn int(s: &str) -> Option<(bool, String)> {
    let s = strip(s);
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let groups_ok = body
        .split('_')
        .all(|group| !group.is_empty() && group.bytes().all(|b| b.is_ascii_digit()));
    groups_ok.then(|| (negative, body.replace('_', "")))
}
