//! `operator: python`: PythonOperator's keys (providers/standard `operators/python.py`),
//! plus the interpreter and import roots of the image.

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::error::Result;
use crate::spec::document::Fields;
use crate::spec::validate::{EnvSpec, exit_codes, strings};

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

impl PythonTask {
    pub fn from_fields(f: &Fields) -> Result<PythonTask> {
        let python_callable = f
            .str("python_callable")
            .ok_or_else(|| f.err("python_callable", "missing required key `python_callable`"))?;
        if python_callable.trim().is_empty() {
            return Err(f.err("python_callable", "`python_callable` is empty"));
        }
        let base = &f.doc().base_dir;
        let python_path = f
            .json("python_path")
            .map(|v| strings(&v).into_iter().map(|p| base.join(p)).collect());
        Ok(PythonTask {
            python_callable,
            python_source: f.str("python_source"),
            op_args: f.json("op_args").unwrap_or(Value::Array(vec![])),
            op_kwargs: f.json("op_kwargs").unwrap_or(Value::Object(Map::new())),
            templates_dict: f.json("templates_dict"),
            python: f.str("python").unwrap_or_else(|| "python3".into()),
            python_path,
            python_path_base: f.doc().describe_base(),
            env: EnvSpec::from_fields(f),
            skip_on_exit_code: exit_codes(f, vec![]),
        })
    }

    pub fn template_fields_mut(&mut self) -> Vec<(&'static str, &mut Value)> {
        let mut fields = Vec::new();
        if let Some(d) = self.templates_dict.as_mut() {
            fields.push(("templates_dict", d));
        }
        fields.push(("op_args", &mut self.op_args));
        fields.push(("op_kwargs", &mut self.op_kwargs));
        if let Some(env) = self.env.env.as_mut() {
            fields.push(("env", env));
        }
        fields
    }

    pub fn put_json(&self, m: &mut Map<String, Value>) {
        m.insert(
            "python_callable".into(),
            self.python_callable.clone().into(),
        );
        if let Some(src) = &self.python_source {
            m.insert("python_source".into(), src.clone().into());
        }
        m.insert("op_args".into(), self.op_args.clone());
        m.insert("op_kwargs".into(), self.op_kwargs.clone());
        if let Some(d) = &self.templates_dict {
            m.insert("templates_dict".into(), d.clone());
        }
        m.insert("python".into(), self.python.clone().into());
        let paths: Vec<Value> = self
            .python_path
            .iter()
            .flatten()
            .map(|p| p.display().to_string().into())
            .collect();
        m.insert("python_path".into(), paths.into());
        self.env.put_json(m);
        m.insert(
            "skip_on_exit_code".into(),
            self.skip_on_exit_code.clone().into(),
        );
    }
}
