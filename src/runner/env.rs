//! The environment of a task process, built as BashOperator builds it:
//! `env` unset inherits ours; `env` set replaces it unless `append_env`; the
//! `AIRFLOW_CTX_*` variables are always added (operators/bash.py).

use std::process::Command;

use serde_json::Value;

use crate::context::Context;
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::spec::source::{CONTEXT_ENV, CONTEXT_FILE_ENV, SPEC_ENV, SPEC_FILE_ENV};

/// Applies the task environment to `cmd`.
pub(crate) fn apply(
    cmd: &mut Command,
    env_field: Option<&Value>,
    append_env: bool,
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
