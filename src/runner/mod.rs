//! Runners turn a rendered task into work: a process to supervise (bash,
//! python, ruby). They only prepare; they never print, exit or handle signals.

pub mod bash;
pub mod env;

use std::process::Command;

use tempfile::TempDir;

use crate::supervise::Decoder;

/// A process ready to be supervised, and how to read its result.
pub struct ProcessTask {
    pub command: Command,
    pub program: String,
    pub decoder: Decoder,
    pub skip_on_exit_code: Vec<i32>,
    pub result: ResultSource,
    /// Kept alive (and deleted on drop) for as long as the task runs.
    pub workdir: Option<TempDir>,
    /// A script file the process runs, deleted when the task ends.
    pub script: Option<tempfile::TempPath>,
}

/// Where the task's return value comes from.
#[derive(Debug)]
pub enum ResultSource {
    /// The last line of output (BashOperator).
    LastLine,
}
