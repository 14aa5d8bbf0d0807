//! The spec's vocabulary, each fact written once: the operator kinds (their
//! names, Airflow classes, `template_fields`, `template_ext`) and one row per
//! key (which operators take it, whether they require it, its type). Checking
//! a document, "did you mean", "does not apply to operator", the renderer's
//! field list and `task-runner schema` all read these tables.

use serde_json::{Value, json};

use crate::spec::yaml::{Node, Pos, Yaml};

/// The operators a spec can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorKind {
    Sql,
    Bash,
    Python,
    Ruby,
}

impl OperatorKind {
    /// Every kind, in the order messages and `task-runner schema` list them.
    pub const ALL: [OperatorKind; 4] = [
        OperatorKind::Sql,
        OperatorKind::Bash,
        OperatorKind::Python,
        OperatorKind::Ruby,
    ];

    /// The name the spec's `operator` takes.
    pub fn name(self) -> &'static str {
        match self {
            OperatorKind::Sql => "sql",
            OperatorKind::Bash => "bash",
            OperatorKind::Python => "python",
            OperatorKind::Ruby => "ruby",
        }
    }

    /// The Airflow operator class the task stands for (`{{ task.task_type }}`).
    pub fn airflow_class(self) -> &'static str {
        match self {
            OperatorKind::Sql => "SQLExecuteQueryOperator",
            OperatorKind::Bash => "BashOperator",
            OperatorKind::Python => "PythonOperator",
            OperatorKind::Ruby => "RubyOperator",
        }
    }

    /// The Airflow class names `operator` also accepts.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            OperatorKind::Sql => &["SQLExecuteQueryOperator"],
            OperatorKind::Bash => &["BashOperator"],
            OperatorKind::Python => &[
                "PythonOperator",
                "ExternalPythonOperator",
                "PythonVirtualenvOperator",
            ],
            // Airflow has no RubyOperator; the runner's own kind takes no class name.
            OperatorKind::Ruby => &[],
        }
    }

    /// Templated keys, in the order of the Airflow operator's `template_fields`.
    pub fn template_fields(self) -> &'static [&'static str] {
        match self {
            OperatorKind::Sql => &["sql", "parameters", "output_path"],
            OperatorKind::Bash => &["bash_command", "env", "cwd"],
            OperatorKind::Python => &["templates_dict", "op_args", "op_kwargs", "env"],
            OperatorKind::Ruby => &["ruby_script", "args", "env"],
        }
    }

    /// Extensions that make a string field a template file (`template_ext`).
    pub fn template_ext(self) -> &'static [&'static str] {
        match self {
            OperatorKind::Sql => &[".sql", ".json"],
            OperatorKind::Bash => &[".sh", ".bash"],
            OperatorKind::Python => &[],
            OperatorKind::Ruby => &[".rb"],
        }
    }

    /// The kind a spec's `operator` value names, by name or Airflow class.
    pub fn from_name(name: &str) -> Option<OperatorKind> {
        OperatorKind::ALL
            .into_iter()
            .find(|k| k.name() == name || k.aliases().contains(&name))
    }

    /// Its own keys (besides the common ones), in table order.
    pub fn keys(self) -> impl Iterator<Item = &'static Key> {
        KEYS.iter()
            .filter(move |k| !k.ops.is_all() && k.ops.has(self))
    }

    /// The keys it cannot do without (besides `operator`).
    pub fn required(self) -> impl Iterator<Item = &'static str> {
        KEYS.iter()
            .filter(move |k| k.required.has(self))
            .map(|k| k.name)
    }

    /// Whether a spec of this kind may set `key`.
    pub fn takes(self, key: &Key) -> bool {
        key.ops.has(self)
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of operator kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ops(u8);

impl Ops {
    pub const NONE: Ops = Ops(0);
    pub const ALL: Ops = Ops::of(&OperatorKind::ALL);
    /// The operators that run a child process.
    pub const PROCESS: Ops =
        Ops::of(&[OperatorKind::Bash, OperatorKind::Python, OperatorKind::Ruby]);

    pub const fn of(kinds: &[OperatorKind]) -> Ops {
        let mut bits = 0;
        let mut i = 0;
        while i < kinds.len() {
            bits |= kinds[i].bit();
            i += 1;
        }
        Ops(bits)
    }

    pub fn has(self, kind: OperatorKind) -> bool {
        self.0 & kind.bit() != 0
    }

    fn is_all(self) -> bool {
        self == Ops::ALL
    }
}

/// What a key's value must be. Null stands for an absent key everywhere
/// except in `skip_on_exit_code`, where it means "no code skips".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// A string, or any scalar taken as its text (`task_id: 5` is `"5"`).
    Text,
    /// A templated string; the text says what it names ("a folder path").
    Str(Option<&'static str>),
    Bool,
    /// A positive integer of bytes.
    Bytes,
    /// Seconds (a number or a string of one) or a duration such as `10m`.
    Duration,
    /// A mapping of any values.
    Mapping,
    /// A list of any values.
    List,
    /// A string or a list of strings.
    Strings,
    /// A mapping of names to strings (numbers and booleans are written as text).
    StrMap,
    /// A mapping (named) or a list (positional).
    Parameters,
    /// An exit code from 0 to 255, a list of them, or null.
    ExitCodes,
    /// `env_file`: a path, or a list of paths and `{path, required}`
    /// mappings (docker compose's long form).
    EnvFiles,
}

/// One key of the spec.
#[derive(Debug)]
pub struct Key {
    pub name: &'static str,
    /// The operators that take it.
    pub ops: Ops,
    /// The operators that cannot do without it.
    pub required: Ops,
    pub ty: Type,
}

const fn key(name: &'static str, ops: Ops, ty: Type) -> Key {
    Key {
        name,
        ops,
        required: Ops::NONE,
        ty,
    }
}

const fn required(name: &'static str, ops: Ops, ty: Type) -> Key {
    Key {
        name,
        ops,
        required: ops,
        ty,
    }
}

const SQL: Ops = Ops::of(&[OperatorKind::Sql]);
const BASH: Ops = Ops::of(&[OperatorKind::Bash]);
const PYTHON: Ops = Ops::of(&[OperatorKind::Python]);
const RUBY: Ops = Ops::of(&[OperatorKind::Ruby]);
const STR: Type = Type::Text;
const TEMPLATE: Type = Type::Str(None);

/// Every key, once. The order is the order `task-runner schema` lists an
/// operator's keys in (Airflow's keyword order, shared keys where they fit).
pub(crate) const KEYS: &[Key] = &[
    key("operator", Ops::ALL, STR),
    key("task_id", Ops::ALL, STR),
    key("params", Ops::ALL, Type::Mapping),
    key("template_searchpath", Ops::ALL, Type::Strings),
    key("execution_timeout", Ops::ALL, Type::Duration),
    key("grace_period", Ops::ALL, Type::Duration),
    key("do_xcom_push", Ops::ALL, Type::Bool),
    key("render_template_as_native_obj", Ops::ALL, Type::Bool),
    key("max_xcom_bytes", Ops::ALL, Type::Bytes),
    // sql
    required("conn_id", SQL, STR),
    required("sql", SQL, Type::Strings),
    key("parameters", SQL, Type::Parameters),
    key("autocommit", SQL, Type::Bool),
    key("split_statements", SQL, Type::Bool),
    key("return_last", SQL, Type::Bool),
    key("output_path", SQL, Type::Str(Some("a file path"))),
    // python
    required("python_callable", PYTHON, STR),
    key("python_source", PYTHON, STR),
    key("op_args", PYTHON, Type::List),
    key("op_kwargs", PYTHON, Type::Mapping),
    key("templates_dict", PYTHON, Type::Mapping),
    key("python", PYTHON, STR),
    key("python_path", PYTHON, Type::Strings),
    // ruby
    required("ruby_script", RUBY, TEMPLATE),
    key("ruby", RUBY, STR),
    key("args", RUBY, Type::List),
    // bash, and what every process runner shares
    required("bash_command", BASH, TEMPLATE),
    key("env", Ops::PROCESS, Type::StrMap),
    key("append_env", Ops::PROCESS, Type::Bool),
    key("env_file", Ops::PROCESS, Type::EnvFiles),
    key("cwd", BASH, Type::Str(Some("a folder path"))),
    key("skip_on_exit_code", Ops::PROCESS, Type::ExitCodes),
    key("output_encoding", BASH, STR),
];

/// The row of `name`.
pub(crate) fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// The known key closest to an unknown one, if it is close enough to be a typo.
pub(crate) fn suggest(name: &str) -> Option<&'static str> {
    closest(name, KEYS.iter().map(|k| k.name))
}

/// The candidate within three edits of `name`, the closest first.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::levenshtein(name, c), c))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The keys every operator takes.
pub(crate) fn common() -> impl Iterator<Item = &'static str> {
    KEYS.iter().filter(|k| k.ops.is_all()).map(|k| k.name)
}

/// The key table as `task-runner schema` prints it, for the Airflow-side
/// provider to check its own table against.
pub(crate) fn schema() -> Value {
    let operators: serde_json::Map<String, Value> = OperatorKind::ALL
        .iter()
        .map(|&op| {
            let keys: Vec<&str> = op.keys().map(|k| k.name).collect();
            let required: Vec<&str> = op.required().collect();
            (
                op.name().to_string(),
                json!({
                    "aliases": op.aliases(),
                    "keys": keys,
                    "required": required,
                    "template_fields": op.template_fields(),
                    "template_ext": op.template_ext(),
                }),
            )
        })
        .collect();
    let common: Vec<&str> = common().collect();
    json!({"common": common, "operators": operators})
}

/// A value that is not of its key's type: the key path (`sql[1]`), where
/// the offending value is, and the message.
#[derive(Debug)]
pub struct Mistyped {
    pub path: String,
    pub pos: Pos,
    pub message: String,
}

impl Type {
    /// What the value must be, after "`key` must be".
    pub fn expected(self) -> String {
        match self {
            Type::Text | Type::Str(None) => "a string".into(),
            Type::Str(Some(what)) => format!("a string ({what})"),
            Type::Bool => "a boolean (true or false)".into(),
            Type::Bytes => "a positive integer (bytes)".into(),
            Type::Duration => {
                "seconds (a number) or a duration such as `90s`, `10m`, `1h 30m`".into()
            }
            Type::Mapping => "a mapping".into(),
            Type::List => "a list".into(),
            Type::Strings => "a string or a list of strings".into(),
            Type::StrMap => "a mapping of names to strings".into(),
            Type::Parameters => "a mapping (named) or a list (positional)".into(),
            Type::ExitCodes => "an exit code, a list of them, or null".into(),
            Type::EnvFiles => ENV_FILES.into(),
        }
    }

    /// Checks `value`, the value of key `name`.
    pub fn check(self, name: &str, value: &Node) -> Result<(), Mistyped> {
        let wrong = |message: String| Mistyped {
            path: name.to_string(),
            pos: value.pos,
            message,
        };
        let mistyped = || {
            wrong(format!(
                "`{name}` must be {}, got {}",
                self.expected(),
                describe(value)
            ))
        };
        let v = &value.value;
        if matches!(v, Yaml::Null) {
            return Ok(());
        }
        let exit_code = |n: &Node| matches!(n.value, Yaml::Int(c) if (0..=255).contains(&c));
        match (self, v) {
            // Any scalar's text, as serde_yaml gave a string field (`task_id: 5`);
            // the templated fields keep what the user wrote, so they want a string.
            (Type::Text, Yaml::Str(_) | Yaml::Int(_) | Yaml::Float(_) | Yaml::Bool(_))
            | (Type::Str(_), Yaml::Str(_))
            | (Type::Bool, Yaml::Bool(_))
            | (Type::Duration, Yaml::Int(_) | Yaml::Float(_) | Yaml::Str(_))
            | (Type::Mapping | Type::StrMap, Yaml::Map(_))
            | (Type::List, Yaml::Seq(_))
            | (Type::Strings, Yaml::Str(_) | Yaml::Seq(_))
            | (Type::Parameters, Yaml::Map(_) | Yaml::Seq(_)) => {}
            (Type::EnvFiles, Yaml::Str(path)) => env_file_path(name, path, value)?,
            (Type::EnvFiles, Yaml::Seq(items)) => {
                for (i, item) in items.iter().enumerate() {
                    env_file_entry(&format!("{name}[{i}]"), item)?;
                }
            }
            (Type::Bytes, Yaml::Int(n)) if *n > 0 && u64::try_from(*n).is_ok() => {}
            (Type::Bytes, Yaml::Int(0)) => {
                return Err(wrong(format!("`{name}` must be greater than 0")));
            }
            (Type::ExitCodes, Yaml::Int(_)) => {
                if !exit_code(value) {
                    return Err(wrong(format!(
                        "`{name}` must be an exit code from 0 to 255"
                    )));
                }
            }
            (Type::ExitCodes, Yaml::Seq(items)) => {
                if let Some(bad) = items.iter().find(|n| !exit_code(n)) {
                    return Err(Mistyped {
                        pos: bad.pos,
                        ..wrong(format!("`{name}` entries must be exit codes from 0 to 255"))
                    });
                }
            }
            _ => return Err(mistyped()),
        }
        match v {
            Yaml::Seq(items) if self == Type::Strings => {
                for (i, item) in items.iter().enumerate() {
                    if !matches!(item.value, Yaml::Str(_)) {
                        return Err(Mistyped {
                            path: format!("{name}[{i}]"),
                            pos: item.pos,
                            message: format!(
                                "`{name}` entries must be strings, got {}",
                                describe(item)
                            ),
                        });
                    }
                }
            }
            Yaml::Map(entries) if self == Type::StrMap => {
                for (k, item) in entries {
                    let scalar = matches!(
                        item.value,
                        Yaml::Str(_) | Yaml::Int(_) | Yaml::Float(_) | Yaml::Bool(_)
                    );
                    if !scalar {
                        return Err(Mistyped {
                            path: format!("{name}.{}", k.key_text().unwrap_or_default()),
                            pos: item.pos,
                            message: format!(
                                "`{name}` values must be strings, got {}",
                                describe(item)
                            ),
                        });
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

const ENV_FILES: &str =
    "a file path, or a list of file paths and `{path: ..., required: true|false}` mappings";

/// An `env_file` path: a non-empty string.
fn env_file_path(path: &str, text: &str, node: &Node) -> Result<(), Mistyped> {
    if text.trim().is_empty() {
        return Err(Mistyped {
            path: path.to_string(),
            pos: node.pos,
            message: "`env_file` paths must not be empty".into(),
        });
    }
    Ok(())
}

/// One item of an `env_file` list (its key path `env_file[i]`): a path, or
/// `{path: STR, required: BOOL}` with `path` given.
fn env_file_entry(at: &str, item: &Node) -> Result<(), Mistyped> {
    let wrong = |path: String, pos: Pos, message: String| Mistyped { path, pos, message };
    let entries = match &item.value {
        Yaml::Str(text) => return env_file_path(at, text, item),
        Yaml::Map(entries) => entries,
        _ => {
            return Err(wrong(
                at.to_string(),
                item.pos,
                format!(
                    "`env_file` entries must be a file path or a `{{path: ..., required: true|false}}` mapping, got {}",
                    describe(item)
                ),
            ));
        }
    };
    let mut has_path = false;
    for (k, v) in entries {
        let key = k.key_text().unwrap_or_default();
        let here = format!("{at}.{key}");
        match (key.as_str(), &v.value) {
            ("path", Yaml::Str(text)) => {
                env_file_path(&here, text, v)?;
                has_path = true;
            }
            ("path", _) => {
                return Err(wrong(
                    here,
                    v.pos,
                    format!("`path` must be a string (a file path), got {}", describe(v)),
                ));
            }
            ("required", Yaml::Bool(_)) => {}
            ("required", _) => {
                return Err(wrong(
                    here,
                    v.pos,
                    format!(
                        "`required` must be a boolean (true or false), got {}",
                        describe(v)
                    ),
                ));
            }
            _ => {
                return Err(wrong(
                    here,
                    k.pos,
                    format!(
                        "unknown key `{key}` in an `env_file` entry (its keys: path, required)"
                    ),
                ));
            }
        }
    }
    if !has_path {
        return Err(wrong(
            at.to_string(),
            item.pos,
            "an `env_file` entry needs a `path`".into(),
        ));
    }
    Ok(())
}

/// A value for a message: a short scalar quoted, anything else by its kind.
pub(crate) fn describe(node: &Node) -> String {
    let text = match &node.value {
        Yaml::Str(s) => s.clone(),
        Yaml::Int(n) => n.to_string(),
        Yaml::Float(f) => f.to_string(),
        Yaml::Bool(b) => b.to_string(),
        other => return other.kind().to_string(),
    };
    if text.chars().count() > 40 || text.contains(['\n', '`']) {
        node.value.kind().to_string()
    } else {
        format!("{} `{text}`", node.value.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_listed_once_and_every_template_field_is_a_key_of_its_operator() {
        for (i, k) in KEYS.iter().enumerate() {
            assert!(
                KEYS[..i].iter().all(|other| other.name != k.name),
                "{} twice",
                k.name
            );
            assert_eq!(
                k.required.0 & !k.ops.0,
                0,
                "{} required where not taken",
                k.name
            );
        }
        for op in OperatorKind::ALL {
            for field in op.template_fields() {
                let key = find(field).unwrap_or_else(|| panic!("{field}"));
                assert!(op.takes(key), "{}: {field}", op.name());
            }
            assert_eq!(OperatorKind::from_name(op.name()), Some(op));
            for alias in op.aliases() {
                assert_eq!(OperatorKind::from_name(alias), Some(op));
            }
        }
    }

    #[test]
    fn suggestions_are_close_keys() {
        assert_eq!(suggest("bash_comand"), Some("bash_command"));
        assert_eq!(suggest("retries"), None);
    }
}
