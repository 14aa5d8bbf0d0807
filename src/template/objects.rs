//! Template objects that behave like their Airflow counterparts: pendulum
//! date-times, `timedelta`, the task instance, and the `var`/`conn` accessors.

use std::cmp::Ordering;
use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{DynObject, Enumerator, Kwargs, Object, ObjectRepr, Value, from_args};
use minijinja::{Error as JinjaError, ErrorKind, State};

use crate::connection::Connection;
use crate::context::{DateTime, TimeDelta, XComEntry, Zone};
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

// ---------------------------------------------------------------------------
// Date-times

#[derive(Debug, Clone)]
pub struct DateTimeObj(pub DateTime);

impl DateTimeObj {
    pub fn value(dt: DateTime) -> Value {
        Value::from_object(DateTimeObj(dt))
    }
}

/// Reads a date-time argument: a date-time object or an ISO string.
pub fn as_datetime(value: &Value) -> Option<DateTime> {
    if let Some(d) = value.downcast_object_ref::<DateTimeObj>() {
        return Some(d.0);
    }
    value.as_str().and_then(|s| DateTime::parse(s).ok())
}

pub fn as_timedelta(value: &Value) -> Option<TimeDelta> {
    value.downcast_object_ref::<TimeDeltaObj>().map(|d| d.0)
}

/// Keyword arguments of `timedelta(...)` and pendulum's `add(...)`.
fn delta_from_kwargs(kwargs: &Kwargs, positional: &[Value]) -> Result<TimeDelta, JinjaError> {
    let get = |name: &str, pos: usize| -> Result<f64, JinjaError> {
        if let Some(v) = positional.get(pos) {
            return f64::try_from(v.clone())
                .map_err(|_| invalid(format!("`{name}` must be a number")));
        }
        Ok(kwargs.get::<Option<f64>>(name)?.unwrap_or(0.0))
    };
    // timedelta(days, seconds, microseconds, milliseconds, minutes, hours, weeks)
    let delta = TimeDelta::from_parts(
        get("days", 0)?,
        get("seconds", 1)?,
        get("microseconds", 2)?,
        get("milliseconds", 3)?,
        get("minutes", 4)?,
        get("hours", 5)?,
        get("weeks", 6)?,
    );
    Ok(delta)
}

impl Object for DateTimeObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        use chrono::{Datelike, Timelike};
        let l = self.0.local();
        Some(match key.as_str()? {
            "year" => l.year().into(),
            "month" => l.month().into(),
            "day" => l.day().into(),
            "hour" => l.hour().into(),
            "minute" => l.minute().into(),
            "second" => l.second().into(),
            "microsecond" => (l.nanosecond() / 1000).into(),
            "tzinfo" | "tz" | "timezone" => Value::from_object(ZoneObj(self.0.zone())),
            "timezone_name" | "tzname" => self.0.zone().name().into(),
            "day_of_year" => l.ordinal().into(),
            "day_of_week" => l.weekday().num_days_from_monday().into(),
            "days_in_month" => days_in_month(l.year(), l.month()).into(),
            "week_of_year" => l.iso_week().week().into(),
            "quarter" => l.month0().div_euclid(3).saturating_add(1).into(),
            "int_timestamp" => self.0.utc().timestamp().into(),
            "float_timestamp" => self.0.timestamp().into(),
            "offset" => self.0.offset().local_minus_utc().into(),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JinjaError> {
        let dt = self.0;
        match method {
            "strftime" => {
                let (fmt,): (&str,) = from_args(args)?;
                Ok(dt.strftime(fmt).into())
            }
            "isoformat" => {
                let (sep, _kwargs): (Option<&str>, Kwargs) = from_args(args)?;
                let sep = sep.and_then(|s| s.chars().next()).unwrap_or('T');
                Ok(dt.isoformat(sep).into())
            }
            "timestamp" => Ok(dt.timestamp().into()),
            "weekday" => Ok(chrono::Datelike::weekday(&dt.local())
                .num_days_from_monday()
                .into()),
            "isoweekday" => Ok(chrono::Datelike::weekday(&dt.local())
                .number_from_monday()
                .into()),
            "date" => Ok(Value::from_object(DateObj(dt.local().date()))),
            "to_date_string" => Ok(dt.strftime("%Y-%m-%d").into()),
            "to_datetime_string" => Ok(dt.strftime("%Y-%m-%d %H:%M:%S").into()),
            "to_iso8601_string" => Ok(dt.isoformat('T').replace("+00:00", "Z").into()),
            "add" | "subtract" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let mut delta = delta_from_kwargs(&kwargs, &[])?;
                let months = kwargs.get::<Option<i64>>("months")?.unwrap_or(0)
                    + 12 * kwargs.get::<Option<i64>>("years")?.unwrap_or(0);
                kwargs.assert_all_used()?;
                let mut months = months;
                if method == "subtract" {
                    delta.micros = -delta.micros;
                    months = -months;
                }
                let shifted = add_months(dt, months)?;
                Ok(DateTimeObj::value(
                    shifted
                        .add(delta)
                        .ok_or_else(|| invalid("date out of range"))?,
                ))
            }
            "in_timezone" | "in_tz" | "astimezone" => {
                let (tz,): (Value,) = from_args(args)?;
                let zone = zone_arg(&tz)?;
                Ok(DateTimeObj::value(dt.in_zone(zone)))
            }
            "replace" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                replace(dt, &kwargs)
            }
            "start_of" | "end_of" => {
                let (unit,): (&str,) = from_args(args)?;
                Ok(DateTimeObj::value(start_or_end_of(
                    dt,
                    unit,
                    method == "end_of",
                )?))
            }
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        let other = other.downcast_ref::<Self>()?;
        Some(self.0.utc().cmp(&other.0.utc()))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.py_str())
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    chrono::NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| chrono::Datelike::day(&d))
}

/// Calendar month arithmetic, clamping the day as pendulum and dateutil do.
pub fn add_months(dt: DateTime, months: i64) -> Result<DateTime, JinjaError> {
    use chrono::Datelike;
    if months == 0 {
        return Ok(dt);
    }
    let l = dt.local();
    let total = i64::from(l.year()) * 12 + i64::from(l.month0()) + months;
    let year = i32::try_from(total.div_euclid(12)).map_err(|_| invalid("date out of range"))?;
    let month = u32::try_from(total.rem_euclid(12)).unwrap_or(0) + 1;
    let day = l.day().min(days_in_month(year, month));
    let date = chrono::NaiveDate::from_ymd_opt(year, month, day)
        .ok_or_else(|| invalid("date out of range"))?;
    DateTime::from_local(date.and_time(l.time()), dt.zone())
        .ok_or_else(|| invalid("date out of range"))
}

fn replace(dt: DateTime, kwargs: &Kwargs) -> Result<Value, JinjaError> {
    use chrono::{Datelike, Timelike};
    let l = dt.local();
    let get = |k: &str, cur: u32| -> Result<u32, JinjaError> {
        Ok(kwargs.get::<Option<u32>>(k)?.unwrap_or(cur))
    };
    let year = kwargs.get::<Option<i32>>("year")?.unwrap_or(l.year());
    let date =
        chrono::NaiveDate::from_ymd_opt(year, get("month", l.month())?, get("day", l.day())?)
            .ok_or_else(|| invalid("day is out of range for month"))?;
    let time = chrono::NaiveTime::from_hms_micro_opt(
        get("hour", l.hour())?,
        get("minute", l.minute())?,
        get("second", l.second())?,
        get("microsecond", l.nanosecond() / 1000)?,
    )
    .ok_or_else(|| invalid("time out of range"))?;
    let zone = match kwargs.get::<Option<Value>>("tzinfo")? {
        Some(tz) => zone_arg(&tz)?,
        None => dt.zone(),
    };
    kwargs.assert_all_used()?;
    DateTime::from_local(date.and_time(time), zone)
        .map(DateTimeObj::value)
        .ok_or_else(|| invalid("date out of range"))
}

fn start_or_end_of(dt: DateTime, unit: &str, end: bool) -> Result<DateTime, JinjaError> {
    use chrono::{Datelike, NaiveDate, NaiveTime};
    let l = dt.local();
    let (date, time_start) = match unit {
        "second" => (
            l.date(),
            NaiveTime::from_hms_opt(
                chrono::Timelike::hour(&l),
                chrono::Timelike::minute(&l),
                chrono::Timelike::second(&l),
            ),
        ),
        "minute" => (
            l.date(),
            NaiveTime::from_hms_opt(chrono::Timelike::hour(&l), chrono::Timelike::minute(&l), 0),
        ),
        "hour" => (
            l.date(),
            NaiveTime::from_hms_opt(chrono::Timelike::hour(&l), 0, 0),
        ),
        "day" => (l.date(), NaiveTime::from_hms_opt(0, 0, 0)),
        "week" => (
            l.date() - chrono::Days::new(l.weekday().num_days_from_monday().into()),
            NaiveTime::from_hms_opt(0, 0, 0),
        ),
        "month" => (
            NaiveDate::from_ymd_opt(l.year(), l.month(), 1).unwrap_or(l.date()),
            NaiveTime::from_hms_opt(0, 0, 0),
        ),
        "year" => (
            NaiveDate::from_ymd_opt(l.year(), 1, 1).unwrap_or(l.date()),
            NaiveTime::from_hms_opt(0, 0, 0),
        ),
        other => {
            return Err(invalid(format!(
                "unknown unit `{other}` for start_of/end_of"
            )));
        }
    };
    let start = date.and_time(time_start.unwrap_or_default());
    let local = if end {
        let next = match unit {
            "second" => start + chrono::TimeDelta::seconds(1),
            "minute" => start + chrono::TimeDelta::minutes(1),
            "hour" => start + chrono::TimeDelta::hours(1),
            "day" => start + chrono::TimeDelta::days(1),
            "week" => start + chrono::TimeDelta::days(7),
            "month" => {
                let d = add_months(
                    DateTime::from_local(start, Zone::Utc)
                        .ok_or_else(|| invalid("date out of range"))?,
                    1,
                )?;
                d.local()
            }
            _ => NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
                .unwrap_or(start.date())
                .and_time(NaiveTime::MIN),
        };
        next - chrono::TimeDelta::microseconds(1)
    } else {
        start
    };
    DateTime::from_local(local, dt.zone()).ok_or_else(|| invalid("date out of range"))
}

fn zone_arg(tz: &Value) -> Result<Zone, JinjaError> {
    if let Some(z) = tz.downcast_object_ref::<ZoneObj>() {
        return Ok(z.0);
    }
    let name = tz
        .as_str()
        .ok_or_else(|| invalid("a timezone must be a name such as `Europe/Amsterdam`"))?;
    Zone::parse(name).ok_or_else(|| invalid(format!("unknown timezone `{name}`")))
}

/// A `date` (from `datetime.date()`).
#[derive(Debug, Clone)]
pub struct DateObj(pub chrono::NaiveDate);

impl Object for DateObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        use chrono::Datelike;
        Some(match key.as_str()? {
            "year" => self.0.year().into(),
            "month" => self.0.month().into(),
            "day" => self.0.day().into(),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JinjaError> {
        let dt = DateTime::from_local(self.0.and_hms_opt(0, 0, 0).unwrap_or_default(), Zone::Utc)
            .ok_or_else(|| invalid("date out of range"))?;
        match method {
            "strftime" => {
                let (fmt,): (&str,) = from_args(args)?;
                Ok(dt.strftime(fmt).into())
            }
            "isoformat" => Ok(self.0.format("%Y-%m-%d").to_string().into()),
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        Some(self.0.cmp(&other.downcast_ref::<Self>()?.0))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

#[derive(Debug, Clone)]
pub struct ZoneObj(pub Zone);

impl Object for ZoneObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" => Some(self.0.name().into()),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.name())
    }
}

#[derive(Debug, Clone)]
pub struct TimeDeltaObj(pub TimeDelta);

impl Object for TimeDeltaObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "days" => self.0.days().into(),
            "seconds" => self.0.seconds().into(),
            "microseconds" => self.0.microseconds().into(),
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
            "total_seconds" => Ok(self.0.total_seconds().into()),
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        Some(self.0.cmp(&other.downcast_ref::<Self>()?.0))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.py_str())
    }
}

/// `macros.timedelta`: callable like the class.
#[derive(Debug)]
pub struct TimeDeltaClass;

impl Object for TimeDeltaClass {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, _: &mut State<'_, '_>, args: &[Value]) -> Result<Value, JinjaError> {
        let (positional, kwargs): (&[Value], Kwargs) = from_args(args)?;
        let delta = delta_from_kwargs(&kwargs, positional)?;
        kwargs.assert_all_used()?;
        Ok(Value::from_object(TimeDeltaObj(delta)))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<class 'datetime.timedelta'>")
    }
}

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
}

impl TaskInstanceObj {
    /// `ti.xcom_pull` over the injected XComs (Airflow: TaskInstance.xcom_pull).
    /// A single task id gives one value (or `default`); a list gives the list
    /// of values found, in the order asked.
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
        let default = kwargs
            .get::<Option<Value>>("default")?
            .unwrap_or(Value::from(()));
        kwargs.assert_all_used()?;

        let matches = |e: &&XComEntry, task_id: &str, map_index: Option<i64>| {
            e.task_id == task_id
                && e.key == key
                && e.dag_id.as_deref().unwrap_or(&self.dag_id) == dag_id
                && map_index.is_none_or(|m| e.map_index == m)
        };
        let single_map_index = map_indexes.as_ref().and_then(Value::as_i64);
        let find = |task_id: &str| -> Vec<Value> {
            match &map_indexes {
                Some(list) if single_map_index.is_none() => list
                    .try_iter()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m.as_i64())
                    .filter_map(|m| self.xcom.iter().find(|e| matches(e, task_id, Some(m))))
                    .map(|e| to_value(&e.value))
                    .collect(),
                _ => self
                    .xcom
                    .iter()
                    .filter(|e| matches(e, task_id, single_map_index))
                    .map(|e| to_value(&e.value))
                    .collect(),
            }
        };
        match task_ids {
            Some(ids) if ids.as_str().is_some() => {
                let found = find(ids.as_str().unwrap_or_default());
                Ok(match found.len() {
                    0 => default,
                    1 => found.into_iter().next().unwrap_or_default(),
                    _ if single_map_index.is_none() && map_indexes.is_none() => Value::from(found),
                    _ => found.into_iter().next().unwrap_or_default(),
                })
            }
            Some(ids) => {
                let mut out = Vec::new();
                for id in ids.try_iter()? {
                    out.extend(find(&id.to_string()));
                }
                Ok(Value::from(out))
            }
            None => {
                let found = find(&self.task_id);
                Ok(found.into_iter().next().unwrap_or(default))
            }
        }
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
            Some(Err(_)) | None => {
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
                match self.lookup(key) {
                    Some(v) => v,
                    None => Ok(default.unwrap_or(Value::from(()))),
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
}

impl Object for ConnAccessor {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let id = key.as_str()?;
        match self.store.connection(id) {
            Ok(c) => Some(Value::from_object(ConnObj(c))),
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
                    Ok(c) => Ok(Value::from_object(ConnObj(c))),
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
pub struct ConnObj(pub Connection);

impl Object for ConnObj {
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

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&[
            "conn_id",
            "conn_type",
            "description",
            "host",
            "login",
            "password",
            "schema",
            "port",
            "extra",
        ])
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
        f.write_str(&self.0.conn_id)
    }
}
