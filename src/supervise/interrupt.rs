//! The one stop-and-timeout primitive: run some work until it finishes, a
//! stop signal arrives or a deadline passes. The process supervisor, the SQL
//! runner and the render all wait through it, so a stop means the same
//! thing everywhere and is mapped to an error in one place
//! ([`Stop::error`]).

use std::future::Future;

use tokio::time::{Instant, sleep_until};

use crate::error::Error;
use crate::supervise::end::signal_name;
use crate::supervise::signals::{Received, Signals};

/// Why work was interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// A stop signal (SIGTERM, SIGINT, SIGHUP, SIGQUIT) arrived.
    Signal(i32),
    /// `execution_timeout` expired.
    Timeout,
}

impl Stop {
    /// The error a stop or a timeout ends the run with; `timeout` is the
    /// `execution_timeout` that expired.
    pub(crate) fn error(self, timeout: Option<std::time::Duration>) -> Error {
        match self {
            Stop::Signal(signal) => Error::Stopped {
                signal,
                name: signal_name(signal),
            },
            Stop::Timeout => Error::TimedOut {
                after: timeout.unwrap_or_default(),
            },
        }
    }

    /// "SIGTERM arrived", "execution_timeout expired", for logs.
    pub(crate) fn describe(&self) -> String {
        match self {
            Stop::Signal(n) => format!("{} arrived", signal_name(*n)),
            Stop::Timeout => "execution_timeout expired".into(),
        }
    }
}

/// The end of interruptible work.
#[derive(Debug)]
pub(crate) enum Interrupted<T> {
    Done(T),
    Stopped(Stop),
}

/// Runs `work` until it finishes, a stop signal arrives or `deadline`
/// passes. Non-stop signals (SIGUSR1/2) are ignored here: there is no task
/// process to forward them to. Pass `&mut work` (pinned) to go on waiting for
/// the same work after an interruption.
pub(crate) async fn interruptible<F: Future>(
    work: F,
    deadline: Option<Instant>,
    signals: &mut Signals,
) -> Interrupted<F::Output> {
    tokio::pin!(work);
    let expiry = sleep_opt(deadline);
    tokio::pin!(expiry);
    loop {
        tokio::select! {
            biased;
            received = signals.recv() => if let Received::Stop(n) = received {
                return Interrupted::Stopped(Stop::Signal(n));
            },
            () = &mut expiry => return Interrupted::Stopped(Stop::Timeout),
            out = &mut work => return Interrupted::Done(out),
        }
    }
}

/// Sleeps until `at`, or forever when there is no deadline.
pub(crate) async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}
