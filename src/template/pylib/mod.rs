//! Python library objects, printing and computing as CPython 3.11's `datetime`, `uuid` and `time`,
//! python-dateutil 2.9 and pendulum 3 do: the date-times of the context and what `macros` offers.

pub(super) mod datetime;
pub(super) mod dateutil;
pub(super) mod pendulum;
pub(super) mod time;
pub(super) mod uuid;

use minijinja::{Error, ErrorKind};

pub(crate) fn unknown_method(module: &str, method: &str) -> Error {
    Error::new(
        ErrorKind::UnknownMethod,
        format!("module '{module}' has no attribute '{method}'"),
    )
}
