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

// ---------------------------------------------------------------- non-root
// Issue #12: an arbitrary UID with no home directory and no passwd entry, a
// read-only root filesystem, and only the XCom folder and `/tmp` (a tmpfs,
// the default TMPDIR) writable: what a restricted pod or a hardened compose
// service gives the runner.

/// The uid:gid every non-root test runs as: not in the image's /etc/passwd.
const NON_ROOT: &str = "1001:1001";

/// The example team image with python3 and ruby (scripts/build-images.sh).
fn python3_ruby_image() -> String {
    let tag = std::env::var("TR_IMAGE_PY3RUBY")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| provider_env("TR_IMAGE_PY3RUBY"))
        .unwrap_or_else(|| "task-runner-example/python3-ruby:test".to_string());
    let found = docker(&["image", "inspect", "-f", "{{.Id}}", &tag]);
    assert!(
        found.status.success(),
        "image {tag} not found: run `bash scripts/build-images.sh` (scripts/test.sh does)"
    );
    tag
}

/// A value from target/provider-env.sh, which scripts/build-images.sh writes.
fn provider_env(name: &str) -> Option<String> {
    let text =
        std::fs::read_to_string(crate::harness::repo().join("target/provider-env.sh")).ok()?;
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').trim_matches('\'').to_string())
}

/// What a non-root run left: its output and the XCom file's exact bytes.
struct NonRootRun {
    output: std::process::Output,
    xcom: Option<String>,
}

impl NonRootRun {
    #[track_caller]
    fn exit(&self, code: i32) -> &NonRootRun {
        assert_eq!(
            self.output.status.code(),
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        );
        self
    }

    #[track_caller]
    fn xcom(&self, want: &str) -> &NonRootRun {
        assert_eq!(
            self.xcom.as_deref(),
            Some(want),
            "stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        );
        self
    }
}

/// Runs `spec` in `image` as [`NON_ROOT`] with `--read-only`, a tmpfs `/tmp`
/// and a host temp dir (writable by that uid) as `/airflow/xcom`.
fn run_non_root(image: &str, spec: &str) -> NonRootRun {
    use std::os::unix::fs::PermissionsExt;
    let xcom = tempfile::tempdir().unwrap();
    // The container's uid owns nothing on the host: open the folder to it.
    std::fs::set_permissions(xcom.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mount = format!("{}:/airflow/xcom", xcom.path().display());
    let output = docker(&[
        "run",
        "--rm",
        "--user",
        NON_ROOT,
        "--read-only",
        "--tmpfs",
        "/tmp",
        "-v",
        &mount,
        "-e",
        &format!("TASK_RUNNER_SPEC={spec}"),
        image,
        "run",
        "--logical-date",
        "2024-06-01",
    ]);
    let xcom = std::fs::read_to_string(xcom.path().join("return.json")).ok();
    NonRootRun { output, xcom }
}

#[test]
fn non_root_read_only_bash_task() {
    // No HOME and no passwd entry: `id -un` fails, `$HOME` is what Docker
    // sets for an unknown uid (`/`), which is not writable.
    let spec = "operator: bash\nbash_command: 'touch /cant 2>/dev/null || echo \"$(id -u):$(id -g) {{ ds }}\"'\n";
    run_non_root(image(), spec)
        .exit(0)
        .xcom(r#""1001:1001 2024-06-01""#);
}

#[test]
fn non_root_read_only_bash_task_in_the_default_temp_cwd() {
    // The default cwd is a fresh `airflowtmp*` folder under TMPDIR (/tmp),
    // writable although the root filesystem is not.
    let spec = "operator: bash\nbash_command: 'echo x > f && case $PWD in /tmp/airflowtmp*) echo \"ok $(cat f)\";; *) echo \"cwd $PWD\";; esac'\n";
    run_non_root(image(), spec).exit(0).xcom(r#""ok x""#);
}

#[test]
fn non_root_read_only_bash_task_exit_code_passes_through() {
    let spec = "operator: bash\nbash_command: 'echo failing; exit 3'\n";
    let run = run_non_root(image(), spec);
    run.exit(3);
    assert_eq!(run.xcom, None, "a failed task writes no XCom");
}

#[test]
fn non_root_read_only_python_task() {
    let spec = r#"{"operator": "python", "python_callable": "f", "op_kwargs": {"day": "{{ ds }}"}, "python_source": "def f(day):\n    import os, sys, tempfile\n    with tempfile.NamedTemporaryFile() as t:\n        t.write(b'x')\n    return [os.getuid(), sys.version_info[0], day]\n"}"#;
    run_non_root(&python3_ruby_image(), spec)
        .exit(0)
        .xcom(r#"[1001, 3, "2024-06-01"]"#);
}

#[test]
fn non_root_read_only_ruby_task() {
    let spec = r#"{"operator": "ruby", "ruby_script": "require \"tmpdir\"\n[Process.uid, Dir.tmpdir, \"{{ ds }}\"]"}"#;
    run_non_root(&python3_ruby_image(), spec)
        .exit(0)
        .xcom(r#"[1001, "/tmp", "2024-06-01"]"#);
}

#[test]
fn non_root_read_only_sql_task_on_sqlite_default() {
    // sqlite_default is a file in the temp dir: /tmp, the tmpfs.
    let spec = "operator: sql\nconn_id: sqlite_default\nsplit_statements: true\nsql: \"create table t (n integer, day text); insert into t values (1, '{{ ds }}'), (2, '{{ ds }}'); select n, day from t order by n\"\n";
    run_non_root(image(), spec)
        .exit(0)
        .xcom(r#"[[1,"2024-06-01"],[2,"2024-06-01"]]"#);
}
