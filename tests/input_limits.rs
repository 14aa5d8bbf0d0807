//! Inputs at and past their bounds (README "Limits"): each ends in a clear
//! error and an exit code, never a panic, a stack overflow or an unbounded
//! allocation, and before the task has done anything.

use std::os::unix::ffi::OsStringExt;

use nix::sys::signal::Signal;
use serde_json::json;

use crate::harness::{Task, context};

/// A bash task that leaves a file behind if it ever runs.
fn side_effect(extra: &str) -> String {
    format!("operator: bash\nbash_command: touch ran && echo done\n{extra}")
}

#[test]
fn durations_past_ten_years_are_refused_when_the_spec_is_read() {
    for value in [
        "1e20",
        "18446744073709551615",
        "1e19",
        "'inf'",
        "-5",
        "'4000 days'",
    ] {
        Task::new()
            .spec(&side_effect(&format!("execution_timeout: {value}\n")))
            .validate()
            .exit(65)
            .stderr_has("key `execution_timeout`")
            .stderr_lacks("panicked");
    }
    // Refused before the task runs: no side effect, no XCom.
    let out = Task::new()
        .spec(&side_effect("execution_timeout: 1e19\n"))
        .context(context())
        .run();
    out.exit(65)
        .stderr_has("`execution_timeout` must be at most 10 years")
        .no_xcom();
    assert!(!out.dir.path().join("ran").exists(), "the task ran");
    let out = Task::new()
        .spec(&side_effect("grace_period: 1e19\n"))
        .context(context())
        .run();
    out.exit(65)
        .stderr_has("`grace_period` must be at most 10 years");
    assert!(!out.dir.path().join("ran").exists(), "the task ran");
}

#[test]
fn the_longest_durations_still_run_and_stop() {
    // Ten years of timeout and of grace: the timers hold them, and SIGTERM
    // still stops the task (the shell dies on it, no SIGKILL needed).
    let running = Task::new()
        .spec("operator: bash\nbash_command: echo ready; sleep 30\nexecution_timeout: 3650days\ngrace_period: 315360000\n")
        .context(context())
        .spawn(Some("run"));
    running.wait_for_stdout("ready");
    running.signal(Signal::SIGTERM);
    running
        .wait()
        .exit(143)
        .stderr_lacks("panicked")
        .termination_has("stopped by SIGTERM");
}

#[test]
fn a_connect_timeout_out_of_range_is_a_connection_error() {
    for url in [
        "sqlite:///:memory:?connect_timeout=1e20",
        "sqlite:///:memory:?connect_timeout=inf",
        r#"{"conn_type": "sqlite", "host": ":memory:", "extra": {"connect_timeout": 1e20}}"#,
    ] {
        Task::new()
            .env("AIRFLOW_CONN_DB", url)
            .spec("operator: sql\nconn_id: db\nsql: select 1\n")
            .context(context())
            .run()
            .exit(68)
            .stderr_has("`connect_timeout` in extra must")
            .stderr_lacks("panicked")
            .no_xcom();
    }
}

/// `[[[...1...]]]`, `n` lists deep, as JSON text (a `Value` that deep
/// would overflow this test's own stack).
fn nested(n: usize) -> String {
    format!("{}1{}", "[".repeat(n), "]".repeat(n))
}

/// The shared context with the JSON text `value` put at `key`, passed with `--context`.
fn context_with(t: Task, key: &str, value: &str) -> Task {
    let mut ctx = context();
    ctx[key] = json!("@VALUE@");
    let text = ctx.to_string().replace("\"@VALUE@\"", value);
    t.file("context.json", &text)
        .args(&["--context", "context.json"])
}

#[test]
fn a_deeply_nested_context_is_refused_with_its_path() {
    let echo = "operator: bash\nbash_command: echo {{ ds }}\n";
    let deep = nested(8000);
    let cases = [
        (
            "params",
            format!("{{\"tree\": {deep}}}"),
            "params.tree[0][0]",
        ),
        (
            "dag_run_conf",
            format!("{{\"tree\": {deep}}}"),
            "dag_run_conf.tree[0]",
        ),
        (
            "xcom",
            format!("[{{\"task_id\": \"up\", \"value\": {deep}}}]"),
            "xcom[0].value[0][0]",
        ),
    ];
    for (key, value, path) in cases {
        for sub in ["run", "render"] {
            context_with(Task::new().spec(echo), key, &value)
                .run_sub(Some(sub))
                .exit(72)
                .stderr_has("more than 256 levels deep")
                .stderr_has(path)
                .termination_has("invalid context payload")
                .no_xcom();
        }
    }
}

#[test]
fn a_context_nested_to_the_limit_still_renders_and_runs() {
    // 256 levels in all: the payload's own three (root, `xcom`, the entry)
    // and the value's 253, through the parser, the templates and the task.
    let value = format!("[{{\"task_id\": \"up\", \"value\": {}}}]", nested(253));
    context_with(
        Task::new().spec(
            "operator: bash\nbash_command: \"echo {{ ti.xcom_pull(task_ids='up') | tojson | length }}\"\n",
        ),
        "xcom",
        &value,
    )
    .run()
    .exit(0)
    .xcom(json!("507"));
}

#[test]
fn a_spec_200k_levels_deep_is_refused_at_once() {
    // 633 bytes of base64+gzip: the YAML scanner would take minutes over it.
    let spec = format!(
        "operator: bash\nbash_command: echo\nparams: {{a: {}{}}}\n",
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    let payload = task_runner::spec::source::encode(&spec);
    assert!(payload.len() < 2000, "{}", payload.len());
    Task::new()
        .env("TASK_RUNNER_SPEC", &payload)
        .validate()
        .exit(65)
        .stderr_has("more than 256 levels deep")
        .stderr_has("key `a[0][0]");
}

#[test]
fn a_gzip_bomb_stops_at_the_payload_cap() {
    // 50 MB of blanks gzip to ~50 KB; with a 1 MB cap the inflater stops there.
    let bomb = task_runner::spec::source::encode(&format!(
        "operator: bash\nbash_command: echo\n{}",
        " ".repeat(50_000_000)
    ));
    let t = Task::new()
        .file("spec.b64", &bomb)
        .env("TASK_RUNNER_SPEC_FILE", "spec.b64")
        .env("TASK_RUNNER_MAX_PAYLOAD_BYTES", "1000000");
    t.validate()
        .exit(65)
        .stderr_has("decodes to more than 1000000 bytes")
        .stderr_has("TASK_RUNNER_MAX_PAYLOAD_BYTES");
    // The same bomb as the context: the context's exit code.
    Task::new()
        .spec("operator: bash\nbash_command: echo hi\n")
        .file("ctx.b64", &bomb)
        .env("TASK_RUNNER_CONTEXT_FILE", "ctx.b64")
        .env("TASK_RUNNER_MAX_PAYLOAD_BYTES", "1000000")
        .run()
        .exit(72)
        .stderr_has("decodes to more than 1000000 bytes")
        .no_xcom();
    // Under the default cap (64 MiB) the same payload is read whole.
    Task::new()
        .file("spec.b64", &bomb)
        .env("TASK_RUNNER_SPEC_FILE", "spec.b64")
        .validate()
        .exit(0);
    Task::new()
        .spec("operator: bash\nbash_command: echo hi\n")
        .env("TASK_RUNNER_MAX_PAYLOAD_BYTES", "lots")
        .validate()
        .exit(78)
        .stderr_has("TASK_RUNNER_MAX_PAYLOAD_BYTES");
}

#[test]
fn render_and_validate_into_a_broken_stdout_fail_cleanly() {
    let spec = "operator: bash\nbash_command: echo {{ ds }}\n";
    Task::new()
        .spec(spec)
        .context(context())
        .closed_stdout()
        .render()
        .exit(74)
        .stderr_has("failed to write the output to stdout")
        .stderr_lacks("panicked");
    Task::new()
        .spec(spec)
        .closed_stdout()
        .validate()
        .exit(74)
        .stderr_lacks("panicked");
    // A full disk.
    Task::new()
        .spec(spec)
        .wrapped(&["sh", "-c", "exec \"$0\" \"$@\" > /dev/full"])
        .validate()
        .exit(74)
        .stderr_has("failed to write the output to stdout")
        .stderr_lacks("panicked");
}

#[test]
fn env_values_that_are_not_utf8_reach_the_task_unchanged() {
    Task::new()
        .spec(
            "operator: bash\nbash_command: printf %s \"$FILE_NAME\" | od -An -tx1 | tr -d ' \\n'\n",
        )
        .env_os(
            "FILE_NAME",
            std::ffi::OsString::from_vec(b"caf\xe9.csv".to_vec()),
        )
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("636166e92e637376"));
}

/// A spec in `specs/` whose `bash_command` names `outside.sh`, one folder up,
/// relatively or by its absolute path.
fn outside_spec(absolute: bool) -> Task {
    let t = Task::new().file("outside.sh", "echo outside\n");
    let name = if absolute {
        t.dir().join("outside.sh").display().to_string()
    } else {
        "../outside.sh".to_string()
    };
    t.file(
        "specs/spec.yaml",
        &format!("operator: bash\nbash_command: {name}\n"),
    )
    .args(&["--config", "specs/spec.yaml"])
}

#[test]
fn encode_refuses_template_files_outside_the_search_path() {
    for absolute in [false, true] {
        outside_spec(absolute)
            .encode()
            .exit(67)
            .stderr_has("not found in the template search path");
        // `render` (and `run`) have the same rule.
        outside_spec(absolute)
            .context(context())
            .render()
            .exit(67)
            .stderr_has("not found in the template search path");
    }
    // Inside the search path, encode inlines as before.
    Task::new()
        .file("specs/inside.sh", "echo inside\n")
        .file(
            "specs/spec.yaml",
            "operator: bash\nbash_command: inside.sh\n",
        )
        .args(&["--config", "specs/spec.yaml"])
        .encode()
        .exit(0);
}

#[test]
fn a_malformed_context_never_quotes_its_values() {
    // `connections` as a URI string instead of a mapping.
    context_with(
        Task::new().spec("operator: bash\nbash_command: echo hi\n"),
        "connections",
        r#""postgres://etl:Ctx-Pass-777@db.internal:5432/dw""#,
    )
    .run()
    .exit(72)
    .stderr_has("key `connections`")
    // Where the value would be quoted: its type.
    .stderr_has("invalid type: a value of type string, expected a map")
    .termination_has("invalid type: a value of type string, expected a map")
    .never_shows("Ctx-Pass-777")
    .never_shows("db.internal");
}

#[test]
fn environment_secrets_are_masked_before_anything_is_parsed() {
    // The spec error quotes the value; the env connection's password is masked.
    for sub in ["validate", "render", "run"] {
        let t = Task::new()
            .env(
                "AIRFLOW_CONN_WAREHOUSE",
                "postgres://etl:Env-Pass-4242@db/dw",
            )
            .spec("operator: bash\nbash_command: echo\ndo_xcom_push: Env-Pass-4242\n");
        let t = if sub == "validate" {
            t
        } else {
            t.context(context())
        };
        t.run_sub(Some(sub))
            .exit(65)
            .stderr_has("`do_xcom_push` must be a boolean (true or false), got a string `***`")
            .termination_has("must be a boolean (true or false), got a string `***`")
            .never_shows("Env-Pass-4242");
    }
    // A malformed context, with the password where a number belongs.
    context_with(
        Task::new()
            .env(
                "AIRFLOW_CONN_WAREHOUSE",
                "postgres://etl:Env-Pass-4242@db/dw",
            )
            .spec("operator: bash\nbash_command: echo\n"),
        "try_number",
        r#""Env-Pass-4242""#,
    )
    .run()
    .exit(72)
    .stderr_has("key `try_number`")
    // Where the value would be quoted: its type.
    .stderr_has("invalid type: a value of type string, expected i64")
    .never_shows("Env-Pass-4242");
}
