//! Date-time template objects: pendulum's `DateTime` (the context's dates)
//! and Python's `datetime` (what `macros.datetime` makes), `date`, `time`,
//! `timedelta` and pendulum's `Interval`, printing and computing as in Airflow.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};
use minijinja::value::{DynObject, Kwargs, Object, ObjectRepr, Value, from_args};
use minijinja::{Error as JinjaError, ErrorKind, State};

use crate::context::{DateTime, TimeDelta, Zone};
use crate::template::pylib::pendulum::{
    IntervalObj, datetime_diff_for_humans, pendulum_add, pendulum_format, start_or_end_of,
};
use crate::template::pyvalue::PyObject;
use crate::template::pyvalue::invalid;

/// A date-time; `pendulum` tells pendulum's `DateTime` from Python's
/// `datetime` (they differ in `-` and in the methods they have).
#[derive(Debug, Clone)]
pub(crate) struct DateTimeObj {
    pub dt: DateTime,
    pub pendulum: bool,
}

impl DateTimeObj {
    /// A pendulum date-time, as every date of Airflow's context is.
    pub(crate) fn value(dt: DateTime) -> Value {
        Value::from_object(DateTimeObj { dt, pendulum: true })
    }

    /// A standard-library `datetime`.
    pub(crate) fn stdlib(dt: DateTime) -> Value {
        Value::from_object(DateTimeObj {
            dt,
            pendulum: false,
        })
    }

    /// The same flavour around another instant.
    pub(crate) fn with(&self, dt: DateTime) -> Value {
        Value::from_object(DateTimeObj {
            dt,
            pendulum: self.pendulum,
        })
    }

    pub(crate) fn is_naive(&self) -> bool {
        self.dt.is_naive()
    }
}

/// Reads a date-time argument (an object, not a string: Airflow's filters
/// call `.strftime` and fail on strings).
pub(crate) fn as_datetime(value: &Value) -> Option<DateTime> {
    value.downcast_object_ref::<DateTimeObj>().map(|d| d.dt)
}

/// Keyword or positional arguments of `timedelta(days, seconds,
/// microseconds, milliseconds, minutes, hours, weeks)`.
fn delta_from_args(kwargs: &Kwargs, positional: &[Value]) -> Result<TimeDelta, JinjaError> {
    let get = |name: &str, pos: usize| -> Result<f64, JinjaError> {
        if let Some(v) = positional.get(pos) {
            return f64::try_from(v.clone())
                .map_err(|_| invalid(format!("`{name}` must be a number")));
        }
        Ok(kwargs.get::<Option<f64>>(name)?.unwrap_or(0.0))
    };
    Ok(TimeDelta::from_parts(
        get("days", 0)?,
        get("seconds", 1)?,
        get("microseconds", 2)?,
        get("milliseconds", 3)?,
        get("minutes", 4)?,
        get("hours", 5)?,
        get("weeks", 6)?,
    ))
}

pub(crate) fn out_of_range() -> JinjaError {
    invalid("date value out of range")
}

impl PyObject for DateTimeObj {
    fn type_name(&self) -> &'static str {
        if self.pendulum {
            "DateTime"
        } else {
            "datetime"
        }
    }
}

impl Object for DateTimeObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let l = self.dt.local();
        Some(match key.as_str()? {
            "year" => l.year().into(),
            "month" => l.month().into(),
            "day" => l.day().into(),
            "hour" => l.hour().into(),
            "minute" => l.minute().into(),
            "second" => l.second().into(),
            "microsecond" => (l.nanosecond() / 1000).into(),
            "tzinfo" if self.is_naive() => Value::from(()),
            "tzinfo" => Value::from_object(ZoneObj(self.dt.zone())),
            "tz" | "timezone" if self.pendulum => Value::from_object(ZoneObj(self.dt.zone())),
            "timezone_name" if self.pendulum => self.dt.zone().name().into(),
            "day_of_year" if self.pendulum => l.ordinal().into(),
            // pendulum 3: a WeekDay enum printing as Monday=0 ... Sunday=6.
            "day_of_week" if self.pendulum => l.weekday().num_days_from_monday().into(),
            "days_in_month" if self.pendulum => {
                days_in_month(i64::from(l.year()), l.month()).into()
            }
            "week_of_year" if self.pendulum => l.iso_week().week().into(),
            "quarter" if self.pendulum => (l.month0() / 3 + 1).into(),
            "int_timestamp" if self.pendulum => self.dt.utc().timestamp().into(),
            "float_timestamp" if self.pendulum => self.dt.timestamp().into(),
            "offset" if self.pendulum => self.dt.offset().local_minus_utc().into(),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JinjaError> {
        let dt = self.dt;
        match method {
            "strftime" => {
                let (fmt,): (&str,) = from_args(args)?;
                Ok(dt.strftime(fmt).into())
            }
            "__format__" => {
                let (spec,): (&str,) = from_args(args)?;
                Ok(if spec.is_empty() {
                    dt.py_str()
                } else {
                    dt.strftime(spec)
                }
                .into())
            }
            "isoformat" => {
                let (sep, kwargs): (Option<&str>, Kwargs) = from_args(args)?;
                let sep = sep
                    .or(kwargs.get::<Option<&str>>("sep")?)
                    .and_then(|s| s.chars().next())
                    .unwrap_or('T');
                let timespec = kwargs.get::<Option<&str>>("timespec")?.unwrap_or("auto");
                kwargs.assert_all_used()?;
                dt.isoformat_spec(sep, timespec)
                    .map(Value::from)
                    .ok_or_else(|| invalid(format!("Unknown timespec value: {timespec}")))
            }
            "timestamp" => Ok(dt.timestamp().into()),
            "weekday" => Ok(dt.local().weekday().num_days_from_monday().into()),
            "isoweekday" => Ok(dt.local().weekday().number_from_monday().into()),
            "isocalendar" => {
                let w = dt.local().iso_week();
                Ok(Value::from_object(IsoCalendar {
                    year: w.year(),
                    week: w.week(),
                    weekday: dt.local().weekday().number_from_monday(),
                }))
            }
            "date" => Ok(Value::from_object(DateObj(dt.local().date()))),
            "time" => Ok(Value::from_object(TimeObj(dt.local().time()))),
            "utcoffset" if dt.is_naive() => Ok(Value::from(())),
            "utcoffset" => Ok(Value::from_object(TimeDeltaObj(TimeDelta {
                micros: i64::from(dt.offset().local_minus_utc()) * 1_000_000,
            }))),
            "tzname" if dt.is_naive() => Ok(Value::from(())),
            "tzname" => Ok(dt.tzname().into()),
            "replace" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                Ok(self.with(replace(dt, &kwargs)?))
            }
            "astimezone" => {
                let (tz,): (Value,) = from_args(args)?;
                Ok(self.with(dt.in_zone(zone_arg(&tz)?)))
            }
            _ if self.pendulum => self.pendulum_method(method, args),
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        let other = other.downcast_ref::<Self>()?;
        Some(self.dt.utc().cmp(&other.dt.utc()))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dt.py_str())
    }
}

impl DateTimeObj {
    /// Methods only pendulum's DateTime has.
    fn pendulum_method(
        self: &Arc<Self>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JinjaError> {
        let dt = self.dt;
        match method {
            "to_date_string" => Ok(dt.strftime("%Y-%m-%d").into()),
            "to_time_string" => Ok(dt.strftime("%H:%M:%S").into()),
            "to_datetime_string" => Ok(dt.strftime("%Y-%m-%d %H:%M:%S").into()),
            "to_iso8601_string" => {
                let s = dt.isoformat('T');
                Ok(s.strip_suffix("+00:00")
                    .map_or(s.clone(), |b| format!("{b}Z"))
                    .into())
            }
            "add" | "subtract" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let shifted = pendulum_add(dt, &kwargs, method == "subtract")?;
                kwargs.assert_all_used()?;
                Ok(self.with(shifted))
            }
            "in_timezone" | "in_tz" => {
                let (tz,): (Value,) = from_args(args)?;
                Ok(self.with(dt.in_zone(zone_arg(&tz)?)))
            }
            "start_of" | "end_of" => {
                let (unit,): (&str,) = from_args(args)?;
                Ok(self.with(start_or_end_of(dt, unit, method == "end_of")?))
            }
            "format" => {
                let (fmt, _locale): (&str, Option<&str>) = from_args(args)?;
                Ok(pendulum_format(dt, fmt).into())
            }
            "diff" => {
                let (other, abs): (Option<Value>, Option<bool>) = from_args(args)?;
                let other = match other {
                    Some(o) => {
                        as_datetime(&o).ok_or_else(|| invalid("diff() expects a date-time"))?
                    }
                    None => {
                        return Err(invalid(
                            "diff() needs another date-time here: the runner has no clock",
                        ));
                    }
                };
                let (start, end) = if abs.unwrap_or(true) && other.utc() < dt.utc() {
                    (other, dt)
                } else {
                    (dt, other)
                };
                Ok(Value::from_object(IntervalObj { start, end }))
            }
            "diff_for_humans" => {
                let (other,): (Value,) = from_args(args)?;
                let other = as_datetime(&other)
                    .ok_or_else(|| invalid("diff_for_humans() expects a date-time"))?;
                Ok(datetime_diff_for_humans(dt, Some(other)).into())
            }
            "is_leap_year" => Ok(NaiveDate::from_ymd_opt(dt.local().year(), 2, 29)
                .is_some()
                .into()),
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// The proleptic Gregorian leap year rule (Python's `calendar.isleap`), for
/// any year, also outside what a date can hold (dateutil's intermediate
/// years).
pub(crate) fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1-12) of `year` (`calendar.monthrange(year, month)[1]`).
pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Calendar month arithmetic, clamping the day as pendulum and dateutil do.
pub(crate) fn add_months(dt: DateTime, months: i64) -> Result<DateTime, JinjaError> {
    if months == 0 {
        return Ok(dt);
    }
    let l = dt.local();
    let total = (i64::from(l.year()) * 12 + i64::from(l.month0()))
        .checked_add(months)
        .ok_or_else(out_of_range)?;
    let year = i32::try_from(total.div_euclid(12)).map_err(|_| out_of_range())?;
    let month = u32::try_from(total.rem_euclid(12)).unwrap_or(0) + 1;
    let day = l.day().min(days_in_month(i64::from(year), month));
    let date = NaiveDate::from_ymd_opt(year, month, day).ok_or_else(out_of_range)?;
    DateTime::from_local(date.and_time(l.time()), dt.zone()).ok_or_else(out_of_range)
}

fn replace(dt: DateTime, kwargs: &Kwargs) -> Result<DateTime, JinjaError> {
    let l = dt.local();
    let get = |k: &str, cur: u32| -> Result<u32, JinjaError> {
        Ok(kwargs.get::<Option<u32>>(k)?.unwrap_or(cur))
    };
    let year = kwargs.get::<Option<i32>>("year")?.unwrap_or(l.year());
    let date = NaiveDate::from_ymd_opt(year, get("month", l.month())?, get("day", l.day())?)
        .ok_or_else(|| invalid("day is out of range for month"))?;
    let time = NaiveTime::from_hms_micro_opt(
        get("hour", l.hour())?,
        get("minute", l.minute())?,
        get("second", l.second())?,
        get("microsecond", l.nanosecond() / 1000)?,
    )
    .ok_or_else(|| invalid("time out of range"))?;
    let zone = match kwargs.get::<Option<Value>>("tzinfo")? {
        Some(tz) if tz.is_none() => Zone::Naive,
        Some(tz) => zone_arg(&tz)?,
        None => dt.zone(),
    };
    kwargs.assert_all_used()?;
    DateTime::from_local(date.and_time(time), zone).ok_or_else(out_of_range)
}

pub(crate) fn zone_arg(tz: &Value) -> Result<Zone, JinjaError> {
    if let Some(z) = tz.downcast_object_ref::<ZoneObj>() {
        return Ok(z.0);
    }
    let name = tz
        .as_str()
        .ok_or_else(|| invalid("a timezone must be a name such as `Europe/Amsterdam`"))?;
    Zone::parse(name).ok_or_else(|| invalid(format!("Invalid timezone '{name}'")))
}

/// A `date` (from `datetime.date()`).
#[derive(Debug, Clone)]
pub(crate) struct DateObj(pub NaiveDate);

impl Object for DateObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
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
        let dt = DateTime::from_local(self.0.and_time(NaiveTime::MIN), Zone::Naive)
            .ok_or_else(out_of_range)?;
        match method {
            "strftime" => {
                let (fmt,): (&str,) = from_args(args)?;
                Ok(dt.strftime(fmt).into())
            }
            "isoformat" => Ok(self.0.format("%Y-%m-%d").to_string().into()),
            "weekday" => Ok(self.0.weekday().num_days_from_monday().into()),
            "isoweekday" => Ok(self.0.weekday().number_from_monday().into()),
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

/// A `time` (from `datetime.time()`).
#[derive(Debug, Clone)]
pub(crate) struct TimeObj(pub NaiveTime);

impl Object for TimeObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "hour" => self.0.hour().into(),
            "minute" => self.0.minute().into(),
            "second" => self.0.second().into(),
            "microsecond" => (self.0.nanosecond() / 1000).into(),
            _ => return None,
        })
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(f, "{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())?;
        match t.nanosecond() / 1000 {
            0 => Ok(()),
            micros => write!(f, ".{micros:06}"),
        }
    }
}

/// `isocalendar()`'s named tuple.
#[derive(Debug, Clone)]
pub(crate) struct IsoCalendar {
    year: i32,
    week: u32,
    weekday: u32,
}

impl Object for IsoCalendar {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match (key.as_str(), key.as_i64()) {
            (Some("year"), _) | (_, Some(0)) => Some(self.year.into()),
            (Some("week"), _) | (_, Some(1)) => Some(self.week.into()),
            (Some("weekday"), _) | (_, Some(2)) => Some(self.weekday.into()),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "datetime.IsoCalendarDate(year={}, week={}, weekday={})",
            self.year, self.week, self.weekday
        )
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ZoneObj(pub Zone);

impl Object for ZoneObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" | "key" => Some(self.0.name().into()),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.name())
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TimeDeltaObj(pub TimeDelta);

impl PyObject for TimeDeltaObj {
    fn type_name(&self) -> &'static str {
        "timedelta"
    }
}

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
pub(crate) struct TimeDeltaClass;

impl Object for TimeDeltaClass {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, _: &mut State<'_, '_>, args: &[Value]) -> Result<Value, JinjaError> {
        let (positional, kwargs): (&[Value], Kwargs) = from_args(args)?;
        let delta = delta_from_args(&kwargs, positional)?;
        kwargs.assert_all_used()?;
        Ok(Value::from_object(TimeDeltaObj(delta)))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<class 'datetime.timedelta'>")
    }
}
