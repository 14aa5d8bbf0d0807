//! The context payload the Airflow side injects (CONTRACT §3), and the
//! `AIRFLOW_CTX_*` fallback. Unknown keys are ignored: a newer Airflow side may
//! send more than this runner knows.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::spec::Document;

/// A serde message with the offending value left out: "invalid type:
/// string \"postgres://u:pw@h\", expected a map" names the type only. A
/// payload that does not parse has not given its secrets to the masker yet.
/// A message with the key path before it (`try_number: invalid type: ...`)
/// loses the path too: the caller names it.
fn without_values(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(at) = message.find(prefix) {
            let rest = &message[at + prefix.len()..];
            let (got, expected) = rest.rsplit_once(", expected ").unwrap_or((rest, ""));
            // serde's `Unexpected`: `string "x"`, `integer `1``, `map`, ...
            let kind = got
                .split([' ', '"', '`'])
                .take_while(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let mut out = format!("{prefix}a value of type {kind}");
            if !expected.is_empty() {
                out.push_str(&format!(", expected {expected}"));
            }
            return out;
        }
    }
    message.to_string()
}

/// One upstream XCom made available to `ti.xcom_pull`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct XComEntry {
    pub task_id: String,
    #[serde(default = "default_xcom_key")]
    pub key: String,
    #[serde(default)]
    pub value: Value,
    #[serde(default)]
    pub dag_id: Option<String>,
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default = "default_map_index")]
    pub map_index: i64,
}

fn default_xcom_key() -> String {
    "return_value".into()
}

fn default_map_index() -> i64 {
    -1
}

/// The payload as sent. Dates stay strings here; `context::build` parses them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Payload {
    pub dag_id: Option<String>,
    pub task_id: Option<String>,
    pub run_id: Option<String>,
    /// `Some(Value::Null)` is an explicit null (an Airflow 3 manual run).
    #[serde(default, deserialize_with = "explicit")]
    pub logical_date: Option<Value>,
    pub execution_date: Option<String>,
    pub data_interval_start: Option<String>,
    pub data_interval_end: Option<String>,
    pub prev_data_interval_start_success: Option<String>,
    pub prev_data_interval_end_success: Option<String>,
    pub prev_start_date_success: Option<String>,
    pub prev_end_date_success: Option<String>,
    pub start_date: Option<String>,
    pub run_after: Option<String>,
    pub try_number: Option<i64>,
    pub max_tries: Option<i64>,
    pub map_index: Option<i64>,
    pub owner: Option<String>,
    pub email: Option<Value>,
    pub run_type: Option<String>,
    /// Airflow 2's `dag_run.external_trigger`: what makes a run's prev/next
    /// dates its own (`airflow dags test` makes a manual run that is not one).
    pub external_trigger: Option<bool>,
    pub schedule: Option<String>,
    pub airflow_version: Option<String>,
    pub test_mode: Option<bool>,
    #[serde(default)]
    pub params: Map<String, Value>,
    #[serde(default)]
    pub dag_run_conf: Map<String, Value>,
    #[serde(default)]
    pub xcom: Vec<XComEntry>,
    #[serde(default)]
    pub connections: Map<String, Value>,
    #[serde(default)]
    pub variables: Map<String, Value>,
    /// Extra sensitive names, as Airflow's `[core] sensitive_var_conn_names`.
    #[serde(default)]
    pub sensitive_names: Vec<String>,
}

fn explicit<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> std::result::Result<Option<Value>, D::Error> {
    Value::deserialize(de).map(Some)
}

impl Payload {
    /// Parses a payload document (JSON, or YAML for hand-written local files).
    pub fn parse(doc: &Document) -> Result<Payload> {
        let fail = |path: String, inner: String| {
            let inner = without_values(inner.split(" at line ").next().unwrap_or(&inner));
            Error::Context {
                origin: doc.origin.clone(),
                message: if path == "." || path.is_empty() {
                    inner
                } else {
                    format!("key `{path}`: {inner}")
                },
            }
        };
        // JSON (what the Airflow side sends) through serde_json: it reads any
        // number, where YAML's integers stop at 64 bits (an upstream XCom may
        // hold 2**100; it arrives as the nearest float rather than failing).
        // Its own depth limit (128) is off: Python writes JSON up to ~1000
        // levels deep, and the document's depth was bounded when it was read
        // (`limits::MAX_DEPTH`, checked in `spec::source`).
        if doc.text.trim_start().starts_with('{') {
            let mut de = serde_json::Deserializer::from_str(&doc.text);
            de.disable_recursion_limit();
            return serde_path_to_error::deserialize(&mut de)
                .map_err(|err| fail(err.path().to_string(), err.into_inner().to_string()));
        }
        let value =
            crate::spec::yaml::to_json(&doc.text).map_err(|e| fail(e.path.clone(), e.message))?;
        serde_path_to_error::deserialize(value)
            .map_err(|err| fail(err.path().to_string(), err.into_inner().to_string()))
    }

    /// The payload `AIRFLOW_CTX_*` env vars describe, as Airflow exports them to
    /// every task process (`context_to_airflow_vars`).
    pub fn from_airflow_ctx(env: &Environ) -> Payload {
        let get = |k: &str| {
            env.get(&format!("AIRFLOW_CTX_{k}"))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let logical = get("LOGICAL_DATE").or_else(|| get("EXECUTION_DATE"));
        // Airflow 3 exports AIRFLOW_CTX_LOGICAL_DATE, Airflow 2 EXECUTION_DATE.
        let airflow_version = (get("LOGICAL_DATE").is_some() && get("EXECUTION_DATE").is_none())
            .then(|| "3".to_string());
        Payload {
            dag_id: get("DAG_ID"),
            task_id: get("TASK_ID"),
            run_id: get("DAG_RUN_ID"),
            logical_date: logical.map(Value::String),
            try_number: get("TRY_NUMBER").and_then(|v| v.parse().ok()),
            owner: get("DAG_OWNER"),
            email: get("DAG_EMAIL").map(Value::String),
            airflow_version,
            ..Payload::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> String {
        let doc = Document {
            text: text.into(),
            origin: "test".into(),
            base_dir: "/".into(),
            base: crate::spec::source::Base::WorkingDir,
            has_lines: true,
        };
        Payload::parse(&doc).unwrap_err().to_string()
    }

    /// A YAML payload's type error once named the value after the YAML
    /// library's own key prefix (found with the `context_payload` fuzz target):
    /// a payload that does not parse has not given its secrets to the masker.
    #[test]
    fn type_errors_leave_the_value_out_in_yaml_and_json() {
        for text in [
            "try_number: 'postgres://u:Sekr1t@h'\n",
            "{\"try_number\": \"postgres://u:Sekr1t@h\"}",
            "params: {a: 1}\nconnections: 'postgres://u:Sekr1t@h'\n",
        ] {
            let message = parse(text);
            assert!(!message.contains("Sekr1t"), "{message}");
            assert!(message.contains("a value of type string"), "{message}");
        }
        let message = parse("try_number: 99999999999999999999999\n");
        assert!(!message.contains("99999"), "{message}");
    }
}
