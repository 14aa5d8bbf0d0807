use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::json;

use crate::harness::{Task, context, fixture};

fn child_spec(script: &str, extra: &str) -> String {
    format!(
        "operator: bash\nbash_command: '{} '\n{extra}",
        fixture(&format!("children/{script}")).display()
    )
}

#[test]
fn sigterm_is_forwarded_and_the_task_stops() {
    let t = Task::new()
        .spec(&child_spec("traps_term.sh", "grace_period: 5s\n"))
        .context(context());
    let running = t.spawn(Some("run"));
    running.wait_for_stdout("waiting for a signal");
    running.signal(Signal::SIGTERM);
    let out = running.wait();
    out.exit(143)
        .stdout_has("got SIGTERM, cleaning up")
        .termination_has("stopped by SIGTERM")
        .no_xcom()
        // It ended on the forwarded SIGTERM, not on the grace period's SIGKILL.
        .stderr_lacks("sending SIGKILL");
}

#[test]
fn sigint_and_sighup_are_forwarded_too() {
    for (sig, code) in [(Signal::SIGINT, 130), (Signal::SIGHUP, 129)] {
        let running = Task::new()
            .spec(&child_spec("forever.sh", ""))
            .context(context())
            .spawn(Some("run"));
        running.wait_for_stdout("sleeping forever");
        running.signal(sig);
        running.wait().exit(code).no_xcom();
    }
}

#[test]
fn a_child_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let running = Task::new()
        .spec(&child_spec("ignores_term.sh", "grace_period: 1s\n"))
        .context(context())
        .spawn(Some("run"));
    running.wait_for_stdout("ignoring SIGTERM");
    running.signal(Signal::SIGTERM);
    let out = running.wait();
    out.exit(143)
        .stderr_has("did not exit within 1s of SIGTERM: sending SIGKILL")
        .no_xcom();
}

#[test]
fn a_second_signal_kills_at_once() {
    // Says when the forwarded SIGTERM arrived, and goes on: the second signal
    // is sent only once the first was handled (two pending SIGTERMs are one).
    let script = r#"trap 'echo "got SIGTERM, going on"' TERM
echo "waiting for a signal"
while true; do sleep 0.1; done
"#;
    let t = Task::new().context(context());
    let d = t.dir().to_path_buf();
    let running = t
        .file("stubborn.sh", script)
        .spec(&format!(
            "operator: bash\nbash_command: 'bash {}/stubborn.sh '\ngrace_period: 60s\n",
            d.display()
        ))
        .spawn(Some("run"));
    running.wait_for_stdout("waiting for a signal");
    running.signal(Signal::SIGTERM);
    running.wait_for_stdout("got SIGTERM, going on");
    running.signal(Signal::SIGTERM);
    let out = running.wait();
    // Killed on the second signal, not after the 60 s grace period.
    out.exit(143).stderr_lacks("did not exit within");
}

#[test]
fn execution_timeout_stops_a_task_that_never_exits() {
    Task::new()
        .spec(&child_spec(
            "forever.sh",
            "execution_timeout: 1s\ngrace_period: 1s\n",
        ))
        .context(context())
        .run()
        .exit(124)
        .stderr_has("execution_timeout")
        .termination_has("timed out after 1s")
        .no_xcom();
    // The timeout also wins over a child that ignores SIGTERM.
    Task::new()
        .spec(&child_spec(
            "ignores_term.sh",
            "execution_timeout: 1\ngrace_period: 0.5\n",
        ))
        .context(context())
        .run()
        .exit(124)
        .no_xcom();
}

#[test]
fn a_grandchild_left_running_does_not_keep_the_task_alive() {
    let t = Task::new().context(context());
    let pidfile = t.dir().join("grandchild.pid");
    let out = t
        .spec(&format!(
            "operator: bash\nbash_command: '{} {} 0'\n",
            fixture("children/orphans.sh").display(),
            pidfile.display()
        ))
        .run();
    out.exit(0).xcom(json!("left a grandchild behind"));
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(!alive, "grandchild {pid} still running");
}

#[test]
fn a_flood_of_output_is_forwarded_and_the_last_line_kept() {
    let out = Task::new()
        .spec(&child_spec("floods.sh", ""))
        .context(context())
        .run();
    out.exit(0).xcom(json!("the end"));
    assert!(out.stdout.contains("out 20000") && out.stdout.contains("err 20000"));
    assert!(out.stdout.len() > 3 * 1024 * 1024);
}

/// The runner as PID 1 of a new PID namespace (as in a container): orphans are
/// reaped and the task's own exit code is kept.
#[test]
fn as_pid_1_orphans_are_reaped_and_the_exit_code_kept() {
    let out = Task::new()
        .wrapped(&["unshare", "--pid", "--fork", "--mount-proc"])
        .spec(&format!(
            "operator: bash\nbash_command: '{} 7'\n",
            fixture("children/zombies.sh").display()
        ))
        .context(context())
        .run();
    out.exit(7).stdout_has("zombies: 0");
    let out = Task::new()
        .wrapped(&["unshare", "--pid", "--fork", "--mount-proc"])
        .spec(&format!(
            "operator: bash\nbash_command: '{} 0'\n",
            fixture("children/zombies.sh").display()
        ))
        .context(context())
        .run();
    out.exit(0).xcom(json!("zombies: 0"));
}

/// The control for the test above: a PID 1 that does not reap (Python's
/// `subprocess.call` waits for its own child only) leaves the same orphans as
/// zombies, so "zombies: 0" really shows the runner reaping.
#[test]
fn control_a_pid_1_that_does_not_reap_leaves_zombies() {
    let python = crate::harness::test_env("TR_PYTHON3");
    let script = fixture("children/zombies.sh").display().to_string();
    let out = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", &python, "-c"])
        .arg(format!(
            "import subprocess, sys; sys.exit(subprocess.call(['{script}', '0']))"
        ))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("zombies: 3"), "{stdout}");
}

/// As PID 1, SIGTERM (what `docker stop` and Kubernetes send) still stops the task.
#[test]
fn as_pid_1_sigterm_stops_the_task() {
    let t = Task::new()
        .wrapped(&[
            "unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child=SIGTERM",
        ])
        .spec(&child_spec("traps_term.sh", ""))
        .context(context());
    let running = t.spawn(Some("run"));
    running.wait_for_stdout("waiting for a signal");
    // unshare --kill-child forwards nothing; signal the runner (its child) directly.
    let runner = std::fs::read_to_string(format!(
        "/proc/{}/task/{}/children",
        running.pid(),
        running.pid()
    ))
    .unwrap();
    let runner: i32 = runner.split_whitespace().next().unwrap().parse().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(runner), Signal::SIGTERM).unwrap();
    running.wait().exit(143).stdout_has("got SIGTERM");
}

/// Outside a container, a runner killed with SIGKILL takes its task along
/// (PR_SET_PDEATHSIG), rather than leaving it running unsupervised.
#[test]
fn a_killed_runner_does_not_leave_its_task_running() {
    let running = Task::new()
        .spec(&child_spec("forever.sh", ""))
        .context(context())
        .spawn(Some("run"));
    running.wait_for_stdout("sleeping forever");
    let children =
        std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", running.pid())).unwrap();
    let task: i32 = children
        .split_whitespace()
        .next()
        .expect("the task process")
        .parse()
        .unwrap();
    running.signal(Signal::SIGKILL);
    let out = running.wait();
    assert_eq!(out.code, -1, "killed by a signal");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{task}/stat")).exists()
        && !std::fs::read_to_string(format!("/proc/{task}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "task {task} still running after its runner was killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Outside a PID namespace, nothing the task started outlives the runner: a
/// `setsid` daemon holding no pipe, a group member that ignores SIGTERM, and
/// a double-forked grandchild are all ended (SIGTERM, then SIGKILL after the
/// grace period) and reaped before the runner exits.
#[test]
fn nothing_the_task_started_outlives_the_runner() {
    let t = Task::new().context(context());
    let d = t.dir().to_path_buf();
    let script = format!(
        r#"setsid sh -c 'echo $$ > {d}/daemon; exec sleep 300' </dev/null >/dev/null 2>&1 &
sh -c 'trap "" TERM; echo $$ > {d}/stubborn; exec sleep 300' </dev/null >/dev/null 2>&1 &
( setsid sh -c 'sh -c "echo \$\$ > {d}/grandchild; exec sleep 300" &' </dev/null >/dev/null 2>&1 & )
for f in daemon stubborn grandchild; do
  while [ ! -s {d}/$f ]; do sleep 0.01; done
done
echo done
"#,
        d = d.display()
    );
    let out = t
        .file("leaves.sh", &script)
        .spec(&format!(
            "operator: bash\nbash_command: 'bash {}/leaves.sh '\ngrace_period: 1s\n",
            d.display()
        ))
        .run();
    out.exit(0)
        .xcom(json!("done"))
        .stderr_has("the task left processes running")
        .stderr_has("did not exit within 1s of SIGTERM: sending SIGKILL");
    for name in ["daemon", "stubborn", "grandchild"] {
        let pid = std::fs::read_to_string(d.join(name)).unwrap();
        let pid = pid.trim();
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "{name} ({pid}) outlived the runner"
        );
    }
}

/// SIGUSR1 and SIGUSR2 are messages to the task: they go to its main process
/// only, so a helper that does not handle them (`sleep`) is not killed.
#[test]
fn sigusr1_goes_to_the_main_process_only() {
    let t = Task::new().context(context());
    // Polls for the trap's flag: a `wait` for the helper would hang if the
    // signal came between `echo ready` and the `wait`.
    let script = r#"got=
trap 'echo got USR1; got=1' USR1
sleep 300 &
helper=$!
echo ready
while [ -z "$got" ]; do sleep 0.05; done
if kill -0 $helper 2>/dev/null; then echo "helper alive"; else echo "helper killed"; fi
kill $helper
"#;
    let d = t.dir().to_path_buf();
    let running = t
        .file("usr1.sh", script)
        .spec(&format!(
            "operator: bash\nbash_command: 'bash {}/usr1.sh '\n",
            d.display()
        ))
        .spawn(Some("run"));
    running.wait_for_stdout("ready");
    running.signal(Signal::SIGUSR1);
    running
        .wait()
        .exit(0)
        .stdout_has("got USR1")
        .xcom(json!("helper alive"));
}
