//! `operator: ruby`: a Ruby script run through the shim (the runner's own kind).

use serde_json::{Map, Value};

use crate::error::Result;
use crate::spec::document::Fields;
use crate::spec::validate::{EnvSpec, exit_codes};

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

impl RubyTask {
    pub fn from_fields(f: &Fields) -> Result<RubyTask> {
        let ruby_script = f.required("ruby_script")?;
        let script_name = ruby_script
            .as_str()
            .filter(|s| s.ends_with(".rb"))
            .map(str::to_owned);
        Ok(RubyTask {
            ruby_script,
            script_name,
            ruby: f.str("ruby").unwrap_or_else(|| "ruby".into()),
            args: f.json("args").unwrap_or(Value::Array(vec![])),
            env: EnvSpec::from_fields(f),
            skip_on_exit_code: exit_codes(f, vec![]),
        })
    }

    pub fn template_fields_mut(&mut self) -> Vec<(&'static str, &mut Value)> {
        let mut fields = vec![
            ("ruby_script", &mut self.ruby_script),
            ("args", &mut self.args),
        ];
        if let Some(env) = self.env.env.as_mut() {
            fields.push(("env", env));
        }
        fields
    }

    pub fn put_json(&self, m: &mut Map<String, Value>) {
        m.insert("ruby_script".into(), self.ruby_script.clone());
        m.insert("ruby".into(), self.ruby.clone().into());
        m.insert("args".into(), self.args.clone());
        self.env.put_json(m);
        m.insert(
            "skip_on_exit_code".into(),
            self.skip_on_exit_code.clone().into(),
        );
    }
}
