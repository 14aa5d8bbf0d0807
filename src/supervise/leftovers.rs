//! Ending what the task left running: every descendant of the runner, found in
//! `/proc`, not only the members of the task's process group.
//!
//! The runner is PID 1 or a child subreaper (see [`crate::supervise::init`]),
//! so every orphan of the task is re-parented to it, and a process that left
//! the group (`setsid daemon &`) is still one of its descendants. Once the
//! main process has ended, the group and every descendant get SIGTERM; those
//! left after the grace period get SIGKILL, in rounds until the reaper thread
//! reports that no child remains (a child exits only after its own children
//! were re-parented, so "no child" means "no descendant").
//!
//! A pid read from `/proc` is signalled only while its start time is the one
//! read, so a pid reused by an unrelated process in between is left alone.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{Id, WaitPidFlag, waitid, waitpid};
use nix::unistd::Pid;

/// SIGKILL rounds before giving up on a descendant that keeps forking.
const KILL_ROUNDS: u32 = 50;
/// How long one SIGKILL round waits for the reaper.
const KILL_ROUND: Duration = Duration::from_millis(100);

/// Ends the task's process group and every other descendant of the runner,
/// SIGTERM first and SIGKILL after `grace`, and returns once all are reaped.
/// Returns how many processes were still running when the main one ended.
pub(crate) fn end_all(group: Pid, grace: Duration) -> usize {
    if no_children() {
        return 0;
    }
    let reaped_all = match start_reaper() {
        Ok(rx) => rx,
        Err(e) => {
            // Nothing can wait for them: they are killed at once instead.
            tracing::warn!(
                "cannot start a thread to reap what the task left running ({e}): sending SIGKILL"
            );
            let _ = killpg(group, Signal::SIGKILL);
            return signal_descendants(Signal::SIGKILL);
        }
    };
    let _ = killpg(group, Signal::SIGTERM);
    let found = signal_descendants(Signal::SIGTERM);
    if found > 0 {
        tracing::info!(
            processes = found,
            "the task left processes running: sending them SIGTERM (SIGKILL in {grace:?})"
        );
    }
    if reaped_all.recv_timeout(grace).is_ok() {
        return found;
    }
    tracing::warn!(
        "processes the task left running did not exit within {grace:?} of SIGTERM: sending SIGKILL"
    );
    for _ in 0..KILL_ROUNDS {
        let _ = killpg(group, Signal::SIGKILL);
        signal_descendants(Signal::SIGKILL);
        if reaped_all.recv_timeout(KILL_ROUND).is_ok() {
            return found;
        }
    }
    tracing::warn!(
        "processes the task left running are still there after {KILL_ROUNDS} rounds of SIGKILL; the runner exits without them"
    );
    found
}

/// A thread that reaps every child as it ends; the receiver gets one message
/// when no child is left.
fn start_reaper() -> std::io::Result<Receiver<()>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("reaper".into())
        .spawn(move || {
            loop {
                match waitpid(Pid::from_raw(-1), None) {
                    Ok(status) => {
                        tracing::debug!(pid = ?status.pid(), "reaped a leftover process: {status:?}");
                    }
                    Err(Errno::EINTR) => {}
                    Err(_) => break,
                }
            }
            let _ = tx.send(());
        })?;
    Ok(rx)
}

/// Whether the runner has no child at all, exited or not (peeks, never reaps).
fn no_children() -> bool {
    matches!(
        waitid(
            Id::All,
            WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT
        ),
        Err(Errno::ECHILD)
    )
}

/// One process as `/proc/<pid>/stat` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    ppid: i32,
    /// Clock ticks after boot: with the pid, it names one process.
    start: u64,
    zombie: bool,
}

/// Sends `sig` to every live descendant of this process; returns how many.
fn signal_descendants(sig: Signal) -> usize {
    let mut sent = 0;
    for (pid, start) in descendants(std::process::id() as i32) {
        // Signal only the process that was read, never a reused pid.
        if read_stat(pid).is_some_and(|s| s.start == start && !s.zombie)
            && kill(Pid::from_raw(pid), sig).is_ok()
        {
            sent += 1;
        }
    }
    sent
}

/// Every process below `root` in `/proc` (pid and start time).
fn descendants(root: i32) -> Vec<(i32, u64)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children: HashMap<i32, Vec<(i32, u64)>> = HashMap::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Some(stat) = read_stat(pid) {
            children
                .entry(stat.ppid)
                .or_default()
                .push((pid, stat.start));
        }
    }
    let mut found = Vec::new();
    // A loop cannot exist in one instant of /proc, but a racy read of a
    // changing one must not make the walk endless.
    let mut seen = HashSet::from([root]);
    let mut queue = vec![root];
    while let Some(parent) = queue.pop() {
        for &(pid, start) in children.get(&parent).into_iter().flatten() {
            if seen.insert(pid) {
                found.push((pid, start));
                queue.push(pid);
            }
        }
    }
    found
}

fn read_stat(pid: i32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parses `pid (comm) state ppid ... starttime ...`; `comm` may hold spaces
/// and parentheses, so the fields start after the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 (state) is fields[0]; field 4 (ppid) fields[1]; field 22
    // (starttime) fields[19].
    Some(Stat {
        zombie: matches!(*fields.first()?, "Z" | "X"),
        ppid: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_come_after_the_last_parenthesis() {
        let line = "4242 (a) (b) c) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                ppid: 17,
                start: 987654,
                zombie: false
            })
        );
        assert_eq!(
            parse_stat("1 (x) Z 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0").map(|s| s.zombie),
            Some(true)
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_not_its_own_descendant() {
        let me = std::process::id() as i32;
        assert!(descendants(me).iter().all(|(p, _)| *p != me));
        assert!(read_stat(me).is_some_and(|s| s.start > 0 && !s.zombie));
    }
}
