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

/// Parses the ENTRYPOINT's command lines without clap, which costs a quarter
/// of a plain task's start-up work (its command tree is built and dropped on
/// every run): `[run] [--flag VALUE | --flag=VALUE]...` with the flags of
/// `run` and the log flags, each at most once, every value UTF-8, non-empty
/// and not starting with `-` (but `-` itself, stdin). `env` reads the
/// variables clap would (`TASK_RUNNER_LOG_FORMAT`, `TASK_RUNNER_LOG_LEVEL`).
///
/// Anything else (help, version, another subcommand, a repeated or unknown
/// flag, an odd value) gives `None`, and clap parses it: behaviour, help and
/// errors stay clap's. The unit tests compare the two on many command lines.
pub fn parse_entrypoint(
    args: &[std::ffi::OsString],
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Option<Cli> {
    let mut args: Vec<&str> = args.iter().map(|a| a.to_str()).collect::<Option<_>>()?;
    let subcommand = args.first() == Some(&"run");
    if subcommand {
        args.remove(0);
    }
    let mut run = RunArgs::default();
    let (mut format, mut level) = (None, None);
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value)),
            _ => (arg, None),
        };
        let value = match inline {
            Some(v) => v,
            None => it.next()?,
        };
        if value.is_empty() || (value.starts_with('-') && value != "-") {
            return None;
        }
        let slot = match flag {
            "--config" | "-c" => &mut run.input.spec.config,
            "--context" => &mut run.input.context,
            "--xcom-path" => &mut run.xcom_path,
            "--pickle-path" => &mut run.pickle_path,
            "--logical-date" => {
                set_once(&mut run.input.logical_date, value.to_string())?;
                continue;
            }
            "--log-format" => {
                set_once(&mut format, log_format(value)?)?;
                continue;
            }
            "--log-level" => {
                set_once(&mut level, value.to_string())?;
                continue;
            }
            _ => return None,
        };
        set_once(slot, PathBuf::from(value))?;
    }
    // clap's env defaults, where the variable is set and clear.
    let from_env = |name: &str| match env(name) {
        None => Some(None),
        Some(v) => v
            .to_str()
            .filter(|v| !v.is_empty())
            .map(|v| Some(v.to_string())),
    };
    let format = match format {
        Some(f) => f,
        None => {
            from_env("TASK_RUNNER_LOG_FORMAT")?.map_or(Some(LogFormat::Text), |v| log_format(&v))?
        }
    };
    let level = match level {
        Some(l) => l,
        None => from_env("TASK_RUNNER_LOG_LEVEL")?.unwrap_or_else(|| "info".into()),
    };
    let log = LogArgs {
        log_format: format,
        log_level: level,
    };
    Some(if subcommand {
        Cli {
            command: Some(Command::Run(run)),
            run: RunArgs::default(),
            log,
        }
    } else {
        Cli {
            command: None,
            run,
            log,
        }
    })
}

/// Sets `slot` unless it is already set (clap refuses a repeated flag).
fn set_once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

fn log_format(value: &str) -> Option<LogFormat> {
    match value {
        "text" => Some(LogFormat::Text),
        "json" => Some(LogFormat::Json),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use clap::Parser;

    use super::*;

    fn clap_parse(args: &[&str]) -> Option<String> {
        let argv = std::iter::once("task-runner").chain(args.iter().copied());
        Cli::try_parse_from(argv).ok().map(|c| format!("{c:?}"))
    }

    fn fast_parse(args: &[&str], env: &[(&str, &str)]) -> Option<String> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let env = |name: &str| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        };
        parse_entrypoint(&args, env).map(|c| format!("{c:?}"))
    }

    /// Wherever the hand parser answers, it answers what clap does; it
    /// answers the ENTRYPOINT's usual command lines, and leaves help,
    /// version, other subcommands and every error to clap.
    #[test]
    fn the_entrypoint_parser_agrees_with_clap() {
        // The test process's own environment is clap's; these variables are
        // assumed unset (the test command does not set them).
        for name in ["TASK_RUNNER_LOG_FORMAT", "TASK_RUNNER_LOG_LEVEL"] {
            assert!(std::env::var_os(name).is_none(), "{name} is set");
        }
        let answered: &[&[&str]] = &[
            &[],
            &["run"],
            &["--config", "sales.yaml"],
            &["run", "--config", "sales.yaml"],
            &["-c", "sales.yaml", "--context", "ctx.json"],
            &["--config=sales.yaml", "--logical-date=2024-06-01"],
            &["--config", "-"],
            &[
                "run",
                "-c",
                "-",
                "--xcom-path",
                "/x/return.json",
                "--pickle-path",
                "/tmp/p",
            ],
            &[
                "--log-format",
                "json",
                "--log-level",
                "debug",
                "--config",
                "a",
            ],
            &["run", "--log-format=text", "--log-level=task_runner=trace"],
            &[
                "--logical-date",
                "2024-06-01T00:00:00+00:00",
                "--config",
                "a=b.yaml",
            ],
        ];
        for args in answered {
            let fast = fast_parse(args, &[]);
            assert!(fast.is_some(), "the hand parser answers {args:?}");
            assert_eq!(fast, clap_parse(args), "{args:?}");
        }
        let to_clap: &[&[&str]] = &[
            &["--help"],
            &["-h"],
            &["--version"],
            &["-V"],
            &["run", "--help"],
            &["validate", "--config", "a"],
            &["render"],
            &["schema"],
            &["--config"],
            &["--config", "a", "--config", "b"],
            &["--config", "--context"],
            &["--config", "-x"],
            &["--config="],
            &["--log-format", "xml"],
            &["--log-format", "JSON"],
            &["--conf", "a"],
            &["-ca"],
            &["-c=a"],
            &["a.yaml"],
            &["--"],
            &["--", "--config", "a"],
            &["run", "run"],
            &["--config", "a", "run"],
            &["--show-secrets"],
            &["--format", "json"],
        ];
        for args in to_clap {
            assert_eq!(fast_parse(args, &[]), None, "{args:?} goes to clap");
        }
    }

    #[test]
    fn env_defaults_follow_clap() {
        assert_eq!(
            fast_parse(&["--config", "a"], &[("TASK_RUNNER_LOG_FORMAT", "json")]),
            fast_parse(&["--config", "a", "--log-format", "json"], &[])
        );
        assert_eq!(
            fast_parse(&["--config", "a"], &[("TASK_RUNNER_LOG_LEVEL", "warn")]),
            fast_parse(&["--config", "a", "--log-level", "warn"], &[])
        );
        // A flag beats its variable, as in clap.
        assert_eq!(
            fast_parse(
                &["--log-format", "text"],
                &[("TASK_RUNNER_LOG_FORMAT", "json")]
            ),
            fast_parse(&[], &[])
        );
        // Values clap would judge go to clap.
        for (k, v) in [
            ("TASK_RUNNER_LOG_FORMAT", "xml"),
            ("TASK_RUNNER_LOG_FORMAT", ""),
            ("TASK_RUNNER_LOG_LEVEL", ""),
        ] {
            assert_eq!(fast_parse(&[], &[(k, v)]), None, "{k}={v:?}");
        }
    }
}
