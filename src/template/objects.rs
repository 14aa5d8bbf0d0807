//! Template objects that behave like their Airflow counterparts: pendulum
//! date-times, `timedelta`, the task instance, and the `var`/`conn` accessors.

use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Value, from_args};
use minijinja::{Error as JinjaError, ErrorKind, State};

use crate::connection::Connection;
use crate::context::XComEntry;
use crate::store::Store;

/// A template value from anything serde can serialize (JSON values, maps).
pub fn to_value<T: serde::Serialize>(value: &T) -> Value {
    Value::from(minijinja::value::Serde(value))
}

pub fn invalid(msg: impl Into<String>) -> JinjaError {
    JinjaError::new(ErrorKind::InvalidOperation, msg.into())
}

/// Names a template looked up and did not find, so that a strict-undefined
/// error can say "variable `x` does not exist" instead of "undefined value".
#[derive(Debug, Default)]
pub struct Misses {
    pub items: Mutex<Vec<String>>,
}

impl Misses {
    fn record(&self, what: String) {
        if let Ok(mut items) = self.items.lock() {
            items.push(what);
        }
    }

    pub fn take(&self) -> Vec<String> {
        self.items
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

pub use crate::template::dates::{
    DateTimeObj, IntervalObj, TimeDeltaClass, TimeDeltaObj, as_datetime, as_timedelta,
};

// ---------------------------------------------------------------------------
// Task instance

#[derive(Debug)]
pub struct TaskInstanceObj {
    pub dag_id: String,
    pub task_id: String,
    pub run_id: String,
    pub try_number: i64,
    pub max_tries: i64,
    pub map_index: i64,
    pub xcom: Vec<XComEntry>,
    pub airflow3: bool,
}

impl TaskInstanceObj {
    /// `ti.xcom_pull` over the injected XComs, returning what Airflow returns:
    /// one value (or `default`) for one task id; for a list of ids, or an
    /// upstream that was mapped, Airflow 2's `LazySelectSequence` (missing ids
    /// dropped) or Airflow 3's list (missing ids as `None`).
    fn xcom_pull(&self, args: &[Value]) -> Result<Value, JinjaError> {
        let (positional, kwargs): (&[Value], Kwargs) = from_args(args)?;
        let arg = |i: usize, name: &str| -> Result<Option<Value>, JinjaError> {
            match positional.get(i) {
                Some(v) => Ok(Some(v.clone())),
                None => kwargs.get::<Option<Value>>(name),
            }
        };
        let task_ids = arg(0, "task_ids")?.filter(|v| !v.is_none());
        let dag_id = arg(1, "dag_id")?
            .filter(|v| !v.is_none())
            .map(|v| v.to_string())
            .unwrap_or_else(|| self.dag_id.clone());
        let key = arg(2, "key")?
            .filter(|v| !v.is_none())
            .map(|v| v.to_string())
            .unwrap_or_else(|| "return_value".into());
        let _include_prior_dates = kwargs.get::<Option<bool>>("include_prior_dates")?;
        let map_indexes = kwargs
            .get::<Option<Value>>("map_indexes")?
            .filter(|v| !v.is_none());
        let default = kwargs.get::<Option<Value>>("default")?;
        kwargs.assert_all_used()?;
        let none = || Value::from(());
        // Airflow 3 applies `default` only when `map_indexes` is given.
        let default = match (&map_indexes, self.airflow3) {
            (None, true) => none(),
            _ => default.unwrap_or_else(none),
        };

        let entries = |task_id: &str| -> Vec<&XComEntry> {
            self.xcom
                .iter()
                .filter(|e| {
                    e.task_id == task_id
                        && e.key == key
                        && e.dag_id.as_deref().unwrap_or(&self.dag_id) == dag_id
                })
                .collect()
        };
        let value = |e: &XComEntry| to_value(&e.value);
        let many = |values: Vec<Value>| -> Value {
            if self.airflow3 {
                Value::from(values)
            } else {
                Value::from_object(LazySeq(values))
            }
        };

        let one_task = |task_id: &str| -> Result<Value, JinjaError> {
            let found = entries(task_id);
            match &map_indexes {
                Some(m) if m.as_i64().is_some() => {
                    let m = m.as_i64().unwrap_or(-1);
                    Ok(found
                        .iter()
                        .find(|e| e.map_index == m)
                        .map_or(default.clone(), |e| value(e)))
                }
                Some(list) => {
                    let mut out = Vec::new();
                    for m in list.try_iter()? {
                        match found.iter().find(|e| Some(e.map_index) == m.as_i64()) {
                            Some(e) => out.push(value(e)),
                            None if self.airflow3 => out.push(none()),
                            None => {}
                        }
                    }
                    Ok(many(out))
                }
                None => {
                    let mut mapped: Vec<&&XComEntry> =
                        found.iter().filter(|e| e.map_index >= 0).collect();
                    if mapped.is_empty() {
                        return Ok(found.first().map_or(default.clone(), |e| value(e)));
                    }
                    mapped.sort_by_key(|e| e.map_index);
                    Ok(many(mapped.into_iter().map(|e| value(e)).collect()))
                }
            }
        };
        match task_ids {
            Some(ids) if ids.as_str().is_some() => one_task(ids.as_str().unwrap_or_default()),
            Some(ids) => {
                let mut out = Vec::new();
                for id in ids.try_iter()? {
                    let id = id.to_string();
                    match entries(&id).first() {
                        Some(e) => out.push(value(e)),
                        None if self.airflow3 => out.push(none()),
                        None => {}
                    }
                }
                Ok(many(out))
            }
            None => one_task(&self.task_id),
        }
    }
}

/// Airflow 2's lazy XCom sequence: iterates like a list, prints as
/// `LazySelectSequence([N items])`.
#[derive(Debug)]
pub struct LazySeq(pub Vec<Value>);

impl Object for LazySeq {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.get(usize::try_from(key.as_i64()?).ok()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.len())
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LazySelectSequence([{} items])", self.0.len())
    }
}

impl Object for TaskInstanceObj {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "dag_id" => self.dag_id.clone().into(),
            "task_id" => self.task_id.clone().into(),
            "run_id" => self.run_id.clone().into(),
            "try_number" => self.try_number.into(),
            "max_tries" => self.max_tries.into(),
            "map_index" => self.map_index.into(),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&[
            "dag_id",
            "task_id",
            "run_id",
            "try_number",
            "max_tries",
            "map_index",
        ])
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JinjaError> {
        match method {
            "xcom_pull" => self.xcom_pull(args),
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<TaskInstance: {}.{} {} [running]>",
            self.dag_id, self.task_id, self.run_id
        )
    }
}

// ---------------------------------------------------------------------------
// var and conn

#[derive(Debug)]
pub struct VarAccessor {
    pub store: Arc<Store>,
    pub json: bool,
    pub misses: Arc<Misses>,
    pub airflow3: bool,
}

impl VarAccessor {
    fn lookup(&self, key: &str) -> Option<Result<Value, JinjaError>> {
        let raw = self.store.variable(key)?;
        if !self.json {
            return Some(Ok(raw.into()));
        }
        Some(
            serde_json::from_str::<serde_json::Value>(&raw)
                .map(|v| to_value(&v))
                .map_err(|e| {
                    invalid(format!(
                        "variable `{key}` is not valid JSON for `var.json`: {e}"
                    ))
                }),
        )
    }
}

impl Object for VarAccessor {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        match self.lookup(name) {
            Some(Ok(v)) => Some(v),
            Some(Err(e)) => {
                self.misses
                    .record(e.detail().unwrap_or("invalid JSON").to_string());
                None
            }
            None => {
                self.misses.record(format!(
                    "variable `{name}` does not exist (set `AIRFLOW_VAR_{}` or the context's `variables`)",
                    name.to_uppercase()
                ));
                None
            }
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JinjaError> {
        match method {
            "get" => {
                let (key, default): (&str, Option<Value>) = from_args(args)?;
                match (self.lookup(key), default) {
                    (Some(v), _) => v,
                    (None, Some(default)) => Ok(default),
                    // Airflow 3 returns its NOTSET sentinel; Airflow 2 raises KeyError.
                    (None, None) if self.airflow3 => Ok(Value::from("NOTSET")),
                    (None, None) => Err(invalid(format!("'Variable {key} does not exist'"))),
                }
            }
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[derive(Debug)]
pub struct ConnAccessor {
    pub store: Arc<Store>,
    pub misses: Arc<Misses>,
    pub airflow3: bool,
}

impl Object for ConnAccessor {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let id = key.as_str()?;
        match self.store.connection(id) {
            Ok(c) => Some(Value::from_object(ConnObj(c, self.airflow3))),
            Err(e) => {
                self.misses.record(e.chain());
                None
            }
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JinjaError> {
        match method {
            "get" => {
                let (id, default): (&str, Option<Value>) = from_args(args)?;
                match self.store.connection(id) {
                    Ok(c) => Ok(Value::from_object(ConnObj(c, self.airflow3))),
                    Err(crate::error::Error::UnknownConnection { .. }) => {
                        Ok(default.unwrap_or(Value::from(())))
                    }
                    Err(e) => Err(invalid(e.chain())),
                }
            }
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[derive(Debug)]
/// A connection; `.1` is the Airflow 3 profile, whose `str()` is the full repr.
pub struct ConnObj(pub Connection, pub bool);

impl Object for ConnObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let c = &self.0;
        let opt = |v: &Option<String>| v.clone().map_or(Value::from(()), Value::from);
        Some(match key.as_str()? {
            "conn_id" => c.conn_id.clone().into(),
            "conn_type" => opt(&c.conn_type),
            "description" => opt(&c.description),
            "host" => opt(&c.host),
            "login" => opt(&c.login),
            "password" => opt(&c.password),
            "schema" => opt(&c.schema),
            "port" => c.port.map_or(Value::from(()), Value::from),
            "extra" => opt(&c.extra),
            "extra_dejson" => to_value(&c.extra_dejson()),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, JinjaError> {
        match method {
            "get_uri" => Ok(self.0.get_uri().into()),
            "get_extra_dejson" => Ok(to_value(&self.0.extra_dejson())),
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.1 {
            return f.write_str(&self.0.conn_id);
        }
        let c = &self.0;
        let q = |v: &Option<String>| {
            v.as_deref()
                .map_or_else(|| "None".to_string(), crate::py::text::repr)
        };
        write!(
            f,
            "Connection(conn_id={}, conn_type={}, description={}, host={}, schema={}, login={}, password={}, port={}, extra={})",
            crate::py::text::repr(&c.conn_id),
            q(&c.conn_type),
            q(&c.description),
            q(&c.host),
            q(&c.schema),
            q(&c.login),
            q(&c.password),
            c.port.map_or_else(|| "None".to_string(), |p| p.to_string()),
            q(&c.extra)
        )
    }
}
