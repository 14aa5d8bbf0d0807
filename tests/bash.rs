use serde_json::json;

use crate::harness::{Task, context};

#[test]
fn last_line_is_the_xcom_and_output_is_forwarded_in_order() {
    Task::new()
        .spec("operator: bash\nbash_command: 'echo one; echo two >&2; echo three'\n")
        .context(context())
        .run()
        .exit(0)
        .stdout_has("one\ntwo\nthree\n")
        .xcom(json!("three"));
}

#[test]
fn no_output_gives_empty_string_and_blank_last_line_too() {
    Task::new()
        .spec("operator: bash\nbash_command: 'true'\n")
        .context(context())
        .run()
        .exit(0)
        .xcom(json!(""));
    Task::new()
        .spec("operator: bash\nbash_command: 'echo a; echo'\n")
        .context(context())
        .run()
        .exit(0)
        .xcom(json!(""));
}

#[test]
fn env_replaces_unless_append_env_and_ctx_vars_always_set() {
    let cmd = "bash_command: 'echo ${MY_VAR}-${HOME:-nohome}-${AIRFLOW_CTX_DAG_ID}-${AIRFLOW_CTX_TRY_NUMBER}-${AIRFLOW_CTX_EXECUTION_DATE}-${TASK_RUNNER_CONTEXT:-hidden}'\n";
    Task::new()
        .spec(&format!(
            "operator: bash\n{cmd}env: {{MY_VAR: '{{{{ ds }}}}'}}\n"
        ))
        .context(context())
        .run()
        .exit(0)
        .xcom(json!(
            "2024-06-01-nohome-sales-2-2024-06-01T00:00:00+00:00-hidden"
        ));
    let out = Task::new()
        .spec(&format!(
            "operator: bash\n{cmd}env: {{MY_VAR: x}}\nappend_env: true\n"
        ))
        .context(context())
        .run();
    let xcom: String = serde_json::from_str(out.xcom.as_deref().unwrap()).unwrap();
    assert!(
        xcom.starts_with("x-/") && xcom.ends_with("-hidden"),
        "{xcom}"
    );
}

#[test]
fn cwd_defaults_to_a_fresh_temp_dir_and_can_be_set() {
    let out = Task::new()
        .spec("operator: bash\nbash_command: pwd\n")
        .context(context())
        .run();
    out.exit(0);
    let pwd: String = serde_json::from_str(out.xcom.as_deref().unwrap()).unwrap();
    assert!(pwd.contains("airflowtmp"), "{pwd}");
    assert!(
        !std::path::Path::new(&pwd).exists(),
        "temp cwd removed after the task"
    );
    let t = Task::new()
        .spec("operator: bash\nbash_command: 'cat marker.txt'\ncwd: '{{ params.dir }}'\n")
        .file("work/marker.txt", "in work dir\n");
    let dir = t.dir().join("work").display().to_string();
    t.context(json!({"logical_date": "2024-06-01", "params": {"dir": dir}}))
        .run()
        .exit(0)
        .xcom(json!("in work dir"));
    Task::new()
        .spec("operator: bash\nbash_command: pwd\ncwd: /does/not/exist\n")
        .context(context())
        .run()
        .exit(78)
        .stderr_has("/does/not/exist");
}

#[test]
fn failure_passes_exit_code_through_with_a_message() {
    Task::new()
        .spec("operator: bash\nbash_command: 'echo partial; exit 3'\n")
        .context(context())
        .run()
        .exit(3)
        .termination_has("Bash command failed. The command returned a non-zero exit code 3.")
        .no_xcom();
}

#[test]
fn skip_exit_code_passes_through_without_xcom() {
    Task::new()
        .spec("operator: bash\nbash_command: 'echo skip me; exit 99'\n")
        .context(context())
        .run()
        .exit(99)
        .no_xcom()
        .stderr_has("skipped");
    Task::new()
        .spec("operator: bash\nbash_command: 'exit 42'\nskip_on_exit_code: [42, 43]\n")
        .context(context())
        .run()
        .exit(42)
        .no_xcom();
    Task::new()
        .spec("operator: bash\nbash_command: 'exit 99'\nskip_on_exit_code: null\n")
        .context(context())
        .run()
        .exit(99)
        .termination_has("exit code 99");
}

#[test]
fn killed_by_signal_is_128_plus_n() {
    Task::new()
        .spec("operator: bash\nbash_command: 'kill -9 $$'\n")
        .context(context())
        .run()
        .exit(137)
        .termination_has("SIGKILL")
        .no_xcom();
}

#[test]
fn output_encoding_latin1_and_utf8_backslashreplace() {
    Task::new().spec("operator: bash\nbash_command: \"printf 'caf\\\\xe9\\\\n'\"\noutput_encoding: latin-1\n").context(context()).run().exit(0).xcom(json!("café"));
    Task::new()
        .spec("operator: bash\nbash_command: \"printf 'caf\\\\xe9\\\\n'\"\n")
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("caf\\xe9"));
    Task::new()
        .spec("operator: bash\nbash_command: x\noutput_encoding: klingon\n")
        .run()
        .exit(65)
        .stderr_has("output_encoding");
}

#[test]
fn script_template_file_from_searchpath() {
    Task::new()
        .spec("operator: bash\nbash_command: run.sh\ntemplate_searchpath: [scripts]\n")
        .file("scripts/run.sh", "echo \"script for {{ ds }} as $0\"\n")
        .context(context())
        .run()
        .exit(0)
        .stdout_has("script for 2024-06-01 as .tmp");
    Task::new()
        .spec("operator: bash\nbash_command: missing.sh\n")
        .context(context())
        .run()
        .exit(67)
        .stderr_has("template file `missing.sh` not found");
}

#[test]
fn do_xcom_push_false_writes_nothing() {
    Task::new()
        .spec("operator: bash\nbash_command: echo hi\ndo_xcom_push: false\n")
        .context(context())
        .run()
        .exit(0)
        .no_xcom();
}

#[test]
fn stale_xcom_from_an_earlier_attempt_is_removed() {
    let t = Task::new()
        .spec("operator: bash\nbash_command: exit 1\n")
        .file("xcom/return.json", "\"stale\"");
    t.context(context()).run().exit(1).no_xcom();
}

#[test]
fn oversized_xcom_fails_cleanly() {
    Task::new()
        .spec("operator: bash\nbash_command: 'head -c 5000 /dev/zero | tr \"\\\\0\" x; echo'\nmax_xcom_bytes: 1000\n")
        .context(context())
        .run()
        .exit(73)
        .stderr_has("max_xcom_bytes")
        .no_xcom();
}

#[test]
fn missing_bash_is_127() {
    Task::new()
        .spec("operator: bash\nbash_command: echo hi\n")
        .context(context())
        .env("PATH", "/nonexistent")
        .run()
        .exit(127)
        .stderr_has("failed to start `bash`");
}

#[test]
fn the_xcom_file_is_readable_by_the_sidecar_and_others() {
    use std::os::unix::fs::PermissionsExt;
    let out = Task::new()
        .spec("operator: bash\nbash_command: echo hi\n")
        .context(context())
        .run();
    out.exit(0);
    let mode = std::fs::metadata(out.dir.path().join("xcom/return.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[test]
fn an_unwritable_xcom_path_fails_before_the_task_runs() {
    let t = Task::new().spec(
        "operator: bash\nbash_command: 'touch ran-marker; echo hi'\ncwd: '{{ params.dir }}'\n",
    );
    let dir = t.dir().display().to_string();
    let out = t
        .context(json!({"logical_date": "2024-06-01", "params": {"dir": dir}}))
        .args(&["--xcom-path", "/proc/nope/return.json"])
        .run();
    out.exit(74).stderr_has("/proc/nope/return.json");
    assert!(
        !out.dir.path().join("ran-marker").exists(),
        "the task ran although its XCom could not be written"
    );
}

#[test]
fn a_last_line_too_long_for_an_xcom_fails_cleanly() {
    // 17 MiB without a newline: forwarded in pieces, but no piece is the XCom.
    Task::new()
        .spec("operator: bash\nbash_command: 'head -c 17825792 /dev/zero | tr \"\\\\0\" x'\n")
        .context(context())
        .run()
        .exit(73)
        .stderr_has("last line of output")
        .no_xcom();
}

#[test]
fn a_zero_execution_timeout_means_none() {
    Task::new()
        .spec("operator: bash\nbash_command: echo done\nexecution_timeout: 0\n")
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("done"));
}

#[test]
fn the_xcom_can_also_be_the_last_stdout_line_for_docker_operator() {
    let out = Task::new()
        .spec("operator: bash\nbash_command: 'echo working; echo {{ ds }}'\n")
        .context(context())
        .env("TASK_RUNNER_XCOM_STDOUT", "1")
        .run();
    out.exit(0).xcom(json!("2024-06-01"));
    assert_eq!(
        out.stdout.lines().last(),
        Some("\"2024-06-01\""),
        "{}",
        out.stdout
    );
}

#[test]
fn template_files_and_includes_get_python_operators_too() {
    Task::new()
        .spec("operator: bash\nbash_command: run.sh\n")
        .file(
            "run.sh",
            "echo {% include 'month.txt' %} {{ '%02d' % logical_date.month }}\r\n",
        )
        .file(
            "month.txt",
            "{{ (logical_date - macros.timedelta(days=1)).strftime('%Y-%m') }}",
        )
        .context(context())
        .run()
        .exit(0)
        .stdout_has("2024-05 06");
}

/// The default working directory is private (0700), as Airflow's
/// `TemporaryDirectory` that BashOperator runs in.
#[test]
fn default_cwd_is_private() {
    Task::new()
        .spec("operator: bash\nbash_command: \"stat -c %a .\"\n")
        .context(context())
        .run()
        .exit(0)
        .xcom(serde_json::json!("700"));
}

/// A SIGKILLed run leaves `.return.json.XXXXXX.tmp` beside the XCom (up to a
/// whole result); the next run removes such files and nothing else.
#[test]
fn temp_files_of_a_killed_run_are_removed_at_start() {
    let task = Task::new()
        .spec("operator: bash\nbash_command: \"echo done\"\n")
        .context(context());
    let dir = task.xcom_path().parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    let stale = dir.join(".return.json.a1B2c3.tmp");
    std::fs::write(&stale, vec![b'x'; 1 << 20]).unwrap();
    let other = dir.join("keep.txt");
    std::fs::write(&other, "mine").unwrap();
    let out = task.run(); // keeps the folder until the checks are done
    out.exit(0).xcom(serde_json::json!("done"));
    assert!(!stale.exists(), "stale temp file left: {}", stale.display());
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "mine");
}

/// A child that leaves the task's group but keeps the output pipe open
/// (`setsid sleep 5 &`) used to make the runner give up and push `""`: the
/// XCom is the real last line, and the child is ended with the task.
#[test]
fn an_escaped_child_holding_the_pipe_does_not_change_the_xcom() {
    let t = Task::new().context(context());
    let pidfile = t.dir().join("escaped.pid");
    // The task waits until the child has left its group, so the test is about
    // a process outside the group, whatever the machine's speed.
    let out = t
        .spec(&format!(
            "operator: bash\nbash_command: \"echo first; setsid sh -c 'echo $$ > {0}; exec sleep 30' & while [ ! -s {0} ]; do sleep 0.01; done; echo the-real-result\"\n",
            pidfile.display()
        ))
        .run();
    out.exit(0)
        .xcom(json!("the-real-result"))
        .stderr_lacks("still holds the task's output");
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    assert!(
        !std::path::Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "the escaped child {} outlived the runner",
        pid.trim()
    );
}

/// The XCom folder is checked with real room before the task starts: on a
/// full volume (where an empty file still fits) the task never runs, so a
/// retry does not repeat side effects of a run whose result was lost.
#[test]
fn a_full_xcom_volume_fails_before_the_task_starts() {
    let out = Task::new()
        .context(context())
        .xcom_volume(64, 64)
        .spec("operator: bash\nbash_command: echo the task ran\n")
        .run();
    out.exit(74)
        .stderr_has("the folder has no room for 65536 bytes")
        .stderr_has("the task was not started")
        .no_xcom();
    assert!(!out.stdout.contains("the task ran"), "{}", out.stdout);
}

/// A NUL byte cannot reach a process: a command or an `env` value holding one
/// is refused before anything runs (exit 126), naming where it is.
#[test]
fn a_nul_byte_in_the_command_or_env_is_refused_naming_it() {
    Task::new()
        .context(context())
        .spec("operator: bash\nbash_command: \"echo ran; echo a\\0b\"\n")
        .run()
        .exit(126)
        .stderr_has("argument 2 of the command holds a NUL byte")
        .no_xcom();
    Task::new()
        .context(context())
        .spec("operator: bash\nbash_command: echo ran $A\nenv: {A: \"x\\0y\"}\nappend_env: true\n")
        .run()
        .exit(126)
        .stderr_has("environment variable `A` holds a NUL byte")
        .no_xcom();
}

/// The room checked before the task is the file the result is written to:
/// while the task runs the XCom folder holds one reserved temp file of 64 KiB
/// and nothing else; afterwards only `return.json`, cut to its content and
/// readable (0644). A task that fails or pushes nothing leaves it empty.
#[test]
fn the_xcom_is_written_into_the_room_reserved_before_the_task() {
    use std::os::unix::fs::PermissionsExt;
    let t = Task::new().context(context());
    let dir = t.xcom_path().parent().unwrap().to_path_buf();
    let out = t
        .spec(&format!(
            "operator: bash\nbash_command: \"ls -A {0}; stat -c %s {0}/.return.json.*.tmp; echo done\"\n",
            dir.display()
        ))
        .run();
    out.exit(0).xcom(json!("done"));
    let lines: Vec<&str> = out.stdout.lines().collect();
    let listed = lines
        .iter()
        .filter(|l| l.starts_with(".return.json."))
        .count();
    assert_eq!(
        listed, 1,
        "one reserved file while the task runs: {}",
        out.stdout
    );
    assert!(lines.contains(&"65536"), "64 KiB reserved: {}", out.stdout);
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["return.json"], "only the result is left");
    let meta = std::fs::metadata(dir.join("return.json")).unwrap();
    assert_eq!(meta.len(), "\"done\"".len() as u64, "cut to the content");
    assert_eq!(meta.permissions().mode() & 0o777, 0o644);

    // A failed task leaves the folder as empty as one that pushes nothing.
    for (spec, code) in [
        ("operator: bash\nbash_command: \"echo x; exit 3\"\n", 3),
        (
            "operator: bash\ndo_xcom_push: false\nbash_command: \"echo x\"\n",
            0,
        ),
    ] {
        let t = Task::new().context(context());
        let dir = t.xcom_path().parent().unwrap().to_path_buf();
        t.spec(spec).run().exit(code).no_xcom();
        let left = std::fs::read_dir(&dir).map_or(0, |d| d.count());
        assert_eq!(left, 0, "nothing left by {spec}");
    }
}

/// A command without template syntax skips the template engine, yet comes
/// out as Jinja renders it: carriage returns become newlines, one trailing
/// newline goes, the render budget still holds; a command with syntax
/// beside it renders as ever.
#[test]
fn plain_commands_come_out_as_jinja_renders_them() {
    let out = Task::new()
        .spec("operator: bash\nbash_command: \"echo one\\r\\necho two\\recho three\\n\"\n")
        .context(context())
        .run();
    out.exit(0).xcom(json!("three"));
    assert!(
        out.stdout.contains("one\ntwo\nthree\n") && !out.stdout.contains('\r'),
        "{:?}",
        out.stdout
    );
    Task::new()
        .spec("operator: bash\nbash_command: echo this command is longer than the budget\n")
        .context(context())
        .env("TASK_RUNNER_MAX_RENDER_BYTES", "16")
        .run()
        .exit(67)
        .stderr_has("render budget of 16 bytes");
    Task::new()
        .spec("operator: bash\nbash_command: echo plain\nenv: {A: '{{ ds }}'}\n")
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("plain"));
    Task::new()
        .spec("operator: bash\nbash_command: echo $A\nenv: {A: '{{ ds }}'}\n")
        .context(context())
        .run()
        .exit(0)
        .xcom(json!("2024-06-01"));
}
