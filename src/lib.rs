//! task-runner: runs one Apache Airflow task inside its container.
//!
//! The pipeline, in [`run`]: load the spec → build the context (payload,
//! connections, variables; secrets registered for masking) → render the
//! templated fields → prepare the runner → supervise it → write the XCom.
//! Every other module does one of those steps and knows nothing of the others.

// The public surface is small on purpose: the modules the fuzz targets
// (fuzz/), the benchmarks (bench/) and the integration tests drive directly,
// and below, the few items the binary needs. Every other item is
// `pub(crate)`, and the `unreachable_pub` lint keeps it so.
pub mod cli;
pub mod connection;
pub mod context;
pub mod environ;
pub mod error;
pub mod limits;
pub mod pickle;
pub mod spec;
pub mod store;
pub mod template;

mod dotenv;
mod encode;
mod input;
mod mask;
mod py;
mod report;
mod runner;
#[allow(unsafe_code)]
mod supervise;
mod xcom;

/// What `src/main.rs` needs besides [`execute`]: logging, the error report,
/// the reaper and the XCom-on-stdout switch.
pub use report::{LogTarget, error as report_error, init_logging, no_xcom_line};
pub use supervise::init::become_reaper;
pub use xcom::echo_enabled as xcom_echo_enabled;

/// The SQL splitter and parameter binder, which the fuzz targets drive.
pub use runner::sql::{params as sql_params, split as sql_split};

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cli::{InputArgs, RenderArgs, RunArgs, SpecArgs};
use crate::context::{Context, DateTime, Overrides, Payload, Profile};
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::input::{context_document, load_spec, mask_environment, masker};
use crate::runner::end::Ended;
use crate::runner::{ProcessTask, ResultSource, ReturnValue};
use crate::spec::source::{CONTEXT_ENV, CONTEXT_FILE_ENV};
use crate::spec::{Operator, TaskSpec};
use crate::store::Store;
use crate::supervise::{Interrupted, Outcome, Policy, Received, Signals, Stop, signal_name};
use crate::template::Renderer;
use crate::template::budget::Limits;

/// How a run that did not fail ended, for `main` to turn into an exit code.
/// A task that failed is `Err(Error::Task)`, like every other failure.
#[derive(Debug, PartialEq)]
pub enum Completed {
    /// Succeeded; the XCom was written to this path, or there was none.
    Success { xcom: Option<PathBuf> },
    /// The task's exit code is one of `skip_on_exit_code`: Airflow skips it.
    Skipped { code: u8 },
}

impl Completed {
    /// The run's exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Completed::Success { .. } => error::exit_code::SUCCESS,
            Completed::Skipped { code } => *code,
        }
    }
}

/// A subcommand's answer, printed on stdout by `main`, or a run's end.
#[derive(Debug)]
pub enum Answer {
    Print(String),
    Ran(Completed),
}

/// Runs one parsed command line: the `run` pipeline or a subcommand.
pub fn execute(command: cli::Command, env: &Environ) -> Result<Answer> {
    use crate::cli::Command;
    let today = context::today();
    match command {
        Command::Run(args) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::Internal {
                    message: format!("cannot start the async runtime: {e}"),
                })?;
            runtime.block_on(run(&args, env, today)).map(Answer::Ran)
        }
        Command::Render(args) => render_command(&args, env, today).map(Answer::Print),
        Command::Validate(args) => validate_command(&args, env).map(Answer::Print),
        Command::Encode(args) => encode_command(&args, env).map(Answer::Print),
        Command::Schema => Ok(Answer::Print(schema_command())),
        Command::InstallShims(args) => runner::python::install(&args.dir, &args.pythons)
            .map(|done| Answer::Print(done.join("\n"))),
    }
}

/// A spec, its context and the connections and variables it may use.
struct Loaded {
    spec: TaskSpec,
    context: Context,
    store: Arc<Store>,
}

fn load(input: &InputArgs, env: &Environ, today: DateTime) -> Result<Loaded> {
    let store = mask_environment(env)?;
    let spec = load_spec(&input.spec, env)?;
    let (payload, origin) = match context_document(input.context.as_deref(), env) {
        Ok(Some(doc)) => (Payload::parse(&doc)?, doc.origin),
        Ok(None) => (
            Payload::from_airflow_ctx(env),
            AIRFLOW_CTX_ORIGIN.to_string(),
        ),
        Err(Error::SpecDecode { origin, message }) => {
            return Err(Error::Context { origin, message });
        }
        Err(e) => return Err(e),
    };
    if payload.logical_date.is_none()
        && payload.execution_date.is_none()
        && input.logical_date.is_none()
    {
        warn_no_logical_date(&origin, env, today);
    }
    // Secrets are known before anything is rendered or printed.
    let store = store
        .with_payload(
            payload.connections.clone(),
            payload.variables.clone(),
            payload.sensitive_names.clone(),
        )
        .with_airflow3(Profile::of(payload.airflow_version.as_deref()) == Profile::Airflow3);
    mask::install(masker(&store)?);
    let context = Context::build(
        payload,
        Overrides {
            task_id: spec.task_id.as_deref(),
            params: Some(&spec.params),
            logical_date: input.logical_date.as_deref(),
            today: Some(today),
            origin: &origin,
        },
    )?;
    Ok(Loaded {
        spec,
        context,
        store: Arc::new(store),
    })
}

/// Where the context came from when no payload was given.
const AIRFLOW_CTX_ORIGIN: &str = "`AIRFLOW_CTX_*` env vars";

/// The run falls back to today's date, as `airflow tasks test` does. Fine
/// for a local run; in a container it almost always means the context was
/// not passed, and every `{{ ds }}` is silently today's: say so loudly.
fn warn_no_logical_date(origin: &str, env: &Environ, today: DateTime) {
    let what = if origin == AIRFLOW_CTX_ORIGIN {
        format!(
            "no context was given (no `--context`, `{CONTEXT_ENV}`, `{CONTEXT_FILE_ENV}`, nor `AIRFLOW_CTX_EXECUTION_DATE`/`AIRFLOW_CTX_LOGICAL_DATE`)"
        )
    } else {
        format!("the context ({origin}) has no `logical_date`")
    };
    let date = today.isoformat('T');
    match environ::container_reason(env) {
        Some(reason) => tracing::warn!(
            "{what}: the run uses today's date, logical date {date}, as `airflow tasks test` does. This runs in a container ({reason}), where that usually means the run's context was not passed: pass it in `{CONTEXT_ENV}` (or `{CONTEXT_FILE_ENV}`, or `--context FILE`), or give `--logical-date`"
        ),
        None => tracing::info!(
            "{what}: using today's date, logical date {date}, as `airflow tasks test` does"
        ),
    }
}

/// The render budget: the defaults, or `TASK_RUNNER_MAX_RENDER_BYTES` and
/// `TASK_RUNNER_MAX_RENDER_STEPS`.
fn render_limits(env: &Environ) -> Result<Limits> {
    Limits::from_env(|k| env.get(k)).map_err(Error::config)
}

fn render(loaded: &mut Loaded, limits: Limits, cancel: Option<Arc<AtomicBool>>) -> Result<()> {
    let mut renderer = Renderer::new(
        &loaded.context,
        loaded.store.clone(),
        loaded.spec.template_searchpath.clone(),
        loaded.spec.native,
        loaded.spec.operator.airflow_class(),
    )
    .with_limits(limits);
    if let Some(cancel) = cancel {
        renderer = renderer.with_cancel(cancel);
    }
    renderer.render_operator(&mut loaded.spec.operator)
}

/// The render thread's stack: as deep as the main thread's, for the
/// recursion limit of 500.
const RENDER_STACK: usize = 16 << 20;

/// Renders on a thread of its own while this side waits for the render, a
/// stop signal or `execution_timeout`: a SIGTERM (or SIGINT, ...) during the
/// render ends the run with 128 + N, a timeout with 124, and nothing is
/// spawned. The abandoned render is told to stop (its next output or helper
/// call fails; a loop that calls none runs out of steps) and dies with the
/// process, which exits right after reporting.
async fn render_interruptible(
    mut loaded: Loaded,
    limits: Limits,
    signals: &mut Signals,
) -> Result<Loaded> {
    let timeout = loaded.spec.execution_timeout;
    let cancel = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    let flag = cancel.clone();
    std::thread::Builder::new()
        .name("render".into())
        .stack_size(RENDER_STACK)
        .spawn(move || {
            let result = render(&mut loaded, limits, Some(flag)).map(|()| loaded);
            let _ = tx.send(result);
        })
        .map_err(|e| Error::Internal {
            message: format!("cannot start the render thread: {e}"),
        })?;
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    match supervise::interruptible(&mut rx, deadline, signals).await {
        Interrupted::Done(result) => result.map_err(|_| Error::Internal {
            message: "the render thread ended without a result".into(),
        })?,
        Interrupted::Stopped(stop) => {
            // The abandoned render stops at its next checkpoint.
            cancel.store(true, Ordering::Relaxed);
            match stop {
                Stop::Signal(n) => tracing::info!(
                    "{} received while rendering: the task is not started",
                    signal_name(n)
                ),
                Stop::Timeout => tracing::warn!(
                    "execution_timeout ({}) expired while rendering the templates: the task is not started",
                    humantime::format_duration(timeout.unwrap_or_default())
                ),
            }
            Err(stop.error(timeout))
        }
    }
}

/// `task-runner run`: the whole pipeline; with `TASK_RUNNER_XCOM_STDOUT=1` the
/// XCom is also printed as the last line of stdout, which is what
/// DockerOperator's `do_xcom_push` takes (it cannot read the file).
pub async fn run(args: &RunArgs, env: &Environ, today: DateTime) -> Result<Completed> {
    let pickle = xcom::resolve_pickle_path(args.pickle_path.as_deref(), env);
    if let Some(p) = &pickle
        && *p == xcom::resolve_path(args.xcom_path.as_deref(), env)
    {
        return Err(Error::Usage {
            message: format!(
                "the pickle path `{}` is the XCom path: give the pickle its own (DockerOperator's `retrieve_output_path`)",
                p.display()
            ),
        });
    }
    let end = run_task(args, env, today, pickle.as_deref()).await?;
    if let (Some(pickle), Completed::Success { xcom: Some(path) }) = (&pickle, &end) {
        match xcom::write_pickle(path, pickle, xcom::Durability::of_xcom(env)) {
            Ok(bytes) => {
                tracing::info!(path = %pickle.display(), bytes, "wrote the XCom as a pickle")
            }
            Err(e) => {
                // A failed run leaves no XCom behind.
                let _ = std::fs::remove_file(path);
                return Err(e);
            }
        }
    }
    if xcom::echo_enabled(env)
        && let Completed::Success { xcom } = &end
    {
        xcom::echo_last_line(xcom.as_deref())?;
    }
    Ok(end)
}

async fn run_task(
    args: &RunArgs,
    env: &Environ,
    today: DateTime,
    pickle: Option<&std::path::Path>,
) -> Result<Completed> {
    let mut signals = Signals::install().map_err(|e| Error::Internal {
        message: format!("cannot install signal handlers: {e}"),
    })?;
    let xcom_path = xcom::resolve_path(args.xcom_path.as_deref(), env);
    // A result left by an earlier attempt must not pass for this one's.
    xcom::remove_stale(&xcom_path)?;
    if let Some(pickle) = pickle {
        xcom::remove_stale(pickle)?;
    }
    let limits = render_limits(env)?;
    let mut loaded = load(&args.input, env, today)?;
    // A task whose fields hold no template syntax is run as written: no
    // environment, no render thread.
    let loaded = if template::needs_render(&mut loaded.spec.operator, loaded.spec.native, limits) {
        render_interruptible(loaded, limits, &mut signals).await?
    } else {
        loaded
    };
    let spec = &loaded.spec;
    // The XCom's room is taken now and its temp file kept for the result;
    // the pickle's is only checked (it is written from the XCom at the end).
    let reserved = if spec.do_xcom_push {
        let reserved = xcom::check_writable(&xcom_path)?;
        if let Some(pickle) = pickle {
            drop(xcom::check_writable(pickle)?);
        }
        Some(reserved)
    } else {
        None
    };
    // The `env_file`s are read before the task is announced: a missing or
    // malformed one is a configuration error, and their secrets are masked
    // before anything of the task is printed.
    let from_files = match spec.operator.env_spec() {
        Some(e) if !e.env_file.is_empty() => runner::env::read_files(&e.env_file, env)?,
        _ => Default::default(),
    };
    mask::add_secrets(&runner::env::secrets(&from_files, |k| {
        loaded.store.is_sensitive(k)
    }))
    .map_err(|message| Error::Internal { message })?;
    if spec.grace_period >= std::time::Duration::from_secs(10) {
        tracing::warn!(
            "grace_period is {:?}: Docker kills the container 10 s after `docker stop` (Kubernetes after terminationGracePeriodSeconds), so the runner may not get to report",
            spec.grace_period
        );
    }
    tracing::info!(operator = spec.operator.name(), dag_id = %loaded.context.dag_id, task_id = %loaded.context.task_id, run_id = %loaded.context.run_id, "running task");

    // A stop that came after the render, while the task was being prepared,
    // still ends the run before anything is spawned.
    stop_pending(&mut signals)?;
    let policy = Policy {
        timeout: spec.execution_timeout,
        grace: spec.grace_period,
    };
    let sink = xcom::Sink::new(
        xcom_path,
        spec.max_xcom_bytes,
        spec.do_xcom_push,
        xcom::Durability::of_xcom(env),
        reserved,
    );
    let prepared = match &spec.operator {
        Operator::Bash(task) => runner::bash::prepare(task, &loaded.context, env, &from_files)?,
        Operator::Python(task) => {
            runner::python::prepare(task, &loaded.context, env, &from_files, spec.do_xcom_push)?
        }
        Operator::Ruby(task) => {
            runner::ruby::prepare(task, &loaded.context, env, &from_files, spec.do_xcom_push)?
        }
        Operator::Sql(task) => {
            // The SQL runner streams rows straight into the sink.
            let conn = loaded.store.connection(&task.conn_id)?;
            let xcom = runner::sql::run(task, &conn, &sink, policy, &mut signals).await?;
            return Ok(Completed::Success { xcom });
        }
    };
    let xcom_cap = sink.pushes().then_some(spec.max_xcom_bytes);
    match run_process(prepared, policy, xcom_cap, &mut signals).await? {
        Ended::Success(None) => Ok(Completed::Success { xcom: None }),
        Ended::Success(Some(ReturnValue::Value(value))) => Ok(Completed::Success {
            xcom: sink.push_value(&value)?,
        }),
        Ended::Success(Some(ReturnValue::Raw(bytes))) => Ok(Completed::Success {
            xcom: sink.push_raw(bytes)?,
        }),
        Ended::Skipped { code } => Ok(Completed::Skipped { code }),
        Ended::Failed { code, message } => Err(Error::Task { code, message }),
    }
}

/// Err when a stop signal is already waiting (polled once, never waits).
fn stop_pending(signals: &mut Signals) -> Result<()> {
    // Polled once, without a timer: a zero `tokio::time::timeout` waits for
    // the timer's next 1 ms tick, a millisecond on every run.
    match futures_util::FutureExt::now_or_never(signals.recv()) {
        Some(Received::Stop(signal)) => Err(Error::Stopped {
            signal,
            name: signal_name(signal),
        }),
        // Nothing waiting, or a signal for a task that does not exist yet.
        _ => Ok(()),
    }
}

/// Supervises a process runner and reads how it ended.
async fn run_process(
    task: ProcessTask,
    policy: Policy,
    xcom_cap: Option<u64>,
    signals: &mut Signals,
) -> Result<Ended> {
    let ProcessTask {
        command,
        program,
        describe,
        decoder,
        skip_on_exit_code,
        result,
        workdir,
        script,
    } = task;
    let supervised = supervise::supervise(command, policy, decoder, signals)
        .await
        .map_err(|source| Error::Spawn {
            program: program.clone(),
            source,
        })?;
    let end = match supervised.outcome {
        Outcome::TimedOut(_) => return Err(Stop::Timeout.error(policy.timeout)),
        Outcome::Stopped { signal, .. } => {
            return Err(Stop::Signal(signal).error(policy.timeout));
        }
        Outcome::Finished(end) => end,
    };
    let shim = match &result {
        ResultSource::Shim { dir } => Some(runner::shim::interpret(dir, end, xcom_cap)?),
        ResultSource::LastLine => None,
    };
    drop(script);
    if let Some(dir) = workdir {
        runner::remove_workdir(dir);
    }
    runner::end::interpret(
        describe,
        &program,
        end,
        shim,
        supervised.last_line,
        &skip_on_exit_code,
    )
}

/// `task-runner render`: prints the rendered spec as one JSON object.
pub fn render_command(args: &RenderArgs, env: &Environ, today: DateTime) -> Result<String> {
    let limits = render_limits(env)?;
    let mut loaded = load(&args.input, env, today)?;
    render(&mut loaded, limits, None)?;
    let json =
        serde_json::to_string_pretty(&loaded.spec.to_json()).map_err(|e| Error::Internal {
            message: e.to_string(),
        })?;
    Ok(if args.show_secrets {
        json
    } else {
        mask::redact(&json)
    })
}

/// `task-runner validate`: checks the spec; returns a one-line summary.
pub fn validate_command(args: &SpecArgs, env: &Environ) -> Result<String> {
    mask_environment(env)?;
    let spec = load_spec(args, env)?;
    Ok(format!(
        "ok: {} is a valid `{}` task spec",
        spec.origin,
        spec.operator.name()
    ))
}

/// `task-runner schema`: the spec key table validation uses (src/spec/keys.rs),
/// as one JSON object, for the Airflow-side provider to check its own against.
pub fn schema_command() -> String {
    spec::keys::schema().to_string()
}

pub use encode::encode_command;
