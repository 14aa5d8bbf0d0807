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
use crate::template::objects::invalid;

/// A date-time; `pendulum` tells pendulum's `DateTime` from Python's
/// `datetime` (they differ in `-` and in the methods they have).
#[derive(Debug, Clone)]
pub struct DateTimeObj {
    pub dt: DateTime,
    pub pendulum: bool,
}

impl DateTimeObj {
    /// A pendulum date-time, as every date of Airflow's context is.
    pub fn value(dt: DateTime) -> Value {
        Value::from_object(DateTimeObj { dt, pendulum: true })
    }

    /// A standard-library `datetime`.
    pub fn stdlib(dt: DateTime) -> Value {
        Value::from_object(DateTimeObj {
            dt,
            pendulum: false,
        })
    }

    /// The same flavour around another instant.
    pub fn with(&self, dt: DateTime) -> Value {
        Value::from_object(DateTimeObj {
            dt,
            pendulum: self.pendulum,
        })
    }

    pub fn is_naive(&self) -> bool {
        self.dt.is_naive()
    }
}

/// Reads a date-time argument (an object, not a string: Airflow's filters
/// call `.strftime` and fail on strings).
pub fn as_datetime(value: &Value) -> Option<DateTime> {
    value.downcast_object_ref::<DateTimeObj>().map(|d| d.dt)
}

pub fn as_timedelta(value: &Value) -> Option<TimeDelta> {
    value.downcast_object_ref::<TimeDeltaObj>().map(|d| d.0)
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

fn out_of_range() -> JinjaError {
    invalid("date value out of range")
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
                Ok(crate::template::pymodules::datetime_diff_for_humans(dt, Some(other)).into())
            }
            "is_leap_year" => Ok(NaiveDate::from_ymd_opt(dt.local().year(), 2, 29)
                .is_some()
                .into()),
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// pendulum's `add`: calendar units (years, months, weeks, days) move the wall
/// clock, keeping the time of day across a DST change; hours and smaller are
/// absolute.
fn pendulum_add(dt: DateTime, kwargs: &Kwargs, negate: bool) -> Result<DateTime, JinjaError> {
    let sign = if negate { -1 } else { 1 };
    let int = |k: &str| -> Result<i64, JinjaError> {
        kwargs
            .get::<Option<i64>>(k)?
            .unwrap_or(0)
            .checked_mul(sign)
            .ok_or_else(out_of_range)
    };
    let float = |k: &str| -> Result<f64, JinjaError> {
        Ok(kwargs.get::<Option<f64>>(k)?.unwrap_or(0.0) * sign as f64)
    };
    // Checked: a huge count is Python's OverflowError, not a panic.
    let months = int("years")?
        .checked_mul(12)
        .and_then(|m| m.checked_add(int("months").ok()?))
        .ok_or_else(out_of_range)?;
    let days = int("weeks")?
        .checked_mul(7)
        .and_then(|d| d.checked_add(int("days").ok()?))
        .ok_or_else(out_of_range)?;
    let shifted = add_months(dt, months)?;
    let local = chrono::TimeDelta::try_days(days)
        .and_then(|delta| shifted.local().checked_add_signed(delta))
        .ok_or_else(out_of_range)?;
    let shifted = DateTime::from_local(local, dt.zone()).ok_or_else(out_of_range)?;
    let delta = TimeDelta::from_parts(
        0.0,
        float("seconds")?,
        float("microseconds")?,
        0.0,
        float("minutes")?,
        float("hours")?,
        0.0,
    );
    shifted.add(delta).ok_or_else(out_of_range)
}

/// The proleptic Gregorian leap year rule (Python's `calendar.isleap`), for
/// any year, also outside what a date can hold (dateutil's intermediate
/// years).
pub fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1-12) of `year` (`calendar.monthrange(year, month)[1]`).
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Calendar month arithmetic, clamping the day as pendulum and dateutil do.
pub fn add_months(dt: DateTime, months: i64) -> Result<DateTime, JinjaError> {
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

fn start_or_end_of(dt: DateTime, unit: &str, end: bool) -> Result<DateTime, JinjaError> {
    let l = dt.local();
    let midnight = NaiveTime::MIN;
    let start = match unit {
        "second" => l.with_nanosecond(0).ok_or_else(out_of_range)?,
        "minute" => l
            .date()
            .and_hms_opt(l.hour(), l.minute(), 0)
            .ok_or_else(out_of_range)?,
        "hour" => l
            .date()
            .and_hms_opt(l.hour(), 0, 0)
            .ok_or_else(out_of_range)?,
        "day" => l.date().and_time(midnight),
        "week" => (l.date() - chrono::Days::new(l.weekday().num_days_from_monday().into()))
            .and_time(midnight),
        "month" => l
            .date()
            .with_day(1)
            .ok_or_else(out_of_range)?
            .and_time(midnight),
        "year" => NaiveDate::from_ymd_opt(l.year(), 1, 1)
            .ok_or_else(out_of_range)?
            .and_time(midnight),
        other => return Err(invalid(format!("Invalid unit \"{other}\" for start_of()"))),
    };
    let local = if end {
        let next = match unit {
            "second" => start + chrono::TimeDelta::seconds(1),
            "minute" => start + chrono::TimeDelta::minutes(1),
            "hour" => start + chrono::TimeDelta::hours(1),
            "day" => start + chrono::TimeDelta::days(1),
            "week" => start + chrono::TimeDelta::days(7),
            "month" => add_months(
                DateTime::from_local(start, Zone::Naive).ok_or_else(out_of_range)?,
                1,
            )?
            .local(),
            _ => NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
                .ok_or_else(out_of_range)?
                .and_time(midnight),
        };
        next - chrono::TimeDelta::microseconds(1)
    } else {
        start
    };
    DateTime::from_local(local, dt.zone()).ok_or_else(out_of_range)
}

pub fn zone_arg(tz: &Value) -> Result<Zone, JinjaError> {
    if let Some(z) = tz.downcast_object_ref::<ZoneObj>() {
        return Ok(z.0);
    }
    let name = tz
        .as_str()
        .ok_or_else(|| invalid("a timezone must be a name such as `Europe/Amsterdam`"))?;
    Zone::parse(name).ok_or_else(|| invalid(format!("Invalid timezone '{name}'")))
}

/// pendulum's `format()` tokens (the common part; `[text]` is literal).
pub fn pendulum_format(dt: DateTime, fmt: &str) -> String {
    const TOKENS: [&str; 36] = [
        "YYYY", "YY", "Q", "MMMM", "MMM", "MM", "M", "DDDD", "DDD", "Do", "DD", "D", "dddd", "ddd",
        "dd", "d", "E", "HH", "H", "hh", "h", "mm", "m", "ss", "s", "SSSSSS", "SSS", "SS", "S",
        "A", "a", "ZZ", "Z", "zz", "X", "x",
    ];
    let l = dt.local();
    let mut out = String::new();
    let mut rest = fmt;
    while !rest.is_empty() {
        if let Some(stripped) = rest.strip_prefix('[') {
            let end = stripped.find(']').unwrap_or(stripped.len());
            out.push_str(&stripped[..end]);
            rest = stripped.get(end + 1..).unwrap_or("");
            continue;
        }
        let Some(tok) = TOKENS.iter().find(|t| rest.starts_with(**t)) else {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        let micros = l.nanosecond() / 1000;
        let h12 = if l.hour().is_multiple_of(12) {
            12
        } else {
            l.hour() % 12
        };
        let piece = match *tok {
            "YYYY" => format!("{:04}", l.year()),
            "YY" => format!("{:02}", l.year().rem_euclid(100)),
            "Q" => (l.month0() / 3 + 1).to_string(),
            "MMMM" => dt.strftime("%B"),
            "MMM" => dt.strftime("%b"),
            "MM" => format!("{:02}", l.month()),
            "M" => l.month().to_string(),
            "DDDD" => format!("{:03}", l.ordinal()),
            "DDD" => l.ordinal().to_string(),
            "Do" => ordinal(l.day()),
            "DD" => format!("{:02}", l.day()),
            "D" => l.day().to_string(),
            "dddd" => dt.strftime("%A"),
            "ddd" => dt.strftime("%a"),
            "dd" => dt.strftime("%a")[..2].to_string(),
            "d" => l.weekday().num_days_from_sunday().to_string(),
            "E" => l.weekday().number_from_monday().to_string(),
            "HH" => format!("{:02}", l.hour()),
            "H" => l.hour().to_string(),
            "hh" => format!("{h12:02}"),
            "h" => h12.to_string(),
            "mm" => format!("{:02}", l.minute()),
            "m" => l.minute().to_string(),
            "ss" => format!("{:02}", l.second()),
            "s" => l.second().to_string(),
            "SSSSSS" => format!("{micros:06}"),
            "SSS" => format!("{:03}", micros / 1000),
            "SS" => format!("{:02}", micros / 10000),
            "S" => (micros / 100_000).to_string(),
            "A" => if l.hour() < 12 { "AM" } else { "PM" }.to_string(),
            "a" => if l.hour() < 12 { "am" } else { "pm" }.to_string(),
            "ZZ" => dt.strftime("%z"),
            "Z" => dt.strftime("%:z"),
            "zz" => dt.tzname(),
            "X" => dt.utc().timestamp().to_string(),
            "x" => dt.utc().timestamp_millis().to_string(),
            _ => String::new(),
        };
        out.push_str(&piece);
        rest = &rest[tok.len()..];
    }
    out
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// A `date` (from `datetime.date()`).
#[derive(Debug, Clone)]
pub struct DateObj(pub NaiveDate);

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
pub struct TimeObj(pub NaiveTime);

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
pub struct IsoCalendar {
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
pub struct ZoneObj(pub Zone);

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
        let delta = delta_from_args(&kwargs, positional)?;
        kwargs.assert_all_used()?;
        Ok(Value::from_object(TimeDeltaObj(delta)))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<class 'datetime.timedelta'>")
    }
}

/// pendulum's `Interval`: what one pendulum DateTime minus another gives.
#[derive(Debug, Clone)]
pub struct IntervalObj {
    pub start: DateTime,
    pub end: DateTime,
}

impl IntervalObj {
    fn delta(&self) -> TimeDelta {
        self.end.since(&self.start)
    }
}

impl Object for IntervalObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let d = self.delta();
        Some(match key.as_str()? {
            "days" => d.days().into(),
            "seconds" => d.seconds().into(),
            "microseconds" => d.microseconds().into(),
            "start" => DateTimeObj::value(self.start),
            "end" => DateTimeObj::value(self.end),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, JinjaError> {
        let d = self.delta();
        let secs = d.micros / 1_000_000;
        // pendulum truncates toward zero.
        match method {
            "total_seconds" => Ok(d.total_seconds().into()),
            "in_seconds" => Ok(secs.into()),
            "in_minutes" => Ok((secs / 60).into()),
            "in_hours" => Ok((secs / 3600).into()),
            "in_days" => Ok((secs / 86_400).into()),
            "in_weeks" => Ok((secs / 604_800).into()),
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<Interval [{} -> {}]>",
            self.start.py_str(),
            self.end.py_str()
        )
    }
}
