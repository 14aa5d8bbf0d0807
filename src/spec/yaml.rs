//! YAML (and JSON, which is YAML) text to a tree of nodes that keep their
//! positions, on saphyr-parser's event stream (pure Rust, YAML 1.2).
//!
//! Plain scalars resolve by one of two schemas:
//! - [`Schema::Core`], YAML 1.2's core schema as serde_yaml 0.9 applied it (what
//!   specs and context payloads have always meant): `true`/`false`, `null`/`~`,
//!   `0x`/`0o`/`0b` integers, `017` a string, floats as Rust reads them.
//! - [`Schema::PyYaml`], YAML 1.1 as PyYAML's `SafeLoader` resolves it (what
//!   Airflow's `macros.yaml.safe_load` runs): `yes`/`no`/`on`/`off`, `012` octal,
//!   `0o17` a string, `1_000`, sexagesimal `1:30`, floats only with a dot, merge
//!   keys `<<`. (Timestamps stay strings: PyYAML makes `datetime` objects.)
//!
//! Every level of nesting counts against [`limits::MAX_DEPTH`], and aliases
//! may expand to at most [`MAX_ALIAS_NODES`] nodes (a "billion laughs"
//! document stops there). The builder is a loop over events with an explicit
//! stack, so no input recurses.

use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Value};

use crate::limits;

/// How many nodes aliases may copy in one document, in all.
pub const MAX_ALIAS_NODES: usize = 1_000_000;

/// How plain scalars are resolved (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// YAML 1.2 core, as serde_yaml 0.9 resolved it.
    Core,
    /// YAML 1.1, as PyYAML's `SafeLoader` resolves it.
    PyYaml,
}

/// A position in the text: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn of(span: Span) -> Pos {
        Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

/// A node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Yaml,
    pub pos: Pos,
    /// A plain scalar's text as written, when it resolved to something other
    /// than a string (`0x10`, `True`, `~`): where a string is wanted, serde_yaml
    /// took any scalar's text, and a mapping key is its text.
    pub raw: Option<Box<str>>,
}

/// A resolved YAML value. A mapping keeps its entries in document order,
/// repeated keys included (the consumer decides what a repeat means).
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Yaml {
    /// What the value is, for messages: "a string", "a mapping", ...
    pub fn kind(&self) -> &'static str {
        match self {
            Yaml::Null => "null",
            Yaml::Bool(_) => "a boolean",
            Yaml::Int(_) => "an integer",
            Yaml::Float(_) => "a number",
            Yaml::Str(_) => "a string",
            Yaml::Seq(_) => "a list",
            Yaml::Map(_) => "a mapping",
        }
    }
}

/// A document that does not load: the parser's own message, or one of this
/// module's, and where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub message: String,
    pub pos: Option<Pos>,
    /// The key path of the node being read when the parser stopped (`a.b[2]`),
    /// empty at the top.
    pub path: String,
}

impl YamlError {
    fn at(pos: Pos, message: impl Into<String>) -> YamlError {
        YamlError {
            message: message.into(),
            pos: Some(pos),
            path: String::new(),
        }
    }
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(p) = self.pos {
            write!(f, " at line {} column {}", p.line, p.column)?;
        }
        Ok(())
    }
}

impl std::error::Error for YamlError {}

/// Loads the one document of `text` (an empty stream is `null`).
pub fn load(text: &str, schema: Schema) -> Result<Node, YamlError> {
    Builder::new(schema).run(text)
}

/// Loads `text` and converts it to JSON (see [`Node::to_json`]).
pub fn to_json(text: &str) -> Result<Value, YamlError> {
    load(text, Schema::Core)?.to_json()
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
        height: usize,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        /// Indices of entries whose key is a merge key (`<<`, YAML 1.1 only).
        merges: Vec<usize>,
        key_is_merge: bool,
        height: usize,
    },
}

struct Anchored {
    node: Node,
    size: usize,
    height: usize,
}

struct Builder {
    schema: Schema,
    stack: Vec<Frame>,
    anchors: Vec<Option<Anchored>>,
    copied: usize,
    root: Option<Node>,
    documents: usize,
}

impl Builder {
    fn new(schema: Schema) -> Builder {
        Builder {
            schema,
            stack: Vec::new(),
            anchors: Vec::new(),
            copied: 0,
            root: None,
            documents: 0,
        }
    }

    fn run(mut self, text: &str) -> Result<Node, YamlError> {
        self.events(text).map_err(|mut e| {
            if e.path.is_empty() {
                e.path = self.path();
            }
            e
        })
    }

    /// Where the builder is: the key or index each open collection is at.
    fn path(&self) -> String {
        let mut out = String::new();
        for frame in &self.stack {
            match frame {
                Frame::Seq { items, .. } => out.push_str(&format!("[{}]", items.len())),
                Frame::Map { key: Some(k), .. } => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(&k.scalar_text().unwrap_or_default());
                }
                Frame::Map { key: None, .. } => {}
            }
        }
        out
    }

    fn events(&mut self, text: &str) -> Result<Node, YamlError> {
        for event in Parser::new_from_str(text) {
            let (event, span) = event.map_err(|e| {
                let m = e.marker();
                YamlError::at(
                    Pos {
                        line: m.line(),
                        column: m.col() + 1,
                    },
                    e.info(),
                )
            })?;
            let pos = Pos::of(span);
            match event {
                Event::DocumentStart(_) => {
                    self.documents += 1;
                    if self.documents > 1 {
                        return Err(YamlError::at(
                            pos,
                            "more than one YAML document (`---`) in the text",
                        ));
                    }
                }
                Event::Scalar(text, style, anchor, tag) => {
                    let merge = self.schema == Schema::PyYaml
                        && style == ScalarStyle::Plain
                        && tag.is_none()
                        && text == "<<";
                    let value = self.scalar(&text, style, tag.as_deref(), pos)?;
                    let raw = (style == ScalarStyle::Plain && !matches!(value, Yaml::Str(_)))
                        .then(|| text.as_ref().into());
                    self.complete(Node { value, pos, raw }, anchor, 1, 0, merge)?;
                }
                Event::Alias(id) => {
                    let Some(Some(a)) = self.anchors.get(id) else {
                        return Err(YamlError::at(pos, "alias to an unknown anchor"));
                    };
                    let (node, size, height) = (a.node.clone(), a.size, a.height);
                    self.copied += size;
                    if self.copied > MAX_ALIAS_NODES {
                        return Err(YamlError::at(
                            pos,
                            format!("aliases expand to more than {MAX_ALIAS_NODES} nodes"),
                        ));
                    }
                    let node = Node { pos, ..node };
                    self.complete(node, 0, size, height, false)?;
                }
                Event::SequenceStart(anchor, tag) => {
                    self.collection_tag(tag.as_deref(), "seq", pos)?;
                    self.open(
                        Frame::Seq {
                            pos,
                            anchor,
                            items: Vec::new(),
                            height: 0,
                        },
                        pos,
                    )?;
                }
                Event::MappingStart(anchor, tag) => {
                    self.collection_tag(tag.as_deref(), "map", pos)?;
                    self.open(
                        Frame::Map {
                            pos,
                            anchor,
                            entries: Vec::new(),
                            key: None,
                            merges: Vec::new(),
                            key_is_merge: false,
                            height: 0,
                        },
                        pos,
                    )?;
                }
                Event::SequenceEnd | Event::MappingEnd => self.close()?,
                Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
            }
        }
        Ok(self.root.take().unwrap_or(Node {
            value: Yaml::Null,
            pos: Pos { line: 1, column: 1 },
            raw: None,
        }))
    }

    fn open(&mut self, frame: Frame, pos: Pos) -> Result<(), YamlError> {
        if self.stack.len() >= limits::MAX_DEPTH {
            return Err(too_deep(pos));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self) -> Result<(), YamlError> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let (node, anchor, height) = match frame {
            Frame::Seq {
                pos,
                anchor,
                items,
                height,
            } => (
                Node {
                    value: Yaml::Seq(items),
                    pos,
                    raw: None,
                },
                anchor,
                height + 1,
            ),
            Frame::Map {
                pos,
                anchor,
                entries,
                merges,
                height,
                ..
            } => {
                let entries = if merges.is_empty() {
                    entries
                } else {
                    merged(entries, &merges)?
                };
                (
                    Node {
                        value: Yaml::Map(entries),
                        pos,
                        raw: None,
                    },
                    anchor,
                    height + 1,
                )
            }
        };
        let size = node_count(&node);
        self.complete(node, anchor, size, height, false)
    }

    /// A finished node goes into its parent (or becomes the root).
    fn complete(
        &mut self,
        node: Node,
        anchor: usize,
        size: usize,
        height: usize,
        merge_key: bool,
    ) -> Result<(), YamlError> {
        if self.stack.len() + height > limits::MAX_DEPTH {
            return Err(too_deep(node.pos));
        }
        if anchor > 0 {
            if self.anchors.len() <= anchor {
                self.anchors.resize_with(anchor + 1, || None);
            }
            self.anchors[anchor] = Some(Anchored {
                node: node.clone(),
                size,
                height,
            });
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq {
                items, height: h, ..
            }) => {
                *h = (*h).max(height);
                items.push(node);
            }
            Some(Frame::Map {
                entries,
                key,
                merges,
                key_is_merge,
                height: h,
                ..
            }) => {
                *h = (*h).max(height);
                match key.take() {
                    None => {
                        *key = Some(node);
                        *key_is_merge = merge_key;
                    }
                    Some(k) => {
                        if *key_is_merge {
                            merges.push(entries.len());
                        }
                        entries.push((k, node));
                    }
                }
            }
        }
        Ok(())
    }

    fn collection_tag(&self, tag: Option<&Tag>, want: &str, pos: Pos) -> Result<(), YamlError> {
        match tag {
            None => Ok(()),
            Some(t) if t.is_yaml_core_schema() && t.suffix == want => Ok(()),
            // `!` alone: the non-specific tag, the collection's own kind.
            Some(t) if t.handle.is_empty() && t.suffix == "!" => Ok(()),
            Some(t) => Err(unsupported_tag(t, pos)),
        }
    }

    fn scalar(
        &self,
        text: &str,
        style: ScalarStyle,
        tag: Option<&Tag>,
        pos: Pos,
    ) -> Result<Yaml, YamlError> {
        let Some(tag) = tag else {
            return Ok(if style == ScalarStyle::Plain {
                match self.schema {
                    Schema::Core => resolve_core(text),
                    Schema::PyYaml => resolve_pyyaml(text, pos)?,
                }
            } else {
                Yaml::Str(text.to_string())
            });
        };
        if tag.handle.is_empty() && tag.suffix == "!" {
            return Ok(Yaml::Str(text.to_string()));
        }
        if !tag.is_yaml_core_schema() {
            return Err(unsupported_tag(tag, pos));
        }
        let resolved = match self.schema {
            Schema::Core => resolve_core(text),
            Schema::PyYaml => resolve_pyyaml(text, pos)?,
        };
        let ok = match (tag.suffix.as_str(), &resolved) {
            ("str", _) => return Ok(Yaml::Str(text.to_string())),
            ("null", Yaml::Null)
            | ("bool", Yaml::Bool(_))
            | ("int", Yaml::Int(_))
            | ("float", Yaml::Float(_)) => true,
            ("float", Yaml::Int(i)) => return Ok(Yaml::Float(*i as f64)),
            ("null" | "bool" | "int" | "float", _) => false,
            _ => return Err(unsupported_tag(tag, pos)),
        };
        if ok {
            Ok(resolved)
        } else {
            Err(YamlError::at(
                pos,
                format!("`{text}` is not a valid `!!{}`", tag.suffix),
            ))
        }
    }
}

fn too_deep(pos: Pos) -> YamlError {
    YamlError::at(
        pos,
        format!(
            "the document nests lists and mappings more than {} levels deep",
            limits::MAX_DEPTH
        ),
    )
}

fn unsupported_tag(tag: &Tag, pos: Pos) -> YamlError {
    let name = if tag.is_yaml_core_schema() {
        format!("!!{}", tag.suffix)
    } else {
        tag.to_string()
    };
    YamlError::at(pos, format!("unsupported tag `{name}`"))
}

fn node_count(node: &Node) -> usize {
    // Iterative: the tree may be as deep as the limit allows.
    let mut count = 0;
    let mut todo = vec![node];
    while let Some(n) = todo.pop() {
        count += 1;
        match &n.value {
            Yaml::Seq(items) => todo.extend(items),
            Yaml::Map(entries) => {
                for (k, v) in entries {
                    todo.push(k);
                    todo.push(v);
                }
            }
            _ => {}
        }
    }
    count
}

/// PyYAML's `flatten_mapping`: the entries of the mappings a `<<` names come
/// first (of a list of them, the last one's first), then the mapping's own, so
/// that its own keys, and earlier merged mappings, win.
fn merged(entries: Vec<(Node, Node)>, merges: &[usize]) -> Result<Vec<(Node, Node)>, YamlError> {
    let mut front = Vec::new();
    let mut own = Vec::new();
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if !merges.contains(&i) {
            own.push((k, v));
            continue;
        }
        let maps = match v.value {
            Yaml::Map(m) => vec![m],
            Yaml::Seq(items) => items
                .into_iter()
                .map(|item| match item.value {
                    Yaml::Map(m) => Ok(m),
                    other => Err(YamlError::at(
                        item.pos,
                        format!(
                            "while constructing a mapping, expected a mapping for merging, but found {}",
                            other.kind()
                        ),
                    )),
                })
                .collect::<Result<_, _>>()?,
            other => {
                return Err(YamlError::at(
                    v.pos,
                    format!(
                        "while constructing a mapping, expected a mapping or list of mappings for merging, but found {}",
                        other.kind()
                    ),
                ));
            }
        };
        for m in maps.into_iter().rev() {
            front.extend(m);
        }
    }
    front.extend(own);
    Ok(front)
}

// ---------------------------------------------------------------------------
// YAML 1.2 core, as serde_yaml 0.9 resolved plain scalars.

fn resolve_core(s: &str) -> Yaml {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Yaml::Null,
        "true" | "True" | "TRUE" => return Yaml::Bool(true),
        "false" | "False" | "FALSE" => return Yaml::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Yaml::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Yaml::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Yaml::Float(f64::NAN),
        _ => {}
    }
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.starts_with(['+', '-']) || body.is_empty() {
        return Yaml::Str(s.into());
    }
    let radix = [("0x", 16), ("0o", 8), ("0b", 2)]
        .into_iter()
        .find_map(|(p, r)| body.strip_prefix(p).map(|rest| (rest, r)));
    if let Some((digits, radix)) = radix {
        if !digits.starts_with(['+', '-'])
            && let Ok(n) = i128::from_str_radix(digits, radix)
        {
            return Yaml::Int(if negative { -n } else { n });
        }
        return Yaml::Str(s.into());
    }
    // A leading zero followed by digits is a string in YAML 1.2.
    if body.len() > 1 && body.starts_with('0') && body.bytes().all(|b| b.is_ascii_digit()) {
        return Yaml::Str(s.into());
    }
    if body.bytes().all(|b| b.is_ascii_digit()) {
        return match body.parse::<i128>() {
            Ok(n) => Yaml::Int(if negative { -n } else { n }),
            // Past 128 bits: the nearest float, as a JSON reader would.
            Err(_) => s.parse::<f64>().map_or(Yaml::Str(s.into()), Yaml::Float),
        };
    }
    match body.parse::<f64>() {
        Ok(f) if f.is_finite() => Yaml::Float(if negative { -f } else { f }),
        _ => Yaml::Str(s.into()),
    }
}

// ---------------------------------------------------------------------------
// YAML 1.1, as PyYAML 6's `Resolver` and `SafeConstructor` read plain scalars.

fn resolve_pyyaml(s: &str, pos: Pos) -> Result<Yaml, YamlError> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Yaml::Null),
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Ok(Yaml::Bool(true));
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Ok(Yaml::Bool(false));
        }
        // PyYAML resolves `=` to the `value` tag, which SafeLoader cannot construct.
        "=" => {
            return Err(YamlError::at(
                pos,
                "could not determine a constructor for the tag 'tag:yaml.org,2002:value'",
            ));
        }
        _ => {}
    }
    if let Some(n) = pyyaml_int(s) {
        return Ok(n);
    }
    if let Some(f) = pyyaml_float(s) {
        return Ok(Yaml::Float(f));
    }
    Ok(Yaml::Str(s.into()))
}

fn sign(s: &str) -> (f64, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (-1.0, &s[1..]),
        Some(b'+') => (1.0, &s[1..]),
        _ => (1.0, s),
    }
}

fn all(s: &str, f: impl Fn(u8) -> bool) -> bool {
    !s.is_empty() && s.bytes().all(f)
}

/// `0b[01_]+`, `0[0-7_]+`, `0|[1-9][0-9_]*`, `0x[0-9a-fA-F_]+`,
/// `[1-9][0-9_]*(:[0-5]?[0-9])+` (base 60), each with an optional sign.
fn pyyaml_int(s: &str) -> Option<Yaml> {
    let (sg, body) = sign(s);
    let neg = sg < 0.0;
    let digits = |t: &str| t.replace('_', "");
    let parse = |t: &str, radix: u32| -> Option<Yaml> {
        let t = digits(t);
        let n = if t.is_empty() {
            0
        } else {
            match i128::from_str_radix(&t, radix) {
                Ok(n) => n,
                // Python's ints have no bound; past 128 bits, the nearest float.
                Err(_) => return Some(Yaml::Float(sg * t.parse::<f64>().ok()?)),
            }
        };
        Some(Yaml::Int(if neg { -n } else { n }))
    };
    if let Some(b) = body.strip_prefix("0b") {
        return all(b, |c| matches!(c, b'0' | b'1' | b'_'))
            .then(|| parse(b, 2))
            .flatten();
    }
    if let Some(x) = body.strip_prefix("0x") {
        return all(x, |c| c.is_ascii_hexdigit() || c == b'_')
            .then(|| parse(x, 16))
            .flatten();
    }
    if body == "0" {
        return Some(Yaml::Int(0));
    }
    if let Some(o) = body.strip_prefix('0') {
        return all(o, |c| matches!(c, b'0'..=b'7' | b'_'))
            .then(|| parse(o, 8))
            .flatten();
    }
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if all(body, |c| c.is_ascii_digit() || c == b'_') {
        return parse(body, 10);
    }
    let (first, rest) = body.split_once(':')?;
    if !all(first, |c| c.is_ascii_digit() || c == b'_') || !sexagesimal_tail(rest, false) {
        return None;
    }
    let mut n: i128 = 0;
    for part in body.split(':') {
        n = n
            .checked_mul(60)?
            .checked_add(digits(part).parse::<i128>().ok()?)?;
    }
    Some(Yaml::Int(if neg { -n } else { n }))
}

/// `(:[0-5]?[0-9])+`, the last part followed by `.[0-9_]*` for a float.
fn sexagesimal_tail(rest: &str, float: bool) -> bool {
    let parts: Vec<&str> = rest.split(':').collect();
    parts.iter().enumerate().all(|(i, p)| {
        let p = if float && i == parts.len() - 1 {
            match p.split_once('.') {
                Some((a, b)) if b.bytes().all(|c| c.is_ascii_digit() || c == b'_') => a,
                _ => return false,
            }
        } else {
            p
        };
        let b = p.as_bytes();
        match b {
            [d] => d.is_ascii_digit(),
            [a, d] => matches!(a, b'0'..=b'5') && d.is_ascii_digit(),
            _ => false,
        }
    })
}

/// `[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?`, `\.[0-9][0-9_]*([eE][-+][0-9]+)?`
/// (no sign), `[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*` (base 60), `.inf`, `.nan`.
fn pyyaml_float(s: &str) -> Option<f64> {
    if matches!(s, ".nan" | ".NaN" | ".NAN") {
        return Some(f64::NAN);
    }
    let (sg, body) = sign(s);
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return Some(sg * f64::INFINITY);
    }
    let exponent_ok = |e: &str| {
        e.is_empty()
            || e.strip_prefix(['e', 'E'])
                .and_then(|e| e.strip_prefix(['-', '+']))
                .is_some_and(|d| all(d, |c| c.is_ascii_digit()))
    };
    let clean = |t: &str| t.replace('_', "");
    if let Some(frac) = s.strip_prefix('.') {
        // The dot-first form takes no sign.
        let end = frac.find(['e', 'E']).unwrap_or(frac.len());
        let (digits, exp) = frac.split_at(end);
        return (digits.starts_with(|c: char| c.is_ascii_digit())
            && digits.bytes().all(|c| c.is_ascii_digit() || c == b'_')
            && exponent_ok(exp))
        .then(|| format!("0.{}{exp}", clean(digits)).parse().ok())
        .flatten();
    }
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if let Some((int, rest)) = body.split_once('.')
        && all(int, |c| c.is_ascii_digit() || c == b'_')
    {
        let end = rest.find(['e', 'E']).unwrap_or(rest.len());
        let (frac, exp) = rest.split_at(end);
        if frac.bytes().all(|c| c.is_ascii_digit() || c == b'_') && exponent_ok(exp) {
            let text = format!("{}.{}{exp}", clean(int), clean(frac));
            return text.parse::<f64>().ok().map(|f| sg * f);
        }
    }
    // Base 60: `190:20:30.15`.
    let (first, rest) = body.split_once(':')?;
    if !all(first, |c| c.is_ascii_digit() || c == b'_') || !sexagesimal_tail(rest, true) {
        return None;
    }
    let mut n = 0.0;
    for part in body.split(':') {
        n = n * 60.0 + clean(part).parse::<f64>().ok()?;
    }
    Some(sg * n)
}

// ---------------------------------------------------------------------------
// Conversions

impl Node {
    /// The value as JSON: mapping keys as text (`1` -> `"1"`), a repeated key's
    /// last value in its first place, numbers past 64 bits as the nearest float,
    /// `.inf`/`.nan` as `null` (JSON has neither).
    pub fn to_json(&self) -> Result<Value, YamlError> {
        Ok(match &self.value {
            Yaml::Null => Value::Null,
            Yaml::Bool(b) => Value::Bool(*b),
            Yaml::Int(n) => {
                if let Ok(i) = i64::try_from(*n) {
                    i.into()
                } else if let Ok(u) = u64::try_from(*n) {
                    u.into()
                } else {
                    serde_json::Number::from_f64(*n as f64).map_or(Value::Null, Value::Number)
                }
            }
            Yaml::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Yaml::Str(s) => Value::String(s.clone()),
            Yaml::Seq(items) => {
                Value::Array(items.iter().map(Node::to_json).collect::<Result<_, _>>()?)
            }
            Yaml::Map(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    map.insert(k.key_text()?, v.to_json()?);
                }
                Value::Object(map)
            }
        })
    }

    /// A scalar as text: a string's value, any other scalar as written
    /// (`~`, `0x10`); `None` for a list or mapping.
    pub fn scalar_text(&self) -> Option<String> {
        match (&self.value, &self.raw) {
            (Yaml::Str(s), _) => Some(s.clone()),
            (Yaml::Seq(_) | Yaml::Map(_), _) => None,
            (_, Some(raw)) => Some(raw.to_string()),
            (Yaml::Null, None) => Some("null".into()),
            (Yaml::Bool(b), None) => Some(b.to_string()),
            (Yaml::Int(n), None) => Some(n.to_string()),
            (Yaml::Float(f), None) => Some(f.to_string()),
        }
    }

    /// A mapping key as text (see [`Node::scalar_text`]); only scalars can be JSON keys.
    pub fn key_text(&self) -> Result<String, YamlError> {
        self.scalar_text().ok_or_else(|| {
            YamlError::at(
                self.pos,
                format!("a mapping key must be a string, not {}", self.value.kind()),
            )
        })
    }
}

/// As the value it stands for: what `minijinja::Value::from_serialize` turns
/// into Python-like values (keys of any type, integers up to 128 bits).
impl serde::Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match &self.value {
            Yaml::Null => s.serialize_none(),
            Yaml::Bool(b) => s.serialize_bool(*b),
            Yaml::Int(n) => match i64::try_from(*n) {
                Ok(i) => s.serialize_i64(i),
                Err(_) => s.serialize_i128(*n),
            },
            Yaml::Float(f) => s.serialize_f64(*f),
            Yaml::Str(v) => s.serialize_str(v),
            Yaml::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Yaml::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core(text: &str) -> Value {
        to_json(text).unwrap()
    }

    fn py(text: &str) -> Yaml {
        load(text, Schema::PyYaml).unwrap().value
    }

    fn scalar(text: &str, schema: Schema) -> Yaml {
        match load(&format!("v: {text}\n"), schema).unwrap().value {
            Yaml::Map(mut e) => e.remove(0).1.value,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn core_schema_resolves_as_serde_yaml_did() {
        use Schema::Core;
        assert_eq!(scalar("yes", Core), Yaml::Str("yes".into()));
        assert_eq!(scalar("True", Core), Yaml::Bool(true));
        assert_eq!(scalar("~", Core), Yaml::Null);
        assert_eq!(scalar("", Core), Yaml::Null);
        assert_eq!(scalar("0o17", Core), Yaml::Int(15));
        assert_eq!(scalar("0x1F", Core), Yaml::Int(31));
        assert_eq!(scalar("-0b11", Core), Yaml::Int(-3));
        assert_eq!(scalar("017", Core), Yaml::Str("017".into()));
        assert_eq!(scalar("1_000", Core), Yaml::Str("1_000".into()));
        assert_eq!(scalar("+12", Core), Yaml::Int(12));
        assert_eq!(scalar("1e3", Core), Yaml::Float(1000.0));
        assert_eq!(scalar(".5", Core), Yaml::Float(0.5));
        assert_eq!(scalar("-.inf", Core), Yaml::Float(f64::NEG_INFINITY));
        assert_eq!(scalar("1:30", Core), Yaml::Str("1:30".into()));
        assert_eq!(scalar("'1'", Core), Yaml::Str("1".into()));
        assert_eq!(scalar("!!str 1", Core), Yaml::Str("1".into()));
        assert_eq!(scalar("!!float 1", Core), Yaml::Float(1.0));
        assert_eq!(
            core("a: 1\nb: [x, {c: null}]\n2: two\n"),
            serde_json::json!({"a": 1, "b": ["x", {"c": null}], "2": "two"})
        );
        assert_eq!(
            core("{0x10: a, ~: b, True: c}"),
            serde_json::json!({"0x10": "a", "~": "b", "True": "c"})
        );
        assert_eq!(core(""), Value::Null);
        assert_eq!(core("n: 99999999999999999999999\n")["n"], 1e23);
    }

    #[test]
    fn pyyaml_schema_resolves_as_pyyaml() {
        use Schema::PyYaml;
        for (text, want) in [
            ("yes", Yaml::Bool(true)),
            ("Off", Yaml::Bool(false)),
            ("ON", Yaml::Bool(true)),
            ("y", Yaml::Str("y".into())),
            ("~", Yaml::Null),
            ("012", Yaml::Int(10)),
            ("0o17", Yaml::Str("0o17".into())),
            ("09", Yaml::Str("09".into())),
            ("0x_1f", Yaml::Int(31)),
            ("-0b101", Yaml::Int(-5)),
            ("1_000", Yaml::Int(1000)),
            ("190:20:30", Yaml::Int(685230)),
            ("1:61", Yaml::Str("1:61".into())),
            ("1e3", Yaml::Str("1e3".into())),
            ("1.0e+3", Yaml::Float(1000.0)),
            ("1.0e3", Yaml::Str("1.0e3".into())),
            ("1.", Yaml::Float(1.0)),
            (".5", Yaml::Float(0.5)),
            ("-.5", Yaml::Str("-.5".into())),
            ("190:20:30.15", Yaml::Float(685230.15)),
            ("-.INF", Yaml::Float(f64::NEG_INFINITY)),
            ("2024-01-01", Yaml::Str("2024-01-01".into())),
        ] {
            assert_eq!(scalar(text, PyYaml), want, "{text}");
        }
        let Yaml::Float(nan) = scalar(".NaN", PyYaml) else {
            panic!()
        };
        assert!(nan.is_nan());
        assert!(load("a: =\n", PyYaml).is_err());
    }

    #[test]
    fn merge_keys_follow_pyyaml_in_yaml_1_1_only() {
        let text = "a: &a {x: 1, y: 2}\nb: &b {y: 3, z: 4}\nc:\n  <<: [*a, *b]\n  z: 5\n";
        let Yaml::Map(top) = py(text) else { panic!() };
        let c = serde_json::to_value(&top[2].1).unwrap();
        assert_eq!(c, serde_json::json!({"y": 2, "z": 5, "x": 1}));
        // YAML 1.2 has no merge keys: `<<` is a key like any other.
        assert!(core(text)["c"].get("<<").is_some());
    }

    #[test]
    fn positions_depth_and_alias_bounds() {
        let doc = load("a: 1\nb: |\n  x: y\nc: [1,\n  2]\n", Schema::Core).unwrap();
        let Yaml::Map(e) = doc.value else { panic!() };
        let lines: Vec<usize> = e.iter().map(|(k, _)| k.pos.line).collect();
        assert_eq!(lines, [1, 2, 4]);
        let Yaml::Seq(items) = &e[2].1.value else {
            panic!()
        };
        assert_eq!(items[1].pos, Pos { line: 5, column: 3 });

        let err = load("a: [unclosed\n", Schema::Core).unwrap_err();
        assert_eq!(err.pos.map(|p| p.line), Some(2), "{err}");
        assert_eq!(err.path, "a[1]");

        let deep = format!("{}1", "- ".repeat(limits::MAX_DEPTH + 1));
        assert!(
            load(&deep, Schema::Core)
                .unwrap_err()
                .message
                .contains("levels deep")
        );
        let ok = format!("{}1", "- ".repeat(limits::MAX_DEPTH));
        assert!(load(&ok, Schema::Core).is_ok());
        // An alias to a deep node counts its depth where it is used.
        let half = limits::MAX_DEPTH / 2 + 1;
        let text = format!(
            "a: &a {}1{}\nb: {}*a{}\n",
            "[".repeat(half),
            "]".repeat(half),
            "[".repeat(half),
            "]".repeat(half)
        );
        assert!(
            load(&text, Schema::Core)
                .unwrap_err()
                .message
                .contains("levels deep")
        );

        let mut laughs = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            laughs.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let err = load(&laughs, Schema::Core).unwrap_err();
        assert!(err.message.contains("aliases expand"), "{err}");

        assert!(load("a: 1\n---\nb: 2\n", Schema::Core).is_err());
        assert!(
            load("a: !custom 1\n", Schema::Core)
                .unwrap_err()
                .message
                .contains("`!custom`")
        );
        assert!(to_json("? [1]\n: x\n").is_err());
    }
}
