//! The command line, as clap types. No I/O happens here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Runs one Apache Airflow task inside its container: SQL, bash, Python or Ruby,
/// with Airflow's templates, connections and XComs, as the image's PID 1.
#[derive(Debug, Parser)]
#[command(name = "task-runner", version, about, subcommand_negates_reqs = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// With no subcommand, `run` is implied (the image ENTRYPOINT case).
    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load the spec and context, render, execute, write the XCom.
    Run(RunArgs),
    /// Render every templated field and print the rendered spec as JSON.
    Render(RenderArgs),
    /// Check the spec (types, unknown keys, required fields) and exit.
    Validate(SpecArgs),
    /// Print the spec (and context) as base64+gzip payloads for `env_vars`.
    Encode(EncodeArgs),
    /// Print the spec key table this binary accepts, as one JSON object:
    /// common keys, and per operator its aliases, keys, required keys,
    /// template fields and template extensions.
    Schema,
    /// Install the Python shim into the image, compiled for the given
    /// interpreters, so Python tasks start without compiling it (Dockerfile step).
    InstallShims(InstallShimsArgs),
}

#[derive(Debug, Clone, Args)]
pub struct InstallShimsArgs {
    /// The folder (the runner looks in `TASK_RUNNER_SHIM_DIR`, default `/usr/local/lib/task-runner`).
    #[arg(
        long,
        value_name = "DIR",
        env = "TASK_RUNNER_SHIM_DIR",
        default_value = "/usr/local/lib/task-runner"
    )]
    pub dir: PathBuf,

    /// An interpreter to compile the shim for (repeat for each: python3, python2.7).
    #[arg(long = "python", value_name = "PYTHON")]
    pub pythons: Vec<String>,
}

#[derive(Debug, Clone, Args, Default)]
pub struct SpecArgs {
    /// The spec file (YAML or JSON); `-` reads stdin. Default: env `TASK_RUNNER_SPEC`.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Args, Default)]
pub struct InputArgs {
    #[command(flatten)]
    pub spec: SpecArgs,

    /// The context payload (JSON). Default: env `TASK_RUNNER_CONTEXT`, then `AIRFLOW_CTX_*`.
    #[arg(long, value_name = "FILE")]
    pub context: Option<PathBuf>,

    /// Logical date to use when the context has none (local runs), e.g. 2024-06-01.
    #[arg(long, value_name = "DATE")]
    pub logical_date: Option<String>,
}

#[derive(Debug, Clone, Args, Default)]
pub struct RunArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Where to write the XCom. Default: env `TASK_RUNNER_XCOM_PATH`, then
    /// `/airflow/xcom/return.json`.
    #[arg(long, value_name = "PATH")]
    pub xcom_path: Option<PathBuf>,

    /// Also write the XCom as a Python pickle here, for DockerOperator's
    /// `retrieve_output=True` (its `retrieve_output_path`). Default: env
    /// `TASK_RUNNER_PICKLE_PATH`, else none.
    #[arg(long, value_name = "PATH")]
    pub pickle_path: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Print secrets as they are instead of `***`.
    #[arg(long)]
    pub show_secrets: bool,
}

#[derive(Debug, Clone, Args)]
pub struct EncodeArgs {
    #[command(flatten)]
    pub spec: SpecArgs,

    /// Also encode this context payload (JSON).
    #[arg(long, value_name = "FILE")]
    pub context: Option<PathBuf>,

    /// `value`: the spec payload alone; `env`: `NAME=payload` lines (the default
    /// with `--context`); `json`: a JSON object of env vars for `env_vars=`.
    #[arg(long, value_enum)]
    pub format: Option<EncodeFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EncodeFormat {
    Value,
    Env,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log format of the runner's own messages (the task's output is never reformatted).
    #[arg(
        long,
        value_enum,
        global = true,
        env = "TASK_RUNNER_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// Log level of the runner's own messages: error, warn, info, debug, trace.
    #[arg(
        long,
        global = true,
        env = "TASK_RUNNER_LOG_LEVEL",
        default_value = "info"
    )]
    pub log_level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}
