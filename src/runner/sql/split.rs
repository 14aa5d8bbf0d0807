//! SQL text, read the way the server reads it: a lexer that knows quotes,
//! dollar-quoting, identifiers and comments of each dialect; statement
//! splitting on `;` outside them; and the rewrite of DB-API placeholders
//! (`%(name)s`, `:name`, `%s`, `?`, `$n`) into the server's own bind markers.
//!
//! Nothing here pastes a value into SQL: placeholders become `$n` (PostgreSQL)
//! or `?` (MySQL, SQLite) and the values travel as bind parameters.

use std::collections::HashMap;
use std::ops::Range;

/// The SQL dialect, for quoting rules and bind markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    MySql,
    Sqlite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Code,
    /// A string literal or a quoted identifier.
    Quoted,
    Comment,
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Cuts `sql` into code, quoted and comment spans. Every delimiter is ASCII,
/// so byte offsets always fall on UTF-8 boundaries.
fn lex(sql: &str, d: Dialect) -> Vec<(Kind, Range<usize>)> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut code_start = 0;
    let mut i = 0;
    let push = |out: &mut Vec<(Kind, Range<usize>)>, kind, start: usize, end: usize| {
        if start < end {
            out.push((kind, start..end));
        }
    };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        let end = match c {
            b'\'' => {
                // MySQL escapes with backslashes by default; PostgreSQL only in E'...'.
                let escapes = d == Dialect::MySql
                    || (d == Dialect::Postgres
                        && i > 0
                        && matches!(b[i - 1], b'E' | b'e')
                        && (i < 2 || !is_ident(b[i - 2])));
                Some((Kind::Quoted, close_quote(b, i, b'\'', escapes)))
            }
            b'"' => Some((Kind::Quoted, close_quote(b, i, b'"', d == Dialect::MySql))),
            b'`' if d != Dialect::Postgres => Some((Kind::Quoted, close_quote(b, i, b'`', false))),
            b'[' if d == Dialect::Sqlite => Some((
                Kind::Quoted,
                b[i..]
                    .iter()
                    .position(|&x| x == b']')
                    .map_or(b.len(), |p| i + p + 1),
            )),
            b'-' if next == Some(b'-') => Some((Kind::Comment, line_end(b, i))),
            b'#' if d == Dialect::MySql => Some((Kind::Comment, line_end(b, i))),
            b'/' if next == Some(b'*') => Some((Kind::Comment, block_end(b, i, d))),
            b'$' if d == Dialect::Postgres && (i == 0 || !is_ident(b[i - 1])) => {
                dollar_end(b, i).map(|e| (Kind::Quoted, e))
            }
            _ => None,
        };
        match end {
            Some((kind, end)) => {
                push(&mut out, Kind::Code, code_start, i);
                push(&mut out, kind, i, end);
                i = end;
                code_start = end;
            }
            None => i += 1,
        }
    }
    push(&mut out, Kind::Code, code_start, b.len());
    out
}

/// The end of a quoted span opened at `start`; a doubled quote is an escaped one.
fn close_quote(b: &[u8], start: usize, q: u8, backslash: bool) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        if backslash && b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

fn line_end(b: &[u8], start: usize) -> usize {
    b[start..]
        .iter()
        .position(|&x| x == b'\n')
        .map_or(b.len(), |p| start + p)
}

/// PostgreSQL block comments nest; MySQL and SQLite ones do not.
fn block_end(b: &[u8], start: usize, d: Dialect) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < b.len() {
        if b[i] == b'/' && b[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 || d != Dialect::Postgres {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// `$tag$ ... $tag$` (PostgreSQL dollar quoting); `None` when `$` opens no tag (`$1`).
fn dollar_end(b: &[u8], start: usize) -> Option<usize> {
    let mut j = start + 1;
    while j < b.len() && b[j] != b'$' {
        let ok = if j == start + 1 {
            b[j].is_ascii_alphabetic() || b[j] == b'_' || b[j] >= 0x80
        } else {
            is_ident(b[j])
        };
        if !ok {
            return None;
        }
        j += 1;
    }
    if j >= b.len() {
        return None;
    }
    let tag = &b[start..=j];
    let body = j + 1;
    Some(
        b[body..]
            .windows(tag.len())
            .position(|w| w == tag)
            .map_or(b.len(), |p| body + p + tag.len()),
    )
}

/// Splits a script into statements on `;` outside quotes and comments.
/// Pieces holding only whitespace and comments are dropped, as Airflow drops
/// the empty ones (`DbApiHook.split_sql_string` over `sqlparse.split`); the
/// terminating `;` is not sent (the servers' prepared-statement protocols do
/// not all accept it).
pub fn split(sql: &str, d: Dialect) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut has_code = false;
    let finish = |out: &mut Vec<String>, piece: &str, has_code: bool| {
        if has_code {
            out.push(piece.trim().to_string());
        }
    };
    for (kind, range) in lex(sql, d) {
        match kind {
            Kind::Comment => {}
            Kind::Quoted => has_code = true,
            Kind::Code => {
                let text = &sql[range.clone()];
                let mut from = 0;
                for (p, _) in text.match_indices(';') {
                    has_code |= !text[from..p].trim().is_empty();
                    finish(&mut out, &sql[start..range.start + p], has_code);
                    start = range.start + p + 1;
                    from = p + 1;
                    has_code = false;
                }
                has_code |= !text[from..].trim().is_empty();
            }
        }
    }
    finish(&mut out, &sql[start..], has_code);
    out
}

/// Whether a PostgreSQL statement's main command is a query: `SELECT`,
/// `VALUES` or `TABLE`, also in parentheses or after a `WITH` list (whose
/// own queries may write). These are what `COPY (query) TO` takes with no
/// conditions; `INSERT`/`UPDATE`/`DELETE`/`MERGE ... RETURNING` it refuses
/// when the table has rules, and it cannot wrap utility statements (`SHOW`,
/// `EXPLAIN`, `FETCH`, `CALL`). Anything unclear, such as a main query in
/// parentheses after `WITH`, counts as no query.
pub(crate) fn pg_is_query(sql: &str) -> bool {
    let is_query = |w: &str| {
        ["select", "values", "table"]
            .iter()
            .any(|k| w.eq_ignore_ascii_case(k))
    };
    let is_write = |w: &str| {
        ["insert", "update", "delete", "merge"]
            .iter()
            .any(|k| w.eq_ignore_ascii_case(k))
    };
    let mut depth = 0usize;
    // The depth of the `WITH` that opened the statement, once seen.
    let mut with = None;
    for (kind, range) in lex(sql, Dialect::Postgres) {
        if kind != Kind::Code {
            continue;
        }
        let text = &sql[range];
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'(' => depth += 1,
                b')' => depth = depth.saturating_sub(1),
                c if is_ident(c) => {
                    let start = i;
                    while i < b.len() && is_ident(b[i]) {
                        i += 1;
                    }
                    let word = &text[start..i];
                    match with {
                        None if word.eq_ignore_ascii_case("with") => with = Some(depth),
                        None => return is_query(word),
                        // The CTE bodies are in parentheses: the first command
                        // word at the `WITH`'s own depth is the main command.
                        // `select`, `values` and `table` are reserved words,
                        // so no CTE or column name spells them unquoted.
                        Some(d) if d == depth && is_query(word) => return true,
                        Some(d) if d == depth && is_write(word) => return false,
                        Some(_) => {}
                    }
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
    false
}

/// Which value a bind marker takes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ParamRef {
    Named(String),
    Positional(usize),
}

/// How the task's `parameters` were given.
#[derive(Debug, Clone, Copy)]
pub enum Style<'a> {
    /// No `parameters`: the SQL is sent as written, `%` and `?` included
    /// (DB-API drivers do not interpolate when there are no parameters).
    None,
    /// An object: `%(name)s` and `:name` placeholders.
    Named(&'a serde_json::Map<String, serde_json::Value>),
    /// A list: `%s` placeholders (also `?` on MySQL/SQLite and `$n` on PostgreSQL),
    /// taking values from `offset` on.
    Positional { offset: usize },
}

/// A statement ready to prepare: server bind markers and the value each takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    pub sql: String,
    pub params: Vec<ParamRef>,
    /// Positional values this statement consumed.
    pub consumed: usize,
}

/// Rewrites DB-API placeholders outside quotes and comments into bind markers.
///
/// psycopg2 and mysqlclient apply Python `%` formatting to the whole statement
/// when parameters are given, so `%%` is a literal `%` there, in strings too;
/// SQLite's driver has no `%` rule, so it applies only to statements that use
/// `%s`/`%(name)s`.
pub fn bind(sql: &str, d: Dialect, style: Style<'_>) -> Result<Bound, String> {
    if matches!(style, Style::None) {
        return Ok(Bound {
            sql: sql.to_string(),
            params: Vec::new(),
            consumed: 0,
        });
    }
    let tokens = lex(sql, d);
    let percent = d != Dialect::Sqlite
        || tokens.iter().any(|(k, r)| {
            *k == Kind::Code && {
                let t = &sql[r.clone()];
                t.contains("%s") || t.contains("%(")
            }
        });
    let mut out = String::with_capacity(sql.len());
    let mut params: Vec<ParamRef> = Vec::new();
    let mut numbers: HashMap<ParamRef, usize> = HashMap::new();
    let mut next_pos = match style {
        Style::Positional { offset } => offset,
        _ => 0,
    };
    let start_pos = next_pos;
    let mut max_native = 0usize;
    let mut marker = |out: &mut String, r: ParamRef| {
        if d == Dialect::Postgres {
            let n = match numbers.get(&r) {
                Some(n) => *n,
                None => {
                    params.push(r.clone());
                    numbers.insert(r, params.len());
                    params.len()
                }
            };
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            params.push(r);
            out.push('?');
        }
    };
    for (kind, range) in tokens {
        let text = &sql[range];
        if kind != Kind::Code {
            if percent {
                out.push_str(&text.replace("%%", "%"));
            } else {
                out.push_str(text);
            }
            continue;
        }
        let b = text.as_bytes();
        let mut i = 0;
        let mut copied = 0;
        while i < b.len() {
            // Every placeholder starts with an ASCII byte, so only the first
            // byte of a character can start one: the bytes inside a
            // multi-byte character (`größe`) are never a slicing point.
            if !text.is_char_boundary(i) {
                i += 1;
                continue;
            }
            let prev = if i > 0 { Some(b[i - 1]) } else { None };
            let rest = &text[i..];
            let mut take = |out: &mut String, len: usize, r: Option<ParamRef>| {
                out.push_str(&text[copied..i]);
                if let Some(r) = r {
                    marker(out, r);
                }
                len
            };
            let consumed = match b[i] {
                b'%' if percent && rest.starts_with("%%") => {
                    let n = take(&mut out, 2, None);
                    out.push('%');
                    n
                }
                b'%' if percent && rest.starts_with("%s") => match style {
                    Style::Positional { .. } => {
                        next_pos += 1;
                        take(&mut out, 2, Some(ParamRef::Positional(next_pos - 1)))
                    }
                    _ => {
                        return Err(
                            "`%s` takes positional parameters, but `parameters` is an object; give a list, or name the placeholder `%(name)s`".into(),
                        );
                    }
                },
                b'%' if percent && rest.starts_with("%(") => {
                    let Some(close) = rest.find(")s") else {
                        return Err(format!(
                            "unterminated named placeholder `{}`: write `%(name)s`",
                            rest.chars().take(20).collect::<String>()
                        ));
                    };
                    let name = &rest[2..close];
                    match style {
                        Style::Named(map) if map.contains_key(name) => {
                            take(&mut out, close + 2, Some(ParamRef::Named(name.into())))
                        }
                        Style::Named(_) => {
                            return Err(format!(
                                "placeholder `%({name})s` has no value: `parameters` has no key `{name}`"
                            ));
                        }
                        _ => {
                            return Err(format!(
                                "`%({name})s` takes a named parameter, but `parameters` is a list; give an object"
                            ));
                        }
                    }
                }
                b':' if matches!(style, Style::Named(_))
                    && prev != Some(b':')
                    && !prev.is_some_and(is_ident)
                    && b.get(i + 1)
                        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') =>
                {
                    let len = 1 + b[i + 1..].iter().take_while(|c| is_ident(**c)).count();
                    let name = &text[i + 1..i + len];
                    match style {
                        // `arr[lo:hi]` and the like stay as written when `hi` is no parameter.
                        Style::Named(map) if map.contains_key(name) => {
                            take(&mut out, len, Some(ParamRef::Named(name.into())))
                        }
                        _ => 0,
                    }
                }
                // `?` is a jsonb operator in PostgreSQL, so it is a placeholder only elsewhere.
                b'?' if d != Dialect::Postgres && matches!(style, Style::Positional { .. }) => {
                    next_pos += 1;
                    take(&mut out, 1, Some(ParamRef::Positional(next_pos - 1)))
                }
                b'$' if d == Dialect::Postgres
                    && matches!(style, Style::Positional { .. })
                    && !prev.is_some_and(is_ident)
                    && b.get(i + 1).is_some_and(u8::is_ascii_digit) =>
                {
                    let len = 1 + b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                    let n: usize = text[i + 1..i + len].parse().unwrap_or(0);
                    if n == 0 {
                        0
                    } else {
                        max_native = max_native.max(n);
                        take(&mut out, len, Some(ParamRef::Positional(start_pos + n - 1)))
                    }
                }
                _ => 0,
            };
            if consumed > 0 {
                i += consumed;
                copied = i;
            } else {
                i += 1;
            }
        }
        out.push_str(&text[copied..]);
    }
    let consumed = (next_pos - start_pos).max(max_native);
    Ok(Bound {
        sql: out,
        params,
        consumed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn queries_are_told_from_other_statements() {
        for q in [
            "select 1",
            "  -- lead\n/* c */ SELECT 1 -- trail",
            "(select 1) union (select 2)",
            "VALUES (1), (2)",
            "table pg_am",
            "with x as (select 1) select * from x",
            "WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n + 1 FROM t) SELECT n FROM t",
            "with d as (delete from t returning *) select * from d",
            "with \"update\" as materialized (select 1) select * from \"update\"",
            "(with x as (select 1) select * from x)",
            "select 1 for update",
        ] {
            assert!(pg_is_query(q), "{q}");
        }
        for q in [
            "insert into t values (1) returning a",
            "with x as (select 1) insert into t select * from x returning a",
            "WITH x AS (SELECT 1) UPDATE t SET a = 1 RETURNING a",
            "with x as (select 1) (select * from x)",
            "show work_mem",
            "explain select 1",
            "fetch all from c",
            "call p()",
            "-- select\n'select'",
            "",
        ] {
            assert!(!pg_is_query(q), "{q}");
        }
    }

    #[test]
    fn splits_outside_quotes_comments_and_dollar_quotes() {
        let sql = "select 'a;b', \"c;d\"; -- x;y\nselect $f$ ; $f$ /* ; */; ; select E'\\';' ;";
        assert_eq!(
            split(sql, Dialect::Postgres),
            vec![
                "select 'a;b', \"c;d\"",
                "-- x;y\nselect $f$ ; $f$ /* ; */",
                "select E'\\';'"
            ]
        );
        assert_eq!(
            split("select 'it\\'s;'; # c;\nselect 2", Dialect::MySql),
            vec!["select 'it\\'s;'", "# c;\nselect 2"]
        );
        assert_eq!(
            split("select [a;b] from t; -- only a comment", Dialect::Sqlite),
            vec!["select [a;b] from t"]
        );
        assert_eq!(
            split("/* a /* nested ; */ still; */ select 1", Dialect::Postgres),
            vec!["/* a /* nested ; */ still; */ select 1"]
        );
        assert!(split("  ;  -- nothing\n;", Dialect::Postgres).is_empty());
    }

    #[test]
    fn named_placeholders_become_bind_markers() {
        let p = json!({"a": 1, "b": 2});
        let map = p.as_object().unwrap();
        let b = bind(
            "select %(a)s, :b, %(a)s, ':a', x::int, '50%%' -- %(zz)s",
            Dialect::Postgres,
            Style::Named(map),
        )
        .unwrap();
        assert_eq!(b.sql, "select $1, $2, $1, ':a', x::int, '50%' -- %(zz)s");
        assert_eq!(
            b.params,
            vec![ParamRef::Named("a".into()), ParamRef::Named("b".into())]
        );
        let b = bind("select :a, :nope", Dialect::MySql, Style::Named(map)).unwrap();
        assert_eq!(b.sql, "select ?, :nope");
        assert!(
            bind("select %(c)s", Dialect::Postgres, Style::Named(map))
                .unwrap_err()
                .contains("no key `c`")
        );
    }

    #[test]
    fn positional_placeholders() {
        let b = bind(
            "select %s, ?, $1 ? 'k'",
            Dialect::Postgres,
            Style::Positional { offset: 0 },
        )
        .unwrap();
        // `?` stays (a jsonb operator); `%s` and `$1` both name the first value.
        assert_eq!(b.sql, "select $1, ?, $1 ? 'k'");
        assert_eq!(b.params, vec![ParamRef::Positional(0)]);
        let b = bind(
            "select ?, '?', ?",
            Dialect::Sqlite,
            Style::Positional { offset: 2 },
        )
        .unwrap();
        assert_eq!(b.sql, "select ?, '?', ?");
        assert_eq!(
            b.params,
            vec![ParamRef::Positional(2), ParamRef::Positional(3)]
        );
        assert_eq!(b.consumed, 2);
        // No parameters: nothing is touched.
        let b = bind("select '%%', %s", Dialect::MySql, Style::None).unwrap();
        assert_eq!(b.sql, "select '%%', %s");
        // SQLite keeps `%%` unless the statement uses `%` placeholders.
        let b = bind(
            "select printf('%d%%', ?)",
            Dialect::Sqlite,
            Style::Positional { offset: 0 },
        )
        .unwrap();
        assert_eq!(b.sql, "select printf('%d%%', ?)");
    }

    /// Fuzzing found 212 inputs that panicked here, all one cause: a byte index
    /// inside a multi-byte character outside quotes.
    #[test]
    fn non_ascii_outside_quotes_binds() {
        let map = json!({"a": 1, "ä": 2});
        let named = Style::Named(map.as_object().unwrap());
        for d in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
            let b = bind("SELECT :a AS größe, 'ü' AS x, %(a)s AS ñ€𝄞", d, named).unwrap();
            // PostgreSQL binds a repeated name once ($1 twice).
            let expected = if d == Dialect::Postgres { 1 } else { 2 };
            assert_eq!(b.params.len(), expected, "{d:?}");
            assert!(
                b.sql.contains("AS größe") && b.sql.contains("AS ñ€𝄞"),
                "{}",
                b.sql
            );
            let p = bind("select 'é', ? , é?ö", d, Style::Positional { offset: 0 });
            assert!(p.is_ok(), "{d:?}");
        }
    }
}
