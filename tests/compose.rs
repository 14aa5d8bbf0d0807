//! examples/compose run for real with docker-compose: PostgreSQL built
//! locally, the task service as uid 1001 on a read-only root filesystem, its
//! connection and an AWS credentials file as compose secrets in /run/secrets
//! (the runner's default secrets folder). Both tasks' XComs are checked
//! exactly, and no secret may reach any container's log.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::harness::{repo, test_env};

/// The compose CLI the machine has (docker-compose 1.29, the v1 Python one;
/// the file is also valid for `docker compose` v2).
const COMPOSE: &str = "docker-compose";

/// Image tags of the test's builds, apart from the `.env` ones a hand run
/// makes. Kept between runs, so the PostgreSQL layer (an apt-get install)
/// comes from Docker's cache after the first.
const TASK_IMAGE: &str = "task-runner-compose-test/task:latest";
const POSTGRES_IMAGE: &str = "task-runner-compose-test/postgres:latest";

/// A copy of examples/compose under a unique project name; dropping it runs
/// `down -v` (containers, network, the pgdata volume), on failure too.
struct Project {
    dir: tempfile::TempDir,
    name: String,
}

impl Project {
    fn new() -> Project {
        let version = Command::new(COMPOSE).arg("version").output();
        assert!(
            version.as_ref().is_ok_and(|o| o.status.success()),
            "`{COMPOSE} version` failed ({version:?}): install docker-compose (scripts/test-deps.sh does)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        copy_example(&repo().join("examples/compose"), dir.path());
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos();
        let name = format!("trcompose{}x{stamp}", std::process::id());
        Project { dir, name }
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join(rel)
    }

    /// `docker-compose -p NAME ARGS` in the copy, bounded by `timeout`.
    fn compose(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("timeout");
        cmd.args(["300", COMPOSE, "-p", &self.name])
            .args(args)
            .current_dir(self.dir.path())
            .env("BASE_IMAGE", test_env("TR_DOCKER_BASE_IMAGE"))
            .env("TASK_IMAGE", TASK_IMAGE)
            .env("POSTGRES_IMAGE", POSTGRES_IMAGE);
        // The project is this file's and this name's alone.
        for var in [
            "COMPOSE_FILE",
            "COMPOSE_PROJECT_NAME",
            "COMPOSE_PROFILES",
            "TASK_UID",
        ] {
            cmd.env_remove(var);
        }
        cmd.output().expect("run docker-compose")
    }

    #[track_caller]
    fn compose_ok(&self, args: &[&str]) -> String {
        let out = self.compose(args);
        let text = both(&out);
        assert!(
            out.status.success(),
            "`{COMPOSE} {}` failed ({}):\n{text}",
            args.join(" "),
            out.status
        );
        text
    }

    /// Waits for the postgres service's healthcheck (pg_isready).
    #[track_caller]
    fn wait_healthy(&self, service: &str, within: Duration) {
        let deadline = Instant::now() + within;
        let id = self.compose_ok(&["ps", "-q", service]).trim().to_string();
        assert!(!id.is_empty(), "no container for service {service}");
        loop {
            let out = Command::new("docker")
                .args([
                    "inspect",
                    "-f",
                    "{{.State.Status}} {{.State.Health.Status}}",
                    &id,
                ])
                .output()
                .expect("docker inspect");
            let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if state == "running healthy" {
                return;
            }
            let failed = !state.starts_with("running") || state.ends_with("unhealthy");
            if failed || Instant::now() > deadline {
                let logs = both(&self.compose(&["logs", "--no-color", service]));
                panic!("{service} is `{state}`, not healthy:\n{logs}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn xcom(&self) -> String {
        std::fs::read_to_string(self.path("xcom/return.json")).expect("xcom/return.json")
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let out = self.compose(&["down", "-v", "--remove-orphans"]);
        if !out.status.success() {
            eprintln!(
                "`{COMPOSE} -p {} down -v` failed:\n{}",
                self.name,
                both(&out)
            );
        }
    }
}

/// The example's files, without what a hand run may have left in the source
/// folder (its binary, secrets and XComs).
fn copy_example(from: &Path, to: &Path) {
    copy_tree(from, to, true);
}

fn copy_tree(from: &Path, to: &Path, top: bool) {
    for entry in std::fs::read_dir(from).expect("examples/compose") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name();
        if top && matches!(name.to_str(), Some("task-runner" | "secrets" | "xcom")) {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().expect("file type").is_dir() {
            std::fs::create_dir(&target).expect("mkdir");
            copy_tree(&entry.path(), &target, false);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn both(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `n` random bytes as hex, from the kernel.
fn random_hex(n: usize) -> String {
    use std::io::Read;
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("/dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_mode(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn the_compose_example_runs_both_tasks_as_non_root_and_masks_its_secrets() {
    let started = Instant::now();
    let project = Project::new();

    let bin = std::env::var("TR_STATIC_BIN").unwrap_or_else(|_| {
        let target = test_env("TR_MUSL_TARGET");
        repo()
            .join(format!("target/{target}/release/task-runner"))
            .display()
            .to_string()
    });
    std::fs::copy(&bin, project.path("task-runner"))
        .unwrap_or_else(|e| panic!("static binary {bin}: {e}: run `bash scripts/test.sh`"));
    std::fs::set_permissions(
        project.path("task-runner"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();

    // The secrets, new for each run. Compose bind-mounts a file secret with
    // the host file's owner and mode: readable by the containers' uids.
    let password = format!("Pg-{}", random_hex(12));
    let key_id = format!("AKIA{}", random_hex(8).to_uppercase());
    let secret_key = format!("wJalr{}", random_hex(16));
    std::fs::create_dir(project.path("secrets")).unwrap();
    write_mode(&project.path("secrets/pg_password"), &password, 0o644);
    write_mode(
        &project.path("secrets/AIRFLOW_CONN_WAREHOUSE"),
        &format!("postgres://etl:{password}@postgres:5432/warehouse\n"),
        0o644,
    );
    write_mode(
        &project.path("secrets/aws"),
        &format!("[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret_key}\n"),
        0o644,
    );
    // The XCom bind mount, written by uid 1001.
    std::fs::create_dir(project.path("xcom")).unwrap();
    std::fs::set_permissions(project.path("xcom"), std::fs::Permissions::from_mode(0o777)).unwrap();

    let t = Instant::now();
    project.compose_ok(&["build", "postgres", "task"]);
    let build = t.elapsed();

    let t = Instant::now();
    project.compose_ok(&["up", "-d", "postgres"]);
    project.wait_healthy("postgres", Duration::from_secs(120));
    let up = t.elapsed();

    let run = |spec: &str| {
        let config = format!("/tasks/{spec}");
        let out = project.compose(&[
            "run",
            "--rm",
            "-T",
            "task",
            "run",
            "--config",
            &config,
            "--logical-date",
            "2024-06-01",
        ]);
        let text = both(&out);
        assert!(
            out.status.success(),
            "{spec} failed ({}):\n{text}",
            out.status
        );
        text
    };

    let t = Instant::now();
    let greet = run("greet.yaml");
    let greet_time = t.elapsed();
    assert_eq!(
        project.xcom(),
        r#""report for emea on 2024-06-01""#,
        "{greet}"
    );
    assert!(
        greet.contains("aws_access_key_id = ***\n")
            && greet.contains("aws_secret_access_key = ***\n"),
        "the AWS credentials file is not masked:\n{greet}"
    );
    let owner = std::fs::metadata(project.path("xcom/return.json"))
        .unwrap()
        .uid();
    assert_eq!(owner, 1001, "the task did not run as TASK_UID");

    let t = Instant::now();
    let fruit = run("fruit.yaml");
    let fruit_time = t.elapsed();
    assert_eq!(
        project.xcom(),
        r#"[["apple",12,"2024-05-30"],["cherry",3,"2024-06-01"]]"#,
        "{fruit}"
    );
    assert!(fruit.contains("Rows affected: 2"), "{fruit}");

    // Every container's log: the postgres service's (the task containers are
    // gone with --rm: their output is what `run` printed).
    let logs = project.compose_ok(&["logs", "--no-color"]);
    assert!(
        logs.contains("database system is ready to accept connections"),
        "{logs}"
    );
    for (what, text) in [
        ("greet's output", &greet),
        ("fruit's output", &fruit),
        ("docker-compose logs", &logs),
    ] {
        for (name, secret) in [
            ("the PostgreSQL password", &password),
            ("the AWS secret key", &secret_key),
            ("the AWS key id", &key_id),
        ] {
            assert!(
                !text.contains(secret.as_str()),
                "{name} is in {what}:\n{text}"
            );
        }
    }

    eprintln!(
        "compose example: build {build:.1?}, postgres up and healthy {up:.1?}, greet {greet_time:.1?}, fruit {fruit_time:.1?}, total before down {:.1?}",
        started.elapsed()
    );
}
