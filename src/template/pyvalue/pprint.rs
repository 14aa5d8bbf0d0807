//! Python's `pprint.pformat` (width 80, sorted dict keys), for Jinja's `pprint` filter.

use minijinja::value::{ObjectRepr, Value, ValueKind};

use crate::py::text::{repr as quote, splitlines_keepends};
use crate::template::pyvalue::repr::py_repr;

/// Python's `pprint.pformat(value)` (width 80, dict keys sorted).
pub(crate) fn pformat(value: &Value) -> String {
    let mut out = String::new();
    pp_format(&mut out, value, 0, 0, 0);
    out
}

fn pp_sorted_pairs(value: &Value) -> Vec<(Value, Value)> {
    let mut pairs: Vec<(Value, Value)> = value
        .try_iter()
        .map(|keys| {
            keys.map(|k| {
                let v = value.get_item(&k).unwrap_or_default();
                (k, v)
            })
            .collect()
        })
        .unwrap_or_default();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
}

pub(crate) fn is_container(value: &Value) -> bool {
    matches!(
        value.kind(),
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map
    ) && value
        .as_object()
        .is_none_or(|o| o.repr() != ObjectRepr::Plain)
}

/// `pprint`'s `_safe_repr`: the repr with dict keys sorted.
fn pp_repr(value: &Value) -> String {
    if !is_container(value) {
        return py_repr(value);
    }
    if value.kind() == ValueKind::Map {
        let items: Vec<String> = pp_sorted_pairs(value)
            .iter()
            .map(|(k, v)| format!("{}: {}", pp_repr(k), pp_repr(v)))
            .collect();
        return format!("{{{}}}", items.join(", "));
    }
    let items: Vec<String> = value
        .try_iter()
        .map(|it| it.map(|v| pp_repr(&v)).collect())
        .unwrap_or_default();
    if value.is_tuple() {
        if items.len() == 1 {
            return format!("({},)", items[0]);
        }
        return format!("({})", items.join(", "));
    }
    format!("[{}]", items.join(", "))
}

const PP_WIDTH: usize = 80;

fn pp_format(out: &mut String, value: &Value, indent: usize, allowance: usize, level: usize) {
    let rep = pp_repr(value);
    let max_width = PP_WIDTH.saturating_sub(indent + allowance);
    if rep.chars().count() <= max_width {
        out.push_str(&rep);
        return;
    }
    if value.kind() == ValueKind::String {
        pp_str(
            out,
            value.as_str().unwrap_or_default(),
            indent,
            allowance,
            level + 1,
            &rep,
        );
        return;
    }
    if !is_container(value) {
        out.push_str(&rep);
        return;
    }
    if value.kind() == ValueKind::Map {
        out.push('{');
        let pairs = pp_sorted_pairs(value);
        let indent = indent + 1;
        let last_index = pairs.len().saturating_sub(1);
        for (i, (k, v)) in pairs.iter().enumerate() {
            let krep = pp_repr(k);
            out.push_str(&krep);
            out.push_str(": ");
            let allow = if i == last_index { allowance + 1 } else { 1 };
            pp_format(out, v, indent + krep.chars().count() + 2, allow, level + 1);
            if i != last_index {
                out.push_str(",\n");
                out.push_str(&" ".repeat(indent));
            }
        }
        out.push('}');
        return;
    }
    let items: Vec<Value> = value.try_iter().map(Iterator::collect).unwrap_or_default();
    let (open, close) = if value.is_tuple() {
        ("(", if items.len() == 1 { ",)" } else { ")" })
    } else {
        ("[", "]")
    };
    out.push_str(open);
    let indent = indent + 1;
    let allowance = allowance + close.len();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(",\n");
            out.push_str(&" ".repeat(indent));
        }
        let last = i + 1 == items.len();
        pp_format(
            out,
            item,
            indent,
            if last { allowance } else { 1 },
            level + 1,
        );
    }
    out.push_str(close);
}

/// `pprint._pprint_str`: a long string split into adjacent literals.
fn pp_str(
    out: &mut String,
    s: &str,
    mut indent: usize,
    mut allowance: usize,
    level: usize,
    whole: &str,
) {
    let lines = splitlines_keepends(s);
    if level == 1 {
        indent += 1;
        allowance += 1;
    }
    let max_width = PP_WIDTH.saturating_sub(indent);
    let mut max_width1 = max_width;
    let mut chunks: Vec<String> = Vec::new();
    let mut last_rep = whole.to_string();
    for (i, line) in lines.iter().enumerate() {
        let rep = quote(line);
        last_rep.clone_from(&rep);
        if i == lines.len() - 1 {
            max_width1 = max_width1.saturating_sub(allowance);
        }
        if rep.chars().count() <= max_width1 {
            chunks.push(rep);
            continue;
        }
        // Alternating non-space and space runs: re.findall(r'\S*\s*', line).
        let mut parts: Vec<String> = Vec::new();
        let mut cur = String::new();
        let mut in_space = false;
        for c in line.chars() {
            if c.is_whitespace() {
                in_space = true;
            } else if in_space {
                parts.push(std::mem::take(&mut cur));
                in_space = false;
            }
            cur.push(c);
        }
        if !cur.is_empty() {
            parts.push(cur);
        }
        let mut max_width2 = max_width;
        let mut current = String::new();
        for (j, part) in parts.iter().enumerate() {
            let candidate = format!("{current}{part}");
            if j == parts.len() - 1 && i == lines.len() - 1 {
                max_width2 = max_width2.saturating_sub(allowance);
            }
            if quote(&candidate).chars().count() > max_width2 {
                if !current.is_empty() {
                    chunks.push(quote(&current));
                }
                current.clone_from(part);
            } else {
                current = candidate;
            }
        }
        if !current.is_empty() {
            chunks.push(quote(&current));
        }
    }
    if chunks.len() == 1 {
        out.push_str(&last_rep);
        return;
    }
    if level == 1 {
        out.push('(');
    }
    for (i, rep) in chunks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(rep);
    }
    if level == 1 {
        out.push(')');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::pyvalue::to_value;

    #[test]
    fn pprint_wraps_as_python() {
        // python3 -c "import pprint; print(pprint.pformat({...}))"
        let v = to_value(&serde_json::json!({
            "regions": ["emea", "apac", "amer", "latam", "north-america-east", "north-america-west"],
            "thresholds": {"low": 10, "high": 90},
            "name": "a fairly long description string that goes past the eighty column limit of pprint"
        }));
        assert_eq!(
            pformat(&v),
            "{'name': 'a fairly long description string that goes past the eighty column '\n         'limit of pprint',\n 'regions': ['emea',\n             'apac',\n             'amer',\n             'latam',\n             'north-america-east',\n             'north-america-west'],\n 'thresholds': {'high': 90, 'low': 10}}"
        );
    }
}
