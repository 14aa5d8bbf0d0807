//! Runs the task's process: its own process group, merged output forwarded,
//! stop signals forwarded to the group and SIGUSR1/SIGUSR2 to the main
//! process, timeout and stop escalate SIGTERM → grace → SIGKILL, orphans
//! reaped, the main child's status never lost, and nothing the task started
//! left running when the runner goes on (see [`leftovers`]).
//!
//! Topology (tini's, single process): the child is started by [`spawn`],
//! never with `tokio::process`, and while it runs every `waitpid(-1)` happens
//! in the supervision loop, on SIGCHLD: it takes the main child's status and
//! reaps everything else, so no other wait can steal the status (the
//! mono/go-reaper race). Output is forwarded by a thread of its own, so a
//! stdout that blocks never holds up a signal or the timeout.

use std::os::fd::AsFd;
use std::process::Command;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::Instant;

use crate::supervise::end::{ProcessEnd, signal_name};
use crate::supervise::interrupt::sleep_opt;
use crate::supervise::leftovers;
use crate::supervise::output::{Batch, Decoder, forward_lines_noting};
use crate::supervise::signals::{Received, Signals};
use crate::supervise::spawn;

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
    cmd: Command,
    policy: Policy,
    decoder: Decoder,
    signals: &mut Signals,
) -> std::io::Result<Supervised> {
    let (reader, writer) = std::io::pipe()?;
    let null = std::fs::File::open("/dev/null")?;
    // SIGCHLD is listened for before the child exists: its end cannot slip
    // past (a signal stream records a signal that came before it is polled).
    let mut children = signal(SignalKind::child())?;
    // The output thread starts first: it is scheduled while the child is
    // cloned and exec'd, not late after a short task already ended (the
    // end waits for it). If the spawn fails, the pipe closes and it ends.
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let noted = seen.clone();
    std::thread::Builder::new()
        .name("output".into())
        .spawn(move || {
            // memchr picks its SIMD code on first use, with CPUID, which a
            // VM traps (0.1 ms here): done now, while the child is being
            // exec'd, not when its first line arrives.
            std::hint::black_box(memchr::memchr(b'\n', std::hint::black_box(&[0u8; 64])));
            let batch = std::cell::RefCell::new(Batch::default());
            let mut buf = Vec::new();
            let last = forward_lines_noting(
                reader,
                decoder,
                &mut buf,
                |line| batch.borrow_mut().line(line),
                || batch.borrow_mut().flush(),
                &noted,
            );
            let _ = line_tx.send(last);
            // Done, but not ended: a thread that frees its buffers and its
            // stack at the end unmaps memory while the main thread runs on,
            // a TLB shootdown on every run (tens of microseconds on a VM).
            // It keeps them and sleeps until the process exits, soon after.
            loop {
                std::thread::park();
            }
        })?;
    let pid = spawn::spawn(
        &cmd,
        spawn::Stdio {
            stdin: null.as_fd(),
            stdout: writer.as_fd(),
            stderr: writer.as_fd(),
        },
    )?;
    // Our copies of the pipe's write end go, so EOF comes when the task's
    // processes close theirs.
    drop((writer, null, cmd));
    tracing::debug!(pid = pid.as_raw(), "spawned task process");

    let mut deadline = policy.timeout.map(|t| Instant::now() + t);
    let mut kill_at: Option<Instant> = None;
    let mut stop: Option<i32> = None;
    let mut timed_out = false;
    let end = loop {
        tokio::select! {
            _ = children.recv() => {
                if let Some(end) = reap_ready(pid) {
                    break end;
                }
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
    leftovers::end_all(pid, policy.grace);
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

/// Reaps every child that has ended (the task's orphans too, re-parented to
/// the runner); returns the main process's end if it is among them. All of
/// the runner's waits happen on this thread, after `spawn` returned, so no
/// other wait can take the main child's status (the mono/go-reaper race).
fn reap_ready(main: Pid) -> Option<ProcessEnd> {
    let mut main_end = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return main_end,
            Ok(status) => {
                let Some(end) = ProcessEnd::from_wait(status) else {
                    continue;
                };
                if status.pid() == Some(main) {
                    main_end = Some(end);
                } else {
                    tracing::debug!(pid = ?status.pid(), "reaped an orphaned process: {end:?}");
                }
            }
            Err(Errno::EINTR) => {}
            // No child left.
            Err(_) => return main_end,
        }
    }
}
