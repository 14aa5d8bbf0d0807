//! The `.env` file syntax of docker compose (its `env_file:`), for the
//! `env_file` key: `KEY=VALUE` lines, quoting and `${VAR}` interpolation.
//! Pure: the text comes in, the variables go out; reading files, paths and
//! error context are the caller's (`runner::env`).
//!
//! The rules, as compose documents them ("Set environment variables",
//! "Interpolation"):
//! - blank lines and lines starting with `#` are ignored;
//! - `KEY=VALUE`, optionally `export KEY=VALUE`; spaces around `=` are allowed;
//! - an unquoted value is trimmed, and a `#` after whitespace starts a comment;
//! - `'single quotes'` are literal: no escapes, no interpolation;
//! - `"double quotes"` take `\n \r \t \\ \" \$` and interpolation, and may
//!   span lines (single quotes too);
//! - interpolation: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//!   `${VAR:?message}`, `${VAR?message}`, `${VAR:+alt}`, `${VAR+alt}`, and
//!   `$$` for a literal `$`; a `$` followed by anything else is kept;
//! - a bare `KEY` line takes the value of the caller's environment, if set.
//!
//! Lookups see the variables defined earlier (in this file and the files
//! parsed into the same [`Vars`] before it), then the caller's environment.

use std::collections::HashMap;

/// Substitutions nested deeper than this (`${A:-${B:-${C...}}}`) are an
/// error rather than a recursion as deep as the file is long.
const MAX_NESTING: usize = 32;

/// Variables in the order they were first defined; a later definition
/// replaces the value and keeps the place.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Vars {
    entries: Vec<(String, String)>,
    index: HashMap<String, usize>,
}

impl Vars {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.index.get(name).map(|&i| self.entries[i].1.as_str())
    }

    pub(crate) fn set(&mut self, name: String, value: String) {
        match self.index.get(&name) {
            Some(&i) => self.entries[i].1 = value,
            None => {
                self.index.insert(name.clone(), self.entries.len());
                self.entries.push((name, value));
            }
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// What is wrong, and on which line (1-based; a multi-line value's first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// Parses `text` into `vars`; `env` is the caller's environment.
pub(crate) fn parse_into(
    text: &str,
    vars: &mut Vars,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = text.replace("\r\n", "\n");
    let mut rest = text.as_str();
    let mut line = 1;
    while !rest.is_empty() {
        let start = line;
        let err = |message: String| SyntaxError {
            line: start,
            message,
        };
        let (this, after) = rest.split_once('\n').unwrap_or((rest, ""));
        let entry = this.trim_start();
        if entry.is_empty() || entry.starts_with('#') {
            rest = after;
            line += 1;
            continue;
        }
        let entry = match entry.strip_prefix("export") {
            Some(tail) if tail.starts_with([' ', '\t']) => tail.trim_start(),
            _ => entry,
        };
        let name_len = entry
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
            .unwrap_or(entry.len());
        let (name, tail) = entry.split_at(name_len);
        if name.is_empty() {
            return Err(err(
                "expected `KEY=VALUE`, `export KEY=VALUE`, a bare `KEY` or a `#` comment".into(),
            ));
        }
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(err(format!(
                "`{name}` is not a variable name: it starts with a digit"
            )));
        }
        let tail = tail.trim_start_matches([' ', '\t']);
        if tail.is_empty() || tail.starts_with('#') {
            // A bare `KEY`: compose passes the caller's value through, if any.
            if let Some(value) = env(name) {
                vars.set(name.to_string(), value);
            }
            rest = after;
            line += 1;
            continue;
        }
        let Some(raw) = tail.strip_prefix('=') else {
            return Err(err(format!(
                "expected `=` after `{name}` (a name is letters, digits, `_`, `.` and `-`)"
            )));
        };
        let value_text = raw.trim_start_matches([' ', '\t']);
        let lookup = |n: &str| vars.get(n).map(str::to_owned).or_else(|| env(n));
        let value = match value_text.chars().next() {
            Some(quote @ ('\'' | '"')) => {
                // `value_text` ends the line `this`, which starts `rest`: the
                // value may run on past the line, in `rest`.
                let open = this.len() - value_text.len();
                let body = &rest[open + 1..];
                let close = closing_quote(body, quote).ok_or_else(|| {
                    err(format!(
                        "unterminated {} value of `{name}`: its `{quote}` opens here and never closes",
                        if quote == '"' { "double-quoted" } else { "single-quoted" }
                    ))
                })?;
                let inner = &body[..close];
                let after_quote = &body[close + 1..];
                let (trailing, next) = after_quote.split_once('\n').unwrap_or((after_quote, ""));
                let trailing = trailing.trim_matches([' ', '\t']);
                if !(trailing.is_empty() || trailing.starts_with('#')) {
                    return Err(err(format!(
                        "unexpected text after the closing `{quote}` of `{name}` (a comment needs a `#`)"
                    )));
                }
                line += inner.matches('\n').count();
                rest = next;
                if quote == '"' {
                    expand(inner, true, &lookup, 0).map_err(err)?
                } else {
                    inner.to_string()
                }
            }
            _ => {
                rest = after;
                // An inline comment starts at a `#` that follows whitespace.
                let cut = raw
                    .char_indices()
                    .find(|&(i, c)| c == '#' && raw[..i].ends_with([' ', '\t']))
                    .map_or(raw.len(), |(i, _)| i);
                expand(raw[..cut].trim_matches([' ', '\t']), false, &lookup, 0).map_err(err)?
            }
        };
        vars.set(name.to_string(), value);
        line += 1;
    }
    Ok(())
}

/// The offset of the quote that closes a value whose body starts `body`:
/// the next `'` for single quotes, the next unescaped `"` for double.
fn closing_quote(body: &str, quote: char) -> Option<usize> {
    if quote == '\'' {
        return body.find('\'');
    }
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// Interpolates `text` (and, in double quotes, undoes its escapes).
fn expand(
    text: &str,
    escapes: bool,
    lookup: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Result<String, String> {
    if depth > MAX_NESTING {
        return Err(format!(
            "substitutions are nested more than {MAX_NESTING} deep"
        ));
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if escapes => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, 't')) => out.push('\t'),
                Some((_, e @ ('\\' | '"' | '$'))) => out.push(e),
                // Any other backslash is kept as written.
                Some((_, other)) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '$' => match chars.peek().map(|&(_, n)| n) {
                Some('$') => {
                    chars.next();
                    out.push('$');
                }
                Some('{') => {
                    let open = i + 2;
                    let len = braced_len(&text[open..], escapes).ok_or_else(|| {
                        format!("unterminated `${{` in `{}`", shorten(&text[i..]))
                    })?;
                    let inside = &text[open..open + len];
                    out.push_str(&substitute(inside, escapes, lookup, depth)?);
                    // Skip the braces' content and the closing `}`.
                    while chars.peek().is_some_and(|&(j, _)| j <= open + len) {
                        chars.next();
                    }
                }
                Some(n) if n == '_' || n.is_ascii_alphabetic() => {
                    let start = i + 1;
                    let end = text[start..]
                        .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
                        .map_or(text.len(), |e| start + e);
                    out.push_str(&lookup(&text[start..end]).unwrap_or_default());
                    while chars.peek().is_some_and(|&(j, _)| j < end) {
                        chars.next();
                    }
                }
                // `$` before anything else (`$5`, a trailing `$`) is literal.
                _ => out.push('$'),
            },
            other => out.push(other),
        }
    }
    Ok(out)
}

/// The length of what is inside `${...}`, `text` starting after the `${`:
/// up to the `}` that closes it, nested `${...}` and escapes skipped.
fn braced_len(text: &str, escapes: bool) -> Option<usize> {
    let mut depth = 0usize;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if escapes => {
                chars.next();
            }
            '$' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                chars.next();
                depth += 1;
            }
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// One `${NAME}`, `${NAME:-word}`, ..., given what is inside the braces.
fn substitute(
    inside: &str,
    escapes: bool,
    lookup: &dyn Fn(&str) -> Option<String>,
    depth: usize,
) -> Result<String, String> {
    let name_len = inside
        .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
        .unwrap_or(inside.len());
    let (name, op) = inside.split_at(name_len);
    let whole = || shorten(&format!("${{{inside}}}"));
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "bad substitution `{}`: expected a variable name after `${{`",
            whole()
        ));
    }
    let value = lookup(name);
    if op.is_empty() {
        return Ok(value.unwrap_or_default());
    }
    let (colon, op) = match op.strip_prefix(':') {
        Some(op) => (true, op),
        None => (false, op),
    };
    let mut op_chars = op.chars();
    let kind = op_chars.next();
    let word = op_chars.as_str();
    // With `:`, an empty value counts as unset (POSIX sh).
    let present = value.as_ref().filter(|v| !colon || !v.is_empty());
    let word = || expand(word, escapes, lookup, depth + 1);
    match kind {
        Some('-') => match present {
            Some(v) => Ok(v.clone()),
            None => word(),
        },
        Some('+') => match present {
            Some(_) => word(),
            None => Ok(String::new()),
        },
        Some('?') => match present {
            Some(v) => Ok(v.clone()),
            None => {
                let message = word()?;
                let state = if value.is_some() {
                    "is empty"
                } else {
                    "is not set"
                };
                Err(if message.is_empty() {
                    format!("required variable `{name}` {state}")
                } else {
                    format!("required variable `{name}` {state}: {message}")
                })
            }
        },
        _ => Err(format!(
            "bad substitution `{}`: after the name comes `}}`, `:-`, `-`, `:?`, `?`, `:+` or `+`",
            whole()
        )),
    }
}

/// A piece of the file for a message, cut to 60 characters.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/etl".into()),
            "EMPTY" => Some(String::new()),
            "REGION" => Some("emea".into()),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<Vec<(String, String)>, SyntaxError> {
        let mut vars = Vars::default();
        parse_into(text, &mut vars, &env)?;
        Ok(vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    fn one(text: &str) -> String {
        let vars = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
        assert_eq!(vars.len(), 1, "{text:?}: {vars:?}");
        vars[0].1.clone()
    }

    fn error(text: &str) -> SyntaxError {
        parse(text).expect_err(text)
    }

    #[test]
    fn comments_blank_lines_and_export() {
        let vars =
            parse("# a comment\n\n   \n  # indented\nA=1\nexport B=2\nexport\tC = 3\n").unwrap();
        assert_eq!(
            vars,
            [("A", "1"), ("B", "2"), ("C", "3")].map(|(k, v)| (k.to_string(), v.to_string()))
        );
        // `export` alone, or as the start of a name, is a name.
        assert_eq!(parse("exported=1\n").unwrap()[0].0, "exported");
    }

    #[test]
    fn unquoted_values_are_trimmed_and_comments_need_whitespace() {
        assert_eq!(one("A=  spaced out  \n"), "spaced out");
        assert_eq!(one("A=value # comment\n"), "value");
        assert_eq!(one("A=value\t# comment"), "value");
        assert_eq!(one("A=no#comment\n"), "no#comment");
        assert_eq!(one("A=#not-a-comment\n"), "#not-a-comment");
        assert_eq!(one("A= # only a comment\n"), "");
        assert_eq!(one("A=\n"), "");
        assert_eq!(one("A=back\\slash \"q\"\n"), "back\\slash \"q\"");
        assert_eq!(one("A=x=y\r\n"), "x=y");
    }

    #[test]
    fn single_quotes_are_literal() {
        assert_eq!(
            one("A='$HOME \\n ${X:?boom} # kept'\n"),
            "$HOME \\n ${X:?boom} # kept"
        );
        assert_eq!(
            parse("A='two\nlines' # c\nB=1\n").unwrap()[0].1,
            "two\nlines"
        );
        assert_eq!(one("A=''"), "");
    }

    #[test]
    fn double_quotes_escape_interpolate_and_span_lines() {
        assert_eq!(
            one(r#"A="tab\there\nnl \\ \" \$HOME \q $HOME""#),
            "tab\there\nnl \\ \" $HOME \\q /home/etl"
        );
        let vars = parse("A=\"line 1\nline 2\"\nB=after\n").unwrap();
        assert_eq!(vars[0].1, "line 1\nline 2");
        assert_eq!(vars[1], ("B".to_string(), "after".to_string()));
        assert_eq!(one("A=\"  kept  \"  # comment"), "  kept  ");
    }

    #[test]
    fn interpolation_forms() {
        assert_eq!(one("A=$HOME/x"), "/home/etl/x");
        assert_eq!(one("A=${HOME}x"), "/home/etlx");
        assert_eq!(one("A=[$NOPE]"), "[]");
        assert_eq!(one("A=$$HOME"), "$HOME");
        assert_eq!(one("A=cost $5 $"), "cost $5 $");
        assert_eq!(one("A=${NOPE:-dflt}"), "dflt");
        assert_eq!(one("A=${EMPTY:-dflt}"), "dflt");
        assert_eq!(one("A=${EMPTY-dflt}"), "");
        assert_eq!(one("A=${NOPE-dflt}"), "dflt");
        assert_eq!(one("A=${REGION:-dflt}"), "emea");
        assert_eq!(one("A=${REGION:+alt}"), "alt");
        assert_eq!(one("A=${EMPTY:+alt}"), "");
        assert_eq!(one("A=${EMPTY+alt}"), "alt");
        assert_eq!(one("A=${NOPE+alt}"), "");
        assert_eq!(one("A=${REGION:?needed}"), "emea");
        assert_eq!(one("A=${EMPTY?needed}"), "");
        // Words are interpolated, nested substitutions too.
        assert_eq!(one("A=${NOPE:-${HOME}/data}"), "/home/etl/data");
    }

    #[test]
    fn lookups_see_earlier_definitions_first() {
        let vars = parse("HOME=/srv\nA=$HOME\nB=${A}/x\nC=$LATER\nLATER=1\n").unwrap();
        assert_eq!(vars[1].1, "/srv");
        assert_eq!(vars[2].1, "/srv/x");
        assert_eq!(vars[3].1, "");
        // Across files parsed into the same `Vars`, in order; later wins.
        let mut vars = Vars::default();
        parse_into("A=first\nB=b\n", &mut vars, &env).unwrap();
        parse_into("A=second-$B\n", &mut vars, &env).unwrap();
        assert_eq!(vars.get("A"), Some("second-b"));
        assert_eq!(vars.iter().next(), Some(("A", "second-b")));
    }

    #[test]
    fn a_bare_key_takes_the_callers_value() {
        assert_eq!(
            parse("REGION\nNOPE\nexport HOME # c\n").unwrap(),
            [
                ("REGION".to_string(), "emea".to_string()),
                ("HOME".to_string(), "/home/etl".to_string())
            ]
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = error("A=1\n\n\"oops\"\n");
        assert_eq!(e.line, 3);
        assert!(e.message.contains("expected `KEY=VALUE`"), "{e:?}");
        let e = error("A=1\nB C=2\n");
        assert_eq!(
            (e.line, e.message.contains("expected `=` after `B`")),
            (2, true),
            "{e:?}"
        );
        let e = error("1A=x");
        assert!(e.message.contains("starts with a digit"), "{e:?}");
        let e = error("A=1\nB=\"open\nC=2\n");
        assert_eq!(e.line, 2);
        assert!(
            e.message
                .contains("unterminated double-quoted value of `B`"),
            "{e:?}"
        );
        let e = error("A='open");
        assert!(
            e.message.contains("unterminated single-quoted value"),
            "{e:?}"
        );
        let e = error("A=\"x\" y\n");
        assert!(
            e.message.contains("unexpected text after the closing"),
            "{e:?}"
        );
        let e = error("A=1\nB=${NOPE:?set it in the vault}\n");
        assert_eq!(e.line, 2);
        assert_eq!(
            e.message,
            "required variable `NOPE` is not set: set it in the vault"
        );
        let e = error("B=${EMPTY:?}");
        assert_eq!(e.message, "required variable `EMPTY` is empty");
        assert!(error("B=${NOPE?}").message.contains("is not set"));
        assert!(error("B=${HOME").message.contains("unterminated `${`"));
        assert!(error("B=${}").message.contains("expected a variable name"));
        assert!(
            error("B=${HOME:x}")
                .message
                .contains("bad substitution `${HOME:x}`")
        );
        // A multi-line value's error is on the line it starts on; the lines
        // after it count on.
        let e = error("A=\"1\n2\n3\"\nB C\n");
        assert_eq!(e.line, 4);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("A={}x{}", "${N:-".repeat(10_000), "}".repeat(10_000));
        assert!(error(&deep).message.contains("nested more than"));
    }
}
