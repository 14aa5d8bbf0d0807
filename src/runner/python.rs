//! PythonOperator / ExternalPythonOperator: the callable runs in any Python
//! (2.7 or 3.x) through the embedded shim (runners/python_shim.py), which
//! reads its input from a file and reports through files and its exit code
//! (runners/PROTOCOL.md), so the callable may print freely.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::context::Context;
use crate::dotenv::Vars;
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

pub(crate) fn prepare(
    task: &PythonTask,
    ctx: &Context,
    ours: &Environ,
    from_files: &Vars,
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
    let roots = python_path(
        task.python_path.as_deref().unwrap_or_default(),
        &task.python_path_base,
    )?;
    input.insert("python_path".into(), roots.into());
    // An installed shim is imported: the embedded one is not written out.
    let installed = installed_shim(ours);
    let staged = shim::stage("python", installed.is_none().then_some(SHIM), &input)?;

    let mut cmd = Command::new(&task.python);
    match installed {
        // An installed shim is imported, so Python loads its bytecode instead
        // of compiling 1,200 lines on every run (a script's never is cached).
        Some(dir) => {
            let [_, input, result, error] = &staged.args;
            cmd.arg("-c")
                .arg(format!(
                    "import sys; sys.path.insert(0, {dir}); import {module} as m; del sys.path[0]; sys.exit(m.main(sys.argv))",
                    // A Python literal (Rust's `{:?}` escapes differently).
                    dir = crate::py::text::repr(&dir.display().to_string()),
                    module = shim_module()
                ))
                .args([input, result, error]);
        }
        None => {
            cmd.args(&staged.args);
        }
    }
    // No `current_dir`: the callable runs where the runner runs (the image's
    // WORKDIR), as PythonOperator runs in the worker's and
    // ExternalPythonOperator's subprocess inherits it.
    env::apply(
        &mut cmd,
        task.env.env.as_ref(),
        task.env.append_env,
        from_files,
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

/// Where `task-runner install-shims` puts the shims (env `TASK_RUNNER_SHIM_DIR`).
pub(crate) const DEFAULT_SHIM_DIR: &str = "/usr/local/lib/task-runner";

/// The shim's module name: versioned by content, so a binary never imports
/// another version's shim.
pub(crate) fn shim_module() -> String {
    // FNV-1a: a stable content hash, no crate needed for 64 bits.
    let hash = SHIM.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("task_runner_shim_{:012x}", hash & 0xffff_ffff_ffff)
}

/// The folder holding this binary's installed shim, if there is one.
fn installed_shim(ours: &Environ) -> Option<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(
        ours.get("TASK_RUNNER_SHIM_DIR")
            .filter(|d| !d.is_empty())
            .unwrap_or(DEFAULT_SHIM_DIR),
    );
    dir.join(format!("{}.py", shim_module()))
        .is_file()
        .then_some(dir)
}

/// `task-runner install-shims`: writes the Python shim into `dir` and
/// compiles it with each interpreter, so runs import its bytecode.
pub(crate) fn install(dir: &Path, pythons: &[String]) -> Result<Vec<String>> {
    let fail = |e: std::io::Error| {
        Error::config_caused(
            format!("cannot install the shim into `{}`", dir.display()),
            e,
        )
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let path = dir.join(format!("{}.py", shim_module()));
    std::fs::write(&path, SHIM).map_err(fail)?;
    let mut done = vec![path.display().to_string()];
    for python in pythons {
        let out = Command::new(python)
            .arg("-c")
            .arg("import py_compile, sys; py_compile.compile(sys.argv[1], doraise=True)")
            .arg(&path)
            .output()
            .map_err(|source| Error::Spawn {
                program: python.clone(),
                source,
            })?;
        if !out.status.success() {
            return Err(Error::config(format!(
                "`{python}` could not compile the shim: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        done.push(format!("compiled for {python}"));
    }
    Ok(done)
}

/// `python_path` as absolute import roots, in order. validate.rs has joined
/// relative entries to the spec's folder (the working directory for a spec
/// from env or stdin, `base` says which); a spec read from a relative path
/// leaves them relative to our cwd, which the shim's `sys.path` must not
/// depend on. A root that does not exist is refused here: Python would skip
/// it silently and the callable would fail later with a vaguer
/// "No module named ...".
fn python_path(entries: &[std::path::PathBuf], base: &str) -> Result<Vec<Value>> {
    entries
        .iter()
        .map(|p| {
            let abs = std::path::absolute(p).unwrap_or_else(|_| p.clone());
            if !Path::new(&abs).exists() {
                return Err(Error::task_load(format!(
                    "`python_path` entry `{}` does not exist (relative entries are resolved against {base})",
                    abs.display()
                )));
            }
            Ok(abs.display().to_string().into())
        })
        .collect()
}
