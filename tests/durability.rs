//! Which files the runner fsyncs: the XCom only when asked
//! (`TASK_RUNNER_XCOM_FSYNC`), a SQL task's `output_path` always; every file
//! is still written to a temp file and renamed into place.

use std::process::Command;

use serde_json::json;

use crate::harness::{Task, context};

/// The paths the run fsynced (`fsync`/`fdatasync` through `strace -y`).
fn fsynced(task: Task) -> (crate::harness::Outcome, Vec<String>) {
    let strace = Command::new("strace").arg("-V").output();
    assert!(
        strace.is_ok_and(|o| o.status.success()),
        "strace is not installed: this test needs it (scripts/test-deps.sh must apt-install strace)"
    );
    let trace = task.dir().join("strace.log");
    let trace_arg = trace.display().to_string();
    let out = task
        .wrapped(&[
            "strace",
            "-f",
            "-y",
            "-e",
            "trace=fsync,fdatasync",
            "-e",
            "signal=none",
            "-o",
            &trace_arg,
        ])
        .run();
    let log = std::fs::read_to_string(&trace).unwrap();
    let paths = log
        .lines()
        .filter_map(|l| {
            let call = l.split_once("sync(")?.1;
            let path = call.split_once('<')?.1.split_once('>')?.0;
            Some(path.to_string())
        })
        .collect();
    (out, paths)
}

fn bash_task() -> Task {
    Task::new()
        .spec("operator: bash\nbash_command: echo done\n")
        .context(context())
}

#[test]
fn the_xcom_is_renamed_into_place_without_fsync_unless_asked() {
    let (out, paths) = fsynced(bash_task());
    out.exit(0).xcom(json!("done"));
    assert!(paths.is_empty(), "nothing fsynced by default: {paths:?}");

    let task = bash_task().env("TASK_RUNNER_XCOM_FSYNC", "1");
    let dir = task.xcom_path().parent().unwrap().display().to_string();
    let (out, paths) = fsynced(task);
    out.exit(0).xcom(json!("done"));
    assert!(
        paths
            .iter()
            .any(|p| p.contains("/.return.json.") && p.ends_with(".tmp")),
        "the temp file is fsynced before the rename: {paths:?}"
    );
    assert!(
        paths.contains(&dir),
        "its folder after the rename ({dir}): {paths:?}"
    );
}

#[test]
fn a_sql_output_path_is_fsynced_and_its_xcom_is_not() {
    let task = Task::new()
        .env("AIRFLOW_CONN_DB", "sqlite:///:memory:")
        .spec("operator: sql\nconn_id: db\nsql: SELECT 1, 'a'\noutput_path: out/rows.json\n")
        .context(context());
    let file = task.dir().join("out/rows.json");
    let (out, paths) = fsynced(task);
    out.exit(0).xcom(json!("out/rows.json"));
    assert_eq!(std::fs::read_to_string(file).unwrap(), r#"[[1,"a"]]"#);
    assert!(
        paths
            .iter()
            .any(|p| p.contains("/out/.rows.json.") && p.ends_with(".tmp")),
        "the result file is fsynced: {paths:?}"
    );
    assert!(
        paths.iter().any(|p| p.ends_with("/out")),
        "and its folder: {paths:?}"
    );
    assert!(
        !paths.iter().any(|p| p.contains(".return.json.")),
        "the XCom (the path) is not: {paths:?}"
    );
}
