//! How a process ended, as data rather than an `i32`.

use nix::sys::wait::WaitStatus;

/// The end of the task's main process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcessEnd {
    /// Exited with this code (0 is success).
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

impl ProcessEnd {
    /// The only place a wait status is interpreted.
    pub(crate) fn from_wait(status: WaitStatus) -> Option<ProcessEnd> {
        match status {
            WaitStatus::Exited(_, code) => Some(ProcessEnd::Exited(code)),
            WaitStatus::Signaled(_, signal, _) => Some(ProcessEnd::Signaled(signal as i32)),
            _ => None,
        }
    }

    /// The shell-style code: the exit code, or 128 + N for signal N.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            ProcessEnd::Exited(code) => u8::try_from(*code).unwrap_or(1),
            ProcessEnd::Signaled(signal) => crate::error::exit_code::signal(*signal),
        }
    }
}

/// The name of a signal number, for messages (`SIGTERM`).
pub(crate) fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map_or_else(|_| format!("signal {signal}"), |s| s.as_str().to_string())
}
