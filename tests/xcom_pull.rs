//! `ti.xcom_pull` against the table real Airflow wrote (fixtures/xcom_pull.json, from
//! tools/xcom-pull/generate.py): the selection function for every case and major, and
//! the template's `ti.xcom_pull` through the binary for every case too. The shims read
//! the same table (runners/tests/xcom_pull.py, run by runners/tests/run_tests.sh).

use serde_json::{Value, json};

use task_runner::context::xcom::{self, Caller, Item, MapIndexes, Selection, TaskIds, XComQuery};
use task_runner::context::{Profile, XComEntry};

use crate::harness::{Task, fixture};

fn table() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("xcom_pull.json")).unwrap()).unwrap()
}

fn profile(major: &str) -> Profile {
    match major {
        "2" => Profile::Airflow2,
        _ => Profile::Airflow3,
    }
}

/// The call's arguments as Airflow's signature binds them.
fn query(case: &Value) -> XComQuery {
    let args = case["args"].as_array().unwrap();
    let kwargs = case["kwargs"].as_object().unwrap();
    let names = ["task_ids", "dag_id", "key"];
    let get = |i: usize| args.get(i).or_else(|| kwargs.get(names[i]));
    let texts = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    let mut q = XComQuery {
        task_ids: match get(0) {
            None | Some(Value::Null) => TaskIds::Unset,
            Some(Value::String(s)) => TaskIds::One(s.clone()),
            Some(v) => TaskIds::Many(texts(v)),
        },
        dag_ids: match get(1) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(vec![s.clone()]),
            Some(v) => Some(texts(v)),
        },
        ..XComQuery::default()
    };
    if let Some(key) = get(2) {
        q.key = key.as_str().map(str::to_owned);
    }
    q.map_indexes = match kwargs.get("map_indexes") {
        None => MapIndexes::Unset,
        Some(Value::Null) => MapIndexes::Null,
        Some(Value::Array(ms)) => {
            MapIndexes::Many(ms.iter().map(|m| m.as_i64().unwrap()).collect())
        }
        Some(m) => MapIndexes::One(m.as_i64().unwrap()),
    };
    q.run_id = kwargs
        .get("run_id")
        .map(|r| r.as_str().unwrap_or("").to_string());
    q
}

/// The outcome as the table writes it: `{value, many}` or the error's type.
fn outcome(result: Result<Selection<'_>, xcom::PullError>, default: &Value) -> Value {
    let item = |i: &Item<'_>| match i {
        Item::Entry(e) => e.value.clone(),
        Item::Null => Value::Null,
        Item::Default => default.clone(),
    };
    match result {
        Ok(Selection::One(i)) => json!({"value": item(&i), "many": false}),
        Ok(Selection::Many(items)) => {
            json!({"value": items.iter().map(item).collect::<Vec<_>>(), "many": true})
        }
        Err(e) => json!({"error": error_type(&e.to_string())}),
    }
}

fn error_type(text: &str) -> String {
    text.split(':').next().unwrap().to_string()
}

/// What the table expects, in `outcome`'s form: a list value is "many" when Airflow
/// returned its sequence type (2.x `LazyXComSelectSequence`; 3.x a list nobody stored).
fn expected(expect: &Value, major: &str) -> Value {
    if let Some(error) = expect.get("error") {
        return json!({"error": error_type(error.as_str().unwrap())});
    }
    let kind = expect["type"].as_str().unwrap();
    let many = kind == "LazyXComSelectSequence" || (major == "3" && kind == "list");
    json!({"value": expect["value"], "many": many})
}

/// `many` for 3.x when a stored value is itself a list: the table cannot tell.
fn comparable(mut v: Value, case: &Value) -> Value {
    if case["name"] == "structured_value" {
        v.as_object_mut().map(|o| o.remove("many"));
    }
    v
}

fn rows(table: &Value, case: &Value) -> Vec<XComEntry> {
    serde_json::from_value(table["rows"][case["rows"].as_str().unwrap()].clone()).unwrap()
}

#[test]
fn selection_matches_real_airflow() {
    let table = table();
    let ti = &table["ti"];
    let caller = Caller {
        dag_id: ti["dag_id"].as_str().unwrap(),
        task_id: ti["task_id"].as_str().unwrap(),
        run_id: ti["run_id"].as_str().unwrap(),
    };
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in table["cases"].as_array().unwrap() {
        let entries = rows(&table, case);
        let default = case["kwargs"]
            .get("default")
            .cloned()
            .unwrap_or(Value::Null);
        for (major, expect) in case["expect"].as_object().unwrap() {
            let got = outcome(
                xcom::select(&entries, &query(case), caller, profile(major)),
                &default,
            );
            let want = expected(expect, major);
            checked += 1;
            if comparable(got.clone(), case) != comparable(want.clone(), case) {
                failures.push(format!(
                    "{} (Airflow {major}): got {got}, Airflow {want}",
                    case["name"]
                ));
            }
        }
    }
    assert!(checked > 80, "only {checked} checks");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A JSON value as a Jinja literal.
fn literal(v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(literal).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

fn call_text(case: &Value) -> String {
    let mut parts: Vec<String> = case["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(literal)
        .collect();
    for (k, v) in case["kwargs"].as_object().unwrap() {
        parts.push(format!("{k}={}", literal(v)));
    }
    format!("ti.xcom_pull({})", parts.join(", "))
}

fn payload(table: &Value, case: &Value, major: &str) -> Value {
    let ti = &table["ti"];
    json!({
        "airflow_version": table["airflow_versions"][major],
        "dag_id": ti["dag_id"], "task_id": ti["task_id"], "run_id": ti["run_id"],
        "map_index": ti["map_index"], "logical_date": "2024-06-01T00:00:00+00:00",
        "xcom": table["rows"][case["rows"].as_str().unwrap()],
    })
}

/// Every case through the template's `ti.xcom_pull`: the value (`tojson`), and for a
/// sequence Airflow 2's `LazySelectSequence` repr; an error fails the render.
#[test]
fn template_xcom_pull_matches_real_airflow() {
    let table = table();
    let mut failures = Vec::new();
    for case in table["cases"].as_array().unwrap() {
        for (major, expect) in case["expect"].as_object().unwrap() {
            let call = call_text(case);
            let lazy = expect["type"] == "LazyXComSelectSequence";
            let template = if lazy {
                format!("{{{{ {call} | list | tojson }}}}|||{{{{ {call} }}}}")
            } else {
                format!("{{{{ {call} | tojson }}}}")
            };
            let spec = format!(
                "operator: bash\nbash_command: {}\n",
                serde_json::to_string(&format!("echo '{template}'")).unwrap()
            );
            let out = Task::new()
                .spec(&spec)
                .context(payload(&table, case, major))
                .run();
            let name = format!("{} (Airflow {major}) {call}", case["name"]);
            match expect.get("error") {
                Some(error) => {
                    let wanted = error_type(error.as_str().unwrap());
                    if out.code == 0 || !out.stderr.contains(&wanted) {
                        failures.push(format!(
                            "{name}: want {wanted}, got exit {} {}",
                            out.code, out.stderr
                        ));
                    }
                }
                None => {
                    let line = out
                        .xcom
                        .as_deref()
                        .map(|x| serde_json::from_str::<Value>(x).unwrap());
                    let text = line
                        .as_ref()
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    let (json_part, repr) = text.split_once("|||").unwrap_or((text.as_str(), ""));
                    let got: Option<Value> = serde_json::from_str(json_part).ok();
                    if got.as_ref() != Some(&expect["value"])
                        || (lazy && !repr.starts_with("LazySelectSequence("))
                    {
                        failures.push(format!(
                            "{name}: want {}, got exit {} {text:?} {}",
                            expect["value"], out.code, out.stderr
                        ));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
