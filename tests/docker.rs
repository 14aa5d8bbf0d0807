//! The static binary as a real container's ENTRYPOINT, on a plain Debian base
//! with no Rust, no Python and no Airflow: what KPO and DockerOperator run.

use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::harness::{context, fixture, test_env};

/// Builds (once per test run) an image: the test base plus the static binary.
pub(crate) fn image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let bin = std::env::var("TR_STATIC_BIN").unwrap_or_else(|_| {
            let target = test_env("TR_MUSL_TARGET");
            crate::harness::repo().join(format!("target/{target}/release/task-runner")).display().to_string()
        });
        assert!(std::path::Path::new(&bin).exists(), "static binary {bin} missing: run `bash scripts/test.sh`");
        let base = test_env("TR_DOCKER_BASE_IMAGE");
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(&bin, dir.path().join("task-runner")).unwrap();
        std::fs::create_dir(dir.path().join("children")).unwrap();
        for f in ["zombies.sh", "traps_term.sh"] {
            std::fs::copy(fixture(&format!("children/{f}")), dir.path().join("children").join(f)).unwrap();
        }
        std::fs::write(
            dir.path().join("Dockerfile"),
            format!(
                "FROM {base}\nCOPY task-runner /usr/local/bin/task-runner\nCOPY children /opt/children\nENTRYPOINT [\"/usr/local/bin/task-runner\"]\n"
            ),
        )
        .unwrap();
        let tag = "task-runner-test:latest".to_string();
        let out = Command::new("docker").args(["build", "-q", "-t", &tag]).arg(dir.path()).output().expect("docker build");
        assert!(out.status.success(), "docker build failed: {}", String::from_utf8_lossy(&out.stderr));
        tag
    })
}

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().expect("docker")
}

#[test]
fn runs_as_entrypoint_and_writes_the_xcom_for_kpo() {
    let xcom = tempfile::tempdir().unwrap();
    let spec = task_runner::spec::source::encode(
        "operator: bash\nbash_command: 'echo {{ conn.warehouse.password }}; echo {{ ds }} in $(cat /etc/debian_version)'\n",
    );
    let mount = format!("{}:/airflow/xcom", xcom.path().display());
    let ctx = context().to_string();
    let out = docker(&[
        "run",
        "--rm",
        "-v",
        &mount,
        "-e",
        &format!("TASK_RUNNER_SPEC={spec}"),
        "-e",
        &format!("TASK_RUNNER_CONTEXT={ctx}"),
        image(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("***") && !stdout.contains("Wh-Pass-123"),
        "{stdout}"
    );
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(xcom.path().join("return.json")).unwrap())
            .unwrap();
    assert!(
        value.as_str().unwrap().starts_with("2024-06-01 in 12."),
        "{value}"
    );
}

#[test]
fn as_pid_1_in_a_container_reaps_orphans_and_keeps_the_exit_code() {
    let spec = "operator: bash\nbash_command: '/opt/children/zombies.sh 5'\n";
    let out = docker(&[
        "run",
        "--rm",
        "-e",
        &format!("TASK_RUNNER_SPEC={spec}"),
        image(),
        "run",
        "--logical-date",
        "2024-06-01",
        "--xcom-path",
        "/tmp/x.json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("zombies: 0"), "{stdout}");
}

#[test]
fn docker_stop_stops_the_task_within_the_grace_period() {
    let name = format!("task-runner-stop-{}", std::process::id());
    let spec = "operator: bash\nbash_command: '/opt/children/traps_term.sh '\n";
    let started = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "-e",
        &format!("TASK_RUNNER_SPEC={spec}"),
        image(),
        "run",
        "--logical-date",
        "2024-06-01",
    ]);
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    // Stop once the task has installed its trap (its readiness line).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&docker(&["logs", &name]).stdout)
        .contains("waiting for a signal")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the task never printed its readiness line"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let stop = docker(&["stop", "-t", "10", &name]);
    let code = docker(&["inspect", "-f", "{{.State.ExitCode}}", &name]);
    let logs = docker(&["logs", &name]);
    docker(&["rm", "-f", &name]);
    assert!(stop.status.success());
    // 143, not 137: PID 1 handled SIGTERM; Docker did not have to SIGKILL it
    // after its 10 s.
    assert_eq!(String::from_utf8_lossy(&code.stdout).trim(), "143");
    assert!(String::from_utf8_lossy(&logs.stdout).contains("got SIGTERM"));
}
