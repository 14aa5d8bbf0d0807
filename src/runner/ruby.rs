//! Ruby scripts through the embedded shim (runners/ruby_shim.rb).

use crate::context::Context;
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::runner::ProcessTask;
use crate::spec::RubyTask;

pub fn prepare(
    _task: &RubyTask,
    _ctx: &Context,
    _ours: &Environ,
    _do_xcom_push: bool,
) -> Result<ProcessTask> {
    Err(Error::Config {
        message: "the `ruby` operator is not available in this build yet".into(),
    })
}
