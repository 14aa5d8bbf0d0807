use crate::harness::{Task, context};

#[test]
fn a_connection_password_never_shows() {
    Task::new()
        .spec("operator: bash\nbash_command: 'echo pw={{ conn.warehouse.password }}; echo uri={{ conn.warehouse.get_uri() }}; echo $AIRFLOW_CONN_ENVCONN >&2'\n")
        .context(context())
        .env("AIRFLOW_CONN_ENVCONN", "mysql://u:En%2Fv-Secret-9@h/db")
        .run()
        .exit(0)
        .stdout_has("pw=***")
        .stdout_has("uri=postgres://etl:***@db.internal:5432/dw")
        .stdout_has("mysql://u:***@h/db")
        .never_shows("Wh-Pass-123")
        .never_shows("En/v-Secret-9")
        .never_shows("En%2Fv-Secret-9");
}

#[test]
fn secrets_are_masked_in_errors_and_the_termination_message() {
    // A template error whose message quotes the secret (the variable's name).
    Task::new()
        .spec("operator: bash\nbash_command: 'echo {{ var.value[conn.warehouse.password] }}'\n")
        .context(context())
        .run()
        .exit(67)
        .stderr_has("variable `***` does not exist")
        .termination_has("variable `***` does not exist (set `AIRFLOW_VAR_***`")
        .never_shows("Wh-Pass-123")
        .never_shows("WH-PASS-123");
    Task::new()
        .spec("operator: bash\nbash_command: 'echo failing with {{ conn.warehouse.password }}; exit 2'\n")
        .context(context())
        .args(&["--log-format", "json"])
        .run()
        .exit(2)
        .stdout_has("failing with ***")
        .never_shows("Wh-Pass-123");
}

#[test]
fn sensitive_variables_are_masked_by_name() {
    Task::new()
        .spec("operator: bash\nbash_command: 'echo {{ var.value.api_token }} {{ var.value.plain }} {{ var.value.my_secret_key }}'\n")
        .context(context())
        .env("AIRFLOW_VAR_API_TOKEN", "tok-abcdef-123")
        .env("AIRFLOW_VAR_PLAIN", "visible-value")
        .env("AIRFLOW_VAR_MY_SECRET_KEY", "hush-hush-hush")
        .run()
        .exit(0)
        .stdout_has("*** visible-value ***")
        .never_shows("tok-abcdef-123")
        .never_shows("hush-hush-hush");
}

#[test]
fn configured_sensitive_names_extend_the_defaults() {
    Task::new()
        .spec("operator: bash\nbash_command: 'echo {{ var.value.customer_ssn }}'\n")
        .context(context())
        .env("AIRFLOW_VAR_CUSTOMER_SSN", "123-45-6789")
        .env("AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES", "ssn,iban")
        .run()
        .exit(0)
        .stdout_has("***")
        .never_shows("123-45-6789");
}

#[test]
fn secrets_from_a_mounted_folder_are_masked() {
    let t = Task::new()
        .spec("operator: bash\nbash_command: 'echo {{ conn.vault.password }}'\n")
        .context(context())
        .file(
            "mounted/AIRFLOW_CONN_VAULT",
            "postgres://u:Mounted-Secret-7@h/db\n",
        );
    let dir = t.dir().join("mounted").display().to_string();
    t.env("TASK_RUNNER_SECRETS_DIR", &dir)
        .run()
        .exit(0)
        .stdout_has("***")
        .never_shows("Mounted-Secret-7");
}

#[test]
fn escaped_folded_and_raw_uri_forms_of_secrets_never_show() {
    // A quote and a backslash: JSON logs and `render` escape them.
    Task::new()
        .spec("operator: bash\nbash_command: |\n  cat <<'EOF'\n  {{ var.value.api_key }}\n  EOF\n  exit 3\n")
        .context(context())
        .env("AIRFLOW_VAR_API_KEY", r#"ab"cd\ef99"#)
        .args(&["--log-format", "json"])
        .run()
        .exit(3)
        .stdout_has("***")
        .never_shows(r#"ab"cd\ef99"#)
        .never_shows(r#"ab\"cd\\ef99"#);
    Task::new()
        .spec("operator: bash\nbash_command: 'echo {{ var.value.api_key }}'\n")
        .context(context())
        .env("AIRFLOW_VAR_API_KEY", r#"ab"cd\ef99"#)
        .render()
        .exit(0)
        .stdout_has("echo ***")
        .never_shows(r#"ab\"cd\\ef99"#);
    // The URI as written (lower-case hex) when a task prints its environment.
    Task::new()
        .spec("operator: bash\nbash_command: 'echo \"$AIRFLOW_CONN_X\"'\n")
        .context(context())
        .env("AIRFLOW_CONN_X", "postgres://u:p%40ss%2fw%20rd99@h:5432/db")
        .run()
        .exit(0)
        .stdout_has("postgres://u:***@h:5432/db")
        .never_shows("p%40ss%2fw%20rd99");
    // Whitespace folded into one-line summaries, and an upper-cased key in a hint.
    Task::new()
        .spec("operator: bash\nbash_command: 'echo {{ var.value[var.value.api_secret] }}'\n")
        .context(context())
        .env("AIRFLOW_VAR_API_SECRET", "open  sesame99")
        .run()
        .exit(67)
        .termination_has("variable `***` does not exist (set `AIRFLOW_VAR_***`")
        .never_shows("open  sesame99")
        .never_shows("OPEN  SESAME99");
}

/// What Python's standard library makes of a secret in one call: quote,
/// quote_plus, lower-case hex, json.dumps (ensure_ascii) and repr with both
/// quote kinds. The task prints each; none shows the secret.
#[test]
fn python_standard_library_forms_never_show() {
    let secret = "p@ss wörd'\"/\\x";
    let quoted = "p%40ss%20w%C3%B6rd%27%22%2F%5Cx";
    let script = r#"
import json, urllib.parse
pw = json.loads(open("pw.json").read())
print(json.dumps(pw)); print(repr(pw)); print(urllib.parse.quote_plus(pw))
print(urllib.parse.quote(pw)); print(urllib.parse.quote(pw, safe="").lower())
print(urllib.parse.quote_plus(pw).lower())
"#;
    let task = Task::new()
        .file("pw.py", script)
        .file("pw.json", &serde_json::to_string(secret).unwrap())
        .context(context())
        .env("AIRFLOW_CONN_DB", &format!("postgres://u:{quoted}@db/x"));
    let dir = task.dir().display().to_string();
    let out = task
        .spec(&format!(
            "operator: bash\nbash_command: \"cd {dir} && python3 pw.py\"\n"
        ))
        .run();
    out.exit(0);
    assert_eq!(
        out.stdout
            .lines()
            .filter(|l| l.trim() == "***" || l.trim() == "\"***\"" || l.trim() == "'***'")
            .count(),
        6,
        "{}",
        out.stdout
    );
    for form in ["wörd", "w\\u00f6rd", "w%C3%B6rd", "w%c3%b6rd", "ss+w"] {
        assert!(!out.stdout.contains(form), "{form} shown: {}", out.stdout);
    }
}

/// A JSON variable's sensitive keys, at any depth, are masked as Airflow's
/// mask_secret does; other values are not.
#[test]
fn sensitive_keys_inside_json_variables_are_masked() {
    Task::new()
        .spec("operator: bash\nbash_command: \"echo {{ var.json.cfg.db.password }} {{ var.json.cfg.tokens[0].api_key }} {{ var.json.cfg.region }}\"\n")
        .context(context())
        .env("AIRFLOW_VAR_CFG", r#"{"db": {"password": "nested-Secret-1"}, "tokens": [{"api_key": "k3y-in-a-list"}], "region": "emea-north"}"#)
        .run()
        .exit(0)
        .stdout_has("*** *** emea-north")
        .never_shows("nested-Secret-1")
        .never_shows("k3y-in-a-list");
}

/// A line over 16 MiB is forwarded in pieces; the cut is never placed inside
/// a secret, so no password prints as two clear halves.
#[test]
fn a_secret_across_the_long_line_cut_is_masked() {
    let out = Task::new()
        .spec("operator: bash\nbash_command: 'head -c 16776916 /dev/zero | tr \"\\0\" a; for i in $(seq 30000); do printf %s \"{{ conn.warehouse.password }}\"; done; echo; echo done'\n")
        .context(context())
        .run();
    out.exit(0).xcom(serde_json::json!("done"));
    assert_eq!(
        out.stdout.matches("***").count(),
        30000,
        "every password masked"
    );
    let clear = out.stdout.replace("***", "").replace("done", "");
    let stray: String = clear.chars().filter(|c| *c != 'a' && *c != '\n').collect();
    assert!(
        out.stdout.len() > 16 * 1024 * 1024 && stray.is_empty(),
        "a piece of the password shows: {:?}",
        &stray[..stray.len().min(60)]
    );
}
