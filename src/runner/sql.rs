//! SQLExecuteQueryOperator through sqlx: PostgreSQL, MySQL/MariaDB, SQLite.

use std::path::Path;
use std::time::Duration;

use crate::TaskEnd;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::spec::SqlTask;
use crate::supervise::Signals;

/// What the SQL runner needs to know besides the task.
pub struct Limits<'a> {
    pub xcom_path: &'a Path,
    pub do_xcom_push: bool,
    pub max_xcom_bytes: u64,
    pub timeout: Option<Duration>,
}

pub async fn run(
    _task: &SqlTask,
    _conn: &Connection,
    _limits: &Limits<'_>,
    _signals: &mut Signals,
) -> Result<TaskEnd> {
    Err(Error::Config {
        message: "the `sql` operator is not available in this build yet".into(),
    })
}
