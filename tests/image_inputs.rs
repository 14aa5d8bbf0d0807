//! What an image gets from its surroundings: payload files named by
//! `TASK_RUNNER_SPEC_FILE` / `TASK_RUNNER_CONTEXT_FILE` (and `--config` /
//! `--context` files) in every encoding; the DAG project's `include/` folder
//! (`TASK_RUNNER_INCLUDE`); what relative `python_path` entries resolve
//! against; and the warning when a container run has no context.

use base64::Engine;
use serde_json::json;

use crate::harness::{Task, context, test_env};

const ECHO: &str =
    "operator: bash\nbash_command: echo {{ params.who }} {{ ds }}\nparams: {who: file}\n";

/// Raw, base64 and base64+gzip: the three forms a payload takes.
fn encodings(text: &str) -> [String; 3] {
    [
        text.to_string(),
        base64::engine::general_purpose::STANDARD.encode(text),
        task_runner::spec::source::encode(text),
    ]
}

#[test]
fn payload_files_in_every_encoding_through_flags_and_env_vars() {
    let ctx = context().to_string();
    for (spec, ctx) in encodings(ECHO).iter().zip(encodings(&ctx)) {
        // --config FILE and --context FILE.
        Task::new()
            .file("payload/spec", spec)
            .file("payload/ctx", &ctx)
            .args(&["--config", "payload/spec", "--context", "payload/ctx"])
            .run()
            .exit(0)
            .xcom(json!("file 2024-06-01"));
        // TASK_RUNNER_SPEC_FILE and TASK_RUNNER_CONTEXT_FILE.
        let t = Task::new()
            .file("payload/spec", spec)
            .file("payload/ctx", &ctx);
        let dir = t.dir().join("payload");
        t.env(
            "TASK_RUNNER_SPEC_FILE",
            &dir.join("spec").display().to_string(),
        )
        .env(
            "TASK_RUNNER_CONTEXT_FILE",
            &dir.join("ctx").display().to_string(),
        )
        .run()
        .exit(0)
        .xcom(json!("file 2024-06-01"));
    }
}

#[test]
fn flags_beat_files_and_files_beat_env_payloads() {
    let other = |who: &str| ECHO.replace("who: file", &format!("who: {who}"));
    let mut late = context();
    late["logical_date"] = json!("2030-01-02T00:00:00+00:00");
    let t = Task::new()
        .file("from-flag.yaml", &other("flag"))
        .file("from-file.yaml", &other("envfile"))
        .file("ctx-flag.json", &context().to_string())
        .file("ctx-file.json", &late.to_string());
    let d = t.dir().to_path_buf();
    let path = |name: &str| d.join(name).display().to_string();
    let base = t.env("TASK_RUNNER_SPEC", &other("env")).env(
        "TASK_RUNNER_CONTEXT",
        &json!({"logical_date": "1999-09-09"}).to_string(),
    );
    let out = base
        .env("TASK_RUNNER_SPEC_FILE", &path("from-file.yaml"))
        .env("TASK_RUNNER_CONTEXT_FILE", &path("ctx-file.json"))
        .run();
    out.exit(0).xcom(json!("envfile 2030-01-02"));

    let out = Task::new()
        .env("TASK_RUNNER_SPEC", &other("env"))
        .env("TASK_RUNNER_SPEC_FILE", &path("from-file.yaml"))
        .env(
            "TASK_RUNNER_CONTEXT",
            &json!({"logical_date": "1999-09-09"}).to_string(),
        )
        .env("TASK_RUNNER_CONTEXT_FILE", &path("ctx-file.json"))
        .args(&[
            "--config",
            &path("from-flag.yaml"),
            "--context",
            &path("ctx-flag.json"),
        ])
        .run();
    out.exit(0).xcom(json!("flag 2024-06-01"));

    let out = Task::new()
        .env("TASK_RUNNER_SPEC", &other("env"))
        .env(
            "TASK_RUNNER_CONTEXT",
            &json!({"logical_date": "1999-09-09"}).to_string(),
        )
        .env("TASK_RUNNER_SPEC_FILE", "")
        .run();
    out.exit(0).xcom(json!("env 1999-09-09"));
}

/// The reason for the files: a payload over Linux's 128 KiB per env string.
/// Relative paths in it resolve against the working directory, as they would
/// in `TASK_RUNNER_SPEC`, not against the folder the file was mounted in.
#[test]
fn a_payload_file_too_big_for_an_env_var_runs() {
    let filler: String = (0..40_000).map(|i| format!("{i:x}")).collect();
    let spec = format!(
        "operator: bash\nbash_command: run.sh\ntemplate_searchpath: [scripts]\nparams: {{filler: '{filler}'}}\n"
    );
    let payload = task_runner::spec::source::encode(&spec);
    let ctx: String = format!(
        "{{\"logical_date\": \"2024-06-01\", \"variables\": {{\"big\": \"{}\"}}}}",
        "v".repeat(200_000)
    );
    assert!(spec.len() > 128 * 1024 && ctx.len() > 128 * 1024);
    let t = Task::new()
        .file("mnt/spec.b64", &payload)
        .file("mnt/ctx.json", &ctx)
        .file(
            "scripts/run.sh",
            "echo {{ params.filler | length }} {{ var.value.big | length }}\n",
        );
    let mnt = t.dir().join("mnt");
    t.env(
        "TASK_RUNNER_SPEC_FILE",
        &mnt.join("spec.b64").display().to_string(),
    )
    .env(
        "TASK_RUNNER_CONTEXT_FILE",
        &mnt.join("ctx.json").display().to_string(),
    )
    .run()
    .exit(0)
    .xcom(json!(format!("{} 200000", filler.len())));
}

#[test]
fn a_missing_payload_file_is_exit_66_naming_it() {
    Task::new()
        .env("TASK_RUNNER_SPEC_FILE", "/nonexistent/spec.b64")
        .run()
        .exit(66)
        .stderr_has("/nonexistent/spec.b64");
    Task::new()
        .spec(ECHO)
        .env("TASK_RUNNER_CONTEXT_FILE", "/nonexistent/ctx.json")
        .run()
        .exit(66)
        .stderr_has("/nonexistent/ctx.json");
}

fn python_spec(body: &str) -> String {
    format!(
        "operator: python\npython: {}\n{body}",
        test_env("TR_PYTHON3")
    )
}

#[test]
fn a_relative_python_path_says_what_it_was_resolved_against() {
    let body = "python_callable: lib:f\npython_path: [nowhere/lib]\n";
    let t = Task::new().spec(&python_spec(body)).context(context());
    let folder = t.dir().display().to_string();
    t.run().exit(75).stderr_has(&format!(
        "resolved against the spec file's folder `{folder}`"
    ));

    let t = Task::new().context(context());
    let cwd = t.dir().display().to_string();
    t.env("TASK_RUNNER_SPEC", &task_runner::spec::source::encode(&python_spec(body)))
        .run()
        .exit(75)
        .stderr_has(&format!(
            "resolved against the working directory `{cwd}` (the spec came from env `TASK_RUNNER_SPEC` (base64+gzip), which has no folder)"
        ))
        .stderr_lacks("spec file's folder");

    Task::new()
        .args(&["--config", "-"])
        .stdin(&python_spec(body))
        .context(context())
        .run()
        .exit(75)
        .stderr_has("resolved against the working directory")
        .stderr_has("the spec came from stdin");
}

/// A project `include/` baked into the image: Python tasks import from it
/// and every operator finds template files in it, after the spec's own folders.
fn with_include(t: Task) -> (Task, String) {
    let t = t
        .file(
            "image/include/fitness_lib.py",
            "def score(x):\n    return x * 10\n",
        )
        .file(
            "image/include/daily.sql",
            "select {{ params.n }} * 2 as doubled\n",
        )
        .file("image/include/run.sh", "echo from include {{ ds }}\n")
        .file("image/include/shadowed.sh", "echo include copy\n")
        .file("specdir/shadowed.sh", "echo spec copy\n");
    let inc = t.dir().join("image/include").display().to_string();
    (t, inc)
}

#[test]
fn the_include_folder_is_the_default_python_path_and_the_last_template_folder() {
    let (t, inc) = with_include(Task::new());
    t.spec(&python_spec(
        "python_callable: f\npython_source: |\n  from fitness_lib import score\n  def f():\n      return score(4)\n",
    ))
    .context(context())
    .env("TASK_RUNNER_INCLUDE", &inc)
    .run()
    .exit(0)
    .xcom(json!(40));

    let (t, inc) = with_include(Task::new());
    t.spec("operator: sql\nconn_id: lite\nsql: daily.sql\nparams: {n: 21}\n")
        .context(context())
        .env("AIRFLOW_CONN_LITE", "sqlite:///:memory:")
        .env("TASK_RUNNER_INCLUDE", &inc)
        .run()
        .exit(0)
        .xcom(json!([[42]]));

    let (t, inc) = with_include(Task::new());
    t.spec("operator: bash\nbash_command: run.sh\n")
        .context(context())
        .env("TASK_RUNNER_INCLUDE", &inc)
        .run()
        .exit(0)
        .xcom(json!("from include 2024-06-01"));

    // The spec's own search path comes first.
    let (t, inc) = with_include(Task::new());
    t.spec("operator: bash\nbash_command: shadowed.sh\ntemplate_searchpath: [specdir]\n")
        .context(context())
        .env("TASK_RUNNER_INCLUDE", &inc)
        .run()
        .exit(0)
        .xcom(json!("spec copy"));
}

#[test]
fn an_explicit_python_path_replaces_the_include_and_empty_turns_it_off() {
    let (t, inc) = with_include(Task::new().file("mine/other_lib.py", "X = 1\n"));
    t.spec(&python_spec(
        "python_callable: f\npython_path: [mine]\npython_source: |\n  def f():\n      import fitness_lib\n",
    ))
    .context(context())
    .env("TASK_RUNNER_INCLUDE", &inc)
    .run()
    .exit(1)
    .stderr_has("No module named");

    let (t, _) = with_include(Task::new());
    t.spec("operator: bash\nbash_command: run.sh\n")
        .context(context())
        .env("TASK_RUNNER_INCLUDE", "")
        .run()
        .exit(67)
        .stderr_has("run.sh");

    // A folder that does not exist is no include, not an error.
    Task::new()
        .spec("operator: bash\nbash_command: echo ok\n")
        .context(context())
        .env("TASK_RUNNER_INCLUDE", "/nonexistent/include")
        .run()
        .exit(0)
        .xcom(json!("ok"));
}

#[test]
fn render_shows_the_include_in_the_python_path() {
    let (t, inc) = with_include(Task::new());
    let out = t
        .spec(&python_spec("python_callable: fitness_lib:score\n"))
        .context(context())
        .env("TASK_RUNNER_INCLUDE", &inc)
        .render();
    out.exit(0)
        .stdout_has(&format!("\"python_path\": [\n    \"{inc}\"\n  ]"));
}

/// As PID 1 (a container's ENTRYPOINT) or in a pod, a run with no context
/// warns, naming the date it uses and how to pass the context.
#[test]
fn no_context_in_a_container_warns_with_the_date_and_the_remedy() {
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    for wrapper in [&["unshare", "--pid", "--fork", "--mount-proc"][..], &[][..]] {
        let out = Task::new()
            .spec("operator: bash\nbash_command: echo {{ ds }}\n")
            .env("KUBERNETES_SERVICE_HOST", "10.0.0.1")
            .wrapped(wrapper)
            .run();
        out.exit(0)
            .stderr_has("WARN")
            .stderr_has("no context was given")
            .stderr_has(&format!("logical date {today}T00:00:00+00:00"))
            .stderr_has("TASK_RUNNER_CONTEXT")
            .stderr_has("--context FILE");
        // Outside the PID namespace the test host may be a container itself
        // (`/.dockerenv`); the pod's env var is a reason either way.
        if wrapper.is_empty() {
            out.stderr_has("This runs in a container (");
        } else {
            out.stderr_has("This runs in a container (it runs as PID 1)");
        }
    }
    // A context without a date says so too.
    Task::new()
        .spec("operator: bash\nbash_command: echo {{ ds }}\n")
        .env("TASK_RUNNER_CONTEXT", "{\"dag_id\": \"d\"}")
        .env("KUBERNETES_SERVICE_HOST", "10.0.0.1")
        .run()
        .exit(0)
        .stderr_has("the context (env `TASK_RUNNER_CONTEXT`) has no `logical_date`");
}

#[test]
fn a_context_or_a_logical_date_means_no_warning() {
    for t in [
        Task::new().context(context()),
        Task::new().args(&["--logical-date", "2024-06-01"]),
        Task::new().env("AIRFLOW_CTX_EXECUTION_DATE", "2024-06-01T00:00:00+00:00"),
    ] {
        t.spec("operator: bash\nbash_command: echo {{ ds }}\n")
            .env("KUBERNETES_SERVICE_HOST", "10.0.0.1")
            .wrapped(&["unshare", "--pid", "--fork", "--mount-proc"])
            .run()
            .exit(0)
            .stderr_lacks("WARN")
            .xcom(json!("2024-06-01"));
    }
}
