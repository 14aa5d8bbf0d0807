//! The SQLite C calls the row reader ([`super`]) makes, behind a safe
//! interface: one statement prepared, bound, stepped and read on a thread
//! of its own while sqlx's lock on the connection is held.
//!
//! The crate's only `unsafe` outside `supervise` (README "Layout"). sqlx
//! offers no way to read a row without its worker thread copying every
//! value (`sqlite3_value_dup`) and sending a row object over a channel,
//! which cost 3.7x the sqlite3 CLI on a million rows; its documented escape
//! hatch is the raw handle of a locked connection (`lock_handle()`,
//! `as_raw_handle()`), and the calls on it are C functions.
//!
//! Soundness rests on two rules, both kept inside this file:
//! - The connection is opened by sqlx in SQLite's multi-thread mode
//!   (`SQLITE_OPEN_NOMUTEX`): any thread may use it, one at a time. While a
//!   [`Running`] exists it owns sqlx's lock, so sqlx's worker makes no call
//!   on the connection, and only the reading thread does; [`Running`]'s
//!   `Drop` joins that thread before the lock is released. A `Running` that
//!   is leaked instead of dropped leaks the lock with it: sqlx's worker,
//!   which holds its own reference to the connection, then waits for the
//!   lock forever and never uses or closes the connection (a leak, not a
//!   race).
//! - The reading thread gets the connection as a [`Db`] borrowed for the
//!   length of one closure call, and a [`Stmt`] borrows its `Db`; neither
//!   is `Send`, so neither leaves that thread or outlives the call. A value
//!   read from a statement borrows the statement mutably, so it is gone
//!   before the next step or read.

use std::ffi::{CStr, c_char, c_int};
use std::ptr::NonNull;
use std::thread::JoinHandle;

use libsqlite3_sys as ffi;
use sqlx::sqlite::LockedSqliteHandle;
use tokio::sync::mpsc;

/// An error SQLite reported, as sqlx's `SqliteError` reads it: the
/// extended result code and the connection's message.
#[derive(Debug)]
pub(crate) struct Error {
    pub code: c_int,
    pub message: String,
}

/// The connection, lent to the reading thread for one call of its work.
pub(crate) struct Db {
    raw: NonNull<ffi::sqlite3>,
}

/// A prepared statement, finalized on drop.
pub(crate) struct Stmt<'db> {
    raw: NonNull<ffi::sqlite3_stmt>,
    db: &'db Db,
}

/// One value of the current row, by its storage class.
pub(crate) enum Value<'a> {
    Null,
    Integer(i64),
    Real(f64),
    /// The bytes as SQLite holds them (UTF-8 unless the database says otherwise).
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

/// A bind value (what `params::SqliteParam` holds, borrowed).
pub(crate) enum Param<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a str),
}

impl Db {
    fn error(&self) -> Error {
        // SAFETY: the connection is open for as long as a `Db` exists (see
        // the file's comment), and only this thread uses it. SQLite returns
        // a NUL-terminated message that stays valid until the next call on
        // the connection; it is copied before that.
        unsafe {
            let code = ffi::sqlite3_extended_errcode(self.raw.as_ptr());
            let message = CStr::from_ptr(ffi::sqlite3_errmsg(self.raw.as_ptr()))
                .to_string_lossy()
                .into_owned();
            Error { code, message }
        }
    }

    /// Prepares the first statement of `sql`. `None` when `sql` holds no
    /// statement (only comments or whitespace); otherwise the statement and
    /// the text after it.
    pub(crate) fn prepare<'s>(&self, sql: &'s str) -> Result<Option<(Stmt<'_>, &'s [u8])>, Error> {
        let len = c_int::try_from(sql.len()).map_err(|_| Error {
            code: ffi::SQLITE_TOOBIG,
            message: "the statement is too long".into(),
        })?;
        let mut stmt: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
        let mut tail: *const c_char = std::ptr::null();
        // SAFETY: the connection is open and used by this thread only; `sql`
        // is valid for `len` bytes (no NUL needed when the length is given);
        // both out-pointers point at locals.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.raw.as_ptr(),
                sql.as_ptr().cast(),
                len,
                0,
                &mut stmt,
                &mut tail,
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.error());
        }
        // SQLite sets the tail to a point inside `sql` (its end at most).
        let rest = if tail.is_null() {
            &[][..]
        } else {
            let used = (tail as usize).saturating_sub(sql.as_ptr() as usize);
            sql.as_bytes().get(used..).unwrap_or_default()
        };
        Ok(NonNull::new(stmt).map(|raw| (Stmt { raw, db: self }, rest)))
    }
}

impl Stmt<'_> {
    pub(crate) fn column_count(&self) -> usize {
        // SAFETY: `raw` is a live statement of this thread's connection.
        let n = unsafe { ffi::sqlite3_column_count(self.raw.as_ptr()) };
        usize::try_from(n).unwrap_or(0)
    }

    pub(crate) fn parameter_count(&self) -> usize {
        // SAFETY: as in `column_count`.
        let n = unsafe { ffi::sqlite3_bind_parameter_count(self.raw.as_ptr()) };
        usize::try_from(n).unwrap_or(0)
    }

    /// Whether every parameter is a bare `?` (no `?NNN`, `:name`, `@name`
    /// or `$name`), so that value `i` binds parameter `i`.
    pub(crate) fn parameters_are_anonymous(&self) -> bool {
        (1..=self.parameter_count()).all(|i| {
            let Ok(i) = c_int::try_from(i) else {
                return false;
            };
            // SAFETY: as in `column_count`; `i` is in 1..=count, and a NULL
            // name is SQLite's answer for a bare `?`.
            unsafe { ffi::sqlite3_bind_parameter_name(self.raw.as_ptr(), i).is_null() }
        })
    }

    /// Binds parameter `i` (1-based), copying text as sqlx does (`SQLITE_TRANSIENT`).
    pub(crate) fn bind(&mut self, i: usize, p: Param<'_>) -> Result<(), Error> {
        let Ok(i) = c_int::try_from(i) else {
            return Err(Error {
                code: ffi::SQLITE_RANGE,
                message: "column index out of range".into(),
            });
        };
        let stmt = self.raw.as_ptr();
        // SAFETY: a live statement of this thread's connection; SQLite checks
        // the index itself; text is read for `len` bytes and copied
        // (`SQLITE_TRANSIENT`) before the call returns.
        let rc = unsafe {
            match p {
                Param::Null => ffi::sqlite3_bind_null(stmt, i),
                Param::Integer(v) => ffi::sqlite3_bind_int64(stmt, i, v),
                Param::Real(v) => ffi::sqlite3_bind_double(stmt, i, v),
                Param::Text(s) => ffi::sqlite3_bind_text64(
                    stmt,
                    i,
                    s.as_ptr().cast(),
                    s.len() as u64,
                    ffi::SQLITE_TRANSIENT(),
                    ffi::SQLITE_UTF8 as u8,
                ),
            }
        };
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(self.db.error())
        }
    }

    /// The next row: `true` when there is one, `false` when the statement is done.
    pub(crate) fn step(&mut self) -> Result<bool, Error> {
        // SAFETY: a live statement of this thread's connection; no value read
        // from it is alive (they borrow `self`).
        match unsafe { ffi::sqlite3_step(self.raw.as_ptr()) } {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            _ => Err(self.db.error()),
        }
    }

    /// Value `i` of the current row (call only after `step` gave `true`).
    /// Text and blobs are read as sqlx reads them: the length first, then
    /// the bytes.
    pub(crate) fn column(&mut self, i: usize) -> Result<Value<'_>, Error> {
        let stmt = self.raw.as_ptr();
        let Ok(i) = c_int::try_from(i) else {
            return Ok(Value::Null);
        };
        // SAFETY: a live statement on a row; SQLite answers an index out of
        // range with NULL. Each accessor matches the value's storage class,
        // so none converts it, except that the length of text held in
        // UTF-16 converts it to UTF-8 in place, before the pointer is taken.
        // The bytes stay valid until the next step, reset or finalize, all
        // of which need `&mut self` (or `self`), which the returned borrow
        // holds.
        unsafe {
            Ok(match ffi::sqlite3_column_type(stmt, i) {
                ffi::SQLITE_INTEGER => Value::Integer(ffi::sqlite3_column_int64(stmt, i)),
                ffi::SQLITE_FLOAT => Value::Real(ffi::sqlite3_column_double(stmt, i)),
                ffi::SQLITE_NULL => Value::Null,
                class => {
                    let len = usize::try_from(ffi::sqlite3_column_bytes(stmt, i)).unwrap_or(0);
                    let bytes = if len == 0 {
                        &[][..]
                    } else {
                        let ptr = ffi::sqlite3_column_blob(stmt, i).cast::<u8>();
                        if ptr.is_null() {
                            // Out of memory while converting.
                            return Err(self.db.error());
                        }
                        std::slice::from_raw_parts(ptr, len)
                    };
                    if class == ffi::SQLITE_TEXT {
                        Value::Text(bytes)
                    } else {
                        Value::Blob(bytes)
                    }
                }
            })
        }
    }
}

impl Drop for Stmt<'_> {
    fn drop(&mut self) {
        // SAFETY: finalized once, here; nothing borrows the statement any more.
        unsafe {
            ffi::sqlite3_finalize(self.raw.as_ptr());
        }
    }
}

/// The connection's pointer on its way to the reading thread.
struct Lent(NonNull<ffi::sqlite3>);

// SAFETY: a connection opened with SQLITE_OPEN_NOMUTEX may be used from any
// thread, one thread at a time; the lock that `Running` holds, and its join
// before releasing it, make the reading thread the only one (file comment).
unsafe impl Send for Lent {}

impl Lent {
    /// The pointer, taken as a whole by the thread's closure (a closure that
    /// named `self.0` would capture only the field, which is not `Send`).
    fn into_db(self) -> Db {
        Db { raw: self.0 }
    }
}

/// Work running on its own thread with the connection locked for it;
/// what it sends comes out of [`Running::recv`].
pub(crate) struct Running<'c, M> {
    messages: mpsc::Receiver<M>,
    thread: Option<JoinHandle<()>>,
    raw: NonNull<ffi::sqlite3>,
    // Dropped after `drop` has joined the thread (fields drop after it).
    _lock: LockedSqliteHandle<'c>,
}

/// Starts `work` on a new thread with the locked connection; it sends its
/// results through the channel (of `capacity` messages) it is given.
pub(crate) fn spawn<'c, M, F>(
    mut lock: LockedSqliteHandle<'c>,
    capacity: usize,
    work: F,
) -> std::io::Result<Running<'c, M>>
where
    M: Send + 'static,
    F: FnOnce(&Db, mpsc::Sender<M>) + Send + 'static,
{
    let raw = lock.as_raw_handle();
    let lent = Lent(raw);
    let (tx, messages) = mpsc::channel(capacity);
    let thread = std::thread::Builder::new()
        .name("sqlite-reader".into())
        .spawn(move || {
            let db = lent.into_db();
            work(&db, tx);
        })?;
    Ok(Running {
        messages,
        thread: Some(thread),
        raw,
        _lock: lock,
    })
}

impl<M> Running<'_, M> {
    /// The next message; `None` once the work has ended and all are read.
    pub(crate) async fn recv(&mut self) -> Option<M> {
        self.messages.recv().await
    }

    /// Waits for the thread once the work has sent its last message (it is
    /// ending on its own), without interrupting it.
    pub(crate) fn finish(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl<M> Drop for Running<'_, M> {
    /// Stops the work if it is still running (the task's side gave up on
    /// it: an output error, or the future dropped) and waits for its thread:
    /// a sender blocked on a full channel gets an error, a running step is
    /// interrupted at SQLite's next instruction check. Only then is the lock
    /// released (a SQLite busy wait is not interrupted; it ends within the
    /// connection's busy timeout).
    fn drop(&mut self) {
        self.messages.close();
        if let Some(thread) = self.thread.take() {
            if !thread.is_finished() {
                // SAFETY: sqlite3_interrupt may be called from any thread
                // while the connection is open, which the lock held here
                // guarantees. A flag left set after the statement ended is
                // cleared by SQLite when the next statement starts.
                unsafe { ffi::sqlite3_interrupt(self.raw.as_ptr()) };
            }
            // A panic on the thread shows as a missing end message instead.
            let _ = thread.join();
        }
    }
}
