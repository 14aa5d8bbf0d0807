//! The integration suite: every test drives the real `task-runner` binary.

mod harness;

/// BashOperator semantics: env, cwd, output, XCom, exit codes, template files.
mod bash;
/// examples/compose run with docker-compose: PostgreSQL, non-root tasks, secrets.
mod compose;
/// Context payload, `AIRFLOW_CTX_*`, connections and variables in templates.
mod context;
/// The static binary as a container ENTRYPOINT under the real Docker engine.
mod docker;
/// Which files are fsynced: the XCom only when asked, `output_path` always.
mod durability;
/// `env_file`: compose `.env` files in the task's environment, masked.
mod env_file;
/// Every file under fixtures/ is read by a test (the README does not count).
mod fixtures;
/// Inputs the fuzz targets (fuzz/) found or were seeded with, through the
/// same library code as the targets: a result or a refusal, never a panic.
mod fuzz_regressions;
/// Payload files, the image's `include/`, `python_path` bases, the no-context warning.
mod image_inputs;
/// Bounds on inputs: durations, nesting depth, payload size, broken stdout,
/// non-UTF-8 env values, template files outside the search path, secrets in
/// parse errors.
mod input_limits;
/// The crate's module layering as data: no edge outside the allowed table.
mod layering;
/// Secrets never reach the output, the logs or the termination message.
mod masking;
/// The XCom as a pickle for DockerOperator's `retrieve_output`.
mod pickle;
/// Python (3 and 2.7) callables through the shim.
mod python;
/// Ruby scripts through the shim.
mod ruby;
/// Spec sources (file, stdin, env, base64, gzip), strictness, and the
/// `validate`/`encode`/`render` subcommands.
mod spec_input;
/// SQL tasks against real PostgreSQL, MariaDB and SQLite.
mod sql;
/// Signals, timeouts, misbehaving children, orphans, PID 1.
mod supervision;
/// The render budget, rendering cut short by a stop or a timeout, and
/// template input that used to panic the engine.
mod template_limits;
/// Template rendering checked against real Airflow's renderings.
mod templates;
/// `ti.xcom_pull` (selection and template) against real Airflow's table.
mod xcom_pull;
/// `TASK_RUNNER_XCOM_STDOUT`: the XCom as the last stdout line, for DockerOperator.
mod xcom_stdout;
