//! `task-runner encode`: a spec (and a context) as the base64+gzip payloads
//! of `TASK_RUNNER_SPEC` and `TASK_RUNNER_CONTEXT`, with the template files
//! the spec names inlined, so the payload stands alone.

use serde_json::Value;

use crate::cli::{EncodeArgs, EncodeFormat};
use crate::context::Payload;
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::input::{mask_environment, max_payload_bytes, spec_document};
use crate::spec::source::{self, CONTEXT_ENV, INCLUDE_ENV, SPEC_ENV};
use crate::spec::{self, TaskSpec};
use crate::template;

/// `task-runner encode`: the spec (and context) as base64+gzip env payloads.
/// Template files the spec names are inlined, so the payload stands alone.
pub fn encode_command(args: &EncodeArgs, env: &Environ) -> Result<String> {
    mask_environment(env)?;
    let doc = spec_document(args.spec.config.as_deref(), env)?;
    let mut spec = spec::parse(&doc)?;
    if let Some(dir) = source::include_dir(env.get(INCLUDE_ENV)) {
        spec.add_include(dir);
    }
    let mut value: Value = spec::yaml::to_json(&doc.text).map_err(|e| Error::SpecDecode {
        origin: doc.origin.clone(),
        message: e.to_string(),
    })?;
    inline_template_files(&mut value, &spec)?;
    let spec_payload = source::encode(&value.to_string());
    let context_payload = match &args.context {
        Some(path) => {
            // A context that cannot be decoded is a context error (exit 72),
            // as `run` and `render` report it.
            let doc = source::load(
                Some(path),
                CONTEXT_ENV,
                None,
                "context file",
                max_payload_bytes(env)?,
            )
            .map_err(|e| match e {
                Error::SpecDecode { origin, message } => Error::Context { origin, message },
                other => other,
            })?
            .ok_or(Error::NoSpec)?;
            Payload::parse(&doc)?;
            let v: Value = spec::yaml::to_json(&doc.text).map_err(|e| Error::Context {
                origin: doc.origin.clone(),
                message: e.to_string(),
            })?;
            Some(source::encode(&v.to_string()))
        }
        None => None,
    };
    let format = args.format.unwrap_or(if context_payload.is_some() {
        EncodeFormat::Env
    } else {
        EncodeFormat::Value
    });
    Ok(match (format, context_payload) {
        (EncodeFormat::Value, None) => spec_payload,
        (EncodeFormat::Value, Some(_)) => {
            return Err(Error::Usage { message: "`--format value` prints one payload; with `--context` use `--format env` or `--format json`".into() });
        }
        (EncodeFormat::Env, ctx) => {
            let mut out = format!("{SPEC_ENV}={spec_payload}");
            if let Some(ctx) = ctx {
                out.push_str(&format!("\n{CONTEXT_ENV}={ctx}"));
            }
            out
        }
        (EncodeFormat::Json, ctx) => {
            let mut m = serde_json::Map::new();
            m.insert(SPEC_ENV.into(), spec_payload.into());
            if let Some(ctx) = ctx {
                m.insert(CONTEXT_ENV.into(), ctx.into());
            }
            Value::Object(m).to_string()
        }
    })
}

fn inline_template_files(doc: &mut Value, spec: &TaskSpec) -> Result<()> {
    let exts = spec.operator.template_ext();
    let fields = spec.operator.kind().template_fields();
    let Some(map) = doc.as_object_mut() else {
        return Ok(());
    };
    for &field in fields {
        let Some(value) = map.get_mut(field) else {
            continue;
        };
        let mut names: Vec<&mut Value> = match value {
            Value::Array(items) => items.iter_mut().collect(),
            other => vec![other],
        };
        for v in names.iter_mut() {
            let Some(name) = v.as_str().filter(|s| exts.iter().any(|e| s.ends_with(e))) else {
                continue;
            };
            // The lookup `run` and `render` use: a file outside the search
            // path (`../x.sh`) is not found by any of the three.
            let Some(path) = template::find_file(&spec.template_searchpath, name) else {
                return Err(Error::Template {
                    field: field.into(),
                    line: None,
                    message: format!(
                        "template file `{name}` not found in the template search path"
                    ),
                });
            };
            let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
                what: "template file",
                path,
                source,
            })?;
            **v = Value::String(text);
        }
    }
    Ok(())
}
