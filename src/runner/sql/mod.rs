//! SQLExecuteQueryOperator through sqlx: PostgreSQL, MySQL/MariaDB, SQLite.
//!
//! Airflow's semantics (common/sql `DbApiHook.run` and `SQLExecuteQueryOperator`):
//! every statement runs on one connection, with the same `parameters`, inside
//! one transaction committed after the last statement unless `autocommit`; the
//! result shape follows `return_single_query_results`. On top of that, this
//! runner streams rows straight into the XCom temp file (flat memory, a size
//! cap that fails before anything is renamed into place), rolls back on any
//! failure, and cancels a running statement on the server when the task is
//! stopped or times out.
//!
//! Submodules: [`split`] (lexing, splitting, placeholders), [`params`] (bind
//! values), [`types`] (values to JSON), [`pg_copy`] (PostgreSQL's binary COPY
//! format), [`backend`] (connections, execution, cancellation), [`lite`]
//! (SQLite rows read straight from the statement).

pub(crate) mod backend;
pub(crate) mod lite;
pub mod params;
pub(crate) mod pg_copy;
pub(crate) mod pg_oid;
pub mod split;
pub(crate) mod types;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use self::backend::{Canceller, Conn, StepError, Target, Values};
use self::split::{Dialect, ParamRef, Style};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::spec::SqlTask;
use crate::supervise::{Interrupted, Policy, Signals, Stop, interruptible, signal_name};
use crate::xcom;

/// Connection attempts before giving up on an unreachable server; only the
/// connection is retried, never a statement.
pub(crate) const CONNECT_ATTEMPTS: u32 = 3;
/// How long a rollback after a failed statement may take before the
/// connection is simply dropped (the server then rolls back on its own).
const ROLLBACK_WAIT: Duration = Duration::from_secs(5);
/// What a stop keeps of the grace period for reporting (at most a tenth).
const REPORT_MARGIN: Duration = Duration::from_millis(250);

/// When the stop path must be done: the cancel, the wait for the statement
/// to give up and the rollback share the grace period, less a margin for
/// the report, so Docker's or the kubelet's SIGKILL never comes first.
fn stop_deadline(grace: Duration) -> Instant {
    Instant::now() + grace.saturating_sub(REPORT_MARGIN.min(grace / 10))
}

/// One statement as it is sent to the server.
#[derive(Debug)]
pub(crate) struct Piece {
    /// With the server's own bind markers.
    pub sql: String,
    /// As written (for logs and messages).
    pub text: String,
    pub params: Vec<ParamRef>,
    /// 1-based, over the whole task.
    pub number: usize,
}

/// One entry of Airflow's `sql_list`: what `cursor.execute` gets once. A
/// script with several statements (a string with `split_statements` off, or
/// one list item) is several pieces whose result is the last one's.
#[derive(Debug)]
struct Unit {
    pieces: Vec<Piece>,
}

/// The statements of a task, bound, with the XCom shape.
#[derive(Debug)]
struct Plan {
    units: Vec<Unit>,
    /// Airflow's `return_single_query_results`: the XCom is the last result
    /// alone, not a list of results.
    single: bool,
    total: usize,
}

fn plan(task: &SqlTask, d: Dialect) -> Result<Plan> {
    let config = Error::config;
    let (texts, is_str) = match &task.sql {
        Value::String(s) => (vec![s.clone()], true),
        Value::Array(items) => (
            items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
            false,
        ),
        other => {
            return Err(config(format!(
                "`sql` must be a string or a list, got {other}"
            )));
        }
    };
    let split_statements = task.split_statements.unwrap_or(false);
    // Airflow: common/sql hooks/sql.py `return_single_query_results`.
    let single = match task.split_statements {
        Some(split) => is_str && (task.return_last || !split),
        None => is_str && task.return_last,
    };
    let scripts: Vec<Vec<String>> = if is_str && split_statements {
        split::split(&texts[0], d)
            .into_iter()
            .map(|s| vec![s])
            .collect()
    } else {
        texts.iter().map(|t| split::split(t, d)).collect()
    };
    if scripts.iter().all(Vec::is_empty) {
        // Airflow: `ValueError("List of SQL statements is empty")`.
        return Err(config(
            "`sql` holds no statement (List of SQL statements is empty)".into(),
        ));
    }
    if let Some(i) = scripts.iter().position(Vec::is_empty) {
        return Err(config(format!(
            "`sql[{i}]` holds no statement (psycopg2: can't execute an empty query)"
        )));
    }
    let total = scripts.iter().map(Vec::len).sum();
    let mut number = 0;
    let mut units = Vec::new();
    for script in scripts {
        let mut pieces = Vec::new();
        // Within one script, `%s` placeholders take consecutive values (one
        // `execute` call); each script starts again from the first, as every
        // `cursor.execute` gets the same `parameters`.
        let mut offset = 0;
        for text in script {
            number += 1;
            let style = match &task.parameters {
                None | Some(Value::Null) => Style::None,
                Some(Value::Object(m)) => Style::Named(m),
                Some(Value::Array(_)) => Style::Positional { offset },
                Some(other) => {
                    return Err(config(format!(
                        "`parameters` must be an object (named) or a list (positional), got {other}"
                    )));
                }
            };
            let bound = split::bind(&text, d, style).map_err(|message| Error::Sql {
                statement: number,
                total,
                message,
            })?;
            offset += bound.consumed;
            pieces.push(Piece {
                sql: bound.sql,
                text,
                params: bound.params,
                number,
            });
        }
        if let Some(Value::Array(values)) = &task.parameters
            && offset != values.len()
        {
            // psycopg2/mysqlclient: "not all arguments converted during string formatting".
            let n = number;
            return Err(Error::Sql {
                statement: n,
                total,
                message: format!(
                    "the statement has {offset} positional placeholder(s) but `parameters` has {} value(s)",
                    values.len()
                ),
            });
        }
        units.push(Unit { pieces });
    }
    Ok(Plan {
        units,
        single,
        total,
    })
}

/// Rows of one result on their way into the output file, one JSON array per row.
pub(crate) struct RowSink<'w> {
    out: &'w mut xcom::Writer,
    buf: Vec<u8>,
    rows: u64,
}

impl<'w> RowSink<'w> {
    fn new(out: &'w mut xcom::Writer) -> Self {
        RowSink {
            out,
            buf: Vec::with_capacity(4096),
            rows: 0,
        }
    }

    /// The buffer for the next row's column values, comma-separated.
    pub(crate) fn start_row(&mut self) -> &mut Vec<u8> {
        self.buf.clear();
        self.buf
            .extend_from_slice(if self.rows == 0 { b"[[" } else { b",[" });
        &mut self.buf
    }

    pub(crate) fn end_row(&mut self) -> std::io::Result<()> {
        self.buf.push(b']');
        self.rows += 1;
        self.out.write_all(&self.buf)
    }

    /// `n` rows encoded elsewhere (`lite.rs`): each `[...]`, comma-separated.
    pub(crate) fn write_rows(&mut self, rows: &[u8], n: u64) -> std::io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.out
            .write_all(if self.rows == 0 { b"[" } else { b"," })?;
        self.rows += n;
        self.out.write_all(rows)
    }

    pub(crate) fn finish(&mut self) -> std::io::Result<()> {
        self.out
            .write_all(if self.rows == 0 { b"[]" } else { b"]" })
    }
}

/// Where the result goes.
struct Output {
    writer: xcom::Writer,
    /// `output_path` given: the XCom is this path, the file holds the result.
    file: Option<String>,
}

/// Runs the task's SQL and writes its XCom; returns the XCom's path, or
/// `None` when nothing is pushed.
pub(crate) async fn run(
    task: &SqlTask,
    conn: &Connection,
    sink: &xcom::Sink,
    policy: Policy,
    signals: &mut Signals,
) -> Result<Option<PathBuf>> {
    let deadline = policy.timeout.map(|t| Instant::now() + t);
    let target =
        Target::from_connection(conn).map_err(|message| Error::UnusableConnection { message })?;
    let plan = plan(task, target.dialect)?;
    let values = match &task.parameters {
        Some(Value::Object(m)) => Values::Named(m),
        Some(Value::Array(l)) => Values::List(l),
        _ => Values::None,
    };
    let output_file = match &task.output_path {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(other) => {
            return Err(Error::config(format!(
                "`output_path` must be a file path, got {other}"
            )));
        }
    };
    let mut output = match (&output_file, sink.pushes()) {
        (Some(file), _) => Some(Output {
            // Meant to outlive the pod (a mounted volume): fsynced.
            writer: xcom::Writer::create(Path::new(file), None, xcom::Durability::Durable)?,
            file: Some(file.clone()),
        }),
        (None, true) => Some(Output {
            writer: sink.writer()?,
            file: None,
        }),
        // Airflow: no handler without `do_xcom_push`, so nothing is fetched.
        (None, false) => None,
    };

    let stopped = |stop: Stop| stop.error(policy.timeout);
    let mut db = match interruptible(connect(&target), deadline, signals).await {
        Interrupted::Done(r) => r?,
        Interrupted::Stopped(stop) => return Err(stopped(stop)),
    };
    let canceller = match interruptible(db.canceller(&target), deadline, signals).await {
        Interrupted::Done(r) => r.map_err(|e| Error::Database {
            what: target.describe.clone(),
            attempts: None,
            source: Box::new(backend::DbError(e)),
        })?,
        Interrupted::Stopped(stop) => return Err(stopped(stop)),
    };

    // The statements' future borrows the connection: it ends with this block.
    let result = {
        let work = execute(&mut db, &plan, values, task.autocommit, output.as_mut());
        tokio::pin!(work);
        match interruptible(&mut work, deadline, signals).await {
            Interrupted::Done(r) => Ok(r),
            Interrupted::Stopped(stop) => {
                tracing::warn!(
                    "{}: cancelling the running statement on the server",
                    match stop {
                        Stop::Signal(n) => format!("stopped by {}", signal_name(n)),
                        Stop::Timeout => "execution_timeout expired".into(),
                    }
                );
                let budget = stop_deadline(policy.grace);
                cancel(&canceller, budget).await;
                // The statement now fails on the server; wait for that (bounded).
                if tokio::time::timeout_at(budget, &mut work).await.is_err() {
                    tracing::warn!(
                        "the statement did not give up within the grace period of {}",
                        humantime::format_duration(policy.grace)
                    );
                }
                Err((stop, budget))
            }
        }
    };
    let result = match result {
        Ok(r) => r,
        Err((stop, budget)) => {
            rollback(db, task.autocommit, Some(budget)).await;
            return Err(stopped(stop));
        }
    };
    let finished = match result {
        Ok(finished) => finished,
        Err(e) => {
            rollback(db, task.autocommit, None).await;
            return Err(e);
        }
    };
    // The whole result is written (and the durable `output_path` fsynced)
    // before COMMIT: a full disk fails the task with nothing committed, and
    // after COMMIT only renames are left.
    let pending = match prepare(output, &finished, sink) {
        Ok(p) => p,
        Err(e) => {
            rollback(db, task.autocommit, None).await;
            return Err(e);
        }
    };
    if !task.autocommit {
        commit(&mut db, &plan, policy, deadline, signals).await?;
    }
    close(db, None).await;
    pending.publish()
}

/// The final COMMIT. It cannot be cancelled: a stop or a timeout that comes
/// while it runs is logged, and the runner waits for the server's answer
/// within the grace period. A COMMIT that then completes is the task's
/// success (its work is committed, and a retry would repeat it); one that
/// does not answer in time ends the run with the stop's code and says that
/// the outcome is unknown.
async fn commit(
    db: &mut Conn,
    plan: &Plan,
    policy: Policy,
    deadline: Option<Instant>,
    signals: &mut Signals,
) -> Result<()> {
    let failed = |e: sqlx::Error| Error::Sql {
        statement: plan.total,
        total: plan.total,
        message: format!("the final COMMIT failed: {}", backend::db_message(&e)),
    };
    let grace = policy.grace;
    let work = db.control("COMMIT");
    tokio::pin!(work);
    let stop = match interruptible(&mut work, deadline, signals).await {
        Interrupted::Done(r) => return r.map_err(failed),
        Interrupted::Stopped(stop) => stop,
    };
    let what = stop.describe();
    tracing::warn!(
        "{what} during the final COMMIT: a COMMIT cannot be cancelled; waiting up to {} for the server's answer",
        humantime::format_duration(grace)
    );
    match tokio::time::timeout_at(stop_deadline(grace), &mut work).await {
        Ok(Ok(())) => {
            tracing::warn!(
                "the COMMIT completed after {what}: the task's work is committed, so the run reports success"
            );
            Ok(())
        }
        Ok(Err(e)) => Err(failed(e)),
        Err(_) => Err(Error::CommitUnknown {
            what,
            stopped: Box::new(stop.error(policy.timeout)),
            grace: humantime::format_duration(grace).to_string(),
        }),
    }
}

async fn connect(target: &Target) -> Result<Conn> {
    let mut delay = Duration::from_secs(1);
    for attempt in 1..=CONNECT_ATTEMPTS {
        match target.connect().await {
            Ok(c) => return Ok(c),
            Err(e) if e.retry && attempt < CONNECT_ATTEMPTS => {
                tracing::warn!(
                    "connection attempt {attempt} of {CONNECT_ATTEMPTS} to {} failed: {}; retrying in {}",
                    target.describe,
                    e.source,
                    humantime::format_duration(delay)
                );
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => {
                return Err(Error::Database {
                    what: target.describe.clone(),
                    attempts: e.retry.then_some(CONNECT_ATTEMPTS),
                    source: e.source,
                });
            }
        }
    }
    // The loop returns on its last attempt; this keeps the function total.
    Err(Error::Internal {
        message: format!("no connection attempt was made to {}", target.describe),
    })
}

async fn cancel(canceller: &Canceller, budget: Instant) {
    match tokio::time::timeout_at(budget, canceller.cancel()).await {
        Ok(Ok(())) => tracing::info!("cancel request sent"),
        Ok(Err(e)) => tracing::warn!("could not cancel the statement: {e}"),
        Err(_) => tracing::warn!("could not cancel the statement: no answer"),
    }
}

/// Rolls back what the task did, by `budget` (a stop's deadline) or within
/// [`ROLLBACK_WAIT`]; if the server does not answer, dropping the connection
/// makes it roll back by itself (a transaction never outlives its session).
async fn rollback(mut db: Conn, autocommit: bool, budget: Option<Instant>) {
    let budget = budget.unwrap_or_else(|| Instant::now() + ROLLBACK_WAIT);
    if autocommit {
        close(db, Some(budget)).await;
        return;
    }
    match tokio::time::timeout_at(budget, db.control("ROLLBACK")).await {
        Ok(Ok(())) => {
            tracing::info!("rolled back: nothing of this task was committed");
            close(db, Some(budget)).await;
        }
        Ok(Err(e)) => tracing::warn!(
            "ROLLBACK failed ({}); closing the connection, which rolls back",
            backend::db_message(&e)
        ),
        Err(_) => tracing::warn!(
            "ROLLBACK did not answer in time; dropping the connection, so the server rolls back on its own"
        ),
    }
}

/// Closes the session politely, by `budget` at the latest (else within
/// [`ROLLBACK_WAIT`]); a server that does not answer gets the socket dropped.
async fn close(db: Conn, budget: Option<Instant>) {
    let budget = budget.unwrap_or_else(|| Instant::now() + ROLLBACK_WAIT);
    if tokio::time::timeout_at(budget, db.close()).await.is_err() {
        tracing::debug!("the server did not answer the close; the connection is dropped");
    }
}

/// Whether the pushed value is Airflow's `None` (no XCom).
struct Finished {
    null: bool,
}

/// Runs every statement, in a transaction unless `autocommit`; rows of the
/// results that make up the XCom are streamed into `output`.
async fn execute(
    db: &mut Conn,
    plan: &Plan,
    values: Values<'_>,
    autocommit: bool,
    mut output: Option<&mut Output>,
) -> Result<Finished> {
    if !autocommit {
        db.control("BEGIN").await.map_err(|e| Error::Sql {
            statement: 1,
            total: plan.total,
            message: format!("BEGIN failed: {}", backend::db_message(&e)),
        })?;
    }
    let nunits = plan.units.len();
    let io = |w: &xcom::Writer, e: std::io::Error| w.error(e);
    if !plan.single
        && let Some(out) = output.as_deref_mut()
    {
        out.writer.write_all(b"[").map_err(|e| io(&out.writer, e))?;
    }
    let mut null = false;
    for (u, unit) in plan.units.iter().enumerate() {
        let keep = !plan.single || u + 1 == nunits;
        if keep
            && !plan.single
            && u > 0
            && let Some(out) = output.as_deref_mut()
        {
            out.writer.write_all(b",").map_err(|e| io(&out.writer, e))?;
        }
        for (p, piece) in unit.pieces.iter().enumerate() {
            let last = p + 1 == unit.pieces.len();
            let shown = match values {
                Values::None => "None".to_string(),
                Values::Named(m) => Value::Object(m.clone()).to_string(),
                Values::List(l) => Value::Array(l.to_vec()).to_string(),
            };
            // Airflow: `DbApiHook._run_command` logs "Running statement: %s, parameters: %s".
            tracing::info!(
                "Running statement {} of {}: {}, parameters: {shown}",
                piece.number,
                plan.total,
                piece.text,
            );
            let out = output.as_deref_mut().filter(|_| keep && last);
            let before = out.as_ref().map_or(0, |o| o.writer.written());
            let result = match out {
                Some(out) => {
                    let mut sink = RowSink::new(&mut out.writer);
                    let r = db.exec(piece, values, Some(&mut sink)).await;
                    // A statement without a result set: Airflow's handler gives None.
                    if r.is_ok() && out.writer.written() == before {
                        out.writer
                            .write_all(b"null")
                            .map_err(|e| io(&out.writer, e))?;
                        null = true;
                    } else {
                        null = false;
                    }
                    r.map_err(|e| step_error(e, piece, plan.total, &out.writer))
                }
                None => db
                    .exec(piece, values, None)
                    .await
                    .map_err(|e| step_error_plain(e, piece, plan.total)),
            };
            let rows = result?;
            // Airflow: `DbApiHook._run_command` logs `cursor.rowcount`.
            tracing::info!("Rows affected: {rows}");
        }
    }
    if !plan.single
        && let Some(out) = output.as_deref_mut()
    {
        out.writer.write_all(b"]").map_err(|e| io(&out.writer, e))?;
        null = false;
    }
    if let Some(out) = output {
        out.writer.flush().map_err(|e| out.writer.error(e))?;
    }
    Ok(Finished { null })
}

fn excerpt(sql: &str) -> String {
    // Mask before folding and cutting, or a cut secret would no longer match.
    let sql = crate::mask::redact(sql);
    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 200 {
        format!("{}...", one_line.chars().take(200).collect::<String>())
    } else {
        one_line
    }
}

fn step_error_plain(e: StepError, piece: &Piece, total: usize) -> Error {
    let message = match e {
        StepError::Db(m) | StepError::Value(m) => m,
        StepError::Output(e) => e.to_string(),
    };
    Error::Sql {
        statement: piece.number,
        total,
        message: format!("{message}; statement: {}", excerpt(&piece.text)),
    }
}

fn step_error(e: StepError, piece: &Piece, total: usize, w: &xcom::Writer) -> Error {
    match e {
        StepError::Output(e) => w.error(e),
        other => step_error_plain(other, piece, total),
    }
}

/// The result, written in full (and fsynced where durable), waiting for
/// COMMIT to be renamed into place.
#[derive(Default)]
struct Pending {
    /// The `output_path` file.
    file: Option<xcom::Written>,
    /// The XCom file.
    xcom: Option<xcom::Written>,
}

/// Finishes every file of the result (before COMMIT).
fn prepare(output: Option<Output>, finished: &Finished, sink: &xcom::Sink) -> Result<Pending> {
    let Some(output) = output else {
        return Ok(Pending::default());
    };
    Ok(match output.file {
        Some(file) => {
            let written = output.writer.finish()?;
            let xcom = if sink.pushes() {
                Some(sink.finished(&Value::String(file))?)
            } else {
                None
            };
            Pending {
                file: Some(written),
                xcom,
            }
        }
        // Airflow pushes no XCom for a `None` return value.
        None if finished.null => Pending::default(),
        None => Pending {
            file: None,
            xcom: Some(output.writer.finish()?),
        },
    })
}

impl Pending {
    /// Renames the result into place (after COMMIT) and says where the XCom is.
    fn publish(self) -> Result<Option<PathBuf>> {
        if let Some(file) = self.file {
            let (path, bytes) = (file.path().display().to_string(), file.bytes());
            file.persist()?;
            tracing::info!(path = %path, bytes, "wrote the result file (`output_path`)");
        }
        let Some(xcom) = self.xcom else {
            return Ok(None);
        };
        let (path, bytes) = (xcom.path().to_path_buf(), xcom.bytes());
        xcom.persist()?;
        tracing::info!(path = %path.display(), bytes, "wrote XCom");
        Ok(Some(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task(sql: Value, split: Option<bool>, return_last: bool) -> SqlTask {
        SqlTask {
            conn_id: "x".into(),
            sql,
            parameters: None,
            autocommit: false,
            split_statements: split,
            return_last,
            output_path: None,
        }
    }

    #[test]
    fn result_shape_follows_airflow() {
        let shape = |sql: Value, split, last| {
            plan(&task(sql, split, last), Dialect::Postgres)
                .unwrap()
                .single
        };
        let s = json!("select 1; select 2");
        let l = json!(["select 1", "select 2"]);
        assert!(shape(s.clone(), None, true));
        assert!(shape(s.clone(), Some(true), true));
        assert!(shape(s.clone(), Some(false), false));
        assert!(!shape(s.clone(), Some(true), false));
        assert!(!shape(s, None, false));
        assert!(!shape(l.clone(), None, true));
        assert!(!shape(l, Some(true), true));
    }

    #[test]
    fn units_and_pieces() {
        let p = plan(
            &task(json!("select 1; select 2"), Some(true), true),
            Dialect::Sqlite,
        )
        .unwrap();
        assert_eq!(p.units.len(), 2);
        let p = plan(
            &task(json!("select 1; select 2"), None, true),
            Dialect::Sqlite,
        )
        .unwrap();
        assert_eq!((p.units.len(), p.units[0].pieces.len(), p.total), (1, 2, 2));
        assert!(plan(&task(json!(" -- nothing\n"), None, true), Dialect::Sqlite).is_err());
    }
}
