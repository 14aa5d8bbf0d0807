//! Runs the task's process: its own process group, merged output forwarded,
//! stop signals forwarded to the group and SIGUSR1/SIGUSR2 to the main
//! process, timeout and stop escalate SIGTERM → grace → SIGKILL, orphans
//! reaped, the main child's status never lost, and nothing the task started
//! left running when the runner goes on (see [`leftovers`]).
//!
//! Topology (tini's, single process): the child is spawned with `std`, never
//! with `tokio::process`, and one thread owns every `waitpid(-1)`. It reports
//! the main child's status over a channel and reaps everything else, so no
//! other wait can steal the status (the mono/go-reaper race). The thread starts
//! only after `spawn` returns, because `std` reaps a child whose `exec` failed.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::supervise::end::{ProcessEnd, signal_name};
use crate::supervise::interrupt::sleep_opt;
use crate::supervise::leftovers;
use crate::supervise::output::{Batch, Decoder, forward_lines_noting};
use crate::supervise::signals::{Received, Signals};

/// How to stop the task.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub timeout: Option<Duration>,
    pub grace: Duration,
}

/// Why the task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It ended on its own.
    Finished(ProcessEnd),
    /// `execution_timeout` expired and it was stopped.
    TimedOut(ProcessEnd),
    /// A stop signal arrived and it was stopped.
    Stopped { signal: i32, end: ProcessEnd },
}

#[derive(Debug)]
pub(crate) struct Supervised {
    pub outcome: Outcome,
    /// The last output line, if there was any output.
    pub last_line: Option<crate::supervise::output::LastLine>,
}

/// How long to wait for the output pipe to close after every descendant is
/// gone; a process outside the runner's tree that holds it is abandoned.
const DRAIN: Duration = Duration::from_secs(2);

/// Spawns `cmd` and supervises it to the end.
pub(crate) async fn supervise(
    mut cmd: Command,
    policy: Policy,
    decoder: Decoder,
    signals: &mut Signals,
) -> std::io::Result<Supervised> {
    let (reader, writer) = std::io::pipe()?;
    cmd.stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .process_group(0);
    // If the runner itself is SIGKILLed (outside a container, where no PID 1
    // takes the task down with it), the task must not run on unsupervised.
    // SAFETY: the closure runs in the forked child before exec and only makes
    // an async-signal-safe `prctl` call; it touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
    // The output thread starts first: it is scheduled while the child is
    // forked and exec'd, not late after a short task already ended (the
    // end waits for it). If the spawn fails, the pipe closes and it ends.
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let noted = seen.clone();
    std::thread::Builder::new()
        .name("output".into())
        .spawn(move || {
            let batch = std::cell::RefCell::new(Batch::default());
            let last = forward_lines_noting(
                reader,
                decoder,
                |line| batch.borrow_mut().line(line),
                || batch.borrow_mut().flush(),
                &noted,
            );
            let _ = line_tx.send(last);
        })?;
    let child = cmd.spawn()?;
    // The command holds our copies of the pipe's write end; drop them so EOF
    // comes when the task's processes close theirs.
    drop(cmd);
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    tracing::debug!(pid = pid.as_raw(), "spawned task process");

    let (status_tx, mut status_rx) = oneshot::channel();
    let (reaped_all_tx, reaped_all_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("reaper".into())
        .spawn(move || reap(pid, status_tx, reaped_all_tx))?;

    let mut deadline = policy.timeout.map(|t| Instant::now() + t);
    let mut kill_at: Option<Instant> = None;
    let mut stop: Option<i32> = None;
    let mut timed_out = false;
    let end = loop {
        tokio::select! {
            status = &mut status_rx => {
                break status.unwrap_or(ProcessEnd::Signaled(Signal::SIGKILL as i32));
            }
            received = signals.recv() => match received {
                Received::Forward(sig) => forward(pid, sig),
                Received::Stop(sig) => {
                    send(pid, sig);
                    if stop.is_some() || timed_out {
                        // A second request means now.
                        send(pid, Signal::SIGKILL as i32);
                    } else {
                        tracing::warn!("received {}: stopping the task (SIGKILL in {:?} if it has not exited)", signal_name(sig), policy.grace);
                        stop = Some(sig);
                        kill_at = Some(Instant::now() + policy.grace);
                    }
                }
            },
            () = sleep_opt(deadline) => {
                deadline = None;
                timed_out = true;
                tracing::error!("execution_timeout of {} reached: sending SIGTERM to the task", humantime::format_duration(policy.timeout.unwrap_or_default()));
                send(pid, Signal::SIGTERM as i32);
                kill_at = Some(Instant::now() + policy.grace);
            }
            () = sleep_opt(kill_at) => {
                kill_at = None;
                tracing::warn!("the task did not exit within {:?} of SIGTERM: sending SIGKILL", policy.grace);
                send(pid, Signal::SIGKILL as i32);
            }
        }
    };

    // Whatever the main process left running goes with it: its group and
    // every other descendant (a `setsid` daemon too), SIGTERM then SIGKILL
    // after the grace period; the runner goes on only once all are reaped.
    // The task has ended and the runtime has nothing else to run, so
    // blocking here holds nothing up.
    leftovers::end_all(pid, policy.grace, &reaped_all_rx);
    // Every writer the runner knows of is gone: the pipe closes now, unless
    // a process outside its tree holds it (no subreaper, a passed fd).
    let last_line = line_rx.recv_timeout(DRAIN).ok();
    let last_line = match last_line {
        Some(last) => last,
        None => {
            // A process the runner could not end still holds the output
            // pipe: the task's last line is the last complete line read,
            // never an empty one.
            tracing::warn!(
                "a process outside the runner's process tree still holds the task's output; the last complete line read is the task's last line"
            );
            seen.lock().ok().and_then(|s| s.clone())
        }
    };
    Ok(Supervised {
        outcome: outcome(end, stop, timed_out),
        last_line,
    })
}

fn outcome(end: ProcessEnd, stop: Option<i32>, timed_out: bool) -> Outcome {
    match (timed_out, stop) {
        (true, _) => Outcome::TimedOut(end),
        (false, Some(signal)) => Outcome::Stopped { signal, end },
        (false, None) => Outcome::Finished(end),
    }
}

/// Sends a non-stop signal (SIGUSR1, SIGUSR2) to the task's main process
/// only: it is a message to the task, and its helpers (`sleep`, `curl`) would
/// die of a signal they do not handle.
fn forward(pid: Pid, sig: i32) {
    let Ok(signal) = Signal::try_from(sig) else {
        return;
    };
    match nix::sys::signal::kill(pid, signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => tracing::warn!("failed to send {} to the task: {e}", signal.as_str()),
    }
}

/// Sends `sig` to the task's process group (the group id is the child's pid).
fn send(pid: Pid, sig: i32) {
    let Ok(signal) = Signal::try_from(sig) else {
        return;
    };
    match killpg(pid, signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => tracing::warn!("failed to send {} to the task: {e}", signal.as_str()),
    }
}

/// The reaper thread: every `waitpid(-1)` of the process happens here.
/// Sends on `reaped_all` when no child is left.
fn reap(
    main: Pid,
    status_tx: oneshot::Sender<ProcessEnd>,
    reaped_all: std::sync::mpsc::Sender<()>,
) {
    let mut status_tx = Some(status_tx);
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(status) => {
                let Some(end) = ProcessEnd::from_wait(status) else {
                    continue;
                };
                if status.pid() == Some(main) {
                    if let Some(tx) = status_tx.take() {
                        let _ = tx.send(end);
                    }
                } else {
                    tracing::debug!(pid = ?status.pid(), "reaped an orphaned process: {end:?}");
                }
            }
            Err(Errno::EINTR) => {}
            // No children left: the main one is reaped and no orphan remains.
            Err(_) => {
                let _ = reaped_all.send(());
                return;
            }
        }
    }
}
