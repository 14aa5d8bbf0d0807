use serde_json::json;

use crate::harness::{Task, context};

const ECHO: &str =
    "operator: bash\nbash_command: echo hello {{ params.who }}\nparams: {who: world}\n";

#[test]
fn config_file_yaml_and_json() {
    Task::new()
        .spec(ECHO)
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("hello world"));
    let json_spec = r#"{"operator": "bash", "bash_command": "echo {{ ds }}"}"#;
    Task::new()
        .spec(json_spec)
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("2024-06-01"));
}

#[test]
fn spec_from_stdin() {
    Task::new()
        .args(&["--config", "-"])
        .stdin(ECHO)
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("hello world"));
}

#[test]
fn spec_from_env_raw_base64_and_gzip() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(ECHO);
    let gz = task_runner::spec::source::encode(ECHO);
    for payload in [ECHO.to_string(), b64, gz] {
        Task::new()
            .env("TASK_RUNNER_SPEC", &payload)
            .context(context())
            .run()
            .exit(0)
            .xcom(json!("hello world"));
    }
}

#[test]
fn encode_output_runs_the_same_task() {
    let t = Task::new()
        .spec("operator: bash\nbash_command: greet.sh\nparams: {who: enc}\n")
        .file("greet.sh", "echo encoded {{ params.who }}\n");
    let encoded = t.encode();
    encoded.exit(0);
    let payload = encoded.stdout.trim().to_string();
    assert!(
        !payload.contains(' ') && !payload.is_empty(),
        "one base64 line: {payload}"
    );
    // A fresh folder: the template file was inlined into the payload.
    Task::new()
        .env("TASK_RUNNER_SPEC", &payload)
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("encoded enc"));
}

#[test]
fn encode_with_context_prints_env_lines() {
    let out = Task::new().spec(ECHO).context(context()).encode();
    out.exit(0)
        .stdout_has("TASK_RUNNER_SPEC=")
        .stdout_has("\nTASK_RUNNER_CONTEXT=");
    let mut t = Task::new();
    for line in out.stdout.lines() {
        let (k, v) = line.split_once('=').unwrap();
        t = t.env(k, v);
    }
    t.run().exit(0).xcom(json!("hello world"));
}

/// A context that cannot be decoded is a context error in `encode` as in
/// `run` and `render` (exit 72), not a spec error.
#[test]
fn encode_reports_a_bad_context_as_a_context_error() {
    let t = Task::new().spec(ECHO).file("bad.ctx", "H4sIAAAAAAAA");
    let bad = t.dir().join("bad.ctx").display().to_string();
    t.args(&["--context", &bad])
        .encode()
        .exit(72)
        .stderr_has("invalid context payload")
        .stderr_lacks("decode the spec");
}

#[test]
fn no_subcommand_means_run() {
    Task::new()
        .env("TASK_RUNNER_SPEC", ECHO)
        .env("TASK_RUNNER_CONTEXT", &context().to_string())
        .env("TASK_RUNNER_XCOM_PATH", "out/return.json")
        .bare()
        .exit(0);
}

#[test]
fn validate_accepts_and_rejects() {
    Task::new()
        .spec(ECHO)
        .validate()
        .exit(0)
        .stdout_has("valid `bash` task spec");
    Task::new()
        .spec("operator: bash\nbash_command: x\nretries: 3\n")
        .validate()
        .exit(65)
        .stderr_has("unknown key `retries`");
}

#[test]
fn malformed_yaml_names_the_line() {
    Task::new()
        .spec("operator: bash\nbash_command: [unclosed\n")
        .run()
        .exit(65)
        .stderr_has("line ")
        .termination_has("invalid spec")
        .no_xcom();
}

#[test]
fn unknown_key_names_key_line_and_suggests() {
    Task::new()
        .spec("operator: bash\nbash_comand: echo\n")
        .run()
        .exit(65)
        .stderr_has("line 2")
        .stderr_has("did you mean `bash_command`");
}

/// Lines come from the YAML parser, not from searching the text: a `cwd:`
/// line inside a block scalar is part of the command, and the error points at
/// the top-level key (it used to say line 4). A repeated key is named at its
/// repeat, however it is quoted.
#[test]
fn error_lines_come_from_the_parser() {
    Task::new()
        .spec("operator: bash\nbash_command: |\n  echo hi\n  cwd: not-a-key\ncwd: 5\n")
        .validate()
        .exit(65)
        .stderr_has("line 5, key `cwd`")
        .stderr_has("`cwd` must be a string (a folder path), got an integer `5`");
    Task::new()
        .spec("operator: bash\nbash_command: |\n  bash_command: x\n\"bash_command\": y\n")
        .validate()
        .exit(65)
        .stderr_has("line 4, key `bash_command`): duplicate key `bash_command`");
}

#[test]
fn wrong_type_and_missing_key_and_bad_value() {
    Task::new()
        .spec("operator: bash\nbash_command: x\ndo_xcom_push: sometimes\n")
        .run()
        .exit(65)
        .stderr_has("key `do_xcom_push`");
    Task::new()
        .spec("operator: sql\nsql: select 1\n")
        .run()
        .exit(65)
        .stderr_has("missing required key `conn_id`");
    Task::new()
        .spec("operator: bash\nbash_command: x\nexecution_timeout: whenever\n")
        .run()
        .exit(65)
        .stderr_has("`execution_timeout` must be");
    Task::new()
        .spec("operator: bash\nbash_command: x\nsql: select 1\n")
        .run()
        .exit(65)
        .stderr_has("does not apply to operator `bash`");
}

#[test]
fn missing_inputs() {
    Task::new()
        .args(&["--config", "nope.yaml"])
        .run()
        .exit(66)
        .stderr_has("nope.yaml");
    Task::new().run().exit(66).stderr_has("no task spec given");
    Task::new()
        .env("TASK_RUNNER_SPEC", "@@@@")
        .run()
        .exit(65)
        .stderr_has("TASK_RUNNER_SPEC");
    Task::new()
        .spec(ECHO)
        .args(&["--context", "missing.json"])
        .run()
        .exit(66)
        .stderr_has("missing.json");
}

#[test]
fn bad_context_payload() {
    Task::new()
        .spec(ECHO)
        .env("TASK_RUNNER_CONTEXT", "{\"try_number\": \"two\"}")
        .run()
        .exit(72)
        .stderr_has("try_number");
    Task::new()
        .spec(ECHO)
        .env("TASK_RUNNER_CONTEXT", "{\"logical_date\": \"someday\"}")
        .run()
        .exit(72)
        .stderr_has("logical_date");
}

#[test]
fn render_prints_rendered_spec_masked() {
    let out = Task::new()
        .spec("operator: bash\nbash_command: echo {{ conn.warehouse.password }} {{ ds }}\n")
        .context(context())
        .render();
    out.exit(0)
        .stdout_has("echo *** 2024-06-01")
        .never_shows("Wh-Pass-123");
    let rendered: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(rendered["operator"], "bash");
    let shown = Task::new()
        .spec("operator: bash\nbash_command: echo {{ conn.warehouse.password }}\n")
        .context(context())
        .args(&["--show-secrets"])
        .render();
    shown.exit(0).stdout_has("echo Wh-Pass-123");
}

#[test]
fn global_options_go_before_or_after_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    std::fs::write(&spec, ECHO).unwrap();
    let xcom = dir.path().join("x.json");
    let out = std::process::Command::new(crate::harness::BIN)
        .args([
            "--log-format",
            "json",
            "--log-level",
            "info",
            "run",
            "--logical-date",
            "2024-06-01",
            "--config",
        ])
        .arg(&spec)
        .arg("--xcom-path")
        .arg(&xcom)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"level\":\"INFO\""));
    assert_eq!(std::fs::read_to_string(xcom).unwrap(), "\"hello world\"");
}

/// `task-runner schema` prints the key table, and it is the one the binary
/// validates with: each operator's required keys are required, its keys and
/// the common ones accepted, other operators' keys refused, aliases taken.
#[test]
fn schema_prints_the_key_table_validate_uses() {
    let out = Task::new().run_sub(Some("schema"));
    out.exit(0);
    let schema: serde_json::Value =
        serde_json::from_str(out.stdout.trim()).expect("one JSON object");
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .expect("a list")
            .iter()
            .map(|s| s.as_str().expect("a string").to_string())
            .collect()
    };
    let common = strings(&schema["common"]);
    assert!(
        common.contains(&"operator".to_string()) && common.contains(&"max_xcom_bytes".to_string())
    );
    let operators = schema["operators"].as_object().expect("operators");
    let names: Vec<&String> = operators.keys().collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(strings(&operators["bash"]["aliases"]), ["BashOperator"]);
    assert_eq!(
        strings(&operators["sql"]["template_ext"]),
        [".sql", ".json"]
    );
    assert_eq!(
        strings(&operators["python"]["template_fields"]),
        ["templates_dict", "op_args", "op_kwargs", "env"]
    );
    for (name, op) in operators {
        let required = strings(&op["required"]);
        let keys = strings(&op["keys"]);
        let minimal: String = required.iter().map(|k| format!("{k}: x\n")).collect();
        for alias in std::iter::once(name.clone()).chain(strings(&op["aliases"])) {
            Task::new()
                .spec(&format!("operator: {alias}\n{minimal}"))
                .validate()
                .exit(0);
        }
        for missing in &required {
            let rest: String = required
                .iter()
                .filter(|k| *k != missing)
                .map(|k| format!("{k}: x\n"))
                .collect();
            Task::new()
                .spec(&format!("operator: {name}\n{rest}"))
                .validate()
                .exit(65)
                .stderr_has(&format!("missing required key `{missing}`"));
        }
        for key in keys.iter().chain(&common).filter(|k| *k != "operator") {
            let out = Task::new()
                .spec(&format!("operator: {name}\n{minimal}{key}: {{}}\n"))
                .validate();
            out.stderr_lacks("unknown key")
                .stderr_lacks("does not apply");
        }
        let foreign = operators
            .values()
            .flat_map(|o| strings(&o["keys"]))
            .find(|k| !keys.contains(k))
            .expect("a key of another operator");
        Task::new()
            .spec(&format!("operator: {name}\n{minimal}{foreign}: x\n"))
            .validate()
            .exit(65)
            .stderr_has("does not apply");
    }
}
