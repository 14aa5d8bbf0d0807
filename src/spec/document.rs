//! The spec document read against the key table: a mapping whose keys are
//! known, each given once and of its type, every key and value with the
//! position the YAML parser gave it. Errors name the key path and its line.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::spec::keys::{self, Key, OperatorKind};
use crate::spec::source::Document;
use crate::spec::yaml::{self, Node, Pos, Schema, Yaml};

/// One top-level entry that passed the table's checks.
#[derive(Debug)]
struct Field {
    key: &'static Key,
    key_pos: Pos,
    node: Node,
    /// The value as JSON; `None` for null (an absent key).
    json: Option<Value>,
}

/// The checked top-level entries of a spec, in document order.
#[derive(Debug)]
pub struct Fields<'a> {
    doc: &'a Document,
    fields: Vec<Field>,
}

impl<'a> Fields<'a> {
    /// Parses the document and checks every key against the table: known,
    /// not repeated, of its type. The first problem in document order is the
    /// error, as a reader going down the file would meet it.
    pub fn read(doc: &'a Document) -> Result<Fields<'a>> {
        if doc.text.trim().is_empty() {
            return Err(Error::SpecDecode {
                origin: doc.origin.clone(),
                message: "the spec is empty".into(),
            });
        }
        let at = |path: &str, pos: Option<Pos>, message: String| Error::Spec {
            origin: doc.origin.clone(),
            key: path.to_string(),
            line: pos.map(|p| p.line).filter(|_| doc.has_lines),
            message,
        };
        let root =
            yaml::load(&doc.text, Schema::Core).map_err(|e| at(&e.path, e.pos, e.message))?;
        let Yaml::Map(entries) = root.value else {
            return Err(at(
                "",
                Some(root.pos),
                format!(
                    "the spec must be a mapping of keys (`operator`, ...), got {}",
                    root.value.kind()
                ),
            ));
        };
        let mut fields: Vec<Field> = Vec::with_capacity(entries.len());
        for (k, node) in entries {
            let Ok(name) = k.key_text() else {
                return Err(at(
                    "",
                    Some(k.pos),
                    format!("a key must be a string, got {}", keys::describe(&k)),
                ));
            };
            let name = name.as_str();
            let Some(key) = keys::find(name) else {
                let message = match keys::suggest(name) {
                    Some(s) => format!("unknown key `{name}` (did you mean `{s}`?)"),
                    None => format!("unknown key `{name}`"),
                };
                return Err(at(name, Some(k.pos), message));
            };
            if fields.iter().any(|f| f.key.name == key.name) {
                return Err(at(name, Some(k.pos), format!("duplicate key `{name}`")));
            }
            // A wrong top-level value is reported at its key, a wrong entry
            // inside it (`sql[1]`, `env.A`) where the entry is.
            key.ty.check(name, &node).map_err(|m| {
                let pos = if m.path == name { k.pos } else { m.pos };
                at(&m.path, Some(pos), m.message)
            })?;
            let json = match node.value {
                Yaml::Null => None,
                _ => Some(node.to_json().map_err(|e| at(name, e.pos, e.message))?),
            };
            fields.push(Field {
                key,
                key_pos: k.pos,
                node,
                json,
            });
        }
        Ok(Fields { doc, fields })
    }

    /// The operator the spec names, and then that every key it gives is one
    /// that operator takes.
    pub fn kind(&self) -> Result<OperatorKind> {
        let Some(name) = self.str("operator") else {
            return Err(self.err(
                "operator",
                "missing required key `operator` (one of: sql, bash, python, ruby)",
            ));
        };
        let Some(kind) = OperatorKind::from_name(&name) else {
            let names: Vec<&str> = OperatorKind::ALL.iter().map(|k| k.name()).collect();
            let classes: Vec<&str> = OperatorKind::ALL
                .iter()
                .flat_map(|k| k.aliases().iter().copied())
                .collect();
            let hint = keys::closest(&name, names.iter().chain(&classes).copied())
                .map(|s| format!(": did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(self.err(
                "operator",
                format!(
                    "unknown operator `{name}`{hint} (expected {}, or an Airflow class name: {})",
                    names.join(", "),
                    classes.join(", ")
                ),
            ));
        };
        if let Some(f) = self.fields.iter().find(|f| !kind.takes(f.key)) {
            let own: Vec<&str> = kind.keys().map(|k| k.name).collect();
            return Err(self.err(
                f.key.name,
                format!(
                    "key `{}` does not apply to operator `{}` (its keys: {})",
                    f.key.name,
                    kind.name(),
                    own.join(", ")
                ),
            ));
        }
        Ok(kind)
    }

    /// The document the fields came from.
    pub fn doc(&self) -> &Document {
        self.doc
    }

    fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key.name == key)
    }

    /// Whether the key is given (null included).
    pub fn has(&self, key: &str) -> bool {
        self.field(key).is_some()
    }

    /// The value as JSON; `None` when absent or null.
    pub fn json(&self, key: &str) -> Option<Value> {
        self.field(key).and_then(|f| f.json.clone())
    }

    /// The value; `None` when absent (null is `Some(Value::Null)`).
    pub fn explicit(&self, key: &str) -> Option<Value> {
        self.field(key)
            .map(|f| f.json.clone().unwrap_or(Value::Null))
    }

    /// A string key's value (any scalar, as its text); `None` when absent or null.
    pub fn str(&self, key: &str) -> Option<String> {
        let node = &self.field(key)?.node;
        match node.value {
            Yaml::Null => None,
            _ => node.scalar_text(),
        }
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        match self.field(key)?.node.value {
            Yaml::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn u64(&self, key: &str) -> Option<u64> {
        match self.field(key)?.node.value {
            Yaml::Int(n) => u64::try_from(n).ok(),
            _ => None,
        }
    }

    /// A required key's JSON value, or the "missing required key" error.
    pub fn required(&self, key: &str) -> Result<Value> {
        self.json(key)
            .ok_or_else(|| self.err(key, format!("missing required key `{key}`")))
    }

    /// An error about `key` (a top-level key, or a path under one), at the
    /// line of its top-level key.
    pub fn err(&self, key: &str, message: impl Into<String>) -> Error {
        let top = key.split(['.', '[']).next().unwrap_or(key);
        let line = self
            .field(top)
            .map(|f| f.key_pos.line)
            .filter(|_| self.doc.has_lines);
        Error::Spec {
            origin: self.doc.origin.clone(),
            key: key.into(),
            line,
            message: message.into(),
        }
    }
}
