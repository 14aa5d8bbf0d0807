//! Differential template tests: every case of `fixtures/templates/cases.yaml`
//! rendered by `task-runner render` must match what real Airflow rendered
//! (`fixtures/templates/expected/airflow-{2,3}.json`, made by
//! `tools/airflow-fixtures/regenerate.sh`), unless the case is listed in
//! `fixtures/templates/known-differences.yaml` with its reason (and the README).

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::{Map, Value, json};

use crate::harness::{BIN, fixture};

struct Suite {
    default_context: Map<String, Value>,
    default_env: BTreeMap<String, String>,
    cases: Vec<Value>,
}

fn suite() -> Suite {
    let text = std::fs::read_to_string(fixture("templates/cases.yaml")).unwrap();
    let doc: Value = task_runner::spec::yaml::to_json(&text).unwrap();
    let default_env = doc["default_env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    Suite {
        default_context: doc["default_context"].as_object().unwrap().clone(),
        default_env,
        cases: doc["cases"].as_array().unwrap().clone(),
    }
}

/// Known differences: case name -> reason, per profile.
fn known(profile: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(fixture("templates/known-differences.yaml")).unwrap();
    let doc: Value = task_runner::spec::yaml::to_json(&text).unwrap();
    doc.get(profile)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Debug)]
enum Got {
    Ok(Value),
    Err(String),
}

fn render_case(suite: &Suite, case: &Value, airflow_version: &str, dir: &std::path::Path) -> Got {
    let name = case["name"].as_str().unwrap();
    let mut context = suite.default_context.clone();
    if let Some(over) = case.get("context").and_then(Value::as_object) {
        for (k, v) in over {
            context.insert(k.clone(), v.clone());
        }
    }
    context
        .entry("airflow_version")
        .or_insert_with(|| airflow_version.into());
    let native = case.get("native").and_then(Value::as_bool).unwrap_or(false);
    let mut spec = Map::new();
    if let Some(template) = case.get("template") {
        spec.insert("operator".into(), "bash".into());
        spec.insert("bash_command".into(), template.clone());
    } else if env_like(&case["field"]) {
        // As the generator does: the field is a BashOperator's `env`, so its
        // `.sh` values are template files and a falsy field is skipped.
        spec.insert("operator".into(), "bash".into());
        spec.insert("bash_command".into(), "true".into());
        spec.insert("env".into(), case["field"].clone());
    } else {
        // Any other structure: rendered recursively as Airflow renders any
        // templated field (op_args of a PythonOperator here).
        spec.insert("operator".into(), "python".into());
        spec.insert("python_callable".into(), "unused".into());
        spec.insert("op_args".into(), json!([case["field"].clone()]));
    }
    if native {
        spec.insert("render_template_as_native_obj".into(), true.into());
    }
    let case_dir = dir.join(name);
    std::fs::create_dir_all(&case_dir).unwrap();
    let spec_path = case_dir.join("spec.json");
    let ctx_path = case_dir.join("context.json");
    std::fs::write(&spec_path, Value::Object(spec).to_string()).unwrap();
    std::fs::write(&ctx_path, Value::Object(context).to_string()).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("render")
        .arg("--show-secrets")
        .arg("--config")
        .arg(&spec_path)
        .arg("--context")
        .arg(&ctx_path);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in &suite.default_env {
        cmd.env(k, v);
    }
    if let Some(env) = case.get("env").and_then(Value::as_object) {
        for (k, v) in env {
            cmd.env(k, v.as_str().unwrap_or_default());
        }
    }
    let out = cmd.output().unwrap();
    if !out.status.success() {
        return Got::Err(format!(
            "exit {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let rendered: Value = serde_json::from_slice(&out.stdout).unwrap();
    if case.get("template").is_some() {
        Got::Ok(rendered["bash_command"].clone())
    } else if env_like(&case["field"]) {
        Got::Ok(rendered["env"].clone())
    } else {
        Got::Ok(rendered["op_args"][0].clone())
    }
}

/// A mapping of scalars: what a bash `env` can hold.
fn env_like(field: &Value) -> bool {
    field
        .as_object()
        .is_some_and(|m| !m.is_empty() && m.values().all(|v| v.is_string()))
}

/// Compares one case; `None` is a match.
fn compare(expected: &Value, got: &Got) -> Option<String> {
    let want = if let Some(v) = expected.get("output") {
        v
    } else if let Some(v) = expected.get("field") {
        v
    } else if expected.get("error").is_some() || expected.get("error_on_use").is_some() {
        return match got {
            Got::Err(_) => None,
            Got::Ok(v) => Some(format!("expected an error {}, rendered {v}", expected)),
        };
    } else {
        expected.get("native").unwrap_or(&Value::Null)
    };
    match got {
        Got::Ok(v) if json_eq(v, want) => None,
        Got::Ok(v) => Some(format!("expected {want}, rendered {v}")),
        Got::Err(e) => Some(format!("expected {want}, failed: {e}")),
    }
}

/// JSON equality where 1 and 1.0 differ (Python's int vs float) but key order does not matter.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x.is_f64() == y.is_f64() && x.as_f64() == y.as_f64()
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn run_profile(profile: &str, expected_file: &str) {
    let suite = suite();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(expected_file)).unwrap()).unwrap();
    let version = expected["airflow_version"].as_str().unwrap().to_string();
    let known = known(profile);
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<&Value> = suite
        .cases
        .iter()
        .filter(|c| {
            let name = c["name"].as_str().unwrap();
            expected["cases"].get(name).is_some()
        })
        .collect();
    assert!(
        cases.len() >= 150,
        "only {} cases for {profile}",
        cases.len()
    );
    let results: Vec<(String, Option<String>)> = std::thread::scope(|s| {
        let chunks: Vec<_> = cases.chunks(cases.len().div_ceil(4)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let (suite, expected, version, dir) = (&suite, &expected, &version, dir.path());
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|case| {
                            let name = case["name"].as_str().unwrap().to_string();
                            let got = render_case(suite, case, version, dir);
                            let diff = compare(&expected["cases"][&name], &got);
                            (name, diff)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let mut unexpected = Vec::new();
    let mut fixed = Vec::new();
    for (name, diff) in &results {
        match (diff, known.contains_key(name)) {
            (Some(d), false) => unexpected.push(format!("{name}: {d}")),
            (None, true) => fixed.push(name.clone()),
            _ => {}
        }
    }
    let passed = results.iter().filter(|(_, d)| d.is_none()).count();
    eprintln!(
        "{profile}: {passed} of {} cases match real Airflow {version}; {} known differences",
        results.len(),
        known.len()
    );
    assert!(
        unexpected.is_empty() && fixed.is_empty(),
        "{} cases differ from Airflow {version} and are not known differences:\n{}\n\nknown differences that now pass (remove them from the list): {fixed:?}",
        unexpected.len(),
        unexpected.join("\n")
    );
}

#[test]
fn templates_render_as_airflow_2() {
    run_profile("airflow2", "templates/expected/airflow-2.json");
}

#[test]
fn templates_render_as_airflow_3() {
    run_profile("airflow3", "templates/expected/airflow-3.json");
}
