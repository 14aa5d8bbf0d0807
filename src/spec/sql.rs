//! `operator: sql`: SQLExecuteQueryOperator's keys (common/sql `operators/sql.py`).

use serde_json::{Map, Value};

use crate::error::Result;
use crate::spec::document::Fields;

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

impl SqlTask {
    pub fn from_fields(f: &Fields) -> Result<SqlTask> {
        let conn_id = f
            .str("conn_id")
            .ok_or_else(|| f.err("conn_id", "missing required key `conn_id`"))?;
        Ok(SqlTask {
            conn_id,
            sql: f.required("sql")?,
            parameters: f.json("parameters"),
            autocommit: f.bool("autocommit").unwrap_or(false),
            split_statements: f.bool("split_statements"),
            return_last: f.bool("return_last").unwrap_or(true),
            output_path: f.json("output_path"),
        })
    }

    pub fn template_fields_mut(&mut self) -> Vec<(&'static str, &mut Value)> {
        let mut fields = vec![("sql", &mut self.sql)];
        if let Some(p) = self.parameters.as_mut() {
            fields.push(("parameters", p));
        }
        if let Some(p) = self.output_path.as_mut() {
            fields.push(("output_path", p));
        }
        fields
    }

    pub fn put_json(&self, m: &mut Map<String, Value>) {
        m.insert("conn_id".into(), self.conn_id.clone().into());
        m.insert("sql".into(), self.sql.clone());
        if let Some(p) = &self.parameters {
            m.insert("parameters".into(), p.clone());
        }
        m.insert("autocommit".into(), self.autocommit.into());
        if let Some(s) = self.split_statements {
            m.insert("split_statements".into(), s.into());
        }
        m.insert("return_last".into(), self.return_last.into());
        if let Some(p) = &self.output_path {
            m.insert("output_path".into(), p.clone());
        }
    }
}
