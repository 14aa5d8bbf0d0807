//! The run's inputs as documents: the spec and the context from a flag,
//! a file named in the environment or the environment itself, under the
//! payload cap, with every secret the environment holds masked before any
//! of them is parsed.

use crate::cli::SpecArgs;
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::limits;
use crate::mask::{self, Masker};
use crate::spec::source::{
    self, CONTEXT_ENV, CONTEXT_FILE_ENV, INCLUDE_ENV, SPEC_ENV, SPEC_FILE_ENV,
};
use crate::spec::{self, Document, TaskSpec};
use crate::store::Store;

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
    limits::max_payload_bytes(env.get(limits::MAX_PAYLOAD_ENV)).map_err(Error::config)
}

/// Masks every secret the environment holds (`AIRFLOW_CONN_*`, sensitive
/// `AIRFLOW_VAR_*`, the secrets folder) before any document is parsed, so
/// that no error about a spec or payload can print one. The payload's own
/// secrets join them once it has parsed.
/// Returns the store it read, which the run goes on with.
pub(crate) fn mask_environment(env: &Environ) -> Result<Store> {
    let store = Store::from_env(env)?;
    mask::install(masker(&store)?);
    Ok(store)
}

/// The masker of every secret `store` holds; a masker that cannot be built
/// stops the run (exit 70) rather than letting secrets print in clear.
pub(crate) fn masker(store: &Store) -> Result<Masker> {
    Masker::new(store.secrets()).map_err(|message| Error::Internal { message })
}

/// The spec as the image runs it: with its `include/` folder, if it has one.
pub(crate) fn load_spec(args: &SpecArgs, env: &Environ) -> Result<TaskSpec> {
    let mut spec = spec::parse(&spec_document(args.config.as_deref(), env)?)?;
    if let Some(dir) = source::include_dir(env.get(INCLUDE_ENV)) {
        spec.add_include(dir);
    }
    Ok(spec)
}

/// The context document: `--context`, else `TASK_RUNNER_CONTEXT_FILE`, else
/// `TASK_RUNNER_CONTEXT`; `None` when there is none.
pub(crate) fn context_document(
    context: Option<&std::path::Path>,
    env: &Environ,
) -> Result<Option<Document>> {
    source::load_with_file(
        context,
        (CONTEXT_FILE_ENV, env.get(CONTEXT_FILE_ENV)),
        CONTEXT_ENV,
        env.get(CONTEXT_ENV),
        "context file",
        max_payload_bytes(env)?,
    )
}
