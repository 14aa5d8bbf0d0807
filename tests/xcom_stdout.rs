//! `TASK_RUNNER_XCOM_STDOUT=1`, for DockerOperator's `do_xcom_push` (the last
//! log line; docker provider 4.4.x the last chunk it read): the runner's log
//! shares stdout, the XCom is the last line, written in one `write(2)`, and
//! nothing follows it on either stream; a run without an XCom never ends with
//! something a JSON reader takes for one.

use std::collections::HashMap;
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{Outcome, Task, context, test_env};

fn last_line(out: &Outcome) -> &str {
    out.stdout.lines().last().unwrap_or_default()
}

#[track_caller]
fn assert_ends_with_the_xcom(out: &Outcome) {
    let xcom = out.xcom.as_deref().expect("an XCom file");
    assert_eq!(last_line(out), xcom, "the last stdout line is the XCom");
    assert!(
        out.stdout.ends_with(&format!("{xcom}\n")),
        "nothing after the XCom line"
    );
    assert_eq!(out.stderr, "", "stderr stays empty on success");
}

#[test]
fn on_success_the_log_shares_stdout_and_the_xcom_is_the_last_line() {
    let out = Task::new()
        .spec("operator: bash\nbash_command: 'echo to-out; echo to-err >&2; echo {{ ds }}'\n")
        .context(context())
        .env("TASK_RUNNER_XCOM_STDOUT", "1")
        .run();
    out.exit(0).xcom(json!("2024-06-01"));
    assert_ends_with_the_xcom(&out);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let wrote = lines
        .iter()
        .position(|l| l.contains("wrote XCom"))
        .expect("the `wrote XCom` log line is on stdout");
    assert_eq!(wrote, lines.len() - 2, "logged just before the XCom line");
    assert!(lines.iter().any(|l| l.contains("running task")));
    assert!(lines.contains(&"to-err"));
}

#[test]
fn python_and_sql_results_end_stdout_too_with_json_logs() {
    let python = test_env("TR_PYTHON3");
    let out = Task::new()
        .spec(&format!(
            "operator: python\npython: {python}\npython_callable: f\npython_source: |\n  def f():\n      print('{{\"not\": \"the result\"}}')\n      return {{'big': 2**70, 'u': u'\\u00e9\\U0001F600', 'l': [1.5, None]}}\n"
        ))
        .context(context())
        .env("TASK_RUNNER_XCOM_STDOUT", "1")
        .args(&["--log-format", "json"])
        .run();
    out.exit(0);
    assert_ends_with_the_xcom(&out);
    assert_eq!(
        last_line(&out),
        r#"{"big": 1180591620717411303424, "u": "é😀", "l": [1.5, null]}"#
    );

    let out = Task::new()
        .spec("operator: sql\nconn_id: lite\nsql: \"select 1 as a, 'x' as b\"\n")
        .context(context())
        .env("AIRFLOW_CONN_LITE", "sqlite:///:memory:")
        .env("TASK_RUNNER_XCOM_STDOUT", "1")
        .run();
    out.exit(0).xcom(json!([[1, "x"]]));
    assert_ends_with_the_xcom(&out);
}

#[test]
fn a_run_without_an_xcom_ends_with_null() {
    let out = Task::new()
        .spec("operator: bash\nbash_command: 'echo \"[1, 2]\"'\ndo_xcom_push: false\n")
        .context(context())
        .env("TASK_RUNNER_XCOM_STDOUT", "1")
        .run();
    out.exit(0).no_xcom();
    assert_eq!(last_line(&out), "null");
    assert_eq!(out.stderr, "");
}

/// A failed or skipped run has no XCom: its last line is plain text, not the
/// JSON the task printed nor a JSON log record, and the exit code is the
/// documented one (Docker marks the failure by it).
#[test]
fn a_failing_or_skipped_task_never_ends_with_json() {
    let python = test_env("TR_PYTHON3");
    let cases = [
        (
            "operator: bash\nbash_command: 'echo \"{\\\"a\\\": 1}\"; exit 3'\n".to_string(),
            3,
        ),
        (
            "operator: bash\nbash_command: 'echo \"[1]\"; exit 99'\n".to_string(),
            99,
        ),
        (
            format!(
                "operator: python\npython: {python}\npython_callable: f\npython_source: |\n  def f():\n      print('[1, 2]')\n      raise ValueError('{{\"b\": 2}}')\n"
            ),
            1,
        ),
        (
            "operator: bash\nbash_command: 'echo {{ nope }}'\n".to_string(),
            67,
        ),
    ];
    for (spec, code) in &cases {
        for format in ["text", "json"] {
            let out = Task::new()
                .spec(spec)
                .context(context())
                .env("TASK_RUNNER_XCOM_STDOUT", "1")
                .args(&["--log-format", format])
                .run();
            out.exit(*code).no_xcom();
            let last = last_line(&out);
            assert!(
                serde_json::from_str::<Value>(last).is_err(),
                "the last line parses as JSON: {last:?}\n{}",
                out.stdout
            );
            assert_eq!(
                last,
                format!("task-runner: no XCom: the task ended with exit code {code}")
            );
        }
    }
}

/// One `write(2)` on the runner's stdout carries the whole ~200 KB XCom line
/// and its newline, and it is the runner's last write on either stream.
#[test]
fn the_xcom_line_is_one_write_and_the_last() {
    let strace = Command::new("strace").arg("-V").output();
    assert!(
        strace.is_ok_and(|o| o.status.success()),
        "strace is not installed: this test needs it (scripts/test-deps.sh must apt-install strace)"
    );
    let python = test_env("TR_PYTHON3");
    let task = Task::new();
    let trace = task.dir().join("strace.log");
    let trace_arg = trace.display().to_string();
    let out = task
        .spec(&format!(
            "operator: python\npython: {python}\npython_callable: f\npython_source: |\n  def f():\n      print('working')\n      return ['x' * 100 + str(i) for i in range(2000)]\n"
        ))
        .context(context())
        .env("TASK_RUNNER_XCOM_STDOUT", "1")
        .wrapped(&[
            "strace", "-f", "-y", "-s", "8", "-e", "trace=write", "-e", "signal=none", "-o",
            &trace_arg,
        ])
        .run();
    out.exit(0);
    assert_ends_with_the_xcom(&out);
    let line_len = out.xcom.as_deref().unwrap().len() + 1;
    assert!(line_len > 200_000, "{line_len}");

    let writes = runner_writes(&std::fs::read_to_string(&trace).unwrap());
    // The runner's fds 1 and 2 are the harness's pipes; the task's own fd 1 is
    // the runner's output pipe, a different one.
    let stdout_pipe = writes
        .iter()
        .rev()
        .find(|w| w.fd == 1)
        .map(|w| w.target.clone())
        .expect("writes on fd 1");
    let ours: Vec<&Write> = writes
        .iter()
        .filter(|w| w.target == stdout_pipe || w.fd == 2)
        .collect();
    let last = ours.last().unwrap();
    assert_eq!(
        (last.fd, last.count, last.result),
        (1, line_len, Some(line_len)),
        "the last write on stdout is the whole XCom line: {last:?}"
    );
    let whole: Vec<_> = ours.iter().filter(|w| w.count == line_len).collect();
    assert_eq!(whole.len(), 1, "exactly one write carries the line");
    assert!(
        ours.iter().all(|w| w.fd == 1),
        "no write on stderr: {ours:?}"
    );
}

#[derive(Debug)]
struct Write {
    fd: i32,
    /// strace's `-y` annotation, e.g. `pipe:[123]`.
    target: String,
    count: usize,
    result: Option<usize>,
}

/// The `write` calls in an `strace -f -y` log, with `<unfinished ...>` calls
/// joined to their `<... write resumed>` ends.
fn runner_writes(log: &str) -> Vec<Write> {
    let mut writes = Vec::new();
    let mut pending: HashMap<String, usize> = HashMap::new();
    for line in log.lines() {
        let (pid, rest) = line.split_once(' ').unwrap_or(("", line));
        let rest = rest.trim_start();
        if let Some(call) = rest.strip_prefix("write(") {
            let Some((fd, tail)) = call.split_once('<') else {
                continue;
            };
            let Some((target, tail)) = tail.split_once(">,") else {
                continue;
            };
            let Ok(fd) = fd.parse() else { continue };
            let args = tail.split(" <unfinished").next().unwrap_or(tail);
            let args = args.split(") = ").next().unwrap_or(args);
            let count = args
                .rsplit(", ")
                .next()
                .and_then(|n| n.trim_end_matches(')').trim().parse().ok())
                .unwrap_or(0);
            let result = tail
                .rsplit_once(") = ")
                .and_then(|(_, r)| r.split(' ').next()?.parse().ok());
            if tail.contains("<unfinished") {
                pending.insert(pid.to_string(), writes.len());
            }
            writes.push(Write {
                fd,
                target: target.to_string(),
                count,
                result,
            });
        } else if rest.starts_with("<... write resumed>")
            && let Some(i) = pending.remove(pid)
        {
            writes[i].result = rest
                .rsplit_once(") = ")
                .and_then(|(_, r)| r.split(' ').next()?.parse().ok());
        }
    }
    writes
}

/// Under the real Docker engine, 30 times: the merged stream (`docker run`
/// attached without `-t`, and `docker logs`, each into one pipe, as
/// DockerOperator reads the multiplexed log) ends with the XCom line.
#[test]
fn in_docker_the_merged_log_ends_with_the_xcom_every_time() {
    let image = crate::docker::image();
    let spec = task_runner::spec::source::encode(
        "operator: bash\nbash_command: 'for i in 1 2 3; do echo out $i; echo err $i >&2; done; echo \"{{ ds }} done\"'\n",
    );
    let ctx = context().to_string();
    let expected = "\"2024-06-01 done\"";
    for i in 0..30 {
        let name = format!("task-runner-echo-{}-{i}", std::process::id());
        let run = merged(&[
            "run",
            "--name",
            &name,
            "-e",
            &format!("TASK_RUNNER_SPEC={spec}"),
            "-e",
            &format!("TASK_RUNNER_CONTEXT={ctx}"),
            "-e",
            "TASK_RUNNER_XCOM_STDOUT=1",
            image,
        ]);
        let logs = merged(&["logs", &name]);
        let _ = Command::new("docker").args(["rm", "-f", &name]).output();
        for (what, (ok, text)) in [("docker run", &run), ("docker logs", &logs)] {
            assert!(ok, "{what} failed (run {i}):\n{text}");
            assert_eq!(
                text.lines().last(),
                Some(expected),
                "{what} (run {i}) does not end with the XCom:\n{text}"
            );
            assert!(text.contains("wrote XCom"), "{text}");
        }
    }
}

/// What docker provider 4.4.x pushes: the last chunk of the Engine API's
/// attach stream (`cli.attach(stream=True)`, one chunk per frame, one frame
/// per read of the container's output), 30 times under CPU load. The XCom
/// line must be a chunk of its own, not glued to the log line before it.
#[test]
fn in_docker_the_last_attach_chunk_is_the_xcom_line_alone() {
    let image = crate::docker::image();
    let spec = task_runner::spec::source::encode(
        "operator: bash\nbash_command: 'for i in 1 2 3; do echo out $i; done; echo \"{{ ds }} done\"'\n",
    );
    let ctx = context().to_string();
    let expected = "\"2024-06-01 done\"\n";
    // Load makes the reader late, which is when reads glue writes together.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let burners: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
        })
        .collect();
    let mut wrong = Vec::new();
    for i in 0..30 {
        let name = format!("task-runner-attach-{}-{i}", std::process::id());
        let created = Command::new("docker")
            .args([
                "create",
                "--name",
                &name,
                "-e",
                &format!("TASK_RUNNER_SPEC={spec}"),
                "-e",
                &format!("TASK_RUNNER_CONTEXT={ctx}"),
                "-e",
                "TASK_RUNNER_XCOM_STDOUT=1",
                image,
            ])
            .output()
            .expect("docker create");
        assert!(
            created.status.success(),
            "{}",
            String::from_utf8_lossy(&created.stderr)
        );
        let frames = attach_frames(&name, || {
            let started = Command::new("docker")
                .args(["start", &name])
                .output()
                .unwrap();
            assert!(
                started.status.success(),
                "{}",
                String::from_utf8_lossy(&started.stderr)
            );
        });
        let _ = Command::new("docker").args(["rm", "-f", &name]).output();
        let last = frames
            .last()
            .map(|f| String::from_utf8_lossy(f).into_owned());
        if last.as_deref() != Some(expected) {
            wrong.push((i, last));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for b in burners {
        b.join().unwrap();
    }
    assert!(
        wrong.is_empty(),
        "last attach chunks that are not the XCom line alone: {wrong:?}"
    );
}

/// Attaches to container `name` through the Engine API socket as docker-py
/// does, runs `start`, and returns the payload of every frame of the
/// multiplexed stream (8-byte header: stream, 0, 0, 0, big-endian length).
fn attach_frames(name: &str, start: impl FnOnce()) -> Vec<Vec<u8>> {
    use std::io::{BufRead, Read, Write};
    let socket = std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(str::to_owned))
        .unwrap_or_else(|| "/var/run/docker.sock".into());
    let mut conn = std::os::unix::net::UnixStream::connect(&socket).expect("docker socket");
    write!(
        conn,
        "POST /containers/{name}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
    )
    .unwrap();
    let mut reader = std::io::BufReader::new(conn);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line.starts_with("HTTP/") {
            assert!(
                line.contains(" 101 ") || line.contains(" 200 "),
                "attach: {line}"
            );
        }
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    start();
    let mut frames = Vec::new();
    let mut header = [0u8; 8];
    while reader.read_exact(&mut header).is_ok() {
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let mut payload = vec![0; len];
        reader.read_exact(&mut payload).unwrap();
        frames.push(payload);
    }
    frames
}

/// A 200 KB XCom line comes out of `docker logs` whole and last too (the
/// log driver cuts messages at 16 KiB; readers that join lines, as
/// DockerOperator does, get it back; one that takes the last raw chunk, as
/// docker provider 4.4.x, cannot: use the pickle for values that large).
#[test]
fn in_docker_a_200_kb_xcom_line_is_the_last_line_too() {
    let image = crate::docker::image();
    let spec = task_runner::spec::source::encode(
        "operator: bash\nbash_command: 'echo start; head -c 200000 /dev/zero | tr \"\\\\0\" x; echo'\n",
    );
    let name = format!("task-runner-echo-big-{}", std::process::id());
    let run = merged(&[
        "run",
        "--name",
        &name,
        "-e",
        &format!("TASK_RUNNER_SPEC={spec}"),
        "-e",
        "TASK_RUNNER_XCOM_STDOUT=1",
        image,
        "run",
        "--logical-date",
        "2024-06-01",
    ]);
    let logs = merged(&["logs", &name]);
    let _ = Command::new("docker").args(["rm", "-f", &name]).output();
    let expected = format!("\"{}\"", "x".repeat(200_000));
    for (what, (ok, text)) in [("docker run", &run), ("docker logs", &logs)] {
        assert!(ok, "{what} failed:\n{}", &text[..text.len().min(2000)]);
        assert!(
            text.lines().last() == Some(expected.as_str()),
            "{what}: the last line is not the 200 KB XCom"
        );
    }
}

/// Runs `docker args` with stdout and stderr into one pipe; (success, text).
fn merged(args: &[&str]) -> (bool, String) {
    let (mut reader, writer) = std::io::pipe().unwrap();
    let mut cmd = Command::new("docker");
    cmd.args(args)
        .stdout(writer.try_clone().unwrap())
        .stderr(writer);
    let mut child = cmd.spawn().expect("docker");
    // Our copies of the write end go, so the read ends at the child's exit.
    drop(cmd);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut reader, &mut text).unwrap();
    let ok = child.wait().unwrap().success();
    (ok, text)
}

/// The echoed line is the container log: a secret in the value is masked
/// there, as on every other line; the XCom file keeps the value (Airflow does
/// not mask XComs).
#[test]
fn the_echoed_xcom_line_is_masked() {
    let out = Task::new()
        .spec("operator: bash\nbash_command: 'echo \"token={{ conn.api.password }}\"'\n")
        .context(context())
        .env("AIRFLOW_CONN_API", "http://u:s3cr3t-Pa55@api.example.com")
        .env("TASK_RUNNER_XCOM_STDOUT", "1")
        .run();
    out.exit(0).xcom(json!("token=s3cr3t-Pa55"));
    assert_eq!(last_line(&out), r#""token=***""#);
    assert!(!out.stdout.contains("s3cr3t-Pa55"), "{}", out.stdout);
}
