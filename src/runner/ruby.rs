//! Ruby scripts through the embedded shim (runners/ruby_shim.rb): the rendered
//! `ruby_script` is evaluated with the context as a Hash and `ti.xcom_pull`,
//! and the value of its last expression (or `xcom_return(v)`) is the XCom
//! (runners/PROTOCOL.md §6).

use std::process::Command;

use serde_json::Value;

use crate::context::Context;
use crate::dotenv::Vars;
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::runner::{ProcessTask, ResultSource, env, shim};
use crate::spec::RubyTask;
use crate::supervise::Decoder;

/// The shim, byte for byte; Ruby 2.6+.
const SHIM: &str = include_str!("../../runners/ruby_shim.rb");

pub(crate) fn prepare(
    task: &RubyTask,
    ctx: &Context,
    ours: &Environ,
    from_files: &Vars,
    do_xcom_push: bool,
) -> Result<ProcessTask> {
    let script = task.ruby_script.as_str().ok_or_else(|| {
        Error::config(
            "`ruby_script` must render to a string (Ruby source, or a `*.rb` template file)",
        )
    })?;
    let Value::Array(args) = &task.args else {
        return Err(Error::config("`args` must render to a list"));
    };
    let mut input = shim::common_input("ruby", ctx, do_xcom_push);
    input.insert("script".into(), script.into());
    // Backtraces name the template file the script came from, else `<inline>`.
    input.insert(
        "script_name".into(),
        task.script_name.as_deref().unwrap_or("<inline>").into(),
    );
    // Strings as they are, other values as their JSON text (PROTOCOL §2.3).
    input.insert("args".into(), Value::Array(args.clone()));
    let staged = shim::stage("ruby", Some(SHIM), &[], &input)?;

    let mut cmd = Command::new(&task.ruby);
    cmd.args(&staged.args);
    // No `current_dir`: the script runs where the runner runs (the image's
    // WORKDIR), like the Python runner. Ruby needs no extra environment: the
    // shim syncs its streams and fixes a US-ASCII default encoding (§4.3).
    env::apply(
        &mut cmd,
        task.env.env.as_ref(),
        task.env.append_env,
        from_files,
        ctx,
        ours,
    )?;
    Ok(ProcessTask {
        command: cmd,
        program: task.ruby.clone(),
        describe: "Ruby script",
        decoder: Decoder::Utf8,
        skip_on_exit_code: task.skip_on_exit_code.clone(),
        result: ResultSource::Shim {
            dir: staged.dir.path().to_path_buf(),
        },
        workdir: Some(staged.dir),
        script: None,
    })
}
