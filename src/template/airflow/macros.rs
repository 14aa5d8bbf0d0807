//! `macros` and the date filters, as Airflow defines them
//! (airflow/macros/__init__.py, airflow/templates.py).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::template::pyvalue::to_value;
use minijinja::value::{Kwargs, Object, ObjectRepr, Value, from_args};
use minijinja::{Error as JinjaError, ErrorKind, State};

use crate::context::DateString;
use crate::context::{DateTime, Zone};
use crate::template::pylib::datetime::{DateTimeObj, TimeDeltaClass, as_datetime};
use crate::template::pylib::{dateutil, time, uuid};
use crate::template::pyvalue::invalid;
use crate::template::pyvalue::repr as pyfmt;
use crate::template::pyvalue::yaml;

/// Parses text with a Python `strptime` format (the common directives).
pub(crate) fn strptime(text: &str, fmt: &str) -> Result<chrono::NaiveDateTime, JinjaError> {
    // chrono's parser follows the same directives for the common ones; `%f`
    // in Python is 1-6 digits of microseconds.
    let chrono_fmt = fmt.replace("%f", "%6f");
    if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(text, &chrono_fmt) {
        return Ok(dt);
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, &chrono_fmt) {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default());
    }
    Err(invalid(format!(
        "time data {} does not match format {}",
        crate::py::text::repr(text),
        crate::py::text::repr(fmt)
    )))
}

/// `datetime.strptime`: naive, unless the format has `%z` (then a fixed
/// offset, `timezone.utc` for +00:00).
fn strptime_aware(text: &str, fmt: &str) -> Result<DateTime, JinjaError> {
    if fmt.contains("%z") {
        let parsed =
            chrono::DateTime::parse_from_str(text, &fmt.replace("%f", "%6f")).map_err(|_| {
                invalid(format!(
                    "time data {} does not match format {}",
                    crate::py::text::repr(text),
                    crate::py::text::repr(fmt)
                ))
            })?;
        let zone = match parsed.offset().local_minus_utc() {
            0 => Zone::Utc,
            _ => Zone::Fixed(*parsed.offset()),
        };
        return Ok(DateTime::from_utc(parsed.with_timezone(&chrono::Utc), zone));
    }
    DateTime::from_local(strptime(text, fmt)?, Zone::Naive)
        .ok_or_else(|| invalid("date value out of range"))
}

/// The `tz` argument of `datetime.now(tz)` and friends: naive without one.
fn naive_or(tz: Option<Value>) -> Result<Zone, JinjaError> {
    match tz.filter(|t| !t.is_none()) {
        Some(tz) => crate::template::pylib::datetime::zone_arg(&tz),
        None => Ok(Zone::Naive),
    }
}

/// `macros.ds_add(ds, days)`: `YYYY-MM-DD` shifted by whole days.
fn ds_add(ds: &str, days: i64) -> Result<String, JinjaError> {
    let d = strptime(ds, "%Y-%m-%d")?;
    if days == 0 {
        return Ok(ds.to_string());
    }
    // `try_days`: `TimeDelta::days` panics past about 10^14 days.
    let shifted = chrono::TimeDelta::try_days(days)
        .and_then(|delta| d.checked_add_signed(delta))
        .ok_or_else(|| invalid("date value out of range"))?;
    Ok(shifted.format("%Y-%m-%d").to_string())
}

/// `macros.ds_format(ds, input_format, output_format)`.
fn ds_format(ds: &str, input: &str, output: &str) -> Result<String, JinjaError> {
    let d = strptime(ds, input)?;
    let dt =
        DateTime::from_local(d, Zone::Naive).ok_or_else(|| invalid("date value out of range"))?;
    Ok(dt.strftime(output))
}

#[derive(Debug)]
pub(crate) struct Macros;

impl Object for Macros {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "timedelta" => Value::from_object(TimeDeltaClass),
            "datetime" => Value::from_object(DateTimeClass),
            "json" => Value::from_object(JsonModule),
            "random" => Value::from_function(|| -> f64 { random_f64() }),
            other => return module(other),
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JinjaError> {
        match method {
            "ds_add" => {
                let (ds, days): (Value, i64) = from_args(args)?;
                Ok(ds_add(&ds.to_string(), days)?.into())
            }
            "datetime_diff_for_humans" => {
                let (dt, since): (Value, Option<Value>) = from_args(args)?;
                let dt = as_datetime(&dt)
                    .ok_or_else(|| invalid("datetime_diff_for_humans() expects a date-time"))?;
                let since = since
                    .filter(|v| !v.is_none())
                    .map(|v| as_datetime(&v).ok_or_else(|| invalid("`since` must be a date-time")))
                    .transpose()?;
                Ok(crate::template::pylib::pendulum::datetime_diff_for_humans(dt, since).into())
            }
            "ds_format" => {
                let (ds, input, output): (Value, &str, &str) = from_args(args)?;
                Ok(ds_format(&ds.to_string(), input, output)?.into())
            }
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `macros.datetime`: the class, callable, with `strptime`.
#[derive(Debug)]
pub(crate) struct DateTimeClass;

impl Object for DateTimeClass {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, _: &mut State<'_, '_>, args: &[Value]) -> Result<Value, JinjaError> {
        let (parts, kwargs): (&[Value], Kwargs) = from_args(args)?;
        let names = [
            "year",
            "month",
            "day",
            "hour",
            "minute",
            "second",
            "microsecond",
        ];
        let mut v = [0i64; 7];
        for (i, name) in names.iter().enumerate() {
            v[i] = match parts.get(i) {
                Some(p) => p
                    .as_i64()
                    .ok_or_else(|| invalid(format!("`{name}` must be an integer")))?,
                None => kwargs
                    .get::<Option<i64>>(name)?
                    .unwrap_or(if i < 3 { -1 } else { 0 }),
            };
            if v[i] < 0 {
                return Err(invalid(format!(
                    "datetime() missing required argument `{name}`"
                )));
            }
        }
        let zone = naive_or(kwargs.get::<Option<Value>>("tzinfo")?)?;
        kwargs.assert_all_used()?;
        let u = |x: i64| u32::try_from(x).unwrap_or(u32::MAX);
        let date =
            chrono::NaiveDate::from_ymd_opt(i32::try_from(v[0]).unwrap_or(0), u(v[1]), u(v[2]))
                .ok_or_else(|| invalid("day is out of range for month"))?;
        let time = chrono::NaiveTime::from_hms_micro_opt(u(v[3]), u(v[4]), u(v[5]), u(v[6]))
            .ok_or_else(|| invalid("time out of range"))?;
        let dt = DateTime::from_local(date.and_time(time), zone)
            .ok_or_else(|| invalid("date out of range"))?;
        Ok(DateTimeObj::stdlib(dt))
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JinjaError> {
        match method {
            "strptime" => {
                let (text, fmt): (&str, &str) = from_args(args)?;
                Ok(DateTimeObj::stdlib(strptime_aware(text, fmt)?))
            }
            // The clock: Python's `datetime.now()` is naive local time, which
            // in a container is UTC; `now(tz)` is aware.
            "now" | "today" | "utcnow" => {
                let (tz,): (Option<Value>,) = from_args(args)?;
                let now = chrono::Utc::now();
                let zone = naive_or(tz)?;
                Ok(DateTimeObj::stdlib(
                    DateTime::from_utc(now, Zone::Utc).in_zone(zone),
                ))
            }
            "fromtimestamp" | "utcfromtimestamp" => {
                let (ts, tz): (f64, Option<Value>) = from_args(args)?;
                let utc = chrono::DateTime::from_timestamp_micros((ts * 1e6).round() as i64)
                    .ok_or_else(|| invalid("timestamp out of range"))?;
                let zone = naive_or(tz)?;
                Ok(DateTimeObj::stdlib(
                    DateTime::from_utc(utc, Zone::Utc).in_zone(zone),
                ))
            }
            "fromisoformat" => {
                let (text,): (&str,) = from_args(args)?;
                Ok(DateTimeObj::stdlib(
                    DateTime::parse_python(text).map_err(invalid)?,
                ))
            }
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<class 'datetime.datetime'>")
    }
}

/// `macros.json`: `dumps` and `loads` as Python's json module.
#[derive(Debug)]
pub(crate) struct JsonModule;

impl Object for JsonModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JinjaError> {
        match method {
            "dumps" => {
                let (value, kwargs): (Value, Kwargs) = from_args(args)?;
                let out = crate::template::pyvalue::json::json_dumps(&value, &kwargs)?;
                kwargs.assert_all_used()?;
                Ok(out.into())
            }
            "loads" => {
                let (text,): (&str,) = from_args(args)?;
                let v: serde_json::Value = serde_json::from_str(text)
                    .map_err(|e| invalid(format!("invalid JSON: {e}")))?;
                Ok(to_value(&v))
            }
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }
}

fn random_f64() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    // A fresh randomly-keyed hasher per call: enough for `macros.random()`,
    // which Airflow exposes for jitter, not cryptography.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The Airflow date filters (`ds`, `ts_nodash`, ...), the context's formulas;
/// `None` in gives `None` out.
pub(crate) fn date_filters() -> BTreeMap<&'static str, DateString> {
    crate::context::DATE_STRINGS.into_iter().collect()
}

/// Applies one of `date_filters` to a template value.
pub(crate) fn apply_date_filter(f: DateString, value: &Value) -> Result<Value, JinjaError> {
    if value.is_none() || value.is_undefined() {
        return Ok(Value::from(()));
    }
    let dt = as_datetime(value).ok_or_else(|| {
        invalid(format!(
            "expected a date-time, got {}",
            pyfmt::py_repr(value)
        ))
    })?;
    Ok(f(&dt).into())
}

/// `macros.<name>` for the Python modules `macros` re-exports.
fn module(name: &str) -> Option<Value> {
    Some(match name {
        "uuid" => Value::from_object(uuid::UuidModule),
        "time" => Value::from_object(time::TimeModule),
        "dateutil" => Value::from_object(dateutil::DateutilModule),
        "yaml" => Value::from_object(yaml::YamlModule),
        _ => return None,
    })
}
