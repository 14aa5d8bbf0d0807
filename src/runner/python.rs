//! PythonOperator / ExternalPythonOperator: the callable runs in any Python
//! (2.7 or 3.x) through the embedded shim (runners/python_shim.py), which
//! reads its input from a file and reports through files and its exit code
//! (runners/PROTOCOL.md), so the callable may print freely.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::context::Context;
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::runner::{ProcessTask, ResultSource, env, shim};
use crate::spec::PythonTask;
use crate::supervise::Decoder;

/// The shim, byte for byte; valid Python 2.7 and 3.6+.
const SHIM: &str = include_str!("../../runners/python_shim.py");

/// Set unless the task's environment already sets them (PROTOCOL §1, §4.3):
/// unbuffered output reaches the log line by line on every version from 2.7
/// on, and UTF-8 keeps non-ASCII prints from failing in a C locale (2.7, 3.6).
const PYTHON_ENV: [(&str, &str); 2] = [("PYTHONUNBUFFERED", "1"), ("PYTHONIOENCODING", "utf-8")];

pub fn prepare(
    task: &PythonTask,
    ctx: &Context,
    ours: &Environ,
    do_xcom_push: bool,
) -> Result<ProcessTask> {
    let mut input = shim::common_input("python", ctx, do_xcom_push);
    input.insert("callable".into(), task.python_callable.trim().into());
    input.insert(
        "source".into(),
        task.python_source.clone().map_or(Value::Null, Value::from),
    );
    input.insert("op_args".into(), task.op_args.clone());
    input.insert("op_kwargs".into(), task.op_kwargs.clone());
    input.insert(
        "templates_dict".into(),
        task.templates_dict.clone().unwrap_or(Value::Null),
    );
    input.insert("python_path".into(), python_path(&task.python_path)?.into());
    let staged = shim::stage("python", SHIM, &input)?;

    let mut cmd = Command::new(&task.python);
    cmd.args(&staged.args);
    // No `current_dir`: the callable runs where the runner runs (the image's
    // WORKDIR), as PythonOperator runs in the worker's and
    // ExternalPythonOperator's subprocess inherits it.
    env::apply(
        &mut cmd,
        task.env.env.as_ref(),
        task.env.append_env,
        ctx,
        ours,
    )?;
    for (name, value) in PYTHON_ENV {
        if !cmd.get_envs().any(|(k, v)| k == name && v.is_some()) {
            cmd.env(name, value);
        }
    }
    Ok(ProcessTask {
        command: cmd,
        program: task.python.clone(),
        describe: "Python callable",
        decoder: Decoder::Utf8,
        skip_on_exit_code: task.skip_on_exit_code.clone(),
        result: ResultSource::Shim {
            dir: staged.dir.path().to_path_buf(),
        },
        workdir: Some(staged.dir),
        script: None,
    })
}

/// `python_path` as absolute import roots, in order. validate.rs has joined
/// relative entries to the spec's folder; a spec read from a relative path
/// leaves them relative to our cwd, which the shim's `sys.path` must not
/// depend on. A root that does not exist is refused here: Python would skip
/// it silently and the callable would fail later with a vaguer
/// "No module named ...".
fn python_path(entries: &[std::path::PathBuf]) -> Result<Vec<Value>> {
    entries
        .iter()
        .map(|p| {
            let abs = std::path::absolute(p).unwrap_or_else(|_| p.clone());
            if !Path::new(&abs).exists() {
                return Err(Error::TaskLoad {
                    message: format!(
                        "`python_path` entry `{}` does not exist (relative entries are resolved against the spec file's folder)",
                        abs.display()
                    ),
                });
            }
            Ok(abs.display().to_string().into())
        })
        .collect()
}
