use serde_json::json;

use crate::harness::{Task, context};

fn render_one(template: &str) -> Task {
    Task::new().spec(&format!(
        "operator: bash\nbash_command: {}\n",
        serde_json::to_string(&format!("echo \"{template}\"")).unwrap()
    ))
}

#[test]
fn basic_keys_render() {
    let template = "{{ ds }}|{{ ds_nodash }}|{{ ts }}|{{ run_id }}|{{ params.region }}|{{ dag_run.conf.full_refresh }}|{{ ti.try_number }}|{{ var.value.threshold }}|{{ conn.warehouse.host }}:{{ conn.warehouse.port }}";
    render_one(template).context(context()).run().exit(0).xcom(json!(
        "2024-06-01|20240601|2024-06-01T00:00:00+00:00|scheduled__2024-06-01T00:00:00+00:00|emea|True|2|0.85|db.internal:5432"
    ));
}

#[test]
fn spec_params_override_context_params() {
    Task::new()
        .spec("operator: bash\nbash_command: echo {{ params.region }}-{{ params.extra }}\nparams: {region: apac, extra: x}\n")
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("apac-x"));
}

#[test]
fn xcom_pull_over_injected_xcoms() {
    render_one("{{ ti.xcom_pull(task_ids='extract') }} {{ ti.xcom_pull(task_ids=['extract']) | list }} {{ ti.xcom_pull(task_ids='nope') }}")
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("[1, 2, 3] [[1, 2, 3]] None"));
}

#[test]
fn airflow_ctx_env_fallback() {
    render_one("{{ dag.dag_id }} {{ task.task_id }} {{ ds }} {{ run_id }} {{ ti.try_number }}")
        .env("AIRFLOW_CTX_DAG_ID", "ctxdag")
        .env("AIRFLOW_CTX_TASK_ID", "ctxtask")
        .env(
            "AIRFLOW_CTX_EXECUTION_DATE",
            "2023-05-08T19:34:56.205505+00:00",
        )
        .env("AIRFLOW_CTX_DAG_RUN_ID", "manual__x")
        .env("AIRFLOW_CTX_TRY_NUMBER", "3")
        .run()
        .exit(0)
        .xcom(json!("ctxdag ctxtask 2023-05-08 manual__x 3"));
}

#[test]
fn logical_date_flag_for_local_runs() {
    render_one("{{ ds }} {{ ts }}")
        .args(&["--logical-date", "2024-02-29"])
        .run()
        .exit(0)
        .xcom(json!("2024-02-29 2024-02-29T00:00:00+00:00"));
}

#[test]
fn connections_uri_json_secrets_dir_and_precedence() {
    let t = Task::new()
        .spec("operator: bash\nbash_command: echo {{ conn.a.login }} {{ conn.b.conn_type }} {{ conn.b.extra_dejson.region }} {{ conn.c.schema }} {{ conn.d.host }}\n")
        .context(context())
        .env("AIRFLOW_CONN_A", "postgresql://env-user:pw%40x@h:5432/db")
        .env("AIRFLOW_CONN_B", r#"{"conn_type": "mysql", "host": "m", "extra": {"region": "eu"}}"#)
        .env("AIRFLOW_CONN_D", "postgres://u@from-env/db")
        .file("secrets/AIRFLOW_CONN_C", "sqlite:///%2Ftmp%2Fx.db\n")
        .file("secrets/AIRFLOW_CONN_D", "postgres://u@from-secret-file/db\n");
    let secrets = t.dir().join("secrets").display().to_string();
    t.env("TASK_RUNNER_SECRETS_DIR", &secrets)
        .run()
        .exit(0)
        .xcom(json!("env-user mysql eu /tmp/x.db from-secret-file"));
}

#[test]
fn variables_from_env_and_payload() {
    render_one("{{ var.value.env_var }} {{ var.json.cfg.k }} {{ var.value.threshold }} {{ var.value.get('missing', 'dflt') }}")
        .context(context())
        .env("AIRFLOW_VAR_ENV_VAR", "from-env")
        .env("AIRFLOW_VAR_CFG", r#"{"k": [1, 2]}"#)
        .run()
        .exit(0)
        .xcom(json!("from-env [1, 2] 0.85 dflt"));
}

#[test]
fn undefined_variable_names_field_and_line() {
    Task::new()
        .spec("operator: bash\nbash_command: \"echo ok\\necho {{ not_a_key }}\"\n")
        .context(context())
        .run()
        .exit(67)
        .stderr_has("`bash_command`")
        .stderr_has("line 2")
        .stderr_has("`not_a_key` is undefined")
        .termination_has("failed to render")
        .no_xcom();
    // An attribute chain is named whole, not from the failing dot.
    render_one("{{ dag_run.nope.x }}")
        .context(context())
        .run()
        .exit(67)
        .stderr_has("`dag_run.nope.x` is undefined");
    // Inside an operator or a list/dict literal (which the runner rewrites
    // into helper calls), the operand is named as written, never the helper.
    for (template, name) in [
        ("{{ nope + 1 }}", "`nope` is undefined"),
        ("{% set a = 1 %}{{ a * b }}", "`b` is undefined"),
        (
            "{{ {'k': missing_val}['k'] }}",
            "`missing_val` is undefined",
        ),
        (
            "{{ [ds, nope.attr] | join(',') }}",
            "`nope.attr` is undefined",
        ),
    ] {
        render_one(template)
            .context(context())
            .run()
            .exit(67)
            .stderr_has(name)
            .never_shows("__tr_");
    }
}

#[test]
fn unknown_connection_and_variable_are_named() {
    render_one("{{ conn.nowhere.host }}")
        .context(context())
        .run()
        .exit(67)
        .stderr_has("connection `nowhere` is not defined")
        .stderr_has("AIRFLOW_CONN_NOWHERE");
    render_one("{{ var.value.nothing }}")
        .context(context())
        .run()
        .exit(67)
        .stderr_has("variable `nothing` does not exist");
}

#[test]
fn bad_connection_uri_is_explained() {
    render_one("{{ conn.broken.host }}")
        .context(context())
        .env("AIRFLOW_CONN_BROKEN", "postgres://u:p@h:notaport/db")
        .run()
        .exit(67)
        .stderr_has("invalid connection `broken`");
}

#[test]
fn an_upstream_xcom_with_a_huge_integer_still_reaches_the_task() {
    // Python tasks return integers of any size; the payload carries them on.
    let raw = r#"{"logical_date": "2024-06-01", "xcom": [{"task_id": "big", "value": 1267650600228229401496703205376}]}"#;
    render_one("{{ ti.xcom_pull(task_ids='big') > 10 ** 29 }}")
        .file("big.json", raw)
        .args(&["--context", "big.json"])
        .run()
        .exit(0)
        .xcom(json!("True"));
}

#[test]
fn airflow_3_ctx_env_selects_the_airflow_3_context() {
    // Airflow 3 exports AIRFLOW_CTX_LOGICAL_DATE; its context has no `execution_date`.
    render_one("{{ ds }} {{ execution_date is defined }}")
        .env("AIRFLOW_CTX_DAG_ID", "d")
        .env("AIRFLOW_CTX_LOGICAL_DATE", "2024-06-01T00:00:00+00:00")
        .run()
        .exit(0)
        .xcom(json!("2024-06-01 False"));
}

#[test]
fn macros_reach_the_clock_and_dateutil_parser() {
    // As Python prints them in a container (UTC, naive unless a tz is given).
    render_one("{{ macros.dateutil.parser.parse('2024/06/01') }}|{{ macros.dateutil.parser.parse('2024-06-01T10:00:00+02:00').hour }}|{{ macros.datetime.fromtimestamp(86400) }}|{{ macros.datetime.utcfromtimestamp(0).isoformat() }}|{{ macros.datetime.now().year > 2000 }}|{{ macros.datetime.now('UTC').tzinfo }}")
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("2024-06-01 00:00:00|10|1970-01-02 00:00:00|1970-01-01T00:00:00|True|UTC"));
}
