//! The environment of a task process, built as BashOperator builds it:
//! `env` unset inherits ours; `env` set replaces it unless `append_env`; the
//! `AIRFLOW_CTX_*` variables are always added (operators/bash.py). Between
//! the inherited environment and `env` come the `env_file` variables (docker
//! compose's `.env` files, read here, parsed by `dotenv`).

use std::io::Read;
use std::process::Command;

use serde_json::Value;

use crate::context::Context;
use crate::dotenv::{self, Vars};
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::limits::MAX_ENV_FILE_BYTES;
use crate::spec::EnvFile;
use crate::spec::source::{CONTEXT_ENV, CONTEXT_FILE_ENV, SPEC_ENV, SPEC_FILE_ENV};

/// Reads the `env_file`s in order into one set of variables, a later
/// file's value winning. Interpolation sees the variables defined before,
/// then `ours`; a bare `KEY` takes `ours`'s value. A missing file is an
/// error unless it is not `required` (then skipped).
pub(crate) fn read_files(files: &[EnvFile], ours: &Environ) -> Result<Vars> {
    let mut vars = Vars::default();
    let lookup = |name: &str| ours.get(name).map(str::to_owned);
    for file in files {
        let err =
            |line: Option<usize>, message: String, source: Option<std::io::Error>| Error::EnvFile {
                path: file.path.clone(),
                line,
                message,
                source,
            };
        let mut bytes = Vec::new();
        let read = std::fs::File::open(&file.path).and_then(|f| {
            // One byte past the cap tells "too large" from "exactly the cap".
            f.take(MAX_ENV_FILE_BYTES + 1).read_to_end(&mut bytes)
        });
        match read {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !file.required => {
                tracing::debug!(path = %file.path.display(), "env_file does not exist and is not required: skipped");
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(err(
                    None,
                    "the file does not exist (an entry `{path: ..., required: false}` is skipped when missing)".into(),
                    None,
                ));
            }
            Err(e) => return Err(err(None, "the file cannot be read".into(), Some(e))),
        }
        if bytes.len() as u64 > MAX_ENV_FILE_BYTES {
            return Err(err(
                None,
                format!(
                    "the file is larger than {MAX_ENV_FILE_BYTES} bytes (1 MiB), the most an env_file may hold"
                ),
                None,
            ));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            err(Some(line), "the line is not UTF-8 text".into(), None)
        })?;
        dotenv::parse_into(&text, &mut vars, &lookup)
            .map_err(|e| err(Some(e.line), e.message, None))?;
    }
    Ok(vars)
}

/// The values of `vars` to mask: those whose name is `sensitive` (Airflow's
/// rule, with the configured names), as for variables.
pub(crate) fn secrets(vars: &Vars, sensitive: impl Fn(&str) -> bool) -> Vec<String> {
    vars.iter()
        .filter(|(k, _)| sensitive(k))
        .map(|(_, v)| v.to_string())
        .collect()
}

/// Applies the task environment to `cmd`: inherited (unless `env` replaces
/// it), then the `env_file` variables, then `env`, then `AIRFLOW_CTX_*`.
pub(crate) fn apply(
    cmd: &mut Command,
    env_field: Option<&Value>,
    append_env: bool,
    from_files: &Vars,
    ctx: &Context,
    ours: &Environ,
) -> Result<()> {
    let inherit = env_field.is_none() || append_env;
    cmd.env_clear();
    if inherit {
        for (k, v) in ours.iter_os() {
            // The payloads can be large (ARG_MAX counts the environment) and
            // are the runner's business, not the task's.
            if ![SPEC_ENV, CONTEXT_ENV, SPEC_FILE_ENV, CONTEXT_FILE_ENV]
                .iter()
                .any(|p| k == std::ffi::OsStr::new(p))
            {
                cmd.env(k, v);
            }
        }
    }
    // The task's own configuration: applied even when `env` replaces the
    // inherited environment, and under `env`, which wins.
    for (k, v) in from_files.iter() {
        cmd.env(k, v);
    }
    if let Some(env) = env_field {
        let Value::Object(map) = env else {
            return Err(Error::config(
                "`env` must render to a mapping of names to strings",
            ));
        };
        for (k, v) in map {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            cmd.env(k, v);
        }
    }
    for (k, v) in ctx.airflow_ctx_env() {
        cmd.env(k, v);
    }
    Ok(())
}
