//! The signals the runner listens for, turned into a domain event at this edge.
//! Installed once, at the start of a run, so a stop that arrives while the spec
//! is still being rendered is not lost (PID 1 ignores signals it has no handler for).

use nix::sys::signal::Signal;
use tokio::signal::unix::{SignalKind, signal};

/// What a received signal asks of the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Received {
    /// SIGTERM, SIGINT, SIGHUP, SIGQUIT: forward it, then stop the task.
    Stop(i32),
    /// SIGUSR1, SIGUSR2: forward it; the task decides what it means.
    Forward(i32),
}

pub(crate) struct Signals {
    streams: Vec<(i32, tokio::signal::unix::Signal)>,
}

const STOP: [Signal; 4] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];
const FORWARD: [Signal; 2] = [Signal::SIGUSR1, Signal::SIGUSR2];

impl Signals {
    /// Registers the handlers; must run inside the tokio runtime.
    pub(crate) fn install() -> std::io::Result<Signals> {
        let mut streams = Vec::new();
        for sig in STOP.iter().chain(FORWARD.iter()) {
            let n = *sig as i32;
            streams.push((n, signal(SignalKind::from_raw(n))?));
        }
        Ok(Signals { streams })
    }

    /// Waits for the next signal.
    pub(crate) async fn recv(&mut self) -> Received {
        let futures = self.streams.iter_mut().map(|(n, s)| {
            let n = *n;
            Box::pin(async move {
                s.recv().await;
                n
            })
        });
        let (n, _, _) = futures_util::future::select_all(futures).await;
        if STOP.iter().any(|s| *s as i32 == n) {
            Received::Stop(n)
        } else {
            Received::Forward(n)
        }
    }
}
