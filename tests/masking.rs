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
fn every_file_in_the_secrets_folder_is_masked() {
    let aws = "[default]\naws_access_key_id = AKIAMOUNTED0001\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCY\nregion = eu-west-1\nmax_attempts = 30000\n";
    let t = Task::new()
        .context(context())
        .file("secrets/aws", aws)
        .file("secrets/my.cnf", "[client]\nuser = reporting\npassword = \"My Cnf Pass 42\"\n")
        .file("secrets/token", "ghp_SingleValueToken123\n")
        .file("secrets/sa.json", r#"{"type": "service_account", "private_key": "-----BEGIN KEY-----\nJsonKeyLine0001\n-----END KEY-----\n"}"#)
        .file("secrets/..2026_12_01/k8s-token", "tok-through-data-link\n")
        .file("secrets/keytab", "\u{5}\u{2}\u{0}\u{0}binary-not-read");
    let dir = t.dir().join("secrets");
    std::os::unix::fs::symlink("..2026_12_01", dir.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/k8s-token", dir.join("k8s-token")).unwrap();
    let cwd = t.dir().display().to_string();
    t.spec(&format!("operator: bash\ncwd: {cwd}\nbash_command: 'cat secrets/aws secrets/my.cnf secrets/token secrets/sa.json; echo; echo k8s $(cat secrets/k8s-token)'\n"))
        .env("TASK_RUNNER_SECRETS_DIR", &dir.display().to_string())
        .run()
        .exit(0)
        .stdout_has("aws_access_key_id = ***")
        .stdout_has("aws_secret_access_key = ***")
        .stdout_has("region = ***")
        // A number is a setting, not a secret, unless its key is sensitive.
        .stdout_has("max_attempts = 30000")
        .stdout_has("password = \"***\"")
        .stdout_has("\n***\n")
        .stdout_has("k8s ***")
        .never_shows("AKIAMOUNTED0001")
        .never_shows("wJalrXUtnFEMI/K7MDENG/bPxRfiCY")
        .never_shows("My Cnf Pass 42")
        .never_shows("ghp_SingleValueToken123")
        .never_shows("JsonKeyLine0001")
        .never_shows("tok-through-data-link");
}

#[test]
fn a_named_secrets_folder_that_is_missing_is_an_error() {
    Task::new()
        .spec("operator: bash\nbash_command: 'echo never-runs'\n")
        .context(context())
        .env("TASK_RUNNER_SECRETS_DIR", "/nonexistent/secrets-folder")
        .run()
        .exit(66)
        .stderr_has("secrets folder (TASK_RUNNER_SECRETS_DIR) `/nonexistent/secrets-folder`")
        .never_shows("never-runs");
}

/// `/run/secrets` is read when `TASK_RUNNER_SECRETS_DIR` is not set, in a
/// real container as docker compose mounts secrets; `TASK_RUNNER_SECRETS_DIR=""`
/// turns it off.
#[test]
fn run_secrets_is_the_default_folder_in_a_container() {
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(
        secrets.path().join("AIRFLOW_CONN_WAREHOUSE"),
        "postgres://etl:Run-Secrets-Pw-1@db:5432/dw\n",
    )
    .unwrap();
    std::fs::write(
        secrets.path().join("aws"),
        "[default]\naws_secret_access_key = RunSecretsAwsKey0001\n",
    )
    .unwrap();
    let mount = format!("{}:/run/secrets:ro", secrets.path().display());
    let run = |spec: &str, extra: &[&str]| {
        let spec_env = format!(
            "TASK_RUNNER_SPEC={}",
            task_runner::spec::source::encode(spec)
        );
        let mut args = vec!["run", "--rm", "-v", &mount, "-e", &spec_env];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[
            crate::docker::image(),
            "run",
            "--logical-date",
            "2024-06-01",
            "--xcom-path",
            "/tmp/r.json",
        ]);
        let out = std::process::Command::new("docker")
            .args(&args)
            .output()
            .expect("docker");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let both = "operator: bash\nbash_command: 'echo pw={{ conn.warehouse.password }}; cat /run/secrets/aws'\n";
    let (code, stdout, stderr) = run(both, &[]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("pw=***"), "{stdout}");
    assert!(stdout.contains("aws_secret_access_key = ***"), "{stdout}");
    for s in ["Run-Secrets-Pw-1", "RunSecretsAwsKey0001"] {
        assert!(
            !stdout.contains(s) && !stderr.contains(s),
            "{s} shown:\n{stdout}\n{stderr}"
        );
    }
    // Turned off: the file prints as it is, and the connection is not found.
    let (code, stdout, stderr) = run(
        "operator: bash\nbash_command: 'cat /run/secrets/aws'\n",
        &["-e", "TASK_RUNNER_SECRETS_DIR="],
    );
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("aws_secret_access_key = RunSecretsAwsKey0001"),
        "{stdout}"
    );
    let (code, _, stderr) = run(both, &["-e", "TASK_RUNNER_SECRETS_DIR="]);
    assert_eq!(code, Some(67), "{stderr}");
    assert!(
        stderr.contains("connection `warehouse` is not defined"),
        "{stderr}"
    );
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
