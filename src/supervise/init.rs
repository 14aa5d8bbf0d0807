//! PID-1 duties that must be set up before any thread exists.
//!
//! As PID 1 the kernel already re-parents every orphan to us; elsewhere we ask
//! for the same with `PR_SET_CHILD_SUBREAPER` (tini's `-s`), so grandchildren
//! that outlive the task are reaped by the runner rather than leaking.

/// Makes this process the reaper of its descendants' orphans. Returns whether
/// it is PID 1.
pub fn become_reaper() -> bool {
    let pid1 = std::process::id() == 1;
    if !pid1 && let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        // Not fatal: without it orphans go to the real init, which reaps them.
        eprintln!("task-runner: warning: could not become a child subreaper: {e}");
    }
    pid1
}
