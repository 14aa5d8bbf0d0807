//! Runners turn a rendered task into work: a process to supervise (bash,
//! python, ruby). They only prepare; they never print, exit or handle signals.

pub(crate) mod bash;
pub(crate) mod end;
pub(crate) mod env;
pub(crate) mod python;
pub(crate) mod ruby;
pub(crate) mod shim;
pub(crate) mod sql;

use std::process::Command;

use tempfile::TempDir;

use crate::supervise::Decoder;

/// A process ready to be supervised, and how to read its result.
pub(crate) struct ProcessTask {
    pub command: Command,
    pub program: String,
    /// What the task is called in failure messages: "Bash command", "Python callable".
    pub describe: &'static str,
    pub decoder: Decoder,
    pub skip_on_exit_code: Vec<i32>,
    pub result: ResultSource,
    /// Kept alive (and deleted on drop) for as long as the task runs.
    pub workdir: Option<TempDir>,
    /// A script file the process runs, deleted when the task ends.
    pub script: Option<tempfile::TempPath>,
}

/// Deletes a task's temp folder: one `rmdir` when the task left it empty (a
/// bash task's working folder usually is), the whole tree otherwise.
pub(crate) fn remove_workdir(dir: TempDir) {
    let path = dir.keep();
    if std::fs::remove_dir(&path).is_err() {
        // Best effort, as the folder's own drop: nothing of the task's
        // result depends on it.
        let _ = std::fs::remove_dir_all(&path);
    }
}

/// Where the task's return value comes from.
#[derive(Debug)]
pub(crate) enum ResultSource {
    /// The last line of output (BashOperator).
    LastLine,
    /// The files a shim writes (runners/PROTOCOL.md), in this folder.
    Shim { dir: std::path::PathBuf },
}

/// A return value on its way to the XCom file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ReturnValue {
    /// A value the runner built.
    Value(serde_json::Value),
    /// JSON text a task wrote, kept byte for byte (big integers and exact
    /// decimals survive); validated before it is written.
    Raw(Vec<u8>),
}
