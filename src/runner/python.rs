//! PythonOperator / ExternalPythonOperator: the callable runs in any Python
//! (2.7 or 3.x) through the embedded shim (runners/python_shim.py).

use crate::context::Context;
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::runner::ProcessTask;
use crate::spec::PythonTask;

pub fn prepare(
    _task: &PythonTask,
    _ctx: &Context,
    _ours: &Environ,
    _do_xcom_push: bool,
) -> Result<ProcessTask> {
    Err(Error::Config {
        message: "the `python` operator is not available in this build yet".into(),
    })
}
