//! `env_file`: docker compose's `.env` files in the task's environment, for
//! bash, python and ruby; paths, precedence, masking and the errors.

use serde_json::json;

use crate::harness::{Task, context, test_env};

/// Quotes, `export`, comments, interpolation from the file and from the
/// runner's environment, defaults and `$$`, through a real bash.
#[test]
fn bash_gets_the_files_variables_with_compose_syntax() {
    let file = r#"# settings for the load
export REGION=emea   # inline comment
BUCKET = s3://data-${REGION}/raw
GREETING="hello\tworld\n2nd line"
LITERAL='$REGION stays ${NOPE:?no}'
FROM_ENV=${RUNNER_VAR}-$RUNNER_VAR
DEFAULTED=${UNSET_VAR:-fallback}
EMPTY_DEFAULT=${EMPTY_VAR-kept-empty}
ALT=${REGION:+has-region}
PRICE=$$5
RUNNER_VAR
MULTI="a
b"
"#;
    let cmd = r#"printf '%s|' "$REGION" "$BUCKET" "$GREETING" "$LITERAL" "$FROM_ENV" "$DEFAULTED" "[$EMPTY_DEFAULT]" "$ALT" "$PRICE" "$RUNNER_VAR" "$MULTI"; echo"#;
    Task::new()
        .file("app.env", file)
        .spec(&format!(
            "operator: bash\nbash_command: '{}'\nenv_file: app.env\n",
            cmd.replace('\'', "''")
        ))
        .env("RUNNER_VAR", "from-runner")
        .env("EMPTY_VAR", "")
        .context(context())
        .run()
        .exit(0)
        .stdout_has(
            "emea|s3://data-emea/raw|hello\tworld\n2nd line|$REGION stays ${NOPE:?no}|from-runner-from-runner|fallback|[]|has-region|$5|from-runner|a\nb|",
        );
}

/// Later files win, `env` wins over every file, and `append_env: false`
/// (with `env` set) drops the inherited environment but keeps the files'.
#[test]
fn precedence_inherited_then_files_in_order_then_env() {
    let cmd = "bash_command: 'echo ${A}-${B}-${C}-${INHERITED:-dropped}-${AIRFLOW_CTX_DAG_ID}'\n";
    let task = || {
        Task::new()
            .file("one.env", "A=one\nB=one\nC=one\nINHERITED=from-file\n")
            .file("two.env", "B=two\nC=two\n")
            .env("INHERITED", "from-runner")
    };
    // No `env`: inherited, then the files, the later winning.
    task()
        .spec(&format!(
            "operator: bash\n{cmd}env_file: [one.env, two.env]\n"
        ))
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("one-two-two-from-file-sales"));
    // `env` replaces the inherited environment; the files still apply, under it.
    task()
        .spec(&format!(
            "operator: bash\n{cmd}env_file: [two.env]\nenv: {{C: from-env}}\nappend_env: false\n"
        ))
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("-two-from-env-dropped-sales"));
    // `append_env: true`: inherited, files, `env`.
    task()
        .spec(&format!(
            "operator: bash\n{cmd}env_file: [two.env]\nenv: {{C: from-env}}\nappend_env: true\n"
        ))
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("-two-from-env-from-runner-sales"));
}

/// Relative paths resolve against the `--config` file's folder; for a spec
/// from the environment, against the working directory.
#[test]
fn relative_paths_resolve_against_the_spec_folder_else_the_working_directory() {
    let t = Task::new()
        .file(
            "conf/spec.yaml",
            "operator: bash\nbash_command: 'echo $WHERE'\nenv_file: local.env\n",
        )
        .file("conf/local.env", "WHERE=spec-folder\n")
        .file("local.env", "WHERE=working-dir\n");
    let config = t.dir().join("conf/spec.yaml").display().to_string();
    t.args(&["--config", &config])
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("spec-folder"));
    Task::new()
        .file("local.env", "WHERE=working-dir\n")
        .env(
            "TASK_RUNNER_SPEC",
            "operator: bash\nbash_command: 'echo $WHERE'\nenv_file: local.env\n",
        )
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("working-dir"));
}

#[test]
fn a_missing_required_file_is_a_config_error_and_an_optional_one_is_skipped() {
    let out = Task::new()
        .spec("operator: bash\nbash_command: 'echo ran'\nenv_file: [{path: missing.env}]\n")
        .context(context())
        .run();
    out.exit(78)
        .stderr_has("the task cannot run: env_file `")
        .stderr_has("missing.env`: the file does not exist")
        .termination_has("missing.env`: the file does not exist")
        .no_xcom();
    assert!(!out.stdout.contains("ran"), "{}", out.stdout);
    Task::new()
        .file("present.env", "X=present\n")
        .spec("operator: bash\nbash_command: 'echo ${X}-${Y:-none}'\nenv_file:\n  - {path: missing.env, required: false}\n  - present.env\n")
        .args(&["--log-level", "debug"])
        .context(context())
        .run()
        .exit(0)
        .stderr_has("env_file does not exist and is not required: skipped")
        .xcom(json!("present-none"));
}

#[test]
fn a_bad_line_names_the_file_and_line() {
    let t = Task::new()
        .file("bad.env", "GOOD=1\n\nNOT A LINE\n")
        .spec("operator: bash\nbash_command: 'echo ran'\nenv_file: bad.env\n");
    let path = t.dir().join("bad.env").display().to_string();
    t.context(context())
        .run()
        .exit(78)
        .stderr_has(&format!("env_file `{path}:3`: expected `=` after `NOT`"));
    Task::new()
        .file("open.env", "A=1\nB=\"never closed\nC=3\n")
        .spec("operator: bash\nbash_command: 'echo ran'\nenv_file: open.env\n")
        .context(context())
        .run()
        .exit(78)
        .stderr_has("open.env:2`: unterminated double-quoted value of `B`");
    Task::new()
        .file("req.env", "DSN=${DB_HOST:?set DB_HOST in the deployment}\n")
        .spec("operator: bash\nbash_command: 'echo ran'\nenv_file: req.env\n")
        .context(context())
        .run()
        .exit(78)
        .stderr_has(
            "req.env:1`: required variable `DB_HOST` is not set: set DB_HOST in the deployment",
        );
}

#[test]
fn a_file_past_the_size_bound_is_refused() {
    let big = format!("A={}\n", "x".repeat(1024 * 1024));
    Task::new()
        .file("big.env", &big)
        .spec("operator: bash\nbash_command: 'echo ran'\nenv_file: big.env\n")
        .context(context())
        .run()
        .exit(78)
        .stderr_has("big.env`: the file is larger than 1048576 bytes");
}

/// A value under a sensitive name is masked like a variable: in the task's
/// output and in the runner's own log.
#[test]
fn sensitive_values_are_masked_in_output_and_logs() {
    Task::new()
        .file(
            "db.env",
            "DB_PASSWORD=Env-File-Pa55\nDB_USER=etl_loader\nCUSTOMER_IBAN=DE00-1234-5678\n",
        )
        .spec("operator: bash\nbash_command: 'echo pw=$DB_PASSWORD user=$DB_USER iban=$CUSTOMER_IBAN; exit 3'\nenv_file: db.env\n")
        .env("AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES", "iban")
        .context(context())
        .run()
        .exit(3)
        .stdout_has("pw=*** user=etl_loader iban=***")
        .never_shows("Env-File-Pa55")
        .never_shows("DE00-1234-5678");
    // The payload's `sensitive_names` count too.
    let mut ctx = context();
    ctx["sensitive_names"] = json!(["pin_code"]);
    Task::new()
        .file("pin.env", "CARD_PIN_CODE=pin-98765\n")
        .spec("operator: bash\nbash_command: 'echo pin=$CARD_PIN_CODE'\nenv_file: pin.env\n")
        .context(ctx)
        .run()
        .exit(0)
        .stdout_has("pin=***")
        .never_shows("pin-98765");
}

#[test]
fn python_and_ruby_tasks_get_the_files_variables() {
    let files = |t: Task| {
        t.file(
            "a.env",
            "export GREETING='hi there'\nTARGET=${WHO:-world}\n",
        )
        .file("b.env", "TARGET=\"$GREETING, ${TARGET}\"\n")
    };
    files(Task::new())
        .spec(&format!(
            "operator: python\npython: {}\npython_callable: f\npython_source: |\n  import os\n  def f():\n      return os.environ['TARGET']\nenv_file: [a.env, b.env]\nenv: {{WHO: ignored}}\nappend_env: true\n",
            test_env("TR_PYTHON3")
        ))
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("hi there, world"));
    files(Task::new())
        .spec(&format!(
            "operator: ruby\nruby: {}\nruby_script: ENV['TARGET'] + '/' + ENV.fetch('GREETING')\nenv_file: [a.env, b.env]\nenv: {{GREETING: from-env}}\n",
            test_env("TR_RUBY")
        ))
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("hi there, world/from-env"));
}

/// `validate` checks the key's shape (not the files), and `render` shows
/// the resolved paths.
#[test]
fn validate_checks_the_shape_and_render_shows_the_paths() {
    Task::new()
        .spec("operator: bash\nbash_command: x\nenv_file: [{path: a.env, required: yes}]\n")
        .validate()
        .exit(65)
        .stderr_has("line 3, key `env_file[0].required`): `required` must be a boolean (true or false), got a string `yes`");
    let t = Task::new().spec(
        "operator: bash\nbash_command: x\nenv_file: [a.env, {path: /etc/b.env, required: false}]\n",
    );
    let a = t.dir().join("a.env").display().to_string();
    let out = t.context(context()).render();
    out.exit(0);
    let rendered: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        rendered["env_file"],
        json!([{"path": a, "required": true}, {"path": "/etc/b.env", "required": false}])
    );
}

/// `task-runner schema` lists the key for the process operators only.
#[test]
fn the_schema_lists_env_file_for_bash_python_and_ruby() {
    let out = Task::new().run_sub(Some("schema"));
    out.exit(0);
    let schema: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    for (op, takes) in [
        ("bash", true),
        ("python", true),
        ("ruby", true),
        ("sql", false),
    ] {
        let keys = schema["operators"][op]["keys"].as_array().unwrap();
        assert_eq!(keys.contains(&json!("env_file")), takes, "{op}: {keys:?}");
        let fields = schema["operators"][op]["template_fields"]
            .as_array()
            .unwrap();
        assert!(!fields.contains(&json!("env_file")), "{op}: not templated");
    }
}
