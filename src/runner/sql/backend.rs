//! The three databases behind one small interface: connect options from an
//! Airflow connection (as the Airflow providers read it), one statement's
//! execution with its rows streamed into a sink, and cancellation of a
//! running statement from outside.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::TryStreamExt;
use serde_json::{Map, Value};
use sqlx::mysql::{MySqlArguments, MySqlConnectOptions, MySqlConnection, MySqlSslMode};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgSslMode};
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteConnection};
use sqlx::{Arguments, Column, ConnectOptions, Connection as _, Either, Executor, Row, Statement};

use super::params::{self, PgParam};
use super::split::{self, Dialect, ParamRef};
use super::types::{self, MyCol, PgCol};
use super::{Piece, RowSink, pg_copy};
use crate::connection::Connection;

/// libpq's and mysqlclient's connect timeout is unbounded by default; a task
/// must not hang on an unreachable host, so each attempt is bounded.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

enum Options {
    Pg(PgConnectOptions),
    My(MySqlConnectOptions),
    Lite(SqliteConnectOptions),
}

/// Where to connect, and how to name it in messages (never with the password).
pub(crate) struct Target {
    options: Options,
    pub dialect: Dialect,
    pub describe: String,
    pub connect_timeout: Duration,
}

/// Why a connection value cannot be used for SQL.
pub(crate) fn unusable(conn: &Connection, why: &str) -> String {
    format!(
        "connection `{}` cannot be used by the sql operator: {why}",
        conn.conn_id
    )
}

/// An empty host means the local server, as libpq and mysqlclient read it.
fn host_or_localhost(host: String) -> String {
    if host.is_empty() {
        "localhost".into()
    } else {
        host
    }
}

fn extra_str(extra: &Map<String, Value>, key: &str) -> Option<String> {
    match extra.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The options, dialect and description of each backend.
type Backend = (Options, Dialect, String);

/// `connect_timeout` from the extra (seconds), else the default.
fn connect_timeout(conn: &Connection, extra: &Map<String, Value>) -> Result<Duration, String> {
    Ok(match extra_str(extra, "connect_timeout") {
        None => DEFAULT_CONNECT_TIMEOUT,
        Some(s) => {
            let bad = |why: &str| {
                unusable(
                    conn,
                    &format!("`connect_timeout` in extra {why} (seconds, e.g. 10)"),
                )
            };
            let secs = s
                .trim()
                .parse::<f64>()
                .map_err(|_| bad("is not a number"))?;
            // libpq and mysqlclient read 0 (and less) as "wait forever";
            // a task must not hang, so those keep the default bound.
            if secs <= 0.0 {
                DEFAULT_CONNECT_TIMEOUT
            } else {
                crate::limits::seconds(secs).map_err(|why| bad(&why))?
            }
        }
    })
}

fn pg_options(conn: &Connection, extra: &Map<String, Value>) -> Result<Backend, String> {
    let host = conn.host.clone().unwrap_or_default();
    let schema = conn.schema.clone().unwrap_or_default();
    // Airflow: providers/postgres `PostgresHook.get_conn` passes host, user,
    // password, dbname, port and the extras as libpq keywords.
    let mut o = PgConnectOptions::new_without_pgpass();
    let host = host_or_localhost(host);
    o = if host.starts_with('/') {
        o.socket(&host)
    } else {
        o.host(&host)
    };
    o = o.port(conn.port.unwrap_or(5432));
    if let Some(login) = conn.login.as_deref().filter(|l| !l.is_empty()) {
        o = o.username(login);
    }
    if let Some(password) = conn.password.as_deref() {
        o = o.password(password);
    }
    if !schema.is_empty() {
        o = o.database(&schema);
    }
    if let Some(mode) = extra_str(extra, "sslmode") {
        o = o.ssl_mode(
            PgSslMode::from_str(&mode)
                .map_err(|_| unusable(conn, &format!("unknown `sslmode` `{mode}` in extra (disable, allow, prefer, require, verify-ca, verify-full)")))?,
        );
    }
    if let Some(p) = extra_str(extra, "sslrootcert") {
        o = o.ssl_root_cert(PathBuf::from(p));
    }
    if let Some(p) = extra_str(extra, "sslcert") {
        o = o.ssl_client_cert(PathBuf::from(p));
    }
    if let Some(p) = extra_str(extra, "sslkey") {
        o = o.ssl_client_key(PathBuf::from(p));
    }
    if let Some(name) = extra_str(extra, "application_name") {
        o = o.application_name(&name);
    }
    if let Some(opts) = extra_str(extra, "options") {
        o = o.options(libpq_options(&opts));
    }
    let describe = format!(
        "PostgreSQL at {}:{}/{} (connection `{}`)",
        o.get_host(),
        o.get_port(),
        o.get_database().unwrap_or(o.get_username()),
        conn.conn_id
    );
    Ok((Options::Pg(o), Dialect::Postgres, describe))
}

fn mysql_options(conn: &Connection, extra: &Map<String, Value>) -> Result<Backend, String> {
    let host = conn.host.clone().unwrap_or_default();
    let schema = conn.schema.clone().unwrap_or_default();
    // Airflow: providers/mysql `MySqlHook._get_conn_config_mysql_client`.
    let host = host_or_localhost(host);
    let mut o = MySqlConnectOptions::new()
        .host(&host)
        .port(conn.port.unwrap_or(3306))
        .username(conn.login.as_deref().unwrap_or_default())
        .password(conn.password.as_deref().unwrap_or_default());
    if !schema.is_empty() {
        o = o.database(&schema);
    }
    if let Some(charset) = extra_str(extra, "charset") {
        o = o.charset(&charset);
    }
    if let Some(sock) = extra_str(extra, "unix_socket") {
        o = o.socket(sock);
    }
    // `ssl` is a dict (or its JSON text) with `ca`, `cert`, `key`.
    let ssl = match extra.get("ssl") {
        Some(Value::Object(m)) => Some(m.clone()),
        Some(Value::String(s)) => serde_json::from_str::<Map<String, Value>>(s).ok(),
        _ => None,
    };
    if let Some(ssl) = &ssl {
        o = o.ssl_mode(MySqlSslMode::Required);
        if let Some(ca) = extra_str(ssl, "ca") {
            o = o.ssl_ca(PathBuf::from(ca)).ssl_mode(MySqlSslMode::VerifyCa);
        }
        if let Some(cert) = extra_str(ssl, "cert") {
            o = o.ssl_client_cert(PathBuf::from(cert));
        }
        if let Some(key) = extra_str(ssl, "key") {
            o = o.ssl_client_key(PathBuf::from(key));
        }
    }
    if let Some(mode) = extra_str(extra, "ssl_mode") {
        o = o.ssl_mode(MySqlSslMode::from_str(&mode).map_err(|_| {
            unusable(conn, &format!("unknown `ssl_mode` `{mode}` in extra (DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY)"))
        })?);
    }
    let describe = format!(
        "MySQL at {host}:{}/{schema} (connection `{}`)",
        conn.port.unwrap_or(3306),
        conn.conn_id
    );
    Ok((Options::My(o), Dialect::MySql, describe))
}

fn sqlite_options(conn: &Connection) -> Result<Backend, String> {
    let host = conn.host.clone().unwrap_or_default();
    let schema = conn.schema.clone().unwrap_or_default();
    // Airflow: providers/sqlite `SqliteHook` opens the connection's host as a
    // file path; a URI like `sqlite:////tmp/x.db` leaves it in `schema`.
    let path = match (host.is_empty(), schema.is_empty()) {
        (false, true) => host,
        (false, false) => format!("{host}/{schema}"),
        (true, false) => schema,
        (true, true) => {
            return Err(unusable(
                conn,
                "no database file: put its path in `host` (or `:memory:`)",
            ));
        }
    };
    let o = if path == ":memory:" {
        SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| unusable(conn, &e.to_string()))?
    } else {
        // `sqlite3.connect` creates a missing file, so does this.
        SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
    };
    let describe = format!("SQLite database `{path}` (connection `{}`)", conn.conn_id);
    Ok((Options::Lite(o), Dialect::Sqlite, describe))
}

impl Target {
    /// Builds the connect options from the connection's `conn_type`, fields and extras.
    pub(crate) fn from_connection(conn: &Connection) -> Result<Target, String> {
        let extra = conn.extra_dejson();
        let connect_timeout = connect_timeout(conn, &extra)?;
        let (options, dialect, describe) = match conn.conn_type.as_deref().unwrap_or_default() {
            // Airflow normalises `postgresql` to `postgres`; accept both anyway.
            "postgres" | "postgresql" => pg_options(conn, &extra)?,
            "mysql" | "mariadb" => mysql_options(conn, &extra)?,
            "sqlite" => sqlite_options(conn)?,
            other => {
                return Err(unusable(
                    conn,
                    &format!(
                        "its conn_type is `{other}`; supported: postgres (postgresql), mysql (MariaDB too), sqlite"
                    ),
                ));
            }
        };
        Ok(Target {
            options,
            dialect,
            describe,
            connect_timeout,
        })
    }

    /// One connection attempt, bounded by the connect timeout.
    pub(crate) async fn connect(&self) -> Result<Conn, ConnectError> {
        let attempt = async {
            Ok::<_, sqlx::Error>(match &self.options {
                Options::Pg(o) => Conn::Pg(quiet(o.clone()).connect().await?),
                Options::My(o) => Conn::My(quiet(o.clone()).connect().await?),
                Options::Lite(o) => Conn::Lite(quiet(o.clone()).connect().await?),
            })
        };
        match tokio::time::timeout(self.connect_timeout, attempt).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(ConnectError {
                // Only a server that cannot be reached is retried; a TLS
                // verification failure surfaces as `InvalidData` and would
                // fail the same way every time.
                retry: match &e {
                    sqlx::Error::Io(io) => io.kind() != std::io::ErrorKind::InvalidData,
                    sqlx::Error::PoolTimedOut => true,
                    _ => false,
                },
                source: Box::new(DbError(e)),
            }),
            Err(_) => Err(ConnectError {
                retry: true,
                source: format!(
                    "no answer within {} (set `connect_timeout` in the connection's extra to change it)",
                    humantime::format_duration(self.connect_timeout)
                )
                .into(),
            }),
        }
    }
}

/// sqlx logs every statement and warns about slow ones; the runner logs each
/// statement itself, in Airflow's words, and a long ETL query is not a warning.
fn quiet<O: ConnectOptions>(o: O) -> O {
    o.log_statements(log::LevelFilter::Off)
        .log_slow_statements(log::LevelFilter::Off, Duration::ZERO)
}

/// `options=-c search_path=x -c statement_timeout=5s` as libpq reads it.
fn libpq_options(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut words = text.split_whitespace().peekable();
    while let Some(w) = words.next() {
        let kv = match w {
            "-c" => words.next().unwrap_or_default().to_string(),
            w if w.starts_with("-c") => w[2..].to_string(),
            w if w.starts_with("--") => w[2..].to_string(),
            _ => continue,
        };
        if let Some((k, v)) = kv.split_once('=') {
            out.push((k.to_string(), v.to_string()));
        }
    }
    out
}

pub(crate) struct ConnectError {
    pub retry: bool,
    pub source: crate::error::Cause,
}

/// A database error in the runner's words: the server's own message with its
/// SQLSTATE or error number (see [`db_message`]).
#[derive(Debug)]
pub(crate) struct DbError(pub sqlx::Error);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&db_message(&self.0))
    }
}

impl std::error::Error for DbError {}

/// A database's own message: text, SQLSTATE/error code, and PostgreSQL's detail and hint.
pub(crate) fn db_message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => {
            let mut s = d.message().to_string();
            if let Some(pg) = d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                if let Some(detail) = pg.detail() {
                    s.push_str(&format!(" (DETAIL: {detail})"));
                }
                if let Some(hint) = pg.hint() {
                    s.push_str(&format!(" (HINT: {hint})"));
                }
            }
            if let Some(my) = d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
                s.push_str(&format!(" [MySQL error {}", my.number()));
                if let Some(state) = my.code() {
                    s.push_str(&format!(", SQLSTATE {state}"));
                }
                s.push(']');
            } else if d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                if let Some(code) = d.code() {
                    s.push_str(&format!(" [SQLite error code {code}]"));
                }
            } else if let Some(code) = d.code() {
                s.push_str(&format!(" [SQLSTATE {code}]"));
            }
            s
        }
        other => other.to_string(),
    }
}

/// What went wrong in one statement.
pub(crate) enum StepError {
    /// The server refused or failed it.
    Db(String),
    /// A value could not be bound or converted.
    Value(String),
    /// The XCom (or output) file could not take the rows.
    Output(std::io::Error),
}

impl From<sqlx::Error> for StepError {
    fn from(e: sqlx::Error) -> Self {
        StepError::Db(db_message(&e))
    }
}

/// The task's parameters, as given.
#[derive(Clone, Copy)]
pub(crate) enum Values<'a> {
    None,
    Named(&'a Map<String, Value>),
    List(&'a [Value]),
}

impl Values<'_> {
    fn get(&self, r: &ParamRef) -> Result<&Value, StepError> {
        match (self, r) {
            (Values::Named(m), ParamRef::Named(n)) => m.get(n),
            (Values::List(l), ParamRef::Positional(i)) => l.get(*i),
            _ => None,
        }
        .ok_or_else(|| {
            StepError::Value(match (self, r) {
                (Values::List(l), ParamRef::Positional(i)) => format!(
                    "the statement needs positional parameter {} but `parameters` has {} value(s)",
                    i + 1,
                    l.len()
                ),
                _ => format!("no value for placeholder {r:?}"),
            })
        })
    }
}

/// An open connection to one of the three databases.
pub(crate) enum Conn {
    Pg(PgConnection),
    My(MySqlConnection),
    Lite(SqliteConnection),
}

/// Stops a running statement from outside the task's own connection.
pub(crate) enum Canceller {
    /// `pg_cancel_backend(pid)` from a second session, as psql's Ctrl-C does
    /// (libpq's cancel request; sqlx does not expose the cancel key).
    Pg(PgConnectOptions, i32),
    /// `KILL QUERY id` from a second session, as the mysql client's Ctrl-C does.
    My(MySqlConnectOptions, u64),
    /// SQLite runs in-process: a progress handler polls this flag.
    Lite(Arc<AtomicBool>),
}

impl Canceller {
    pub(crate) async fn cancel(&self) -> Result<(), String> {
        let e = |e: sqlx::Error| db_message(&e);
        match self {
            Canceller::Pg(o, pid) => {
                let mut c = o.connect().await.map_err(e)?;
                sqlx::query("SELECT pg_cancel_backend($1)")
                    .bind(pid)
                    .execute(&mut c)
                    .await
                    .map_err(e)?;
                let _ = c.close().await;
            }
            Canceller::My(o, id) => {
                let mut c = o.connect().await.map_err(e)?;
                sqlx::raw_sql(&format!("KILL QUERY {id}"))
                    .execute(&mut c)
                    .await
                    .map_err(e)?;
                let _ = c.close().await;
            }
            Canceller::Lite(flag) => flag.store(true, Ordering::SeqCst),
        }
        Ok(())
    }
}

impl Conn {
    /// Learns how to cancel this session's statements (one round trip).
    pub(crate) async fn canceller(&mut self, target: &Target) -> Result<Canceller, sqlx::Error> {
        Ok(match (self, &target.options) {
            (Conn::Pg(c), Options::Pg(o)) => {
                let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                    .fetch_one(&mut *c)
                    .await?;
                Canceller::Pg(o.clone(), pid)
            }
            (Conn::My(c), Options::My(o)) => {
                let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
                    .fetch_one(&mut *c)
                    .await?;
                Canceller::My(o.clone(), id)
            }
            (Conn::Lite(c), _) => {
                let flag = Arc::new(AtomicBool::new(false));
                let seen = flag.clone();
                c.lock_handle()
                    .await?
                    .set_progress_handler(1000, move || !seen.load(Ordering::SeqCst));
                Canceller::Lite(flag)
            }
            _ => return Err(sqlx::Error::Protocol("connection/options mismatch".into())),
        })
    }

    /// A transaction-control statement (`BEGIN`, `COMMIT`, `ROLLBACK`).
    pub(crate) async fn control(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        match self {
            Conn::Pg(c) => sqlx::raw_sql(sql).execute(c).await.map(drop),
            Conn::My(c) => sqlx::raw_sql(sql).execute(c).await.map(drop),
            Conn::Lite(c) => sqlx::raw_sql(sql).execute(c).await.map(drop),
        }
    }

    pub(crate) async fn close(self) {
        let _ = match self {
            Conn::Pg(c) => c.close().await,
            Conn::My(c) => c.close().await,
            Conn::Lite(c) => c.close().await,
        };
    }

    /// Runs one statement; its rows go to `sink` (or are drained when it is
    /// `None`). Returns the row count: rows returned for a statement with a
    /// result set, rows affected otherwise (DB-API `cursor.rowcount`).
    pub(crate) async fn exec(
        &mut self,
        piece: &Piece,
        values: Values<'_>,
        sink: Option<&mut RowSink<'_>>,
    ) -> Result<u64, StepError> {
        match self {
            Conn::Pg(c) => exec_pg(c, piece, values, sink).await,
            Conn::My(c) => exec_my(c, piece, values, sink).await,
            Conn::Lite(c) => exec_lite(c, piece, values, sink).await,
        }
    }
}

fn unsupported(col: &str, ty: &str) -> StepError {
    StepError::Value(format!(
        "column `{col}` has type `{ty}`, which has no lossless JSON form here; cast it in the SQL, e.g. `{col}::text`"
    ))
}

async fn exec_pg(
    c: &mut PgConnection,
    piece: &Piece,
    values: Values<'_>,
    sink: Option<&mut RowSink<'_>>,
) -> Result<u64, StepError> {
    // Prepared first: the server types the parameters and describes the columns.
    let stmt = (&mut *c).prepare(piece.sql.as_str()).await?;
    let types: Vec<_> = match stmt.parameters() {
        Some(Either::Left(t)) => t.to_vec(),
        _ => Vec::new(),
    };
    let mut args = PgArguments::default();
    for (i, r) in piece.params.iter().enumerate() {
        let v = values.get(r)?;
        let ty = types.get(i).ok_or_else(|| {
            StepError::Value(format!("the server expects {} parameter(s)", types.len()))
        })?;
        let p = PgParam::encode(ty, v)
            .map_err(|e| StepError::Value(format!("parameter {}: {e}", describe_ref(r))))?;
        args.add(p).map_err(|e| StepError::Value(e.to_string()))?;
    }
    if stmt.columns().is_empty() {
        let done = stmt.query_with(args).execute(&mut *c).await?;
        return Ok(done.rows_affected());
    }
    let cols = stmt
        .columns()
        .iter()
        .map(|col| PgCol::of(col.type_info()).map_err(|ty| unsupported(col.name(), &ty)))
        .collect::<Result<Vec<_>, _>>()?;
    let sink = match sink {
        Some(sink) if piece.params.is_empty() && copy_takes(c, &piece.sql) => {
            match copy_pg(c, &piece.sql, &stmt, &cols, &mut *sink).await {
                Copied::Done(r) => return r,
                Copied::Refused => Some(sink),
            }
        }
        other => other,
    };
    let rows = stmt.query_with(args).fetch(&mut *c);
    stream_rows(rows, sink, |row, buf| {
        write_cells(cols.len(), buf, |i, buf| {
            let raw = row.try_get_raw(i)?;
            if sqlx::ValueRef::is_null(&raw) {
                buf.extend_from_slice(b"null");
                return Ok(());
            }
            let bytes = raw
                .as_bytes()
                .map_err(|e| StepError::Value(e.to_string()))?;
            cols[i]
                .write(bytes, buf)
                .map_err(|e| column_error(row, i, e))
        })
    })
    .await
}

/// Whether a statement's rows are read with `COPY (...) TO STDOUT (FORMAT
/// binary)` rather than as DataRows: about 30% less client CPU at 1M rows
/// (25% fewer instructions), the same binary values without sqlx's per-row
/// machinery.
///
/// Only a query does (see [`split::pg_is_query`]), without parameters (COPY
/// takes none) and with rows to keep (drained rows are only counted). Not a
/// data-modifying statement with `RETURNING`: COPY refuses it when the table
/// has rules, and inside the task's transaction that refusal would abort the
/// transaction. `SELECT ... FOR UPDATE` is a query and locks its rows under
/// COPY too. The option list `(FORMAT binary)` needs PostgreSQL 9.0, which
/// also leaves out servers that speak the protocol of an older PostgreSQL
/// and have no `COPY ... TO STDOUT` (Redshift says 8.0.2).
fn copy_takes(c: &PgConnection, sql: &str) -> bool {
    c.server_version_num().is_some_and(|v| v >= 90_000) && split::pg_is_query(sql)
}

/// How a COPY went.
enum Copied {
    /// It ran (to the end or to a failure): the statement's result.
    Done(Result<u64, StepError>),
    /// The server refused to COPY the statement, with no harm done: it runs
    /// the usual way.
    Refused,
}

/// How long a COPY that the runner stops reading (the output failed) may
/// take to deliver the rest of its rows, as a rollback waits for them on the
/// DataRow path; after that the connection is out of step and the rollback
/// fails, and dropping the connection rolls back.
const COPY_DRAIN_WAIT: Duration = Duration::from_secs(5);

/// Runs the (prepared) query `sql` as a binary COPY into `sink`, decoding
/// every value with the column decoders of the prepare.
async fn copy_pg(
    c: &mut PgConnection,
    sql: &str,
    stmt: &sqlx::postgres::PgStatement<'_>,
    cols: &[PgCol],
    sink: &mut RowSink<'_>,
) -> Copied {
    // On lines of their own: a trailing `--` comment must not swallow the `)`.
    let copy = format!("COPY (\n{sql}\n) TO STDOUT (FORMAT binary)");
    let e = match c.copy_out_raw(&copy).await {
        Ok(chunks) => return Copied::Done(read_copy(chunks, stmt, cols, sink).await),
        Err(e) => e,
    };
    resync_after_copy(c).await;
    // 42601 and 0A000 are how COPY refuses what it cannot wrap (this
    // statement prepared, so it is no syntax error of its own). The statement
    // then runs as DataRows, unless the refusal aborted the transaction: then
    // the refusal is the statement's error.
    let refused = matches!(
        e.as_database_error().and_then(|d| d.code()).as_deref(),
        Some("42601" | "0A000")
    );
    if refused && transaction_usable(c).await {
        tracing::debug!(
            "the server refused to COPY the statement ({}); reading its rows as DataRows",
            db_message(&e)
        );
        return Copied::Refused;
    }
    Copied::Done(Err(e.into()))
}

/// Reads a COPY's chunks into `sink`; returns the row count.
async fn read_copy<B: AsRef<[u8]>>(
    mut chunks: impl futures_util::Stream<Item = Result<B, sqlx::Error>> + Unpin,
    stmt: &sqlx::postgres::PgStatement<'_>,
    cols: &[PgCol],
    sink: &mut RowSink<'_>,
) -> Result<u64, StepError> {
    let mut reader = pg_copy::Reader::new(cols.iter().map(PgCol::width).collect());
    let mut count = 0;
    let result = async {
        while let Some(chunk) = chunks.try_next().await? {
            reader.feed(chunk.as_ref(), |fields| {
                count += 1;
                let buf = sink.start_row();
                for (i, field) in fields.enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    match field {
                        None => buf.extend_from_slice(b"null"),
                        Some(bytes) => cols[i].write(bytes, buf).map_err(|e| {
                            StepError::Value(format!("column `{}`: {e}", stmt.columns()[i].name()))
                        })?,
                    }
                }
                sink.end_row().map_err(StepError::Output)
            })?;
        }
        reader.finish()?;
        sink.finish().map_err(StepError::Output)?;
        Ok::<_, StepError>(count)
    }
    .await;
    if result.is_err() {
        // A failure of the server has ended the COPY already; one of the
        // runner's leaves the rest of it on the way: read it out.
        let rest = async { while let Ok(Some(_)) = chunks.try_next().await {} };
        let _ = tokio::time::timeout(COPY_DRAIN_WAIT, rest).await;
    }
    result
}

impl From<pg_copy::Malformed> for StepError {
    fn from(e: pg_copy::Malformed) -> Self {
        StepError::Db(e.to_string())
    }
}

/// The text of the statements that put the connection back in step; no task
/// sends it, so it is never one of sqlx's cached prepared statements.
const RESYNC_SQL: &str = "SELECT 1 /* task-runner: after a COPY that did not start */";

/// Puts the connection back in step after a COPY that failed to start.
///
/// sqlx 0.8.6's `copy_out_raw` returns at the server's ErrorResponse and
/// leaves the ReadyForQuery after it unread and uncounted
/// (`pg_begin_copy_out`; `copy_in_raw` reads it), so the next statement would
/// take that message for its own end. A Parse meets it in place of its
/// ParseComplete and fails, leaving its own replies counted as pending; a
/// Sync round trip (`ping`) then reads them. Were sqlx to read that message
/// itself, the Parse simply succeeds.
async fn resync_after_copy(c: &mut PgConnection) {
    let _ = sqlx::query(RESYNC_SQL)
        .persistent(false)
        .fetch_optional(&mut *c)
        .await;
    // When the failure aborted the transaction the Parse's replies hold an
    // ErrorResponse, and a ping stops at an error: the next one reads on.
    for _ in 0..3 {
        if c.ping().await.is_ok() {
            break;
        }
    }
}

/// Whether the transaction (if any) still takes statements.
async fn transaction_usable(c: &mut PgConnection) -> bool {
    sqlx::query(RESYNC_SQL)
        .persistent(false)
        .execute(&mut *c)
        .await
        .is_ok()
}

/// Counts the rows of a result and, given a sink, writes each row into it
/// with `write_row` (its cells, as JSON, comma-separated).
async fn stream_rows<R, S>(
    mut rows: S,
    mut sink: Option<&mut RowSink<'_>>,
    mut write_row: impl FnMut(&R, &mut Vec<u8>) -> Result<(), StepError>,
) -> Result<u64, StepError>
where
    S: futures_util::Stream<Item = Result<R, sqlx::Error>> + Unpin,
{
    let mut count = 0;
    while let Some(row) = rows.try_next().await? {
        count += 1;
        let Some(sink) = sink.as_deref_mut() else {
            continue;
        };
        write_row(&row, sink.start_row())?;
        sink.end_row().map_err(StepError::Output)?;
    }
    if let Some(sink) = sink {
        sink.finish().map_err(StepError::Output)?;
    }
    Ok(count)
}

/// Writes `n` cells of `row`, comma-separated; `cell` writes cell `i`.
fn write_cells(
    n: usize,
    buf: &mut Vec<u8>,
    mut cell: impl FnMut(usize, &mut Vec<u8>) -> Result<(), StepError>,
) -> Result<(), StepError> {
    for i in 0..n {
        if i > 0 {
            buf.push(b',');
        }
        cell(i, buf)?;
    }
    Ok(())
}

/// A cell whose value has no JSON form, naming its column.
fn column_error<R: Row>(row: &R, i: usize, e: impl std::fmt::Display) -> StepError {
    StepError::Value(format!("column `{}`: {e}", row.columns()[i].name()))
}

fn describe_ref(r: &ParamRef) -> String {
    match r {
        ParamRef::Named(n) => format!("`{n}`"),
        ParamRef::Positional(i) => format!("{}", i + 1),
    }
}

async fn exec_my(
    c: &mut MySqlConnection,
    piece: &Piece,
    values: Values<'_>,
    sink: Option<&mut RowSink<'_>>,
) -> Result<u64, StepError> {
    let mut args = MySqlArguments::default();
    for r in &piece.params {
        params::add_mysql(&mut args, values.get(r)?)
            .map_err(|e| StepError::Value(e.to_string()))?;
    }
    let stmt = match (&mut *c).prepare(piece.sql.as_str()).await {
        Ok(s) => s,
        // 1295: "This command is not supported in the prepared statement protocol yet";
        // without parameters it can run as plain text, as mysqlclient sends everything.
        Err(sqlx::Error::Database(e))
            if piece.params.is_empty()
                && e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .map(|m| m.number())
                    == Some(1295) =>
        {
            let done = sqlx::raw_sql(piece.sql.as_str()).execute(&mut *c).await?;
            return Ok(done.rows_affected());
        }
        Err(e) => return Err(e.into()),
    };
    if stmt.columns().is_empty() {
        let done = stmt.query_with(args).execute(&mut *c).await?;
        return Ok(done.rows_affected());
    }
    let rows = stmt.query_with(args).fetch(&mut *c);
    // From the result set, not from the prepare: MariaDB describes `? + 1` as
    // DOUBLE at prepare time and sends a BIGINT once the parameter is bound.
    let mut cols: Vec<MyCol> = Vec::new();
    stream_rows(rows, sink, |row, buf| {
        if cols.is_empty() {
            cols = row
                .columns()
                .iter()
                .map(|col| MyCol::of(sqlx::TypeInfo::name(col.type_info())))
                .collect();
        }
        write_cells(cols.len(), buf, |i, buf| {
            let raw = row.try_get_raw(i)?;
            if sqlx::ValueRef::is_null(&raw) {
                buf.extend_from_slice(b"null");
                return Ok(());
            }
            cols[i].write(raw, buf).map_err(|e| column_error(row, i, e))
        })
    })
    .await
}

async fn exec_lite(
    c: &mut SqliteConnection,
    piece: &Piece,
    values: Values<'_>,
    mut sink: Option<&mut RowSink<'_>>,
) -> Result<u64, StepError> {
    let mut args = SqliteArguments::default();
    let mut given = Vec::with_capacity(piece.params.len());
    for r in &piece.params {
        let v = values.get(r)?;
        params::add_sqlite(&mut args, v).map_err(|e| StepError::Value(e.to_string()))?;
        given.push(params::SqliteParam::of(v));
    }
    let stmt = (&mut *c).prepare(piece.sql.as_str()).await?;
    if stmt.columns().is_empty() {
        let done = stmt.query_with(args).execute(&mut *c).await?;
        return Ok(done.rows_affected());
    }
    // Rows are read straight from the statement on a thread of its own
    // (lite.rs); sqlx's row-by-row path below takes what that declines.
    let names = stmt
        .columns()
        .iter()
        .map(|col| col.name().to_string())
        .collect();
    if let Some(count) = super::lite::read(c, &piece.sql, given, names, sink.as_deref_mut()).await?
    {
        return Ok(count);
    }
    let ncols = stmt.columns().len();
    let rows = stmt.query_with(args).fetch(&mut *c);
    stream_rows(rows, sink, |row, buf| {
        write_cells(ncols, buf, |i, buf| {
            let raw = row.try_get_raw(i)?;
            types::write_sqlite(raw, buf).map_err(|e| column_error(row, i, e))
        })
    })
    .await
}
