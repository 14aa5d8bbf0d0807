//! Process supervision: spawn, forward signals, time out, reap, report the end.
//! The runner's own stdout (one writer, masked lines) lives here too. Knows
//! nothing of specs or Airflow; all of the runner's `unsafe`-adjacent
//! process control lives here.

pub mod child;
pub mod end;
pub mod init;
pub mod interrupt;
pub mod leftovers;
pub mod output;
pub mod pipe;
pub mod signals;
pub mod stdout;

pub use child::{Outcome, Policy, Supervised, supervise};
pub use end::{ProcessEnd, signal_name};
pub use interrupt::{Interrupted, Stop, interruptible};
pub use output::Decoder;
pub use signals::{Received, Signals};
