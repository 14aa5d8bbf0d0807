//! `render_template_as_native_obj`: Python's `ast.literal_eval` of a rendered
//! string, as Jinja's `NativeEnvironment` applies it (jinja2/nativetypes.py),
//! producing the JSON value the task receives. Tuples and sets become lists
//! (sets sorted), as they travel as JSON.

use serde_json::{Map, Number, Value};

/// `ast.literal_eval(text)`, or `None` when Python would raise.
pub(crate) fn literal_eval(text: &str) -> Option<Value> {
    // Python parses in "eval" mode: leading whitespace is an indentation
    // error, trailing whitespace is fine.
    if text.starts_with([' ', '\t']) {
        return None;
    }
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        src: text,
    };
    let v = p.expr()?;
    p.ws();
    (p.i == p.s.len()).then_some(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    src: &'a str,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// A literal, or a tuple of them without parentheses (`1, 2`).
    fn expr(&mut self) -> Option<Value> {
        let first = self.atom()?;
        self.ws();
        if self.peek() != Some(b',') {
            return Some(first);
        }
        let mut items = vec![first];
        while self.eat(b',') {
            self.ws();
            if self.i == self.s.len() || matches!(self.peek(), Some(b')' | b']' | b'}')) {
                break;
            }
            items.push(self.atom()?);
        }
        Some(Value::Array(items))
    }

    fn atom(&mut self) -> Option<Value> {
        self.ws();
        match self.peek()? {
            b'[' => {
                self.i += 1;
                self.seq(b']').map(Value::Array)
            }
            b'(' => {
                self.i += 1;
                self.ws();
                if self.eat(b')') {
                    return Some(Value::Array(vec![]));
                }
                let inner = self.atom()?;
                self.ws();
                if self.eat(b')') {
                    return Some(inner); // `(x)` is x, `(x,)` a tuple
                }
                if !self.eat(b',') {
                    return None;
                }
                let mut items = vec![inner];
                items.extend(self.seq(b')')?);
                Some(Value::Array(items))
            }
            b'{' => {
                self.i += 1;
                self.dict_or_set()
            }
            b'\'' | b'"' => self.string().map(Value::String),
            b'b' | b'r' | b'u' | b'B' | b'R' | b'U'
                if matches!(self.s.get(self.i + 1), Some(b'\'' | b'"')) =>
            {
                let prefix = self.s[self.i];
                if matches!(prefix, b'b' | b'B') {
                    return None; // bytes are not JSON
                }
                self.i += 1;
                if matches!(prefix, b'r' | b'R') {
                    return self.raw_string().map(Value::String);
                }
                self.string().map(Value::String)
            }
            b'-' | b'+' => {
                let neg = self.peek() == Some(b'-');
                self.i += 1;
                let v = self.atom()?;
                let Value::Number(n) = v else { return None };
                Some(if !neg {
                    Value::Number(n)
                } else if let Some(i) = n.as_i64() {
                    Value::Number(Number::from(-i))
                } else {
                    Value::Number(Number::from_f64(-n.as_f64()?)?)
                })
            }
            c if c.is_ascii_digit() || c == b'.' => self.number(),
            _ => {
                let word: String = self.src[self.i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let v = match word.as_str() {
                    "True" => Value::Bool(true),
                    "False" => Value::Bool(false),
                    "None" => Value::Null,
                    _ => return None,
                };
                self.i += word.len();
                Some(v)
            }
        }
    }

    fn seq(&mut self, close: u8) -> Option<Vec<Value>> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(items);
            }
            items.push(self.atom()?);
            if self.eat(close) {
                return Some(items);
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn dict_or_set(&mut self) -> Option<Value> {
        if self.eat(b'}') {
            return Some(Value::Object(Map::new()));
        }
        let first = self.atom()?;
        if self.eat(b':') {
            let mut map = Map::new();
            let v = self.atom()?;
            map.insert(key(&first)?, v);
            loop {
                if self.eat(b'}') {
                    return Some(Value::Object(map));
                }
                if !self.eat(b',') {
                    return None;
                }
                if self.eat(b'}') {
                    return Some(Value::Object(map));
                }
                let k = self.atom()?;
                if !self.eat(b':') {
                    return None;
                }
                let v = self.atom()?;
                map.insert(key(&k)?, v);
            }
        }
        let mut items = vec![first];
        if !self.eat(b'}') {
            if !self.eat(b',') {
                return None;
            }
            items.extend(self.seq(b'}')?);
        }
        items.sort_by_key(|a| a.to_string());
        items.dedup();
        Some(Value::Array(items))
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || matches!(self.s[self.i], b'.' | b'_'))
        {
            if matches!(self.s[self.i], b'e' | b'E')
                && matches!(self.s.get(self.i + 1), Some(b'+' | b'-'))
            {
                self.i += 1;
            }
            self.i += 1;
        }
        let text: String = self.src[start..self.i]
            .chars()
            .filter(|c| *c != '_')
            .collect();
        let lower = text.to_ascii_lowercase();
        if let Some(hex) = lower.strip_prefix("0x") {
            return i64::from_str_radix(hex, 16).ok().map(Value::from);
        }
        if let Some(oct) = lower.strip_prefix("0o") {
            return i64::from_str_radix(oct, 8).ok().map(Value::from);
        }
        if let Some(bin) = lower.strip_prefix("0b") {
            return i64::from_str_radix(bin, 2).ok().map(Value::from);
        }
        if lower.chars().all(|c| c.is_ascii_digit()) {
            // Python 3 rejects leading zeros in non-zero integers.
            if lower.len() > 1 && lower.starts_with('0') && lower.chars().any(|c| c != '0') {
                return None;
            }
            return lower.parse::<i64>().ok().map(Value::from).or_else(|| {
                lower
                    .parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
            });
        }
        lower
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
    }

    fn raw_string(&mut self) -> Option<String> {
        let q = self.peek()?;
        self.i += 1;
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i] != q {
            self.i += 1;
        }
        let out = self.src.get(start..self.i)?.to_string();
        self.i += 1;
        Some(out)
    }

    fn string(&mut self) -> Option<String> {
        let q = self.peek()?;
        self.i += 1;
        let mut out = String::new();
        let rest = &self.src[self.i..];
        let mut chars = rest.char_indices();
        while let Some((off, c)) = chars.next() {
            if c as u32 == u32::from(q) {
                self.i += off + 1;
                return Some(out);
            }
            if c == '\n' {
                return None;
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let (_, e) = chars.next()?;
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                '\\' => out.push('\\'),
                '\'' => out.push('\''),
                '"' => out.push('"'),
                'x' | 'u' | 'U' => {
                    let n = match e {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = (0..n)
                        .filter_map(|_| chars.next().map(|(_, c)| c))
                        .collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                '\n' => {}
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        }
        None
    }
}

/// JSON object keys from Python dict keys (str, int, float, bool, None).
fn key(v: &Value) -> Option<String> {
    Some(match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Null => "None".into(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_literals() {
        assert_eq!(literal_eval("20240601"), Some(json!(20240601)));
        assert_eq!(literal_eval("-100"), Some(json!(-100)));
        assert_eq!(literal_eval("0.85"), Some(json!(0.85)));
        assert_eq!(literal_eval("True"), Some(json!(true)));
        assert_eq!(literal_eval("[1, 100, 'x']"), Some(json!([1, 100, "x"])));
        assert_eq!(
            literal_eval("['emea','apac','amer',]"),
            Some(json!(["emea", "apac", "amer"]))
        );
        assert_eq!(literal_eval("(1, 2)"), Some(json!([1, 2])));
        assert_eq!(literal_eval("{3, 1, 2}"), Some(json!([1, 2, 3])));
        assert_eq!(
            literal_eval("{'a': [1, None], 'b': {'c': \"it's\"}}"),
            Some(json!({"a": [1, null], "b": {"c": "it's"}}))
        );
        assert_eq!(literal_eval("100\n"), Some(json!(100)));
    }

    #[test]
    fn not_literals() {
        assert_eq!(literal_eval("  100  "), None);
        assert_eq!(literal_eval("2024-06-01"), None);
        assert_eq!(literal_eval("emea"), None);
        assert_eq!(literal_eval(r#"{"rows": 42, "ok": true}"#), None);
        assert_eq!(literal_eval(""), None);
        assert_eq!(literal_eval("007"), None);
    }
}
