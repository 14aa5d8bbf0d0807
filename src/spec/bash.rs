//! `operator: bash`: BashOperator's keys (providers/standard `operators/bash.py`).

use serde_json::{Map, Value};

use crate::error::Result;
use crate::spec::document::Fields;
use crate::spec::validate::{EnvSpec, exit_codes};

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

impl BashTask {
    pub fn from_fields(f: &Fields) -> Result<BashTask> {
        // Airflow accepts an empty command (it renders nothing and runs nothing).
        let bash_command = f.required("bash_command")?;
        let script_file = bash_command
            .as_str()
            .is_some_and(|s| s.ends_with(".sh") || s.ends_with(".bash"));
        let output_encoding = f.str("output_encoding").unwrap_or_else(|| "utf-8".into());
        if crate::supervise::Decoder::for_name(&output_encoding).is_none() {
            return Err(f.err(
                "output_encoding",
                format!("unsupported `output_encoding` `{output_encoding}` (supported: utf-8, latin-1, ascii)"),
            ));
        }
        Ok(BashTask {
            bash_command,
            script_file,
            env: EnvSpec::from_fields(f),
            cwd: f.json("cwd"),
            skip_on_exit_code: exit_codes(f, vec![99]),
            output_encoding,
        })
    }

    pub fn template_fields_mut(&mut self) -> Vec<(&'static str, &mut Value)> {
        let mut fields = vec![("bash_command", &mut self.bash_command)];
        if let Some(env) = self.env.env.as_mut() {
            fields.push(("env", env));
        }
        if let Some(cwd) = self.cwd.as_mut() {
            fields.push(("cwd", cwd));
        }
        fields
    }

    pub fn put_json(&self, m: &mut Map<String, Value>) {
        m.insert("bash_command".into(), self.bash_command.clone());
        self.env.put_json(m);
        if let Some(cwd) = &self.cwd {
            m.insert("cwd".into(), cwd.clone());
        }
        m.insert(
            "skip_on_exit_code".into(),
            self.skip_on_exit_code.clone().into(),
        );
        m.insert(
            "output_encoding".into(),
            self.output_encoding.clone().into(),
        );
    }
}
