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

/// The shim compiled by CPython 2.7 and 3.6 on, one code object per bytecode
/// magic number (scripts/shim-bytecode.sh makes it; its layout is in
/// scripts/helpers/shim_bytecode.py). Staged beside the shim, it is what the
/// embedded shim's launcher loads: compiling the shim is ~10 ms of every run,
/// loading its code ~1 ms.
const SHIM_BYTECODE: &[u8] = include_bytes!("../../runners/python_shim.bytecode");

/// The file name the bytecode's code objects were compiled with, the
/// `__file__` the launcher gives the shim's module.
const BYTECODE_FILE: &str = "/task-runner/python_shim.py";

/// FNV-1a, 64 bits: a stable content hash, no crate needed.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    let mut i = 0;
    while i < bytes.len() {
        h = (h ^ bytes[i] as u64).wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

const SHIM_HASH: u64 = fnv1a(SHIM.as_bytes());

/// The staged bytecode (the index line and the code objects) when it was
/// compiled from this binary's shim; `None` for a stale one (a shim edited
/// without `scripts/shim-bytecode.sh`), which the launcher then compiles.
fn bytecode() -> Option<&'static [u8]> {
    let nl = SHIM_BYTECODE.iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(&SHIM_BYTECODE[..nl]).ok()?;
    let hash = header.strip_prefix("task-runner python shim bytecode ")?;
    (u64::from_str_radix(hash, 16).ok()? == SHIM_HASH).then(|| &SHIM_BYTECODE[nl + 1..])
}

/// Loads the embedded shim into a module of its own and runs it, as the
/// installed one is run. The working folder `-c` puts first on `sys.path`
/// goes first (a script's folder would, and the shim removes that), so the
/// callable imports as under ExternalPythonOperator, never a stray file of
/// the working folder in place of a module. Then: its code object for this interpreter's bytecode
/// magic number from `python_shim.bytecode`, else (a Python with no code
/// object there, a stale or missing file) the staged source, compiled.
/// Imports nothing that Python has not loaded already (`marshal` and 2.7's
/// `imp` are built in). Valid Python 2.7 and 3.6+.
const LAUNCHER: &str = r#"import sys, marshal
if sys.path[:1] == ['']:
    del sys.path[0]
def _code(d, file):
    try:
        k = sys.modules['_frozen_importlib_external'].MAGIC_NUMBER
    except KeyError:
        import imp
        k = imp.get_magic()
    k = ''.join(['%02x' % b for b in bytearray(k)]).encode('ascii')
    try:
        with open(d + '/python_shim.bytecode', 'rb') as f:
            for e in f.readline().split():
                n, o, l = e.split(b':')
                if n == k:
                    f.seek(f.tell() + int(o))
                    return marshal.loads(f.read(int(l))), file
    except (IOError, OSError, ValueError, EOFError, TypeError):
        pass
    p = d + '/shim'
    with open(p, 'rb') as f:
        return compile(f.read(), p, 'exec', 0, True), p
c, p = _code({dir}, {file})
m = type(sys)('task_runner_shim')
m.__file__ = p
sys.modules['task_runner_shim'] = m
exec(c, m.__dict__)
del _code, c, p
sys.exit(m.main(sys.argv))
"#;

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
    let extra: &[(&str, &[u8])] = match (&installed, bytecode()) {
        (None, Some(code)) => &[("python_shim.bytecode", code)],
        _ => &[],
    };
    let staged = shim::stage("python", installed.is_none().then_some(SHIM), extra, &input)?;

    let mut cmd = Command::new(&task.python);
    match installed {
        // An installed shim is imported, so Python loads its bytecode instead
        // of compiling 1,200 lines on every run (a script's never is cached);
        // the `''` that `-c` puts on `sys.path` goes, as in the launcher.
        Some(dir) => {
            let [_, input, result, error] = &staged.args;
            cmd.arg("-c")
                .arg(format!(
                    "import sys\nif sys.path[:1] == ['']: del sys.path[0]\nsys.path.insert(0, {dir}); import {module} as m; del sys.path[0]; sys.exit(m.main(sys.argv))",
                    // A Python literal (Rust's `{:?}` escapes differently).
                    dir = crate::py::text::repr(&dir.display().to_string()),
                    module = shim_module()
                ))
                .args([input, result, error]);
        }
        None => {
            let [_, input, result, error] = &staged.args;
            let dir = staged.dir.path().display().to_string();
            cmd.arg("-c")
                .arg(launcher(&dir))
                .args([input, result, error]);
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

/// The launcher for the shim staged in `dir`. The constant part is filled in
/// first: a folder whose name holds `{file}` stays as it is.
fn launcher(dir: &str) -> String {
    LAUNCHER
        .replace("{file}", &crate::py::text::repr(BYTECODE_FILE))
        .replace("{dir}", &crate::py::text::repr(dir))
}

/// Where `task-runner install-shims` puts the shims (env `TASK_RUNNER_SHIM_DIR`).
pub(crate) const DEFAULT_SHIM_DIR: &str = "/usr/local/lib/task-runner";

/// The shim's module name: versioned by content, so a binary never imports
/// another version's shim.
pub(crate) fn shim_module() -> String {
    format!("task_runner_shim_{:012x}", SHIM_HASH & 0xffff_ffff_ffff)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed bytecode was compiled from the committed shim: after an
    /// edit of runners/python_shim.py, run `bash scripts/shim-bytecode.sh`.
    #[test]
    fn the_bytecode_is_compiled_from_this_shim() {
        let code = bytecode().expect(
            "runners/python_shim.bytecode is older than runners/python_shim.py: run `bash scripts/shim-bytecode.sh`",
        );
        let index =
            std::str::from_utf8(&code[..code.iter().position(|&b| b == b'\n').unwrap()]).unwrap();
        let magics: Vec<&str> = index
            .split(' ')
            .map(|e| e.split(':').next().unwrap())
            .collect();
        // 2.7 and 3.11, the versions the tests run, are there at least.
        for magic in ["03f30d0a", "a70d0d0a"] {
            assert!(magics.contains(&magic), "{magic} missing from {index}");
        }
        let body = code.len() - index.len() - 1;
        let end = index
            .split(' ')
            .map(|e| {
                let f: Vec<usize> = e.split(':').skip(1).map(|n| n.parse().unwrap()).collect();
                f[0] + f[1]
            })
            .max()
            .unwrap();
        assert_eq!(end, body, "the index covers the code objects exactly");
    }

    #[test]
    fn the_launcher_keeps_any_folder_name_whole() {
        for dir in [
            "/tmp/task-runner-python-x",
            "/tmp/{file}/it's",
            "/tmp/{dir}",
        ] {
            let text = launcher(dir);
            let repr = crate::py::text::repr(dir);
            assert!(text.contains(&format!("c, p = _code({repr}, ")), "{text}");
            assert!(!text.contains("{file}") || dir.contains("{file}"));
        }
    }

    #[test]
    fn the_module_name_is_the_content_hash() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert!(shim_module().starts_with("task_runner_shim_"));
        assert_eq!(shim_module().len(), "task_runner_shim_".len() + 12);
    }
}
