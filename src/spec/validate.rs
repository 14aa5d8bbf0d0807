//! From the document to a typed [`TaskSpec`]: parse with key paths and lines,
//! then check which keys belong to the operator and turn loose values into types
//! in which invalid states cannot be written (durations, exit-code sets, paths).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::limits;
use crate::spec::raw::{self, RawSpec};
use crate::spec::source::Document;

/// Default grace between SIGTERM and SIGKILL: shorter than Docker's 10 s stop
/// timeout, so the runner still reports after killing the task.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
/// Default cap on the XCom file; see the README's "Results" section.
pub const DEFAULT_MAX_XCOM_BYTES: u64 = 16 * 1024 * 1024;

/// A validated task, its templated fields still unrendered.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub operator: Operator,
    pub task_id: Option<String>,
    pub params: Map<String, Value>,
    /// Folders searched for template files, the spec's own folder first
    /// (Airflow: the DAG folder, then `template_searchpath`).
    pub template_searchpath: Vec<PathBuf>,
    pub execution_timeout: Option<Duration>,
    pub grace_period: Duration,
    pub do_xcom_push: bool,
    pub native: bool,
    pub max_xcom_bytes: u64,
    pub origin: String,
}

#[derive(Debug, Clone)]
pub enum Operator {
    Bash(BashTask),
    Sql(SqlTask),
    Python(PythonTask),
    Ruby(RubyTask),
}

/// A child process's environment, as BashOperator builds it.
#[derive(Debug, Clone)]
pub struct EnvSpec {
    /// Templated map of strings; `None` inherits the runner's environment.
    pub env: Option<Value>,
    pub append_env: bool,
}

#[derive(Debug, Clone)]
pub struct BashTask {
    pub bash_command: Value,
    /// The command names a `.sh`/`.bash` template file, which the standard
    /// provider writes to a temp file and runs as `bash <file>`.
    pub script_file: bool,
    pub env: EnvSpec,
    pub cwd: Option<Value>,
    pub skip_on_exit_code: Vec<i32>,
    pub output_encoding: String,
}

#[derive(Debug, Clone)]
pub struct SqlTask {
    pub conn_id: String,
    pub sql: Value,
    pub parameters: Option<Value>,
    pub autocommit: bool,
    pub split_statements: Option<bool>,
    pub return_last: bool,
    pub output_path: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct PythonTask {
    pub python_callable: String,
    pub python_source: Option<String>,
    pub op_args: Value,
    pub op_kwargs: Value,
    pub templates_dict: Option<Value>,
    pub python: String,
    /// Import roots, relative entries joined to the spec's base folder;
    /// `None` when the spec gives none (the include folder may stand in).
    pub python_path: Option<Vec<PathBuf>>,
    /// What relative `python_path` entries were resolved against, for messages.
    pub python_path_base: String,
    pub env: EnvSpec,
    pub skip_on_exit_code: Vec<i32>,
}

#[derive(Debug, Clone)]
pub struct RubyTask {
    pub ruby_script: Value,
    /// The `*.rb` template file the script came from, for backtraces.
    pub script_name: Option<String>,
    pub ruby: String,
    pub args: Value,
    pub env: EnvSpec,
    pub skip_on_exit_code: Vec<i32>,
}

impl Operator {
    pub fn name(&self) -> &'static str {
        self.keys().name
    }

    /// The Airflow operator class the task stands for (`{{ task.task_type }}`).
    pub fn airflow_class(&self) -> &'static str {
        match self {
            Operator::Bash(_) => "BashOperator",
            Operator::Sql(_) => "SQLExecuteQueryOperator",
            Operator::Python(_) => "PythonOperator",
            Operator::Ruby(_) => "RubyOperator",
        }
    }

    /// The templated fields, in Airflow's `template_fields` order.
    pub fn template_fields_mut(&mut self) -> Vec<(&'static str, &mut Value)> {
        let mut fields: Vec<(&'static str, &mut Value)> = Vec::new();
        match self {
            Operator::Bash(t) => {
                fields.push(("bash_command", &mut t.bash_command));
                if let Some(env) = t.env.env.as_mut() {
                    fields.push(("env", env));
                }
                if let Some(cwd) = t.cwd.as_mut() {
                    fields.push(("cwd", cwd));
                }
            }
            Operator::Sql(t) => {
                fields.push(("sql", &mut t.sql));
                if let Some(p) = t.parameters.as_mut() {
                    fields.push(("parameters", p));
                }
                if let Some(p) = t.output_path.as_mut() {
                    fields.push(("output_path", p));
                }
            }
            Operator::Python(t) => {
                if let Some(d) = t.templates_dict.as_mut() {
                    fields.push(("templates_dict", d));
                }
                fields.push(("op_args", &mut t.op_args));
                fields.push(("op_kwargs", &mut t.op_kwargs));
                if let Some(env) = t.env.env.as_mut() {
                    fields.push(("env", env));
                }
            }
            Operator::Ruby(t) => {
                fields.push(("ruby_script", &mut t.ruby_script));
                fields.push(("args", &mut t.args));
                if let Some(env) = t.env.env.as_mut() {
                    fields.push(("env", env));
                }
            }
        }
        fields
    }

    /// The operator's row of the key table (src/spec/raw.rs).
    pub fn keys(&self) -> &'static raw::OperatorKeys {
        match self {
            Operator::Bash(_) => &raw::BASH,
            Operator::Sql(_) => &raw::SQL,
            Operator::Python(_) => &raw::PYTHON,
            Operator::Ruby(_) => &raw::RUBY,
        }
    }

    /// File extensions that make a string field a template file
    /// (Airflow: each operator's `template_ext`).
    pub fn template_ext(&self) -> &'static [&'static str] {
        self.keys().template_ext
    }
}

impl TaskSpec {
    /// The image's copy of the DAG project's `include/` folder: searched for
    /// template files after the spec's own entries, and the import root of a
    /// Python task whose spec gives no `python_path` (one given replaces it).
    pub fn add_include(&mut self, dir: PathBuf) {
        if let Operator::Python(t) = &mut self.operator
            && t.python_path.is_none()
        {
            t.python_path = Some(vec![dir.clone()]);
        }
        if !self.template_searchpath.contains(&dir) {
            self.template_searchpath.push(dir);
        }
    }

    /// The spec as Airflow-named kwargs, for `render` and `encode`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("operator".into(), self.operator.name().into());
        if let Some(id) = &self.task_id {
            m.insert("task_id".into(), id.clone().into());
        }
        let mut put = |k: &str, v: Value| {
            m.insert(k.into(), v);
        };
        match &self.operator {
            Operator::Bash(t) => {
                put("bash_command", t.bash_command.clone());
                put_env(&mut put, &t.env);
                if let Some(cwd) = &t.cwd {
                    put("cwd", cwd.clone());
                }
                put("skip_on_exit_code", t.skip_on_exit_code.clone().into());
                put("output_encoding", t.output_encoding.clone().into());
            }
            Operator::Sql(t) => {
                put("conn_id", t.conn_id.clone().into());
                put("sql", t.sql.clone());
                if let Some(p) = &t.parameters {
                    put("parameters", p.clone());
                }
                put("autocommit", t.autocommit.into());
                if let Some(s) = t.split_statements {
                    put("split_statements", s.into());
                }
                put("return_last", t.return_last.into());
                if let Some(p) = &t.output_path {
                    put("output_path", p.clone());
                }
            }
            Operator::Python(t) => {
                put("python_callable", t.python_callable.clone().into());
                if let Some(src) = &t.python_source {
                    put("python_source", src.clone().into());
                }
                put("op_args", t.op_args.clone());
                put("op_kwargs", t.op_kwargs.clone());
                if let Some(d) = &t.templates_dict {
                    put("templates_dict", d.clone());
                }
                put("python", t.python.clone().into());
                let paths: Vec<Value> = t
                    .python_path
                    .iter()
                    .flatten()
                    .map(|p| p.display().to_string().into())
                    .collect();
                put("python_path", paths.into());
                put_env(&mut put, &t.env);
                put("skip_on_exit_code", t.skip_on_exit_code.clone().into());
            }
            Operator::Ruby(t) => {
                put("ruby_script", t.ruby_script.clone());
                put("ruby", t.ruby.clone().into());
                put("args", t.args.clone());
                put_env(&mut put, &t.env);
                put("skip_on_exit_code", t.skip_on_exit_code.clone().into());
            }
        }
        if !self.params.is_empty() {
            m.insert("params".into(), Value::Object(self.params.clone()));
        }
        if let Some(t) = self.execution_timeout {
            m.insert("execution_timeout".into(), t.as_secs_f64().into());
        }
        m.insert(
            "grace_period".into(),
            self.grace_period.as_secs_f64().into(),
        );
        m.insert("do_xcom_push".into(), self.do_xcom_push.into());
        if self.native {
            m.insert("render_template_as_native_obj".into(), true.into());
        }
        m.insert("max_xcom_bytes".into(), self.max_xcom_bytes.into());
        Value::Object(m)
    }
}

fn put_env(put: &mut impl FnMut(&str, Value), env: &EnvSpec) {
    if let Some(e) = &env.env {
        put("env", e.clone());
    }
    put("append_env", env.append_env.into());
}

/// Parses and validates a spec document.
pub fn parse(doc: &Document) -> Result<TaskSpec> {
    let raw = parse_raw(doc)?;
    Checker { doc }.validate(raw)
}

fn parse_raw(doc: &Document) -> Result<RawSpec> {
    if doc.text.trim().is_empty() {
        return Err(Error::SpecDecode {
            origin: doc.origin.clone(),
            message: "the spec is empty".into(),
        });
    }
    let de = serde_yaml::Deserializer::from_str(&doc.text);
    serde_path_to_error::deserialize::<_, RawSpec>(de).map_err(|err| {
        let key = err.path().to_string();
        let key = if key == "." { String::new() } else { key };
        let inner = err.into_inner();
        let mut line = inner.location().map(|l| l.line()).filter(|_| doc.has_lines);
        let message = friendly_serde_message(&inner.to_string());
        // serde reports a duplicate at the mapping's start; point at the repeat.
        if let Some(dup) = message
            .strip_prefix("duplicate key `")
            .and_then(|r| r.split('`').next())
            && doc.has_lines
        {
            line = doc
                .text
                .lines()
                .enumerate()
                .filter(|(_, l)| {
                    l.trim_start().starts_with(&format!("{dup}:"))
                        || l.trim_start().starts_with(&format!("\"{dup}\""))
                })
                .nth(1)
                .map(|(i, _)| i + 1)
                .or(line);
        }
        Error::Spec {
            origin: doc.origin.clone(),
            key,
            line,
            message,
        }
    })
}

/// serde_yaml's messages end with " at line L column C" and list every known
/// key for an unknown one; keep the substance and suggest the likely key.
fn friendly_serde_message(message: &str) -> String {
    let message = match message.find(" at line ") {
        Some(i) => &message[..i],
        None => message,
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let all = raw::COMMON_KEYS
            .iter()
            .chain(raw::OPERATORS.iter().flat_map(|op| op.keys));
        let best = all
            .min_by_key(|k| strsim::levenshtein(name, k))
            .filter(|k| strsim::levenshtein(name, k) <= 3);
        return match best {
            Some(k) => format!("unknown key `{name}` (did you mean `{k}`?)"),
            None => format!("unknown key `{name}`"),
        };
    }
    if let Some(rest) = message.strip_prefix("duplicate field `") {
        let name = rest.split('`').next().unwrap_or_default();
        return format!("duplicate key `{name}`");
    }
    if message.contains("expected struct RawSpec") {
        let got = message
            .split("invalid type: ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .unwrap_or("something else");
        return format!("the spec must be a mapping of keys (`operator`, ...), got {got}");
    }
    if message.starts_with("invalid type") {
        return message.replace("invalid type: ", "wrong type: got ");
    }
    message.to_string()
}

struct Checker<'a> {
    doc: &'a Document,
}

impl Checker<'_> {
    fn err(&self, key: &str, message: impl Into<String>) -> Error {
        Error::Spec {
            origin: self.doc.origin.clone(),
            key: key.into(),
            line: self.line_of(key),
            message: message.into(),
        }
    }

    /// The line of a top-level key, found by its text: serde has no spans for
    /// values it accepted, and the checks here run after deserialisation.
    fn line_of(&self, key: &str) -> Option<usize> {
        if !self.doc.has_lines || key.is_empty() {
            return None;
        }
        let top = key.split('.').next().unwrap_or(key);
        self.doc
            .text
            .lines()
            .position(|line| {
                let line = line.trim_start_matches(['{', ' ', '\t']);
                line.starts_with(&format!("{top}:"))
                    || line.starts_with(&format!("\"{top}\""))
                    || line.starts_with(&format!("'{top}'"))
            })
            .map(|i| i + 1)
    }

    fn validate(&self, raw: RawSpec) -> Result<TaskSpec> {
        let Some(op_name) = raw.operator.clone() else {
            return Err(self.err(
                "operator",
                "missing required key `operator` (one of: sql, bash, python, ruby)",
            ));
        };
        let Some(table) = raw::operator(&op_name) else {
            let names: Vec<&str> = raw::OPERATORS.iter().map(|op| op.name).collect();
            let classes: Vec<&str> = raw::OPERATORS
                .iter()
                .flat_map(|op| op.aliases.iter().copied())
                .collect();
            return Err(self.err(
                "operator",
                format!(
                    "unknown operator `{op_name}` (expected {}, or an Airflow class name: {})",
                    names.join(", "),
                    classes.join(", ")
                ),
            ));
        };
        let (kind, own_keys) = (table.name, table.keys);
        for key in raw.present_keys() {
            if !raw::COMMON_KEYS.contains(&key) && !own_keys.contains(&key) {
                return Err(self.err(
                    key,
                    format!(
                        "key `{key}` does not apply to operator `{kind}` (its keys: {})",
                        own_keys.join(", ")
                    ),
                ));
            }
        }

        let base_dir = self.doc.base_dir.clone();
        let mut template_searchpath = vec![base_dir.clone()];
        for p in self.string_list("template_searchpath", raw.template_searchpath.as_ref())? {
            template_searchpath.push(base_dir.join(p));
        }
        let execution_timeout = raw
            .execution_timeout
            .as_ref()
            .map(|v| self.duration("execution_timeout", v))
            .transpose()?;
        // Airflow treats a zero `execution_timeout` (a falsy timedelta) as none.
        let execution_timeout = execution_timeout.filter(|t| !t.is_zero());
        let grace_period = match raw.grace_period.as_ref() {
            Some(v) => self.duration("grace_period", v)?,
            None => DEFAULT_GRACE,
        };

        let env = EnvSpec {
            env: self.string_map_opt("env", raw.env.clone())?,
            append_env: raw.append_env.unwrap_or(false),
        };
        let operator = match kind {
            "bash" => {
                let bash_command = self.required_string("bash_command", raw.bash_command)?;
                let script_file = bash_command
                    .as_str()
                    .is_some_and(|s| s.ends_with(".sh") || s.ends_with(".bash"));
                let cwd = match raw.cwd {
                    None | Some(Value::Null) => None,
                    Some(v @ Value::String(_)) => Some(v),
                    Some(_) => {
                        return Err(self.err("cwd", "`cwd` must be a string (a folder path)"));
                    }
                };
                let output_encoding = raw.output_encoding.unwrap_or_else(|| "utf-8".into());
                if crate::supervise::Decoder::for_name(&output_encoding).is_none() {
                    return Err(self.err(
                        "output_encoding",
                        format!("unsupported `output_encoding` `{output_encoding}` (supported: utf-8, latin-1, ascii)"),
                    ));
                }
                Operator::Bash(BashTask {
                    bash_command,
                    script_file,
                    env,
                    cwd,
                    skip_on_exit_code: self.exit_codes(raw.skip_on_exit_code.as_ref(), vec![99])?,
                    output_encoding,
                })
            }
            "sql" => {
                let conn_id = raw
                    .conn_id
                    .ok_or_else(|| self.err("conn_id", "missing required key `conn_id`"))?;
                let sql = match raw.sql {
                    Some(v @ Value::String(_)) => v,
                    Some(Value::Array(items)) => {
                        if let Some(i) = items.iter().position(|v| !v.is_string()) {
                            return Err(self.err(
                                &format!("sql[{i}]"),
                                "every statement in `sql` must be a string",
                            ));
                        }
                        Value::Array(items)
                    }
                    None => return Err(self.err("sql", "missing required key `sql`")),
                    Some(_) => {
                        return Err(self.err("sql", "`sql` must be a string or a list of strings"));
                    }
                };
                let parameters = match raw.parameters {
                    None | Some(Value::Null) => None,
                    Some(v @ (Value::Object(_) | Value::Array(_))) => Some(v),
                    Some(_) => {
                        return Err(self.err(
                            "parameters",
                            "`parameters` must be a mapping (named) or a list (positional)",
                        ));
                    }
                };
                let output_path = match raw.output_path {
                    None | Some(Value::Null) => None,
                    Some(v @ Value::String(_)) => Some(v),
                    Some(_) => {
                        return Err(self.err(
                            "output_path",
                            "`output_path` must be a string (a file path)",
                        ));
                    }
                };
                Operator::Sql(SqlTask {
                    conn_id,
                    sql,
                    parameters,
                    autocommit: raw.autocommit.unwrap_or(false),
                    split_statements: raw.split_statements,
                    return_last: raw.return_last.unwrap_or(true),
                    output_path,
                })
            }
            "python" => {
                let python_callable = raw.python_callable.ok_or_else(|| {
                    self.err("python_callable", "missing required key `python_callable`")
                })?;
                if python_callable.trim().is_empty() {
                    return Err(self.err("python_callable", "`python_callable` is empty"));
                }
                let op_args = match raw.op_args {
                    None | Some(Value::Null) => Value::Array(vec![]),
                    Some(v @ Value::Array(_)) => v,
                    Some(_) => return Err(self.err("op_args", "`op_args` must be a list")),
                };
                let op_kwargs = match raw.op_kwargs {
                    None | Some(Value::Null) => Value::Object(Map::new()),
                    Some(v @ Value::Object(_)) => v,
                    Some(_) => return Err(self.err("op_kwargs", "`op_kwargs` must be a mapping")),
                };
                let templates_dict = match raw.templates_dict {
                    None | Some(Value::Null) => None,
                    Some(v @ Value::Object(_)) => Some(v),
                    Some(_) => {
                        return Err(
                            self.err("templates_dict", "`templates_dict` must be a mapping")
                        );
                    }
                };
                let python_path = match raw.python_path.as_ref() {
                    None | Some(Value::Null) => None,
                    given => Some(
                        self.string_list("python_path", given)?
                            .into_iter()
                            .map(|p| base_dir.join(p))
                            .collect(),
                    ),
                };
                let python_path_base = self.doc.describe_base();
                Operator::Python(PythonTask {
                    python_callable,
                    python_source: raw.python_source,
                    op_args,
                    op_kwargs,
                    templates_dict,
                    python: raw.python.unwrap_or_else(|| "python3".into()),
                    python_path,
                    python_path_base,
                    env,
                    skip_on_exit_code: self.exit_codes(raw.skip_on_exit_code.as_ref(), vec![])?,
                })
            }
            _ => {
                let ruby_script = self.required_string("ruby_script", raw.ruby_script)?;
                let args = match raw.args {
                    None | Some(Value::Null) => Value::Array(vec![]),
                    Some(v @ Value::Array(_)) => v,
                    Some(_) => return Err(self.err("args", "`args` must be a list")),
                };
                let script_name = ruby_script
                    .as_str()
                    .filter(|s| s.ends_with(".rb"))
                    .map(str::to_owned);
                Operator::Ruby(RubyTask {
                    ruby_script,
                    script_name,
                    ruby: raw.ruby.unwrap_or_else(|| "ruby".into()),
                    args,
                    env,
                    skip_on_exit_code: self.exit_codes(raw.skip_on_exit_code.as_ref(), vec![])?,
                })
            }
        };

        if let Some(id) = &raw.task_id
            && id.trim().is_empty()
        {
            return Err(self.err("task_id", "`task_id` is empty"));
        }
        let max_xcom_bytes = raw.max_xcom_bytes.unwrap_or(DEFAULT_MAX_XCOM_BYTES);
        if max_xcom_bytes == 0 {
            return Err(self.err("max_xcom_bytes", "`max_xcom_bytes` must be greater than 0"));
        }
        Ok(TaskSpec {
            operator,
            task_id: raw.task_id,
            params: raw.params.unwrap_or_default(),
            template_searchpath,
            execution_timeout,
            grace_period,
            do_xcom_push: raw.do_xcom_push.unwrap_or(true),
            native: raw.render_template_as_native_obj.unwrap_or(false),
            max_xcom_bytes,
            origin: self.doc.origin.clone(),
        })
    }

    fn required_string(&self, key: &str, value: Option<Value>) -> Result<Value> {
        match value {
            // Airflow accepts an empty command (it renders nothing and runs nothing).
            Some(Value::String(s)) => Ok(Value::String(s)),
            None | Some(Value::Null) => Err(self.err(key, format!("missing required key `{key}`"))),
            Some(_) => Err(self.err(key, format!("`{key}` must be a string"))),
        }
    }

    fn string_list(&self, key: &str, value: Option<&Value>) -> Result<Vec<String>> {
        match value {
            None | Some(Value::Null) => Ok(vec![]),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        self.err(
                            &format!("{key}[{i}]"),
                            format!("`{key}` entries must be strings"),
                        )
                    })
                })
                .collect(),
            Some(_) => Err(self.err(
                key,
                format!("`{key}` must be a string or a list of strings"),
            )),
        }
    }

    fn string_map_opt(&self, key: &str, value: Option<Value>) -> Result<Option<Value>> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => {
                for (k, v) in &map {
                    if !(v.is_string() || v.is_number() || v.is_boolean()) {
                        return Err(self.err(
                            &format!("{key}.{k}"),
                            format!("`{key}` values must be strings"),
                        ));
                    }
                }
                // Numbers and booleans are written as YAML scalars; the child sees text.
                let map = map
                    .into_iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::String(s) => Value::String(s),
                            other => Value::String(other.to_string()),
                        };
                        (k, v)
                    })
                    .collect();
                Ok(Some(Value::Object(map)))
            }
            Some(_) => Err(self.err(
                key,
                format!("`{key}` must be a mapping of names to strings"),
            )),
        }
    }

    /// Seconds (a number, or a string of one) or a humantime duration
    /// (`1h 30m`), range-checked by the one rule every duration follows.
    fn duration(&self, key: &str, value: &Value) -> Result<Duration> {
        let bad = || {
            self.err(key, format!("`{key}` must be seconds (a number) or a duration such as `90s`, `10m`, `1h 30m`"))
        };
        let checked = match value {
            Value::Number(n) => limits::seconds(n.as_f64().ok_or_else(bad)?),
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(secs) => limits::seconds(secs),
                Err(_) => limits::duration(humantime::parse_duration(s.trim()).map_err(|_| bad())?),
            },
            _ => return Err(bad()),
        };
        checked.map_err(|why| self.err(key, format!("`{key}` {why}")))
    }

    fn exit_codes(&self, value: Option<&Value>, default: Vec<i32>) -> Result<Vec<i32>> {
        let to_code = |v: &Value| {
            v.as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .filter(|n| (0..=255).contains(n))
        };
        match value {
            None => Ok(default),
            Some(Value::Null) => Ok(vec![]),
            Some(v @ Value::Number(_)) => to_code(v).map(|c| vec![c]).ok_or_else(|| {
                self.err(
                    "skip_on_exit_code",
                    "`skip_on_exit_code` must be an exit code from 0 to 255",
                )
            }),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    to_code(v).ok_or_else(|| {
                        self.err(
                            "skip_on_exit_code",
                            "`skip_on_exit_code` entries must be exit codes from 0 to 255",
                        )
                    })
                })
                .collect(),
            Some(_) => Err(self.err(
                "skip_on_exit_code",
                "`skip_on_exit_code` must be an exit code, a list of them, or null",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document {
        Document {
            text: text.into(),
            origin: "file `t.yaml`".into(),
            base_dir: PathBuf::from("/specs"),
            base: crate::spec::source::Base::FileFolder,
            has_lines: true,
        }
    }

    fn err(text: &str) -> String {
        parse(&doc(text)).unwrap_err().to_string()
    }

    #[test]
    fn minimal_bash_spec() {
        let spec = parse(&doc("operator: bash\nbash_command: echo hi\n")).unwrap();
        assert_eq!(spec.operator.name(), "bash");
        let Operator::Bash(b) = &spec.operator else {
            unreachable!()
        };
        assert_eq!(b.skip_on_exit_code, vec![99]);
        assert_eq!(spec.grace_period, DEFAULT_GRACE);
        assert!(spec.do_xcom_push);
        assert_eq!(spec.template_searchpath, vec![PathBuf::from("/specs")]);
    }

    #[test]
    fn aliases_and_durations() {
        let spec = parse(&doc(
            "operator: BashOperator\nbash_command: x\nexecution_timeout: 10m\ngrace_period: 2.5\n",
        ))
        .unwrap();
        assert_eq!(spec.execution_timeout, Some(Duration::from_secs(600)));
        assert_eq!(spec.grace_period, Duration::from_millis(2500));
    }

    #[test]
    fn unknown_key_names_key_line_and_suggestion() {
        let e = err("operator: bash\nbash_comand: echo\n");
        assert!(e.contains("line 2"), "{e}");
        assert!(
            e.contains("unknown key `bash_comand` (did you mean `bash_command`?)"),
            "{e}"
        );
    }

    #[test]
    fn wrong_type_names_key_path() {
        let e = err("operator: sql\nconn_id: x\nsql: select 1\nautocommit: maybe\n");
        assert!(e.contains("key `autocommit`"), "{e}");
        assert!(e.contains("line 4"), "{e}");
    }

    #[test]
    fn key_of_another_operator() {
        let e = err("operator: bash\nbash_command: x\nsql: select 1\n");
        assert!(
            e.contains("key `sql` does not apply to operator `bash`"),
            "{e}"
        );
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn missing_required_keys() {
        assert!(err("bash_command: x\n").contains("missing required key `operator`"));
        assert!(err("operator: bash\n").contains("missing required key `bash_command`"));
        assert!(err("operator: sql\nsql: x\n").contains("missing required key `conn_id`"));
        assert!(err("operator: nope\n").contains("unknown operator `nope`"));
    }

    #[test]
    fn not_a_mapping_and_duplicate_keys() {
        assert!(err("- a\n- b\n").contains("must be a mapping of keys"));
        let e = err("operator: bash\nbash_command: x\nbash_command: y\n");
        assert!(
            e.contains("duplicate key `bash_command`") && e.contains("line 3"),
            "{e}"
        );
    }

    #[test]
    fn invalid_values() {
        assert!(
            err("operator: bash\nbash_command: x\nexecution_timeout: soon\n")
                .contains("`execution_timeout` must be")
        );
        assert!(
            err("operator: bash\nbash_command: x\nskip_on_exit_code: 300\n").contains("0 to 255")
        );
        assert!(
            err("operator: bash\nbash_command: x\nenv: [1]\n").contains("`env` must be a mapping")
        );
    }

    /// The key table (raw.rs) is what validation does: each operator's
    /// required keys are exactly those whose absence is an error, and its
    /// template fields are the ones the renderer visits, in order.
    #[test]
    fn the_key_table_matches_validation() {
        for op in raw::OPERATORS {
            let minimal: String = op.required.iter().map(|k| format!("{k}: x\n")).collect();
            let spec = parse(&doc(&format!("operator: {}\n{minimal}", op.name)))
                .unwrap_or_else(|e| panic!("{}: {e}", op.name));
            assert_eq!(spec.operator.keys().name, op.name);
            for alias in op.aliases {
                let spec = parse(&doc(&format!("operator: {alias}\n{minimal}"))).unwrap();
                assert_eq!(spec.operator.name(), op.name);
            }
            for missing in op.required {
                let rest: String = op
                    .required
                    .iter()
                    .filter(|k| *k != missing)
                    .map(|k| format!("{k}: x\n"))
                    .collect();
                let e = err(&format!("operator: {}\n{rest}", op.name));
                assert!(
                    e.contains(&format!("missing required key `{missing}`")),
                    "{}: {e}",
                    op.name
                );
            }
            for key in op.keys.iter().chain(raw::COMMON_KEYS) {
                let text = format!("operator: {}\n{minimal}{key}: {{}}\n", op.name);
                if let Err(e) = parse(&doc(&text)).map_err(|e| e.to_string()) {
                    assert!(
                        !e.contains("unknown key") && !e.contains("does not apply"),
                        "{}: {key}: {e}",
                        op.name
                    );
                }
            }
            // Every optional template field set, so the renderer lists them all.
            let full: String = op
                .template_fields
                .iter()
                .filter(|k| !op.required.contains(k))
                .map(|k| match *k {
                    "env" | "templates_dict" | "op_kwargs" => format!("{k}: {{a: b}}\n"),
                    "op_args" | "args" => format!("{k}: [a]\n"),
                    "parameters" => format!("{k}: {{a: b}}\n"),
                    _ => format!("{k}: x\n"),
                })
                .collect();
            let mut spec = parse(&doc(&format!("operator: {}\n{minimal}{full}", op.name)))
                .unwrap_or_else(|e| panic!("{}: {e}", op.name));
            let visited: Vec<&str> = spec
                .operator
                .template_fields_mut()
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            assert_eq!(visited, op.template_fields, "{}", op.name);
        }
    }
}
