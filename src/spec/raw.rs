//! The spec document as written: a serde mirror with `deny_unknown_fields`.
//!
//! One flat struct for every operator, so that serde reports type errors with
//! the YAML line and a key path; `validate` then checks which keys belong to the
//! chosen operator and builds the typed [`crate::spec::TaskSpec`]. (An internally
//! tagged enum would buffer the document and lose the line numbers.)

use serde::Deserialize;
use serde_json::{Map, Value};

/// Every key any operator accepts. Values that may be templated, or that accept
/// several shapes, stay `Value` and are checked in `validate`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    pub operator: Option<String>,
    pub task_id: Option<String>,
    pub params: Option<Map<String, Value>>,
    pub template_searchpath: Option<Value>,
    pub execution_timeout: Option<Value>,
    pub grace_period: Option<Value>,
    pub do_xcom_push: Option<bool>,
    pub render_template_as_native_obj: Option<bool>,
    pub max_xcom_bytes: Option<u64>,

    // Process runners (bash, python, ruby).
    pub env: Option<Value>,
    pub append_env: Option<bool>,
    /// `Some(Null)` is an explicit `null` (never skip), unlike an absent key.
    #[serde(default, deserialize_with = "explicit")]
    pub skip_on_exit_code: Option<Value>,

    // bash
    pub bash_command: Option<Value>,
    pub cwd: Option<Value>,
    pub output_encoding: Option<String>,

    // sql
    pub conn_id: Option<String>,
    pub sql: Option<Value>,
    pub parameters: Option<Value>,
    pub autocommit: Option<bool>,
    pub split_statements: Option<bool>,
    pub return_last: Option<bool>,
    pub output_path: Option<Value>,

    // python
    pub python_callable: Option<String>,
    pub python_source: Option<String>,
    pub op_args: Option<Value>,
    pub op_kwargs: Option<Value>,
    pub templates_dict: Option<Value>,
    pub python: Option<String>,
    pub python_path: Option<Value>,

    // ruby
    pub ruby_script: Option<Value>,
    pub ruby: Option<String>,
    pub args: Option<Value>,
}

fn explicit<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(de).map(Some)
}

/// The keys every operator accepts.
pub const COMMON_KEYS: &[&str] = &[
    "operator",
    "task_id",
    "params",
    "template_searchpath",
    "execution_timeout",
    "grace_period",
    "do_xcom_push",
    "render_template_as_native_obj",
    "max_xcom_bytes",
];

pub const BASH_KEYS: &[&str] = &[
    "bash_command",
    "env",
    "append_env",
    "cwd",
    "skip_on_exit_code",
    "output_encoding",
];

pub const SQL_KEYS: &[&str] = &[
    "conn_id",
    "sql",
    "parameters",
    "autocommit",
    "split_statements",
    "return_last",
    "output_path",
];

pub const PYTHON_KEYS: &[&str] = &[
    "python_callable",
    "python_source",
    "op_args",
    "op_kwargs",
    "templates_dict",
    "python",
    "python_path",
    "env",
    "append_env",
    "skip_on_exit_code",
];

pub const RUBY_KEYS: &[&str] = &[
    "ruby_script",
    "ruby",
    "args",
    "env",
    "append_env",
    "skip_on_exit_code",
];

/// One operator's row of the key table: what validation accepts, what the
/// renderer treats as templated, and what `task-runner schema` prints, so the
/// Airflow-side provider can check its own table against the binary's.
#[derive(Debug)]
pub struct OperatorKeys {
    /// The name the spec's `operator` takes (`bash`, ...).
    pub name: &'static str,
    /// The Airflow class names accepted for it.
    pub aliases: &'static [&'static str],
    /// Its own keys, besides [`COMMON_KEYS`].
    pub keys: &'static [&'static str],
    /// Keys it cannot do without (besides `operator`).
    pub required: &'static [&'static str],
    /// Templated keys, in Airflow's `template_fields` order.
    pub template_fields: &'static [&'static str],
    /// Extensions that make a string field a template file (`template_ext`).
    pub template_ext: &'static [&'static str],
}

pub const BASH: OperatorKeys = OperatorKeys {
    name: "bash",
    aliases: &["BashOperator"],
    keys: BASH_KEYS,
    required: &["bash_command"],
    template_fields: &["bash_command", "env", "cwd"],
    template_ext: &[".sh", ".bash"],
};

pub const SQL: OperatorKeys = OperatorKeys {
    name: "sql",
    aliases: &["SQLExecuteQueryOperator"],
    keys: SQL_KEYS,
    required: &["conn_id", "sql"],
    template_fields: &["sql", "parameters", "output_path"],
    template_ext: &[".sql", ".json"],
};

pub const PYTHON: OperatorKeys = OperatorKeys {
    name: "python",
    aliases: &[
        "PythonOperator",
        "ExternalPythonOperator",
        "PythonVirtualenvOperator",
    ],
    keys: PYTHON_KEYS,
    required: &["python_callable"],
    template_fields: &["templates_dict", "op_args", "op_kwargs", "env"],
    template_ext: &[],
};

pub const RUBY: OperatorKeys = OperatorKeys {
    name: "ruby",
    aliases: &[],
    keys: RUBY_KEYS,
    required: &["ruby_script"],
    template_fields: &["ruby_script", "args", "env"],
    template_ext: &[".rb"],
};

/// Every operator, in the order error messages list them.
pub const OPERATORS: [&OperatorKeys; 4] = [&SQL, &BASH, &PYTHON, &RUBY];

/// The operator a spec's `operator` value names, by name or Airflow class.
pub fn operator(name: &str) -> Option<&'static OperatorKeys> {
    OPERATORS
        .into_iter()
        .find(|op| op.name == name || op.aliases.contains(&name))
}

impl RawSpec {
    /// The keys present in the document, in declaration order.
    pub fn present_keys(&self) -> Vec<&'static str> {
        let flags = [
            ("operator", self.operator.is_some()),
            ("task_id", self.task_id.is_some()),
            ("params", self.params.is_some()),
            ("template_searchpath", self.template_searchpath.is_some()),
            ("execution_timeout", self.execution_timeout.is_some()),
            ("grace_period", self.grace_period.is_some()),
            ("do_xcom_push", self.do_xcom_push.is_some()),
            (
                "render_template_as_native_obj",
                self.render_template_as_native_obj.is_some(),
            ),
            ("max_xcom_bytes", self.max_xcom_bytes.is_some()),
            ("env", self.env.is_some()),
            ("append_env", self.append_env.is_some()),
            ("skip_on_exit_code", self.skip_on_exit_code.is_some()),
            ("bash_command", self.bash_command.is_some()),
            ("cwd", self.cwd.is_some()),
            ("output_encoding", self.output_encoding.is_some()),
            ("conn_id", self.conn_id.is_some()),
            ("sql", self.sql.is_some()),
            ("parameters", self.parameters.is_some()),
            ("autocommit", self.autocommit.is_some()),
            ("split_statements", self.split_statements.is_some()),
            ("return_last", self.return_last.is_some()),
            ("output_path", self.output_path.is_some()),
            ("python_callable", self.python_callable.is_some()),
            ("python_source", self.python_source.is_some()),
            ("op_args", self.op_args.is_some()),
            ("op_kwargs", self.op_kwargs.is_some()),
            ("templates_dict", self.templates_dict.is_some()),
            ("python", self.python.is_some()),
            ("python_path", self.python_path.is_some()),
            ("ruby_script", self.ruby_script.is_some()),
            ("ruby", self.ruby.is_some()),
            ("args", self.args.is_some()),
        ];
        flags
            .iter()
            .filter(|(_, present)| *present)
            .map(|(k, _)| *k)
            .collect()
    }
}
