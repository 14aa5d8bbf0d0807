//! python-dateutil 2.9 as `macros.dateutil`: `relativedelta` (its repr, normalisation, arithmetic
//! on dates), the weekday constants and `parser.parse`.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, Timelike};
use minijinja::value::{Kwargs, Object, ObjectRepr, Value, from_args};
use minijinja::{Error, ErrorKind, State};

use crate::context::{DateTime, TimeDelta};
use crate::template::pylib::datetime::as_datetime;
use crate::template::pylib::unknown_method;
use crate::template::pyvalue::PyObject;
use crate::template::pyvalue::{invalid, type_name};

use crate::template::pyvalue::percent::format_float;

#[derive(Debug)]
pub(crate) struct DateutilModule;

#[derive(Debug)]
struct RelativeDeltaModule;

#[derive(Debug)]
struct RelativeDeltaClass;

/// dateutil's weekday constant: `MO`, `MO(+2)`, `FR(-1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Weekday {
    /// Monday = 0.
    pub weekday: u8,
    pub n: Option<i64>,
}

const WEEKDAY_NAMES: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

impl Object for Weekday {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "weekday" => Some(self.weekday.into()),
            "n" => Some(self.n.map_or(Value::from(()), Value::from)),
            _ => None,
        }
    }

    fn call(self: &Arc<Self>, _: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (n,): (i64,) = from_args(args)?;
        if n == 0 {
            return Err(invalid("Can't create weekday with n==0"));
        }
        Ok(Value::from_object(Weekday {
            weekday: self.weekday,
            n: Some(n),
        }))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = WEEKDAY_NAMES[usize::from(self.weekday % 7)];
        match self.n {
            Some(n) if n != 0 => write!(f, "{name}({n:+})"),
            _ => f.write_str(name),
        }
    }
}

fn weekday_const(name: &str) -> Option<Value> {
    let i = WEEKDAY_NAMES.iter().position(|n| *n == name)?;
    Some(Value::from_object(Weekday {
        weekday: u8::try_from(i).unwrap_or(0),
        n: None,
    }))
}

impl Object for DateutilModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "relativedelta" => Some(Value::from_object(RelativeDeltaModule)),
            "parser" => Some(Value::from_object(DateutilParser)),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<module 'dateutil'>")
    }
}

/// `dateutil.parser`: `parse` and `isoparse` for the forms DAGs feed it
/// (ISO 8601 dates and date-times, `2024/06/01`, `01 Jun 2024`); naive unless
/// the text has an offset, as dateutil returns.
#[derive(Debug)]
struct DateutilParser;

impl Object for DateutilParser {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "parse" | "isoparse" => {
                let (text, _kwargs): (&str, Kwargs) = from_args(args)?;
                let t = text.trim();
                if let Ok(dt) = DateTime::parse_python(t) {
                    return Ok(crate::template::pylib::datetime::DateTimeObj::stdlib(dt));
                }
                for fmt in [
                    "%Y/%m/%d %H:%M:%S",
                    "%Y/%m/%d",
                    "%d %b %Y",
                    "%d %B %Y",
                    "%b %d %Y",
                    "%B %d, %Y",
                    "%Y%m%d",
                ] {
                    let parsed = chrono::NaiveDateTime::parse_from_str(t, fmt)
                        .ok()
                        .or_else(|| {
                            chrono::NaiveDate::parse_from_str(t, fmt)
                                .ok()
                                .and_then(|d| d.and_hms_opt(0, 0, 0))
                        });
                    if let Some(naive) = parsed
                        && let Some(dt) = DateTime::from_local(naive, crate::context::Zone::Naive)
                    {
                        return Ok(crate::template::pylib::datetime::DateTimeObj::stdlib(dt));
                    }
                }
                Err(invalid(format!("Unknown string format: {t}")))
            }
            _ => Err(Error::from(minijinja::ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<module 'dateutil.parser'>")
    }
}

impl Object for RelativeDeltaModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "relativedelta" => Some(Value::from_object(RelativeDeltaClass)),
            name => weekday_const(name),
        }
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "relativedelta" => Value::from_object(RelativeDeltaClass).call(state, args),
            other => Err(unknown_method("dateutil.relativedelta", other)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<module 'dateutil.relativedelta'>")
    }
}

/// `dateutil.relativedelta.relativedelta`: relative fields (plural) add,
/// absolute fields (singular) replace.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RelativeDelta {
    pub years: i64,
    pub months: i64,
    pub days: i64,
    pub leapdays: i64,
    pub hours: i64,
    pub minutes: i64,
    pub seconds: i64,
    pub microseconds: i64,
    pub year: Option<i64>,
    pub month: Option<i64>,
    pub day: Option<i64>,
    pub weekday: Option<Weekday>,
    pub hour: Option<i64>,
    pub minute: Option<i64>,
    pub second: Option<i64>,
    pub microsecond: Option<i64>,
}

impl RelativeDelta {
    /// dateutil's `_fix`: carries overflowing units upwards, keeping the sign.
    fn fix(&mut self) {
        fn carry(low: &mut i64, high: &mut i64, limit: i64) {
            if low.abs() > limit - 1 {
                let s = low.signum();
                let (div, rem) = ((*low * s).div_euclid(limit), (*low * s).rem_euclid(limit));
                *low = rem * s;
                *high += div * s;
            }
        }
        carry(&mut self.microseconds, &mut self.seconds, 1_000_000);
        carry(&mut self.seconds, &mut self.minutes, 60);
        carry(&mut self.minutes, &mut self.hours, 60);
        carry(&mut self.hours, &mut self.days, 24);
        carry(&mut self.months, &mut self.years, 12);
    }

    /// `-rd`: the relative fields negated, the absolute ones kept.
    pub(crate) fn negated(&self) -> RelativeDelta {
        RelativeDelta {
            years: -self.years,
            months: -self.months,
            days: -self.days,
            leapdays: self.leapdays,
            hours: -self.hours,
            minutes: -self.minutes,
            seconds: -self.seconds,
            microseconds: -self.microseconds,
            ..self.clone()
        }
    }

    fn from_kwargs(args: &[Value]) -> Result<RelativeDelta, Error> {
        let (positional, kwargs): (&[Value], Kwargs) = from_args(args)?;
        if !positional.is_empty() {
            // relativedelta(dt1, dt2): the difference of two date-times.
            let (a, b): (Value, Value) = from_args(positional)?;
            let (a, b) = (
                as_datetime(&a).ok_or_else(|| invalid("relativedelta only diffs datetime/date"))?,
                as_datetime(&b).ok_or_else(|| invalid("relativedelta only diffs datetime/date"))?,
            );
            kwargs.assert_all_used()?;
            return Ok(relativedelta_between(a, b));
        }
        let int = |name: &str| -> Result<Option<i64>, Error> {
            match kwargs.get::<Option<Value>>(name)? {
                None => Ok(None),
                Some(v) if v.is_none() => Ok(None),
                Some(v) => {
                    if let Some(i) = v.as_i64() {
                        return Ok(Some(i));
                    }
                    let f = f64::try_from(v.clone()).map_err(|_| {
                        invalid(format!("`{name}` must be a number, not {}", type_name(&v)))
                    })?;
                    if f.fract() == 0.0 && f.is_finite() {
                        Ok(Some(f as i64))
                    } else if matches!(name, "years" | "months") {
                        Err(invalid(
                            "Non-integer years and months are ambiguous and not currently supported.",
                        ))
                    } else {
                        Err(invalid(format!("non-integer `{name}` is not supported")))
                    }
                }
            }
        };
        let mut rd = RelativeDelta {
            years: int("years")?.unwrap_or(0),
            months: int("months")?.unwrap_or(0),
            days: int("days")?.unwrap_or(0) + 7 * int("weeks")?.unwrap_or(0),
            leapdays: int("leapdays")?.unwrap_or(0),
            hours: int("hours")?.unwrap_or(0),
            minutes: int("minutes")?.unwrap_or(0),
            seconds: int("seconds")?.unwrap_or(0),
            microseconds: int("microseconds")?.unwrap_or(0),
            year: int("year")?,
            month: int("month")?,
            day: int("day")?,
            hour: int("hour")?,
            minute: int("minute")?,
            second: int("second")?,
            microsecond: int("microsecond")?,
            weekday: None,
        };
        if let Some(w) = kwargs.get::<Option<Value>>("weekday")?
            && !w.is_none()
        {
            rd.weekday = Some(if let Some(wd) = w.downcast_object_ref::<Weekday>() {
                *wd
            } else {
                let i = w
                    .as_i64()
                    .filter(|i| (0..7).contains(i))
                    .ok_or_else(|| invalid("weekday must be 0-6 or a weekday constant"))?;
                Weekday {
                    weekday: u8::try_from(i).unwrap_or(0),
                    n: None,
                }
            });
        }
        // yearday/nlyearday: day of the year, as dateutil converts them.
        let yearday = int("nlyearday")?
            .map(|d| (d, false))
            .or(int("yearday")?.map(|d| (d, true)));
        if let Some((mut yday, leap)) = yearday {
            if leap && yday > 59 {
                rd.leapdays = -1;
            }
            if !leap {
                yday = yday.max(0);
            }
            const YDAY_IDX: [i64; 12] = [31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 366];
            let idx = YDAY_IDX
                .iter()
                .position(|&d| yday <= d)
                .ok_or_else(|| invalid(format!("invalid year day ({yday})")))?;
            rd.month = Some(idx as i64 + 1);
            rd.day = Some(if idx == 0 {
                yday
            } else {
                yday - YDAY_IDX[idx - 1]
            });
        }
        kwargs.assert_all_used()?;
        rd.fix();
        Ok(rd)
    }
}

/// `relativedelta(dt1, dt2)`: the calendar difference `dt1 - dt2`.
fn relativedelta_between(dt1: DateTime, dt2: DateTime) -> RelativeDelta {
    let (a, b) = (dt1.local(), dt2.local());
    let mut months = (i64::from(a.year()) - i64::from(b.year())) * 12 + i64::from(a.month())
        - i64::from(b.month());
    let shifted = |m: i64| -> Option<chrono::NaiveDateTime> {
        let rd = RelativeDelta {
            months: m % 12,
            years: m / 12,
            ..RelativeDelta::default()
        };
        apply_relativedelta(dt2, &rd, false).ok().map(|d| d.local())
    };
    let mut dtm = shifted(months).unwrap_or(b);
    let compare = |x: &chrono::NaiveDateTime| if a > b { a < *x } else { a > *x };
    while compare(&dtm) {
        months += if a > b { -1 } else { 1 };
        dtm = shifted(months).unwrap_or(b);
    }
    let delta = (a - dtm).num_microseconds().unwrap_or(0);
    let mut rd = RelativeDelta {
        years: months / 12,
        months: months % 12,
        seconds: delta.div_euclid(1_000_000),
        microseconds: delta.rem_euclid(1_000_000),
        ..RelativeDelta::default()
    };
    // dateutil: `seconds=delta.seconds + delta.days * 86400` then `_fix`.
    rd.fix();
    rd
}

/// `{:+g}` of an int, as dateutil's repr writes relative fields.
fn plus_g(n: i64) -> String {
    let body = format_float((n as f64).abs(), 'g', 6, false);
    format!("{}{body}", if n < 0 { '-' } else { '+' })
}

impl PyObject for RelativeDelta {
    fn type_name(&self) -> &'static str {
        "relativedelta"
    }
}

impl Object for RelativeDelta {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let opt = |v: Option<i64>| v.map_or(Value::from(()), Value::from);
        Some(match key.as_str()? {
            "years" => self.years.into(),
            "months" => self.months.into(),
            "days" => self.days.into(),
            "weeks" => (self.days / 7).into(),
            "leapdays" => self.leapdays.into(),
            "hours" => self.hours.into(),
            "minutes" => self.minutes.into(),
            "seconds" => self.seconds.into(),
            "microseconds" => self.microseconds.into(),
            "year" => opt(self.year),
            "month" => opt(self.month),
            "day" => opt(self.day),
            "hour" => opt(self.hour),
            "minute" => opt(self.minute),
            "second" => opt(self.second),
            "microsecond" => opt(self.microsecond),
            "weekday" => self.weekday.map_or(Value::from(()), Value::from_object),
            _ => return None,
        })
    }

    fn is_true(self: &Arc<Self>) -> bool {
        **self != RelativeDelta::default()
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "normalized" => {
                let () = from_args(args)?;
                Ok(Value::from_object((**self).clone()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        for (name, v) in [
            ("years", self.years),
            ("months", self.months),
            ("days", self.days),
            ("leapdays", self.leapdays),
            ("hours", self.hours),
            ("minutes", self.minutes),
            ("seconds", self.seconds),
            ("microseconds", self.microseconds),
        ] {
            if v != 0 {
                parts.push(format!("{name}={}", plus_g(v)));
            }
        }
        for (name, v) in [
            ("year", self.year),
            ("month", self.month),
            ("day", self.day),
        ] {
            if let Some(v) = v {
                parts.push(format!("{name}={v}"));
            }
        }
        if let Some(w) = &self.weekday {
            parts.push(format!("weekday={}", Value::from_object(*w)));
        }
        for (name, v) in [
            ("hour", self.hour),
            ("minute", self.minute),
            ("second", self.second),
            ("microsecond", self.microsecond),
        ] {
            if let Some(v) = v {
                parts.push(format!("{name}={v}"));
            }
        }
        write!(f, "relativedelta({})", parts.join(", "))
    }
}

impl Object for RelativeDeltaClass {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, _: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        Ok(Value::from_object(RelativeDelta::from_kwargs(args)?))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<class 'dateutil.relativedelta.relativedelta'>")
    }
}

pub(crate) fn month_days(year: i64, month: i64) -> i64 {
    i64::from(crate::template::pylib::datetime::days_in_month(
        year,
        u32::try_from(month).unwrap_or(1),
    ))
}

/// `dt + rd` (or `dt - rd` with `negate`) as dateutil computes it: absolute
/// fields replace, then years and months shift with the day clamped to the
/// month's length, then the days/hours/... are added as a `timedelta` (an
/// exact duration, as pendulum adds it), then the weekday jump.
pub(crate) fn apply_relativedelta(
    dt: DateTime,
    rd: &RelativeDelta,
    negate: bool,
) -> Result<DateTime, Error> {
    let negated;
    let rd = if negate {
        negated = rd.negated();
        &negated
    } else {
        rd
    };
    let out_of_range = || invalid("year is out of range");
    let l = dt.local();
    let mut year = rd
        .year
        .unwrap_or(i64::from(l.year()))
        .checked_add(rd.years)
        .ok_or_else(out_of_range)?;
    let mut month = rd.month.unwrap_or(i64::from(l.month()));
    if rd.months != 0 {
        month = month.saturating_add(rd.months);
        if month > 12 {
            year = year.saturating_add(1);
            month -= 12;
        } else if month < 1 {
            year = year.saturating_sub(1);
            month += 12;
        }
    }
    if !(1..=9999).contains(&year) {
        return Err(out_of_range());
    }
    if !(1..=12).contains(&month) {
        return Err(invalid("month must be in 1..12"));
    }
    let day = month_days(year, month).min(rd.day.unwrap_or(i64::from(l.day())));
    let u = |v: i64, what: &str| {
        u32::try_from(v).map_err(|_| invalid(format!("{what} must be in range")))
    };
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(year).map_err(|_| out_of_range())?,
        u(month, "month")?,
        u(day, "day")?,
    )
    .ok_or_else(|| invalid("day is out of range for month"))?;
    let time = chrono::NaiveTime::from_hms_micro_opt(
        u(rd.hour.unwrap_or(i64::from(l.hour())), "hour")?,
        u(rd.minute.unwrap_or(i64::from(l.minute())), "minute")?,
        u(rd.second.unwrap_or(i64::from(l.second())), "second")?,
        u(
            rd.microsecond.unwrap_or(i64::from(l.nanosecond() / 1000)),
            "microsecond",
        )?,
    )
    .ok_or_else(|| invalid("time out of range"))?;
    let replaced = DateTime::from_local(date.and_time(time), dt.zone())
        .ok_or_else(|| invalid("the local time does not exist in its timezone"))?;
    let mut days = i128::from(rd.days);
    if rd.leapdays != 0 && month > 2 && crate::template::pylib::datetime::is_leap(year) {
        days += i128::from(rd.leapdays);
    }
    // In i128: huge counts are Python's OverflowError, not a wrap.
    let micros = ((days * 24 + i128::from(rd.hours)) * 60 + i128::from(rd.minutes)) * 60_000_000
        + i128::from(rd.seconds) * 1_000_000
        + i128::from(rd.microseconds);
    let micros = i64::try_from(micros).map_err(|_| invalid("date value out of range"))?;
    let mut ret = replaced
        .add(TimeDelta { micros })
        .ok_or_else(|| invalid("date value out of range"))?;
    if let Some(w) = rd.weekday {
        let nth = w.n.unwrap_or(1);
        let current = i64::from(ret.local().weekday().num_days_from_monday());
        let target = i64::from(w.weekday);
        let mut jump = (nth.abs() - 1) * 7;
        if nth > 0 {
            jump += (7 - current + target).rem_euclid(7);
        } else {
            jump += (current - target).rem_euclid(7);
            jump = -jump;
        }
        ret = ret
            .add(TimeDelta {
                micros: jump * 86_400_000_000,
            })
            .ok_or_else(|| invalid("date value out of range"))?;
    }
    Ok(ret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> DateTime {
        DateTime::parse(s).unwrap()
    }

    #[test]
    fn relativedelta_repr_and_arithmetic() {
        let rd = |months: i64, days: i64| RelativeDelta {
            months,
            days,
            ..RelativeDelta::default()
        };
        assert_eq!(
            Value::from_object(rd(1, -1)).to_string(),
            "relativedelta(months=+1, days=-1)"
        );
        let mut big = RelativeDelta {
            days: 1_000_000,
            hours: 25,
            months: 14,
            ..RelativeDelta::default()
        };
        big.fix();
        // python: relativedelta(days=1000000, hours=25, months=14)
        assert_eq!(
            Value::from_object(big).to_string(),
            "relativedelta(years=+1, months=+2, days=+1e+06, hours=+1)"
        );
        let d = dt("2024-06-01T00:00:00+00:00");
        assert_eq!(
            apply_relativedelta(d, &rd(1, 0), false).unwrap().py_str(),
            "2024-07-01 00:00:00+00:00"
        );
        assert_eq!(
            apply_relativedelta(d, &rd(1, 1), true).unwrap().py_str(),
            "2024-04-30 00:00:00+00:00"
        );
        let jan31 = dt("2024-01-31T10:00:00+00:00");
        assert_eq!(
            apply_relativedelta(jan31, &rd(1, 0), false)
                .unwrap()
                .py_str(),
            "2024-02-29 10:00:00+00:00"
        );
        let day31 = RelativeDelta {
            day: Some(31),
            ..RelativeDelta::default()
        };
        assert_eq!(
            apply_relativedelta(d, &day31, false).unwrap().py_str(),
            "2024-06-30 00:00:00+00:00"
        );
        // relativedelta(weekday=FR(-1)) and (weekday=MO(+2)) from Sat 2024-06-01
        let wd = |weekday: u8, n: Option<i64>| RelativeDelta {
            weekday: Some(Weekday { weekday, n }),
            ..RelativeDelta::default()
        };
        assert_eq!(
            apply_relativedelta(d, &wd(4, Some(-1)), false)
                .unwrap()
                .py_str(),
            "2024-05-31 00:00:00+00:00"
        );
        assert_eq!(
            apply_relativedelta(d, &wd(0, Some(2)), false)
                .unwrap()
                .py_str(),
            "2024-06-10 00:00:00+00:00"
        );
        assert_eq!(
            apply_relativedelta(d, &wd(5, None), false)
                .unwrap()
                .py_str(),
            "2024-06-01 00:00:00+00:00"
        );
        assert_eq!(
            Value::from_object(wd(4, Some(-1))).to_string(),
            "relativedelta(weekday=FR(-1))"
        );
        // relativedelta(datetime(2024,6,1), datetime(2023,1,15,12))
        let between = relativedelta_between(d, dt("2023-01-15T12:00:00+00:00"));
        assert_eq!(
            Value::from_object(between).to_string(),
            "relativedelta(years=+1, months=+4, days=+16, hours=+12)"
        );
    }
}
