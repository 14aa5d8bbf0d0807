//! PyYAML 6's emitter as `macros.yaml.dump`/`safe_dump` (block and flow styles, scalar
//! analysis and quoting), and `macros.yaml.safe_load`.

use std::sync::Arc;

use minijinja::value::{Kwargs, Object, ObjectRepr, Value, ValueKind, from_args};
use minijinja::{Error, State};

use crate::py::float::repr as py_float;
use crate::template::pylib::unknown_method;
use crate::template::pyvalue::repr::py_str;
use crate::template::pyvalue::{invalid, is_plain_object, to_value};

#[derive(Debug)]
pub(crate) struct YamlModule;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
