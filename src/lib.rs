//! task-runner: runs one Apache Airflow task inside its container.
//!
//! The pipeline, in [`run`]: load the spec → build the context (payload,
//! connections, variables; secrets registered for masking) → render the
//! templated fields → prepare the runner → supervise it → write the XCom.
//! Every other module does one of those steps and knows nothing of the others.

pub mod cli;
pub mod connection;
pub mod context;
pub mod encode;
pub mod environ;
pub mod error;
pub mod json;
pub mod limits;
pub mod mask;
pub mod pickle;
pub mod report;
pub mod runner;
pub mod spec;
pub mod stdout;
pub mod store;
pub mod supervise;
pub mod template;
pub mod xcom;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use crate::cli::{InputArgs, RenderArgs, RunArgs, SpecArgs};
use crate::context::{Context, DateTime, Overrides, Payload};
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::mask::Masker;
use crate::runner::end::Ended;
use crate::runner::{ProcessTask, ResultSource, ReturnValue};
use crate::spec::source::{
    self, CONTEXT_ENV, CONTEXT_FILE_ENV, INCLUDE_ENV, SPEC_ENV, SPEC_FILE_ENV,
};
use crate::spec::{Document, Operator, TaskSpec};
use crate::store::Store;
use crate::supervise::{Interrupted, Outcome, Policy, Received, Signals, Stop, signal_name};
use crate::template::Renderer;
use crate::template::budget::Limits;

/// How a task that ran (or was refused) ended, for `main` to turn into an exit code.
#[derive(Debug, PartialEq)]
pub enum TaskEnd {
    /// Succeeded; the XCom was written to this path, or there was none.
    Success { xcom: Option<PathBuf> },
    /// The task's exit code is one of `skip_on_exit_code`: Airflow skips it.
    Skipped { code: u8 },
    /// The task itself failed; `code` is its own (or 128 + signal).
    Failed { code: u8, message: String },
}

/// A spec, its context and the connections and variables it may use.
struct Loaded {
    spec: TaskSpec,
    context: Context,
    store: Arc<Store>,
}

/// The spec document: `--config`, else `TASK_RUNNER_SPEC_FILE`, else `TASK_RUNNER_SPEC`.
pub(crate) fn spec_document(config: Option<&std::path::Path>, env: &Environ) -> Result<Document> {
    source::load_with_file(
        config,
        (SPEC_FILE_ENV, env.get(SPEC_FILE_ENV)),
        SPEC_ENV,
        env.get(SPEC_ENV),
        "spec file",
        max_payload_bytes(env)?,
    )?
    .ok_or(Error::NoSpec)
}

/// The cap on a decoded spec or context (`TASK_RUNNER_MAX_PAYLOAD_BYTES`).
pub(crate) fn max_payload_bytes(env: &Environ) -> Result<u64> {
    limits::max_payload_bytes(env.get(limits::MAX_PAYLOAD_ENV))
        .map_err(|message| Error::Config { message })
}

/// Masks every secret the environment holds (`AIRFLOW_CONN_*`, sensitive
/// `AIRFLOW_VAR_*`, the secrets folder) before any document is parsed, so
/// that no error about a spec or payload can print one. The payload's own
/// secrets join them once it has parsed.
pub(crate) fn mask_environment(env: &Environ) -> Result<()> {
    let store = Store::new(env, Default::default(), Default::default(), vec![])?;
    mask::install(masker(&store)?);
    Ok(())
}

/// The masker of every secret `store` holds; a masker that cannot be built
/// stops the run (exit 70) rather than letting secrets print in clear.
fn masker(store: &Store) -> Result<Masker> {
    Masker::new(store.secrets()).map_err(|message| Error::Internal { message })
}

/// The spec as the image runs it: with its `include/` folder, if it has one.
fn load_spec(args: &SpecArgs, env: &Environ) -> Result<TaskSpec> {
    let mut spec = spec::parse(&spec_document(args.config.as_deref(), env)?)?;
    if let Some(dir) = source::include_dir(env.get(INCLUDE_ENV)) {
        spec.add_include(dir);
    }
    Ok(spec)
}

/// The context document: `--context`, else `TASK_RUNNER_CONTEXT_FILE`, else
/// `TASK_RUNNER_CONTEXT`; `None` when there is none.
fn context_document(context: Option<&std::path::Path>, env: &Environ) -> Result<Option<Document>> {
    source::load_with_file(
        context,
        (CONTEXT_FILE_ENV, env.get(CONTEXT_FILE_ENV)),
        CONTEXT_ENV,
        env.get(CONTEXT_ENV),
        "context file",
        max_payload_bytes(env)?,
    )
}

fn load(input: &InputArgs, env: &Environ, today: DateTime) -> Result<Loaded> {
    mask_environment(env)?;
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
    let store = Store::new(
        env,
        payload.connections.clone(),
        payload.variables.clone(),
        payload.sensitive_names.clone(),
    )?;
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
    Limits::from_env(|k| env.get(k)).map_err(|message| Error::Config { message })
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
            Err(Error::from_stop(stop, timeout))
        }
    }
}

/// `task-runner run`: the whole pipeline; with `TASK_RUNNER_XCOM_STDOUT=1` the
/// XCom is also printed as the last line of stdout, which is what
/// DockerOperator's `do_xcom_push` takes (it cannot read the file).
pub async fn run(args: &RunArgs, env: &Environ, today: DateTime) -> Result<TaskEnd> {
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
    if let (Some(pickle), TaskEnd::Success { xcom: Some(path) }) = (&pickle, &end) {
        match xcom::write_pickle(path, pickle) {
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
        && let TaskEnd::Success { xcom } = &end
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
) -> Result<TaskEnd> {
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
    let loaded = load(&args.input, env, today)?;
    let loaded = render_interruptible(loaded, limits, &mut signals).await?;
    let spec = &loaded.spec;
    if spec.do_xcom_push {
        xcom::check_writable(&xcom_path)?;
        if let Some(pickle) = pickle {
            xcom::check_writable(pickle)?;
        }
    }
    if spec.grace_period >= std::time::Duration::from_secs(10) {
        tracing::warn!(
            "grace_period is {:?}: Docker kills the container 10 s after `docker stop` (Kubernetes after terminationGracePeriodSeconds), so the runner may not get to report",
            spec.grace_period
        );
    }
    tracing::info!(operator = spec.operator.name(), dag_id = %loaded.context.dag_id, task_id = %loaded.context.task_id, run_id = %loaded.context.run_id, "running task");

    // A stop that came after the render, while the task was being prepared,
    // still ends the run before anything is spawned.
    stop_pending(&mut signals).await?;
    let policy = Policy {
        timeout: spec.execution_timeout,
        grace: spec.grace_period,
    };
    let prepared = match &spec.operator {
        Operator::Bash(task) => runner::bash::prepare(task, &loaded.context, env)?,
        Operator::Python(task) => {
            runner::python::prepare(task, &loaded.context, env, spec.do_xcom_push)?
        }
        Operator::Ruby(task) => {
            runner::ruby::prepare(task, &loaded.context, env, spec.do_xcom_push)?
        }
        Operator::Sql(task) => {
            // The SQL runner streams rows straight into the XCom file itself.
            let conn = loaded.store.connection(&task.conn_id)?;
            let limits = runner::sql::Limits {
                xcom_path: &xcom_path,
                do_xcom_push: spec.do_xcom_push,
                max_xcom_bytes: spec.max_xcom_bytes,
                timeout: spec.execution_timeout,
                grace: spec.grace_period,
            };
            let xcom = runner::sql::run(task, &conn, &limits, &mut signals).await?;
            return Ok(TaskEnd::Success { xcom });
        }
    };
    let xcom_cap = spec.do_xcom_push.then_some(spec.max_xcom_bytes);
    let (payload, end) = run_process(prepared, policy, xcom_cap, &mut signals).await?;
    if end != (TaskEnd::Success { xcom: None }) {
        return Ok(end);
    }
    let bytes = match payload {
        Some(_) if !spec.do_xcom_push => return Ok(end),
        None | Some(ReturnValue::Value(Value::Null)) => return Ok(end),
        Some(ReturnValue::Value(value)) => xcom::encode(&value, spec.max_xcom_bytes)?,
        Some(ReturnValue::Raw(bytes)) => xcom::check_raw(bytes, spec.max_xcom_bytes)?,
    };
    xcom::write_atomic(&xcom_path, &bytes)?;
    tracing::info!(path = %xcom_path.display(), bytes = bytes.len(), "wrote XCom");
    Ok(TaskEnd::Success {
        xcom: Some(xcom_path),
    })
}

/// Err when a stop signal is already waiting (polled once, never waits).
async fn stop_pending(signals: &mut Signals) -> Result<()> {
    match tokio::time::timeout(std::time::Duration::ZERO, signals.recv()).await {
        Ok(Received::Stop(signal)) => Err(Error::Stopped {
            signal,
            name: signal_name(signal),
        }),
        // Nothing waiting, or a signal for a task that does not exist yet.
        _ => Ok(()),
    }
}

/// Supervises a process runner and reads its result.
async fn run_process(
    task: ProcessTask,
    policy: Policy,
    xcom_cap: Option<u64>,
    signals: &mut Signals,
) -> Result<(Option<ReturnValue>, TaskEnd)> {
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
        Outcome::TimedOut(_) => return Err(Error::from_stop(Stop::Timeout, policy.timeout)),
        Outcome::Stopped { signal, .. } => {
            return Err(Error::from_stop(Stop::Signal(signal), policy.timeout));
        }
        Outcome::Finished(end) => end,
    };
    let shim = match &result {
        ResultSource::Shim { dir } => Some(runner::shim::interpret(dir, end, xcom_cap)?),
        ResultSource::LastLine => None,
    };
    drop((workdir, script));
    Ok(
        match runner::end::interpret(
            describe,
            &program,
            end,
            shim,
            supervised.last_line,
            &skip_on_exit_code,
        )? {
            Ended::Success(value) => (value, TaskEnd::Success { xcom: None }),
            Ended::Skipped { code } => (None, TaskEnd::Skipped { code }),
            Ended::Failed { code, message } => (None, TaskEnd::Failed { code, message }),
        },
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
