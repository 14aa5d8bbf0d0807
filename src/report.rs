//! What the runner says about itself: its log (text or JSON, masked, on
//! stderr, or on stdout when the XCom is echoed there), the final error, and
//! the termination message KPO shows.

use std::io::Write;
use std::path::{Path, PathBuf};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::cli::LogFormat;
use crate::environ::Environ;
use crate::error::Error;

/// Kubernetes reads this file (terminationMessagePolicy: File) and KPO appends
/// it to the task's failure message.
pub(crate) const TERMINATION_LOG: &str = "/dev/termination-log";
pub(crate) const TERMINATION_LOG_ENV: &str = "TASK_RUNNER_TERMINATION_LOG";
/// Kubernetes truncates termination messages at 4096 bytes.
const TERMINATION_MAX: usize = 4096;

/// Where the runner's own log goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    /// The default: stdout carries the task's output.
    Stderr,
    /// With `TASK_RUNNER_XCOM_STDOUT`: the same pipe as the task's output and
    /// the XCom line, so nothing the runner logs can arrive after the XCom
    /// (Docker keeps no order between a container's two streams).
    Stdout,
}

/// A writer that masks each formatted event before it is written.
#[derive(Clone, Copy)]
struct MaskedLog {
    target: LogTarget,
}

struct MaskedWriter {
    buf: Vec<u8>,
    target: LogTarget,
}

impl Write for MaskedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for MaskedWriter {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        let masked = crate::mask::redact(&text);
        match self.target {
            LogTarget::Stderr => {
                let _ = std::io::stderr().lock().write_all(masked.as_bytes());
            }
            // One event, one buffer: it cannot interleave with a task's line.
            LogTarget::Stdout => crate::supervise::stdout::write_bytes(masked.as_bytes()),
        }
    }
}

impl<'a> MakeWriter<'a> for MaskedLog {
    type Writer = MaskedWriter;

    fn make_writer(&'a self) -> MaskedWriter {
        MaskedWriter {
            buf: Vec::with_capacity(256),
            target: self.target,
        }
    }
}

/// Sets up the runner's own log on `target`.
pub fn init_logging(format: LogFormat, level: &str, target: LogTarget) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MaskedLog { target })
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.with_ansi(false).try_init(),
    };
}

fn termination_path(env: &Environ) -> PathBuf {
    env.get(TERMINATION_LOG_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(TERMINATION_LOG), PathBuf::from)
}

/// Writes the (masked, ≤ 4 KiB) failure message where Kubernetes looks for it,
/// if that file exists: the runner never creates `/dev/termination-log`.
pub(crate) fn termination_message(env: &Environ, message: &str) {
    let path = termination_path(env);
    if !Path::new(&path).exists() {
        return;
    }
    let mut text = crate::mask::redact(message);
    if text.len() > TERMINATION_MAX {
        let mut cut = TERMINATION_MAX - 3;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
    {
        let _ = f.write_all(text.as_bytes());
    }
}

/// Reports a runner error: logged (masked) and written as the termination message.
pub fn error(env: &Environ, err: &Error) {
    let message = err.chain();
    tracing::error!(kind = err.kind(), exit_code = err.exit_code(), "{message}");
    termination_message(env, &message);
}

/// The last stdout line of a run that did not succeed, with the XCom echoed:
/// plain text that no JSON reader takes for a result, whatever the task or a
/// JSON-formatted log printed before it.
pub fn no_xcom_line(code: u8) {
    let line = format!("task-runner: no XCom: the task ended with exit code {code}");
    let _ = crate::supervise::stdout::write_last_line(line.as_bytes());
}
