//! From the document to a typed [`TaskSpec`]: the document's fields checked
//! against the key table (`document`), then the common keys here and each
//! operator's own keys by its builder (`bash`, `sql`, `python`, `ruby`), into
//! types in which invalid states cannot be written (durations, exit-code
//! sets, paths).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::Result;
use crate::limits;
use crate::spec::bash::BashTask;
use crate::spec::document::Fields;
use crate::spec::keys::OperatorKind;
use crate::spec::python::PythonTask;
use crate::spec::ruby::RubyTask;
use crate::spec::source::Document;
use crate::spec::sql::SqlTask;

/// Default grace between SIGTERM and SIGKILL: shorter than Docker's 10 s stop
/// timeout, so the runner still reports after killing the task.
pub(super) const DEFAULT_GRACE: Duration = Duration::from_secs(5);
/// Default cap on the XCom file; see the README's "Results" section.
pub(super) const DEFAULT_MAX_XCOM_BYTES: u64 = 16 * 1024 * 1024;

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

/// A child process's environment, as BashOperator builds it, and the
/// `.env` files (docker compose's `env_file`) applied under `env`.
#[derive(Debug, Clone)]
pub struct EnvSpec {
    /// Templated map of strings; `None` inherits the runner's environment.
    pub env: Option<Value>,
    pub append_env: bool,
    /// In the order given; not templated.
    pub env_file: Vec<EnvFile>,
}

/// One `env_file` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFile {
    /// Resolved against the spec's base folder: the `--config` file's folder,
    /// else the working directory (a payload has no folder).
    pub path: PathBuf,
    /// A missing file is an error (compose's default), else skipped.
    pub required: bool,
}

impl EnvSpec {
    pub(crate) fn from_fields(f: &Fields) -> EnvSpec {
        // Numbers and booleans are written as YAML scalars; the child sees text.
        let env = f.json("env").map(|v| match v {
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => (k, Value::String(s)),
                        other => (k, Value::String(other.to_string())),
                    })
                    .collect(),
            ),
            other => other,
        });
        EnvSpec {
            env,
            append_env: f.bool("append_env").unwrap_or(false),
            env_file: env_files(f),
        }
    }

    pub(crate) fn put_json(&self, m: &mut Map<String, Value>) {
        if let Some(e) = &self.env {
            m.insert("env".into(), e.clone());
        }
        m.insert("append_env".into(), self.append_env.into());
        if !self.env_file.is_empty() {
            let files: Vec<Value> = self
                .env_file
                .iter()
                .map(|f| serde_json::json!({"path": f.path.display().to_string(), "required": f.required}))
                .collect();
            m.insert("env_file".into(), files.into());
        }
    }
}

/// `env_file` (already checked to be a path or a list of paths and
/// `{path, required}` mappings), its paths resolved against the spec's base.
fn env_files(f: &Fields) -> Vec<EnvFile> {
    let base = &f.doc().base_dir;
    let entry = |v: &Value| {
        let (path, required) = match v {
            Value::String(p) => (p.as_str(), true),
            Value::Object(m) => (
                m.get("path").and_then(Value::as_str)?,
                m.get("required").and_then(Value::as_bool).unwrap_or(true),
            ),
            _ => return None,
        };
        Some(EnvFile {
            path: base.join(path),
            required,
        })
    };
    match f.json("env_file") {
        Some(Value::Array(items)) => items.iter().filter_map(entry).collect(),
        Some(v) => entry(&v).into_iter().collect(),
        None => vec![],
    }
}

/// `skip_on_exit_code` (already checked to be codes from 0 to 255): absent
/// is `default`, null is none.
pub(crate) fn exit_codes(f: &Fields, default: Vec<i32>) -> Vec<i32> {
    let code = |v: &Value| v.as_i64().and_then(|n| i32::try_from(n).ok());
    match f.explicit("skip_on_exit_code") {
        None => default,
        Some(Value::Array(items)) => items.iter().filter_map(code).collect(),
        Some(v) => code(&v).into_iter().collect(),
    }
}

/// A value checked to be a string or a list of strings, as a list.
pub(crate) fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => vec![],
    }
}

impl Operator {
    pub fn kind(&self) -> OperatorKind {
        match self {
            Operator::Bash(_) => OperatorKind::Bash,
            Operator::Sql(_) => OperatorKind::Sql,
            Operator::Python(_) => OperatorKind::Python,
            Operator::Ruby(_) => OperatorKind::Ruby,
        }
    }

    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The child's environment settings, for the operators that run one.
    pub fn env_spec(&self) -> Option<&EnvSpec> {
        match self {
            Operator::Bash(t) => Some(&t.env),
            Operator::Python(t) => Some(&t.env),
            Operator::Ruby(t) => Some(&t.env),
            Operator::Sql(_) => None,
        }
    }

    /// The Airflow operator class the task stands for (`{{ task.task_type }}`).
    pub fn airflow_class(&self) -> &'static str {
        self.kind().airflow_class()
    }

    /// The templated fields that are set, in Airflow's `template_fields` order.
    pub fn template_fields_mut(&mut self) -> Vec<(&'static str, &mut Value)> {
        match self {
            Operator::Bash(t) => t.template_fields_mut(),
            Operator::Sql(t) => t.template_fields_mut(),
            Operator::Python(t) => t.template_fields_mut(),
            Operator::Ruby(t) => t.template_fields_mut(),
        }
    }

    /// File extensions that make a string field a template file
    /// (Airflow: each operator's `template_ext`).
    pub fn template_ext(&self) -> &'static [&'static str] {
        self.kind().template_ext()
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
        match &self.operator {
            Operator::Bash(t) => t.put_json(&mut m),
            Operator::Sql(t) => t.put_json(&mut m),
            Operator::Python(t) => t.put_json(&mut m),
            Operator::Ruby(t) => t.put_json(&mut m),
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

/// Parses and validates a spec document.
pub fn parse(doc: &Document) -> Result<TaskSpec> {
    let f = Fields::read(doc)?;
    let kind = f.kind()?;
    let base_dir = &doc.base_dir;
    let mut template_searchpath = vec![base_dir.clone()];
    if let Some(v) = f.json("template_searchpath") {
        template_searchpath.extend(strings(&v).into_iter().map(|p| base_dir.join(p)));
    }
    // Airflow treats a zero `execution_timeout` (a falsy timedelta) as none.
    let execution_timeout = duration(&f, "execution_timeout")?.filter(|t| !t.is_zero());
    let grace_period = duration(&f, "grace_period")?.unwrap_or(DEFAULT_GRACE);
    let operator = match kind {
        OperatorKind::Bash => Operator::Bash(BashTask::from_fields(&f)?),
        OperatorKind::Sql => Operator::Sql(SqlTask::from_fields(&f)?),
        OperatorKind::Python => Operator::Python(PythonTask::from_fields(&f)?),
        OperatorKind::Ruby => Operator::Ruby(RubyTask::from_fields(&f)?),
    };
    let task_id = f.str("task_id");
    if task_id.as_deref().is_some_and(|id| id.trim().is_empty()) {
        return Err(f.err("task_id", "`task_id` is empty"));
    }
    let params = match f.json("params") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    Ok(TaskSpec {
        operator,
        task_id,
        params,
        template_searchpath,
        execution_timeout,
        grace_period,
        do_xcom_push: f.bool("do_xcom_push").unwrap_or(true),
        native: f.bool("render_template_as_native_obj").unwrap_or(false),
        max_xcom_bytes: f.u64("max_xcom_bytes").unwrap_or(DEFAULT_MAX_XCOM_BYTES),
        origin: doc.origin.clone(),
    })
}

/// Seconds (a number, or a string of one) or a humantime duration
/// (`1h 30m`), range-checked by the one rule every duration follows.
fn duration(f: &Fields, key: &str) -> Result<Option<Duration>> {
    let Some(value) = f.json(key) else {
        return Ok(None);
    };
    let bad = || {
        f.err(
            key,
            format!(
                "`{key}` must be seconds (a number) or a duration such as `90s`, `10m`, `1h 30m`"
            ),
        )
    };
    let checked = match &value {
        Value::Number(n) => limits::seconds(n.as_f64().ok_or_else(bad)?),
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(secs) => limits::seconds(secs),
            Err(_) => limits::duration(humantime::parse_duration(s.trim()).map_err(|_| bad())?),
        },
        _ => return Err(bad()),
    };
    checked
        .map(Some)
        .map_err(|why| f.err(key, format!("`{key}` {why}")))
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

    /// The key table (keys.rs) is what validation does: each operator's
    /// required keys are exactly those whose absence is an error, and its
    /// template fields are the ones the renderer visits, in order.
    #[test]
    fn the_key_table_matches_validation() {
        use crate::spec::keys::{self, OperatorKind};
        for op in OperatorKind::ALL {
            let required: Vec<&str> = op.required().collect();
            let minimal: String = required.iter().map(|k| format!("{k}: x\n")).collect();
            let spec = parse(&doc(&format!("operator: {}\n{minimal}", op.name())))
                .unwrap_or_else(|e| panic!("{}: {e}", op.name()));
            assert_eq!(spec.operator.kind(), op);
            for alias in op.aliases() {
                let spec = parse(&doc(&format!("operator: {alias}\n{minimal}"))).unwrap();
                assert_eq!(spec.operator.name(), op.name());
            }
            for missing in &required {
                let rest: String = required
                    .iter()
                    .filter(|k| *k != missing)
                    .map(|k| format!("{k}: x\n"))
                    .collect();
                let e = err(&format!("operator: {}\n{rest}", op.name()));
                assert!(
                    e.contains(&format!("missing required key `{missing}`")),
                    "{}: {e}",
                    op.name()
                );
            }
            for key in op.keys().map(|k| k.name).chain(keys::common()) {
                let text = format!("operator: {}\n{minimal}{key}: {{}}\n", op.name());
                if let Err(e) = parse(&doc(&text)).map_err(|e| e.to_string()) {
                    assert!(
                        !e.contains("unknown key") && !e.contains("does not apply"),
                        "{}: {key}: {e}",
                        op.name()
                    );
                }
            }
            // Every optional template field set, so the renderer lists them all.
            let full: String = op
                .template_fields()
                .iter()
                .filter(|k| !required.contains(k))
                .map(|k| match *k {
                    "env" | "templates_dict" | "op_kwargs" => format!("{k}: {{a: b}}\n"),
                    "op_args" | "args" => format!("{k}: [a]\n"),
                    "parameters" => format!("{k}: {{a: b}}\n"),
                    _ => format!("{k}: x\n"),
                })
                .collect();
            let mut spec = parse(&doc(&format!("operator: {}\n{minimal}{full}", op.name())))
                .unwrap_or_else(|e| panic!("{}: {e}", op.name()));
            let visited: Vec<&str> = spec
                .operator
                .template_fields_mut()
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            assert_eq!(visited, op.template_fields(), "{}", op.name());
        }
    }

    /// Lines come from the parser: a `cwd:` inside a block scalar is text,
    /// and the error names the line of the top-level key (it was line 4).
    #[test]
    fn lines_come_from_the_parser_not_from_the_text() {
        let e = err("operator: bash\nbash_command: |\n  echo hi\n  cwd: not-a-key\ncwd: 5\n");
        assert!(e.contains("line 5, key `cwd`"), "{e}");
        assert!(
            e.contains("`cwd` must be a string (a folder path), got an integer `5`"),
            "{e}"
        );
        // A duplicate names the repeat, whatever the quoting.
        let e = err("operator: bash\nbash_command: x\nenv: {bash_command: y}\n'bash_command': z\n");
        assert!(
            e.contains("line 4, key `bash_command`): duplicate key"),
            "{e}"
        );
        // A flow mapping on one line, and nested entries at their own line.
        let e = err("{operator: bash, bash_command: x, cwd: [1]}");
        assert!(e.contains("line 1, key `cwd`"), "{e}");
        let e = err("operator: sql\nconn_id: c\nsql:\n  - select 1\n  - 2\n");
        assert!(e.contains("line 5, key `sql[1]`"), "{e}");
        let e = err("operator: bash\nbash_command: x\nenv:\n  A: b\n  B: [1]\n");
        assert!(e.contains("line 5, key `env.B`"), "{e}");
        // No line for a payload the user never saw as lines.
        let mut d = doc("operator: bash\nbash_command: x\ncwd: 5\n");
        d.has_lines = false;
        let e = parse(&d).unwrap_err().to_string();
        assert!(!e.contains("line"), "{e}");
    }

    /// As with serde_yaml, a string key takes any scalar as written, while
    /// templated fields, lists and flags keep their types.
    #[test]
    fn scalars_where_strings_are_wanted() {
        let spec = parse(&doc("operator: sql\ntask_id: 0x10\nconn_id: 42\nsql: [select 1, select 2]\ntemplate_searchpath: [a, b]\n")).unwrap();
        assert_eq!(spec.task_id.as_deref(), Some("0x10"));
        let Operator::Sql(t) = &spec.operator else {
            unreachable!()
        };
        assert_eq!(t.conn_id, "42");
        assert_eq!(t.sql, serde_json::json!(["select 1", "select 2"]));
        assert_eq!(spec.template_searchpath.len(), 3);
        assert!(
            err("operator: bash\nbash_command: 5\n")
                .contains("`bash_command` must be a string, got an integer `5`")
        );
        assert!(
            err("operator: bash\nbash_command: x\ndo_xcom_push: yes\n")
                .contains("`do_xcom_push` must be a boolean (true or false), got a string `yes`")
        );
        let spec = parse(&doc("operator: bash\nbash_command: x\nenv: {A: 0x10, B: True}\nskip_on_exit_code: null\nexecution_timeout: null\n")).unwrap();
        let Operator::Bash(b) = &spec.operator else {
            unreachable!()
        };
        assert_eq!(b.env.env, Some(serde_json::json!({"A": "16", "B": "true"})));
        assert!(b.skip_on_exit_code.is_empty());
        assert_eq!(spec.execution_timeout, None);
    }

    #[test]
    fn env_file_paths_resolve_against_the_base_and_default_to_required() {
        let spec = parse(&doc(
            "operator: bash\nbash_command: x\nenv_file: [a.env, /abs/b.env, {path: c.env, required: false}, {path: d.env}]\n",
        ))
        .unwrap();
        let files = &spec.operator.env_spec().unwrap().env_file;
        let want = [
            ("/specs/a.env", true),
            ("/abs/b.env", true),
            ("/specs/c.env", false),
            ("/specs/d.env", true),
        ];
        assert_eq!(files.len(), want.len());
        for (f, (path, required)) in files.iter().zip(want) {
            assert_eq!((f.path.to_str().unwrap(), f.required), (path, required));
        }
        let spec = parse(&doc("operator: ruby\nruby_script: x\nenv_file: .env\n")).unwrap();
        assert_eq!(
            spec.operator.env_spec().unwrap().env_file[0].path,
            PathBuf::from("/specs/.env")
        );
        let mut payload = doc("operator: python\npython_callable: m:f\nenv_file: .env\n");
        payload.base_dir = PathBuf::from("/workdir");
        payload.base = crate::spec::source::Base::WorkingDir;
        let spec = parse(&payload).unwrap();
        assert_eq!(
            spec.operator.env_spec().unwrap().env_file[0].path,
            PathBuf::from("/workdir/.env")
        );
    }

    #[test]
    fn mistyped_env_files_name_the_entry() {
        let e = err("operator: bash\nbash_command: x\nenv_file: 5\n");
        assert!(e.contains("line 3, key `env_file`): `env_file` must be a file path, or a list of file paths and `{path: ..., required: true|false}` mappings, got an integer `5`"), "{e}");
        let e = err("operator: bash\nbash_command: x\nenv_file:\n  - a.env\n  - [b.env]\n");
        assert!(e.contains("line 5, key `env_file[1]`): `env_file` entries must be a file path or a `{path: ..., required: true|false}` mapping, got a list"), "{e}");
        let e =
            err("operator: bash\nbash_command: x\nenv_file:\n  - {path: a.env, required: maybe}\n");
        assert!(e.contains("key `env_file[0].required`): `required` must be a boolean (true or false), got a string `maybe`"), "{e}");
        let e = err("operator: bash\nbash_command: x\nenv_file: [{required: false}]\n");
        assert!(
            e.contains("key `env_file[0]`): an `env_file` entry needs a `path`"),
            "{e}"
        );
        let e = err("operator: bash\nbash_command: x\nenv_file: [{path: a, requird: false}]\n");
        assert!(
            e.contains("unknown key `requird` in an `env_file` entry (its keys: path, required)"),
            "{e}"
        );
        let e = err("operator: bash\nbash_command: x\nenv_file: [{path: 3}]\n");
        assert!(
            e.contains("`path` must be a string (a file path), got an integer `3`"),
            "{e}"
        );
        let e = err("operator: bash\nbash_command: x\nenv_file: ''\n");
        assert!(e.contains("`env_file` paths must not be empty"), "{e}");
        let e = err("operator: sql\nconn_id: c\nsql: x\nenv_file: a.env\n");
        assert!(
            e.contains("key `env_file` does not apply to operator `sql`"),
            "{e}"
        );
    }

    #[test]
    fn unknown_operators_get_a_suggestion() {
        let e = err("operator: bahs\nbash_command: x\n");
        assert!(
            e.contains("unknown operator `bahs`: did you mean `bash`? (expected sql"),
            "{e}"
        );
        assert!(err("operator: nope\n").contains("unknown operator `nope` (expected sql, bash"));
    }
}
