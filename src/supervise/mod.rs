//! Process supervision: spawn, forward signals, time out, reap, report the end.
//! The runner's own stdout (one writer, masked lines) lives here too. Knows
//! nothing of specs or Airflow; all of the runner's `unsafe`-adjacent
//! process control lives here.

pub(crate) mod child;
pub(crate) mod end;
pub(crate) mod init;
pub(crate) mod interrupt;
pub(crate) mod leftovers;
pub(crate) mod output;
pub(crate) mod pipe;
pub(crate) mod signals;
pub(crate) mod spawn;
pub(crate) mod stdout;

pub(crate) use child::{Outcome, Policy, supervise};
pub(crate) use end::{ProcessEnd, signal_name};
pub(crate) use interrupt::{Interrupted, Stop, interruptible};
pub(crate) use output::Decoder;
pub(crate) use signals::{Received, Signals};
