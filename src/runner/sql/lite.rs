//! SQLite rows read straight from the statement: a thread of its own steps
//! it on the locked connection and encodes the rows as JSON into buffers,
//! and the task's side writes whole buffers into the sink. sqlx's reader
//! copies every value (`sqlite3_value_dup`) and sends a row object per row
//! across threads, which made a million rows cost 3.7x the sqlite3 CLI.
//!
//! The statement runs on its own thread, as sqlx's worker runs it, so the
//! runtime thread stays free while one `sqlite3_step` runs for minutes: a
//! stop signal or `execution_timeout` is still noticed, and the canceller's
//! flag still reaches the connection's progress handler
//! (`backend::Canceller`), which interrupts the step.
//!
//! Anything this reader does not take goes back to sqlx before a row is read
//! (see [`read`]), so messages stay sqlx's.

#[allow(unsafe_code)]
mod raw;

use sqlx::sqlite::SqliteConnection;
use tokio::sync::mpsc;

pub(crate) use self::raw::Value;
use self::raw::{Db, Param, Stmt};
use super::RowSink;
use super::backend::StepError;
use super::params::SqliteParam;
use super::types;

/// Rows are handed over in buffers of about this size. Under musl's
/// threshold for allocating with mmap, so the few buffers in flight are
/// reused rather than mapped and unmapped.
const CHUNK: usize = 64 * 1024;
/// Buffers in flight between the two threads.
const IN_FLIGHT: usize = 2;

/// What the reading thread reports, in order.
enum Message {
    /// The statement is not one this reader takes; nothing was stepped.
    Declined,
    /// Rows, each `[...]`, comma-separated.
    Rows { json: Vec<u8>, rows: u64 },
    /// The statement is done after this many rows.
    Done(u64),
    /// It failed after the rows already sent.
    Failed(StepError),
}

/// The statement and what the reader needs for it.
struct Job {
    sql: String,
    params: Vec<SqliteParam>,
    /// The column names, as sqlx gave them, for messages.
    names: Vec<String>,
    /// Whether the rows are wanted, or only counted.
    encode: bool,
    /// Buffers the sink has written, back for reuse.
    spent: std::sync::mpsc::Receiver<Vec<u8>>,
}

/// Runs `sql` (one statement with a result set, which sqlx has prepared,
/// with `names` for its columns) and streams its rows into `sink`; returns
/// the row count. `None` when the reader declines the statement before
/// stepping it: the caller runs it through sqlx. It declines what it could
/// get different from sqlx: a statement SQLite does not prepare the same
/// way here (an error, text after it, another column count) and parameters
/// that are not all bare `?` markers bound in order.
pub(crate) async fn read(
    c: &mut SqliteConnection,
    sql: &str,
    params: Vec<SqliteParam>,
    names: Vec<String>,
    mut sink: Option<&mut RowSink<'_>>,
) -> Result<Option<u64>, StepError> {
    let (spent_tx, spent) = std::sync::mpsc::channel();
    let job = Job {
        sql: sql.to_string(),
        params,
        names,
        encode: sink.is_some(),
        spent,
    };
    let lock = c.lock_handle().await?;
    let mut running = raw::spawn(lock, IN_FLIGHT, move |db, tx| job.run(db, &tx))
        .map_err(|e| StepError::Db(format!("failed to start the SQLite reader thread: {e}")))?;
    // An early return (the sink failed) or a drop of this future (a stop
    // that outlasted the grace period) drops `running`, which interrupts
    // the statement and waits for the thread.
    let end = loop {
        match running.recv().await {
            Some(Message::Rows { mut json, rows }) => {
                if let Some(sink) = sink.as_deref_mut() {
                    sink.write_rows(&json, rows).map_err(StepError::Output)?;
                }
                json.clear();
                // The thread may have ended; the buffer is then freed here.
                let _ = spent_tx.send(json);
            }
            Some(Message::Done(count)) => break Ok(Some(count)),
            Some(Message::Declined) => break Ok(None),
            Some(Message::Failed(e)) => break Err(e),
            None => {
                break Err(StepError::Db(
                    "the SQLite reader thread ended without an answer".into(),
                ));
            }
        }
    };
    running.finish();
    if let (Ok(Some(_)), Some(sink)) = (&end, sink) {
        sink.finish().map_err(StepError::Output)?;
    }
    end
}

/// A SQLite error as `backend::db_message` words sqlx's.
fn db_error(e: raw::Error) -> StepError {
    StepError::Db(format!("{} [SQLite error code {}]", e.message, e.code))
}

impl Job {
    /// On the reading thread: prepares, binds and steps the statement.
    fn run(self, db: &Db, tx: &mpsc::Sender<Message>) {
        // A send fails only when the task's side has stopped listening.
        let send = |m: Message| tx.blocking_send(m).is_ok();
        let Some(mut stmt) = self.prepare(db) else {
            send(Message::Declined);
            return;
        };
        let mut json = Vec::with_capacity(CHUNK + CHUNK / 4);
        let mut rows = 0u64;
        let mut count = 0u64;
        loop {
            match stmt.step() {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    // The rows before the error reach the sink first, as
                    // they did row by row (a size cap hit by them wins).
                    if send(Message::Rows { json, rows }) {
                        send(Message::Failed(db_error(e)));
                    }
                    return;
                }
            }
            count += 1;
            if !self.encode {
                continue;
            }
            let start = json.len();
            if rows > 0 {
                json.push(b',');
            }
            if let Err(e) = self.write_row(&mut stmt, &mut json) {
                json.truncate(start);
                if send(Message::Rows { json, rows }) {
                    send(Message::Failed(e));
                }
                return;
            }
            rows += 1;
            if json.len() >= CHUNK {
                let next = self
                    .spent
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(CHUNK + CHUNK / 4));
                if !send(Message::Rows {
                    json: std::mem::replace(&mut json, next),
                    rows,
                }) {
                    return;
                }
                rows = 0;
            }
        }
        if send(Message::Rows { json, rows }) {
            send(Message::Done(count));
        }
    }

    /// The statement, bound; `None` to decline it (see [`read`]).
    fn prepare<'db>(&self, db: &'db Db) -> Option<Stmt<'db>> {
        let (mut stmt, rest) = db.prepare(&self.sql).ok()??;
        let alone = rest.iter().all(|b| b.is_ascii_whitespace() || *b == b';');
        if !alone
            || stmt.column_count() != self.names.len()
            || stmt.parameter_count() != self.params.len()
            || !stmt.parameters_are_anonymous()
        {
            return None;
        }
        for (i, p) in self.params.iter().enumerate() {
            let p = match p {
                SqliteParam::Null => Param::Null,
                SqliteParam::Integer(v) => Param::Integer(*v),
                SqliteParam::Real(v) => Param::Real(*v),
                SqliteParam::Text(s) => Param::Text(s),
            };
            stmt.bind(i + 1, p).ok()?;
        }
        Some(stmt)
    }

    /// The current row as `[v1,v2,...]`.
    fn write_row(&self, stmt: &mut Stmt<'_>, json: &mut Vec<u8>) -> Result<(), StepError> {
        json.push(b'[');
        for (i, name) in self.names.iter().enumerate() {
            if i > 0 {
                json.push(b',');
            }
            let v = stmt.column(i).map_err(db_error)?;
            // As `backend::column_error` names the column.
            types::write_lite(v, json)
                .map_err(|e| StepError::Value(format!("column `{name}`: {e}")))?;
        }
        json.push(b']');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;
    use std::time::{Duration, Instant};

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(f)
    }

    async fn memory() -> SqliteConnection {
        SqliteConnection::connect("sqlite::memory:")
            .await
            .expect("an in-memory database")
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    /// A read given up on (its future dropped, as a stop that outlasts the
    /// grace period does) interrupts its step, and the connection then runs
    /// the next statement: no interrupt is left over for it.
    #[test]
    fn a_dropped_read_interrupts_its_step_and_leaves_the_connection_usable() {
        block_on(async {
            let mut c = memory().await;
            let endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
            let started = Instant::now();
            let pending = read(&mut c, endless, Vec::new(), names(1), None);
            let gave_up = tokio::time::timeout(Duration::from_millis(200), pending).await;
            assert!(
                gave_up.is_err(),
                "the endless step ended: {:?}",
                gave_up.ok().map(|r| r.ok())
            );
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{:?}",
                started.elapsed()
            );
            let n: i64 = sqlx::query_scalar("SELECT 41 + 1")
                .fetch_one(&mut c)
                .await
                .expect("the next statement runs");
            assert_eq!(n, 42);
            let again = read(
                &mut c,
                "SELECT 1 UNION ALL SELECT 2",
                Vec::new(),
                names(1),
                None,
            );
            assert!(matches!(again.await, Ok(Some(2))));
        });
    }

    /// What could read differently from sqlx goes back to it unstepped.
    #[test]
    fn the_reader_declines_what_sqlx_reads_differently() {
        block_on(async {
            let mut c = memory().await;
            sqlx::raw_sql("CREATE TABLE t (a); INSERT INTO t VALUES (1)")
                .execute(&mut c)
                .await
                .expect("set up");
            let text = |s: &str| SqliteParam::Text(s.into());
            for (sql, params, cols) in [
                ("SELECT :x", vec![text("a")], 1),
                ("SELECT ?1, ?1", vec![text("a")], 2),
                ("SELECT ?", vec![], 1),
                ("SELECT 1; SELECT 2", vec![], 1),
                ("SELECT 1; -- a comment", vec![], 1),
                ("SELECT 1, 2", vec![], 1),
                ("SELECT nope", vec![], 1),
                // Declined before its step: the row is not inserted twice.
                ("INSERT INTO t VALUES (2) RETURNING a; SELECT 1", vec![], 1),
            ] {
                let r = read(&mut c, sql, params, names(cols), None).await;
                assert!(matches!(r, Ok(None)), "{sql}: {:?}", r.map_err(|_| ()));
            }
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
                .fetch_one(&mut c)
                .await
                .expect("a count");
            assert_eq!(n, 1);
            let bound = read(
                &mut c,
                "SELECT ? WHERE ? = 'b'",
                vec![text("a"), text("b")],
                names(1),
                None,
            );
            assert!(matches!(bound.await, Ok(Some(1))));
        });
    }
}
