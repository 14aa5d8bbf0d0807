//! The test builder: runs the real `task-runner` binary in a temp dir with a
//! clean environment and checks what a user (or KPO) would see.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_task-runner");

/// The repository root, for fixtures.
pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn fixture(rel: &str) -> PathBuf {
    repo().join("fixtures").join(rel)
}

/// A context payload most tests can share.
pub(crate) fn context() -> Value {
    serde_json::json!({
        "dag_id": "sales",
        "task_id": "load",
        "run_id": "scheduled__2024-06-01T00:00:00+00:00",
        "logical_date": "2024-06-01T00:00:00+00:00",
        "data_interval_start": "2024-06-01T00:00:00+00:00",
        "data_interval_end": "2024-06-02T00:00:00+00:00",
        "try_number": 2,
        "map_index": -1,
        "owner": "data-eng",
        "params": {"region": "emea"},
        "dag_run_conf": {"full_refresh": true},
        "xcom": [{"task_id": "extract", "key": "return_value", "value": [1, 2, 3]}],
        "connections": {"warehouse": "postgres://etl:Wh-Pass-123@db.internal:5432/dw"},
        "variables": {"threshold": "0.85"}
    })
}

#[must_use]
pub(crate) struct Task {
    dir: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(std::ffi::OsString, std::ffi::OsString)>,
    stdin: Option<String>,
    spec: Option<String>,
    timeout: Duration,
    wrapper: Vec<String>,
    closed_stdout: bool,
}

impl Task {
    pub(crate) fn new() -> Task {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("termination-log"), "").expect("termination log");
        Task {
            dir,
            args: vec![],
            env: vec![],
            stdin: None,
            spec: None,
            timeout: Duration::from_secs(60),
            wrapper: vec![],
            closed_stdout: false,
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The spec, written to `spec.yaml` and passed with `--config`.
    pub(crate) fn spec(mut self, yaml: &str) -> Task {
        self.spec = Some(yaml.to_string());
        self
    }

    /// The context payload, written to `context.json` and passed with `--context`.
    pub(crate) fn context(self, value: Value) -> Task {
        let path = self.dir().join("context.json");
        std::fs::write(&path, value.to_string()).expect("write context");
        let p = path.display().to_string();
        self.args(&["--context", &p])
    }

    pub(crate) fn file(self, rel: &str, content: &str) -> Task {
        let path = self.dir().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write file");
        self
    }

    pub(crate) fn args(mut self, args: &[&str]) -> Task {
        self.args.extend(args.iter().map(|s| s.to_string()));
        self
    }

    pub(crate) fn env(mut self, k: &str, v: &str) -> Task {
        self.env.push((k.into(), v.into()));
        self
    }

    /// An env var whose value need not be UTF-8.
    pub(crate) fn env_os(mut self, k: &str, v: impl Into<std::ffi::OsString>) -> Task {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Stdout is a pipe whose reader is already gone (`task-runner render | true`).
    pub(crate) fn closed_stdout(mut self) -> Task {
        self.closed_stdout = true;
        self
    }

    pub(crate) fn stdin(mut self, text: &str) -> Task {
        self.stdin = Some(text.into());
        self
    }

    /// Runs the binary under another command (e.g. `unshare ...`).
    pub(crate) fn wrapped(mut self, wrapper: &[&str]) -> Task {
        self.wrapper = wrapper.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Runs with the XCom folder on a tmpfs of `size_kib` KiB of which
    /// `fill_kib` KiB are already taken (all of it when `fill_kib >=
    /// size_kib`), mounted in a mount namespace of the run only.
    pub(crate) fn xcom_volume(self, size_kib: u32, fill_kib: u32) -> Task {
        let dir = self
            .xcom_path()
            .parent()
            .expect("xcom folder")
            .to_path_buf();
        std::fs::create_dir_all(&dir).expect("mkdir xcom");
        let script = format!(
            r#"mount -t tmpfs -o size={size_kib}k tmpfs "$0" && {{ dd if=/dev/zero of="$0/fill" bs=1k count={fill_kib} 2>/dev/null; exec "$@"; }}"#
        );
        let dir = dir.display().to_string();
        self.wrapped(&["unshare", "-m", "sh", "-c", &script, &dir])
    }

    pub(crate) fn xcom_path(&self) -> PathBuf {
        self.dir().join("xcom/return.json")
    }

    /// The command line, with `run` and the default paths unless given.
    fn command(&self, subcommand: Option<&str>) -> Command {
        let mut cmd = match self.wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        if let Some(sub) = subcommand {
            cmd.arg(sub);
        }
        if let Some(spec) = &self.spec {
            let path = self.dir().join("spec.yaml");
            std::fs::write(&path, spec).expect("write spec");
            cmd.arg("--config").arg(path);
        }
        if subcommand == Some("run") && !self.args.iter().any(|a| a == "--xcom-path") {
            cmd.arg("--xcom-path").arg(self.xcom_path());
        }
        cmd.args(&self.args);
        cmd.current_dir(self.dir());
        cmd.env_clear();
        cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
        cmd.env("HOME", self.dir());
        cmd.env(
            "TASK_RUNNER_TERMINATION_LOG",
            self.dir().join("termination-log"),
        );
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub(crate) fn run(self) -> Outcome {
        self.run_sub(Some("run"))
    }

    pub(crate) fn render(self) -> Outcome {
        self.run_sub(Some("render"))
    }

    pub(crate) fn validate(self) -> Outcome {
        self.run_sub(Some("validate"))
    }

    pub(crate) fn encode(self) -> Outcome {
        self.run_sub(Some("encode"))
    }

    /// Runs with no subcommand at all (the image ENTRYPOINT case).
    pub(crate) fn bare(self) -> Outcome {
        self.run_sub(None)
    }

    pub(crate) fn run_sub(self, sub: Option<&str>) -> Outcome {
        let child = self.spawn(sub);
        child.wait()
    }

    /// Starts the runner and returns at once (for signal tests).
    pub(crate) fn spawn(self, sub: Option<&str>) -> Running {
        let mut cmd = self.command(sub);
        cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        if self.closed_stdout {
            let (reader, writer) = std::io::pipe().expect("pipe");
            drop(reader);
            cmd.stdout(writer);
        } else {
            cmd.stdout(Stdio::piped());
        }
        cmd.stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn task-runner");
        if let Some(text) = &self.stdin {
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(text.as_bytes()).expect("write stdin");
        }
        // Stdout is read as it comes, so a test can wait for a readiness line.
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stdout = child.stdout.take().map(|mut out| {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                loop {
                    match std::io::Read::read(&mut out, &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen.lock().expect("stdout").extend_from_slice(&buf[..n]),
                    }
                }
            })
        });
        Running {
            child,
            task: self,
            started: Instant::now(),
            seen,
            stdout,
        }
    }
}

pub(crate) struct Running {
    pub child: std::process::Child,
    task: Task,
    pub started: Instant,
    /// Stdout so far, filled by the `stdout` thread.
    seen: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    stdout: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub(crate) fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid")
    }

    /// Waits until the task has printed `text` (its readiness line), so a
    /// signal test signals a task that is set up, not one still starting.
    #[track_caller]
    pub(crate) fn wait_for_stdout(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !String::from_utf8_lossy(&self.seen.lock().expect("stdout")).contains(text) {
            assert!(Instant::now() < deadline, "the task never printed {text:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub(crate) fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).expect("send signal");
    }

    /// As `docker stop` does after its timeout: SIGKILL if the runner has not
    /// exited `after` from now, then the outcome (code -1 when killed).
    pub(crate) fn wait_or_kill_after(mut self, after: Duration) -> Outcome {
        let kill_at = Instant::now() + after;
        while self.child.try_wait().expect("wait").is_none() {
            if Instant::now() > kill_at {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.wait()
    }

    pub(crate) fn wait(mut self) -> Outcome {
        let stdout = self.stdout.take();
        let stderr = self.child.stderr.take().expect("stderr");
        let err = std::thread::spawn(move || read_all(stderr));
        let deadline = self.started + self.task.timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("task-runner did not finish within {:?}", self.task.timeout);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        if let Some(t) = stdout {
            t.join().expect("stdout thread");
        }
        let stdout = String::from_utf8_lossy(&self.seen.lock().expect("stdout")).into_owned();
        let xcom = std::fs::read_to_string(self.task.xcom_path()).ok();
        let termination =
            std::fs::read_to_string(self.task.dir().join("termination-log")).unwrap_or_default();
        Outcome {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr: err.join().expect("stderr thread"),
            xcom,
            termination,
            dir: self.task.dir,
        }
    }
}

fn read_all(mut r: impl std::io::Read) -> String {
    let mut buf = Vec::new();
    let _ = r.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

#[derive(Debug)]
pub(crate) struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub xcom: Option<String>,
    pub termination: String,
    pub dir: tempfile::TempDir,
}

impl Outcome {
    #[track_caller]
    pub(crate) fn exit(&self, code: i32) -> &Outcome {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The XCom file holds exactly this JSON value.
    #[track_caller]
    pub(crate) fn xcom(&self, expected: Value) -> &Outcome {
        let text = self
            .xcom
            .as_deref()
            .unwrap_or_else(|| panic!("no XCom written\n--- stderr:\n{}", self.stderr));
        let got: Value =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("XCom is not JSON ({e}): {text}"));
        assert_eq!(got, expected, "XCom");
        self
    }

    #[track_caller]
    pub(crate) fn no_xcom(&self) -> &Outcome {
        assert!(self.xcom.is_none(), "expected no XCom, got {:?}", self.xcom);
        let leftovers: Vec<_> = std::fs::read_dir(self.dir.path().join("xcom"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            leftovers.is_empty(),
            "files left in the XCom folder: {leftovers:?}"
        );
        self
    }

    #[track_caller]
    pub(crate) fn stdout_has(&self, text: &str) -> &Outcome {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub(crate) fn stderr_has(&self, text: &str) -> &Outcome {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}\n--- stderr:\n{}",
            self.stderr
        );
        self
    }

    #[track_caller]
    pub(crate) fn stdout_lacks(&self, text: &str) -> &Outcome {
        assert!(
            !self.stdout.contains(text),
            "stdout has {text:?}\n--- stdout:\n{}",
            self.stdout
        );
        self
    }

    #[track_caller]
    pub(crate) fn stderr_lacks(&self, text: &str) -> &Outcome {
        assert!(
            !self.stderr.contains(text),
            "stderr has {text:?}\n--- stderr:\n{}",
            self.stderr
        );
        self
    }

    #[track_caller]
    pub(crate) fn termination_has(&self, text: &str) -> &Outcome {
        assert!(
            self.termination.contains(text),
            "termination message lacks {text:?}: {:?}",
            self.termination
        );
        self
    }

    /// `secret` appears nowhere the runner wrote: stdout, stderr, termination message.
    #[track_caller]
    pub(crate) fn never_shows(&self, secret: &str) -> &Outcome {
        for (what, text) in [
            ("stdout", &self.stdout),
            ("stderr", &self.stderr),
            ("termination message", &self.termination),
        ] {
            assert!(
                !text.contains(secret),
                "{what} shows the secret {secret:?}:\n{text}"
            );
        }
        self
    }
}

/// A setting of the test environment (`TR_*`), from the process env or from
/// `target/test-env.sh`, which `scripts/test-deps.sh` and the services (scripts/services.sh) write. Missing means the
/// setup did not run: fail loudly rather than skip.
#[track_caller]
pub(crate) fn test_env(name: &str) -> String {
    if let Ok(v) = std::env::var(name)
        && !v.is_empty()
    {
        return v;
    }
    let file = repo().join("target/test-env.sh");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').trim_matches('\'').to_string())
        .unwrap_or_else(|| {
            panic!("{name} is not set: run `bash scripts/test.sh`, or `bash scripts/test-deps.sh && bash scripts/services.sh up`, first")
        })
}
