//! The one error type of the runner and the exit code of each failure.
//!
//! Messages are lowercase fragments that read well after "failed to" or on their
//! own; the `caused by:` chain is printed by `report`. Exit codes are named
//! constants mapped by one `match` with no catch-all arm, so a new variant forces a
//! decision about its code.

use std::path::PathBuf;

use crate::connection::ConnectionError;

/// Exit codes of the runner itself. A task child's own non-zero code passes
/// through unchanged, so these sit where shells and `timeout(1)` put nothing
/// (64-78, sysexits.h) or mean what they mean to a shell (124-128+N).
pub mod exit_code {
    /// The task succeeded.
    pub const SUCCESS: u8 = 0;
    /// The command line could not be parsed.
    pub const USAGE: u8 = 64;
    /// The spec is malformed: bad YAML/JSON, unknown key, wrong type, bad value.
    pub const SPEC: u8 = 65;
    /// A named input does not exist or cannot be read: spec, context, template file.
    pub const NO_INPUT: u8 = 66;
    /// A template failed to render: undefined name, syntax error, bad filter input.
    pub const TEMPLATE: u8 = 67;
    /// A connection or variable is unknown or malformed.
    pub const CONNECTION: u8 = 68;
    /// A database could not be reached or refused the login.
    pub const UNAVAILABLE: u8 = 69;
    /// A bug in the runner.
    pub const INTERNAL: u8 = 70;
    /// A SQL statement failed on the server.
    pub const SQL: u8 = 71;
    /// The context payload is malformed.
    pub const CONTEXT: u8 = 72;
    /// The return value is too large or cannot be represented as JSON.
    pub const XCOM_VALUE: u8 = 73;
    /// The XCom file (or an output file, or stdout) could not be written.
    pub const IO: u8 = 74;
    /// The Python callable or Ruby script could not be loaded: import error,
    /// syntax error, missing function, arguments that do not bind.
    pub const TASK_LOAD: u8 = 75;
    /// The task's environment is unusable (e.g. `cwd` is not a directory).
    pub const CONFIG: u8 = 78;
    /// `execution_timeout` expired, as GNU `timeout` reports it.
    pub const TIMEOUT: u8 = 124;
    /// The interpreter or command exists but could not be executed.
    pub const NOT_EXECUTABLE: u8 = 126;
    /// The interpreter or command was not found.
    pub const NOT_FOUND: u8 = 127;

    /// 128 + N for signal N, as shells and tini report a signal death.
    pub fn signal(signal: i32) -> u8 {
        u8::try_from(128 + signal).unwrap_or(u8::MAX)
    }
}

/// An underlying error kept as the `source` of the runner's own, so that
/// `caused by:` chains print it.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

impl Error {
    /// The task's environment is unusable (exit 78).
    pub fn config(message: impl Into<String>) -> Error {
        Error::Config {
            message: message.into(),
            source: None,
        }
    }

    /// The task's environment is unusable because of `source` (exit 78).
    pub fn config_caused(message: impl Into<String>, source: impl Into<Cause>) -> Error {
        Error::Config {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The task's code could not be loaded (exit 75).
    pub fn task_load(message: impl Into<String>) -> Error {
        Error::TaskLoad {
            message: message.into(),
            source: None,
        }
    }
}

/// Everything that can stop the runner before or around the task.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Usage { message: String },

    #[error(
        "no task spec given: pass `--config FILE` (or `--config -` for stdin) or set `TASK_RUNNER_SPEC`"
    )]
    NoSpec,

    #[error("failed to read {what} `{path}`")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to decode the spec from {origin}: {message}")]
    SpecDecode { origin: String, message: String },

    #[error("invalid spec ({origin}{}): {message}", location(.key, *.line))]
    Spec {
        origin: String,
        key: String,
        line: Option<usize>,
        message: String,
    },

    #[error("invalid context payload from {origin}: {message}")]
    Context { origin: String, message: String },

    #[error("failed to render template field `{field}`{}: {message}", line.map(|l| format!(" at template line {l}")).unwrap_or_default())]
    Template {
        field: String,
        line: Option<usize>,
        message: String,
    },

    #[error("connection `{conn_id}` is not defined: set `AIRFLOW_CONN_{}` (URI or JSON), add it to the context's `connections`, or mount it as a file of that name in the secrets folder (`TASK_RUNNER_SECRETS_DIR`, else `/run/secrets`)", .conn_id.to_uppercase())]
    UnknownConnection { conn_id: String },

    #[error("invalid connection `{conn_id}`")]
    Connection {
        conn_id: String,
        #[source]
        source: ConnectionError,
    },

    #[error("the task cannot run: {message}")]
    Config {
        message: String,
        #[source]
        source: Option<Cause>,
    },

    /// An `env_file` is missing, unreadable, too large or malformed (at
    /// `line`, 1-based).
    #[error("the task cannot run: env_file `{}{}`: {message}", .path.display(), .line.map(|l| format!(":{l}")).unwrap_or_default())]
    EnvFile {
        path: PathBuf,
        line: Option<usize>,
        message: String,
        #[source]
        source: Option<std::io::Error>,
    },

    /// A connection that parses but that the operator cannot use: an
    /// unsupported `conn_type`, a bad value in its extra.
    #[error("{message}")]
    UnusableConnection { message: String },

    #[error("failed to load the task's code: {message}")]
    TaskLoad {
        message: String,
        #[source]
        source: Option<Cause>,
    },

    #[error("failed to start `{program}`")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to connect to {what}{}", .attempts.map(|n| format!(" after {n} attempts")).unwrap_or_default())]
    Database {
        what: String,
        /// How often it was tried, when it was retried.
        attempts: Option<u32>,
        #[source]
        source: Cause,
    },

    #[error("SQL statement {statement} of {total} failed: {message}")]
    Sql {
        statement: usize,
        total: usize,
        message: String,
    },

    #[error("the return value cannot be pushed as an XCom: {message}")]
    XComValue { message: String },

    #[error("failed to write the XCom file `{path}`")]
    XComWrite {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to read the XCom file `{path}`")]
    XComRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to remove the XCom file `{path}` an earlier attempt left")]
    XComStale {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to write the output to stdout")]
    Stdout {
        #[source]
        source: std::io::Error,
    },

    #[error("the task timed out after {}", humantime::format_duration(*.after))]
    TimedOut { after: std::time::Duration },

    #[error("the task was stopped by {name}")]
    Stopped { signal: i32, name: String },

    #[error(
        "{what} during the final COMMIT, and the server had not answered within the grace period of {grace}: whether the task's work was committed is unknown; check the database before retrying"
    )]
    CommitUnknown {
        what: String,
        /// The error the stop would have ended the run with (its exit code).
        stopped: Box<Error>,
        grace: String,
    },

    #[error("internal error: {message}")]
    Internal { message: String },

    /// The task itself failed; its own exit code passes through.
    #[error("{message}")]
    Task { code: u8, message: String },
}

fn location(key: &str, line: Option<usize>) -> String {
    let mut out = String::new();
    if let Some(line) = line {
        out.push_str(&format!(", line {line}"));
    }
    if !key.is_empty() {
        out.push_str(&format!(", key `{key}`"));
    }
    out
}

impl Error {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage { .. } => exit_code::USAGE,
            Error::NoSpec | Error::Read { .. } => exit_code::NO_INPUT,
            Error::SpecDecode { .. } | Error::Spec { .. } => exit_code::SPEC,
            Error::Context { .. } => exit_code::CONTEXT,
            Error::Template { .. } => exit_code::TEMPLATE,
            Error::UnknownConnection { .. } | Error::Connection { .. } => exit_code::CONNECTION,
            Error::Config { .. } | Error::EnvFile { .. } => exit_code::CONFIG,
            Error::UnusableConnection { .. } => exit_code::CONNECTION,
            Error::TaskLoad { .. } => exit_code::TASK_LOAD,
            Error::Spawn { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => exit_code::NOT_FOUND,
                _ => exit_code::NOT_EXECUTABLE,
            },
            Error::Database { .. } => exit_code::UNAVAILABLE,
            Error::Sql { .. } => exit_code::SQL,
            Error::XComValue { .. } => exit_code::XCOM_VALUE,
            Error::XComWrite { .. }
            | Error::XComRead { .. }
            | Error::XComStale { .. }
            | Error::Stdout { .. } => exit_code::IO,
            Error::TimedOut { .. } => exit_code::TIMEOUT,
            Error::Stopped { signal, .. } => exit_code::signal(*signal),
            Error::CommitUnknown { stopped, .. } => stopped.exit_code(),
            Error::Internal { .. } => exit_code::INTERNAL,
            Error::Task { code, .. } => *code,
        }
    }

    /// A stable name for the failure, used in JSON logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Usage { .. } => "usage",
            Error::NoSpec => "no_spec",
            Error::Read { .. } => "read",
            Error::SpecDecode { .. } => "spec_decode",
            Error::Spec { .. } => "spec",
            Error::Context { .. } => "context",
            Error::Template { .. } => "template",
            Error::UnknownConnection { .. } => "unknown_connection",
            Error::Connection { .. } => "connection",
            Error::Config { .. } => "config",
            Error::EnvFile { .. } => "env_file",
            Error::UnusableConnection { .. } => "connection",
            Error::TaskLoad { .. } => "task_load",
            Error::Spawn { .. } => "spawn",
            Error::Database { .. } => "database",
            Error::Sql { .. } => "sql",
            Error::XComValue { .. } => "xcom_value",
            Error::XComWrite { .. } => "xcom_write",
            Error::XComRead { .. } => "xcom_read",
            Error::XComStale { .. } => "xcom_stale",
            Error::Stdout { .. } => "stdout",
            Error::TimedOut { .. } => "timeout",
            Error::Stopped { .. } => "stopped",
            Error::CommitUnknown { .. } => "commit_unknown",
            Error::Internal { .. } => "internal",
            Error::Task { .. } => "task_failed",
        }
    }

    /// The message with its whole `caused by:` chain, one paragraph.
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            out.push_str(": ");
            out.push_str(&cause.to_string());
            source = cause.source();
        }
        out
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
