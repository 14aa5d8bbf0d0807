//! The render budget: how large a value a template may build, how much output
//! a field may render, and how many engine steps a render may take; and the
//! cancellation of a render that is no longer wanted (a stop or a timeout).
//!
//! Jinja in Airflow has no such limits and a runaway template takes the
//! worker with it; the runner is PID 1 of a container, where an allocation
//! failure aborts with no message and an endless loop outlives
//! `execution_timeout`. So every helper that builds a string or a list from a
//! size the template chose (`center`, widths of `%` and `str.format`, `*`,
//! `range`, `join`, `replace`, ...) asks [`check_bytes`] *before* allocating,
//! the output of a field is written through [`CappedOutput`], and minijinja's
//! fuel counts the steps.
//!
//! The limits of the render in progress live in a thread-local [`Scope`]
//! (a render runs on one thread), so the helpers stay plain functions of
//! their arguments; outside a scope the defaults apply.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use minijinja::{Error, ErrorKind};

/// Overrides the byte limit: a size in bytes (`67108864`, or with a
/// `KiB`/`MiB`/`GiB` suffix).
pub const BYTES_ENV: &str = "TASK_RUNNER_MAX_RENDER_BYTES";
/// Overrides the step limit (minijinja's fuel, per field).
pub const STEPS_ENV: &str = "TASK_RUNNER_MAX_RENDER_STEPS";

/// 64 MiB: far above any command, query or script, far below a pod's memory.
pub const DEFAULT_MAX_BYTES: usize = 64 << 20;
/// About a second of rendering in a release build; a loop of 100 000
/// iterations with a dozen expressions each takes about a tenth of it.
pub const DEFAULT_MAX_STEPS: u64 = 50_000_000;

/// The limits one field's render runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest string (in bytes) any filter, format or operator may build,
    /// the largest list (`range`, `*`) at about 24 bytes an item, and the most
    /// output one field may render.
    pub max_bytes: usize,
    /// The most engine instructions one field's render may execute.
    pub max_steps: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: DEFAULT_MAX_BYTES,
            max_steps: DEFAULT_MAX_STEPS,
        }
    }
}

impl Limits {
    /// The defaults with the environment's overrides; an unreadable value is
    /// an error naming the variable.
    pub fn from_env<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Limits, String> {
        let mut limits = Limits::default();
        if let Some(v) = get(BYTES_ENV) {
            limits.max_bytes = parse_size(v).filter(|n| *n > 0).ok_or_else(|| {
                format!("`{BYTES_ENV}={v}` is not a size in bytes (e.g. `67108864` or `64MiB`)")
            })?;
        }
        if let Some(v) = get(STEPS_ENV) {
            limits.max_steps = v
                .trim()
                .replace('_', "")
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("`{STEPS_ENV}={v}` is not a positive number of steps"))?;
        }
        Ok(limits)
    }

    /// The longest list a helper may build: a minijinja value is 24 bytes.
    pub fn max_items(&self) -> usize {
        self.max_bytes / std::mem::size_of::<minijinja::Value>()
    }
}

fn parse_size(v: &str) -> Option<usize> {
    let v = v.trim();
    let (digits, unit) = match v.find(|c: char| !c.is_ascii_digit() && c != '_') {
        Some(at) => v.split_at(at),
        None => (v, ""),
    };
    let n: usize = digits.replace('_', "").parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" | "kb" => 10,
        "m" | "mib" | "mb" => 20,
        "g" | "gib" | "gb" => 30,
        _ => return None,
    };
    n.checked_mul(1usize << shift)
}

struct Active {
    limits: Limits,
    cancel: Option<Arc<AtomicBool>>,
    /// Bytes every `{{ }}` of this render has emitted so far, captured or not.
    emitted: std::cell::Cell<usize>,
}

/// How many times the output budget all `{{ }}` of one render may emit in
/// total, counting text that `{% set %}`, `{% filter %}`, `{% call %}` and
/// macro blocks capture (which never reaches the output writer, so the output
/// cap alone would not bound it). Captured text emitted again counts again.
pub const EMIT_FACTOR: usize = 4;

thread_local! {
    static ACTIVE: RefCell<Option<Active>> = const { RefCell::new(None) };
}

/// The limits (and cancellation flag) of the renders on this thread until
/// the scope is dropped.
pub struct Scope {
    previous: Option<Active>,
}

impl Scope {
    pub fn enter(limits: Limits, cancel: Option<Arc<AtomicBool>>) -> Scope {
        let previous = ACTIVE.with(|a| {
            a.replace(Some(Active {
                limits,
                cancel,
                emitted: std::cell::Cell::new(0),
            }))
        });
        Scope { previous }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        ACTIVE.with(|a| *a.borrow_mut() = previous);
    }
}

/// The limits in force on this thread.
pub fn limits() -> Limits {
    ACTIVE.with(|a| a.borrow().as_ref().map(|a| a.limits).unwrap_or_default())
}

/// An error of a helper that would build more than the budget allows; the
/// renderer turns it into "... exceeded the render budget ...".
fn over(what: &str, n: impl std::fmt::Display, max: usize, unit: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!(
            "{what} would be {n} {unit}, over the render budget of {max} bytes (`{BYTES_ENV}`)"
        ),
    )
}

/// Ok when a string of `n` bytes fits the budget; called before building it.
pub fn check_bytes(what: &str, n: usize) -> Result<(), Error> {
    let max = limits().max_bytes;
    if n > max {
        return Err(over(what, n, max, "bytes"));
    }
    Ok(())
}

/// [`check_bytes`] for a size computed in a wider type (a width the template
/// gave, a product that may overflow).
pub fn check_bytes_wide(what: &str, n: u128) -> Result<usize, Error> {
    let max = limits().max_bytes;
    match usize::try_from(n) {
        Ok(n) if n <= max => Ok(n),
        _ => Err(over(what, n, max, "bytes")),
    }
}

/// Ok when `s.replace(old, new)` (at most `count` times) fits the budget.
pub fn check_replace(s: &str, old: &str, new: &str, count: Option<usize>) -> Result<(), Error> {
    if new.len() <= old.len() {
        return Ok(());
    }
    // `''` matches between every character, as in Python.
    let found = if old.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(old).count()
    };
    let n = count.map_or(found, |c| found.min(c));
    check_bytes_wide(
        "the result of replace()",
        s.len() as u128 + (n as u128) * ((new.len() - old.len()) as u128),
    )?;
    Ok(())
}

/// Ok when a list of `n` items fits the budget.
pub fn check_items(what: &str, n: u128) -> Result<usize, Error> {
    let limits = limits();
    match usize::try_from(n) {
        Ok(n) if n <= limits.max_items() => Ok(n),
        _ => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "{what} would have {n} items, over the render budget of {} items ({} bytes, `{BYTES_ENV}`)",
                limits.max_items(),
                limits.max_bytes
            ),
        )),
    }
}

/// The message a cancelled render stops with (nobody reads it: the run has
/// already ended with the stop or the timeout).
pub const CANCELLED: &str = "rendering was cancelled";

/// Err once the render has been cancelled; the formatter and the helpers call
/// it, so a cancelled render stops at its next output or helper call (and a
/// loop that calls none runs out of steps).
pub fn checkpoint() -> Result<(), Error> {
    let cancelled = ACTIVE.with(|a| {
        a.borrow()
            .as_ref()
            .and_then(|a| a.cancel.as_ref())
            .is_some_and(|c| c.load(Ordering::Relaxed))
    });
    if cancelled {
        return Err(Error::new(ErrorKind::InvalidOperation, CANCELLED));
    }
    Ok(())
}

/// Counts `n` bytes emitted by a `{{ }}` (the formatter calls it); Err past
/// [`EMIT_FACTOR`] times the output budget, so a capturing block in a loop
/// cannot grow without bound.
pub fn count_emitted(n: usize) -> Result<(), Error> {
    let total = ACTIVE.with(|a| {
        a.borrow().as_ref().map(|a| {
            let total = a.emitted.get().saturating_add(n);
            a.emitted.set(total);
            (total, a.limits.max_bytes.saturating_mul(EMIT_FACTOR))
        })
    });
    match total {
        Some((total, max)) if total > max => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "the template emitted more than {max} bytes ({EMIT_FACTOR} times the render budget of `{BYTES_ENV}`, counting what set, filter, call and macro blocks capture): an endless or very large loop?"
            ),
        )),
        _ => Ok(()),
    }
}

/// The output of one field, refusing to grow past `max` bytes.
pub struct CappedOutput {
    buf: Vec<u8>,
    max: usize,
    /// The write that went over, if one did.
    pub exceeded: bool,
}

impl CappedOutput {
    pub fn new(max: usize) -> CappedOutput {
        CappedOutput {
            buf: Vec::new(),
            max,
            exceeded: false,
        }
    }

    pub fn into_string(self) -> String {
        // Only `&str`s are written: always UTF-8.
        String::from_utf8(self.buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into())
    }
}

impl std::io::Write for CappedOutput {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len().saturating_add(data.len()) > self.max {
            self.exceeded = true;
            return Err(std::io::Error::other("render output over budget"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_from_env() {
        let none = |_: &str| None;
        assert_eq!(Limits::from_env(none), Ok(Limits::default()));
        let get = |k: &str| match k {
            BYTES_ENV => Some("2MiB"),
            STEPS_ENV => Some("1_000"),
            _ => None,
        };
        assert_eq!(
            Limits::from_env(get),
            Ok(Limits {
                max_bytes: 2 << 20,
                max_steps: 1000
            })
        );
        assert!(Limits::from_env(|k| (k == BYTES_ENV).then_some("lots")).is_err());
        assert!(Limits::from_env(|k| (k == STEPS_ENV).then_some("0")).is_err());
    }

    #[test]
    fn scopes_nest_and_restore() {
        assert_eq!(limits(), Limits::default());
        let small = Limits {
            max_bytes: 10,
            max_steps: 5,
        };
        {
            let _s = Scope::enter(small, None);
            assert_eq!(limits(), small);
            assert!(check_bytes("x", 11).is_err());
            assert!(check_bytes("x", 10).is_ok());
        }
        assert_eq!(limits(), Limits::default());
        let flag = Arc::new(AtomicBool::new(false));
        let _s = Scope::enter(small, Some(flag.clone()));
        assert!(checkpoint().is_ok());
        flag.store(true, Ordering::Relaxed);
        assert!(checkpoint().is_err());
    }
}
