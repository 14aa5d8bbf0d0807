//! Jinja's string filters as Jinja 3.1.6 and Python's `textwrap` compute them: `center`, `indent`,
//! `truncate`, `wordwrap`, `wordcount`.

use minijinja::Error;

use crate::py::text::{is_line_break, splitlines_keepends};
use crate::template::budget;
use crate::template::pyvalue::invalid;

/// Python's `str.center(width)`: the odd space goes left when the width is odd.
pub(crate) fn center(s: &str, width: i64) -> Result<String, Error> {
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
pub(crate) fn splitlines(s: &str) -> Vec<String> {
    splitlines_keepends(s)
        .into_iter()
        .map(|l| l.trim_end_matches(is_line_break).to_string())
        .collect()
}

/// Jinja's `do_indent`.
pub(crate) fn indent(s: &str, indention: &str, first: bool, blank: bool) -> String {
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
pub(crate) fn truncate(
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
pub(crate) fn wrap(text: &str, width: usize, break_long: bool, hyphens: bool) -> Vec<String> {
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
pub(crate) fn wordcount(s: &str) -> usize {
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
