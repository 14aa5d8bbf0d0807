//! pendulum 3's own behaviour on its `DateTime`: `add`/`subtract`, `start_of`/`end_of`,
//! `format()` tokens, `diff_for_humans`, and the `Interval` one DateTime minus another gives.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};
use minijinja::value::{Kwargs, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

use crate::context::{DateTime, TimeDelta, Zone};
use crate::template::pylib::datetime::DateTimeObj;
use crate::template::pyvalue::invalid;

use crate::template::pylib::datetime::{add_months, out_of_range};
use crate::template::pylib::dateutil::month_days;
use crate::template::pylib::time::now_utc;
use std::fmt;

/// pendulum's `add`: calendar units (years, months, weeks, days) move the wall
/// clock, keeping the time of day across a DST change; hours and smaller are
/// absolute.
pub(crate) fn pendulum_add(dt: DateTime, kwargs: &Kwargs, negate: bool) -> Result<DateTime, Error> {
    let sign = if negate { -1 } else { 1 };
    let int = |k: &str| -> Result<i64, Error> {
        kwargs
            .get::<Option<i64>>(k)?
            .unwrap_or(0)
            .checked_mul(sign)
            .ok_or_else(out_of_range)
    };
    let float = |k: &str| -> Result<f64, Error> {
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

pub(crate) fn start_or_end_of(dt: DateTime, unit: &str, end: bool) -> Result<DateTime, Error> {
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

/// pendulum's `format()` tokens (the common part; `[text]` is literal).
pub(crate) fn pendulum_format(dt: DateTime, fmt: &str) -> String {
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

/// pendulum's `Interval`: what one pendulum DateTime minus another gives.
#[derive(Debug, Clone)]
pub(crate) struct IntervalObj {
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
    ) -> Result<Value, Error> {
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
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
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

/// pendulum's `precise_diff` between `a <= b`: calendar years, months, days,
/// hours, minutes, seconds.
fn precise_diff(a: chrono::NaiveDateTime, b: chrono::NaiveDateTime) -> [i64; 6] {
    let mut year = i64::from(b.year()) - i64::from(a.year());
    let mut month = i64::from(b.month()) - i64::from(a.month());
    let mut day = i64::from(b.day()) - i64::from(a.day());
    let mut hour = i64::from(b.hour()) - i64::from(a.hour());
    let mut minute = i64::from(b.minute()) - i64::from(a.minute());
    let mut second = i64::from(b.second()) - i64::from(a.second());
    let micro = i64::from(b.nanosecond() / 1000) - i64::from(a.nanosecond() / 1000);
    if micro < 0 {
        second -= 1;
    }
    if second < 0 {
        second += 60;
        minute -= 1;
    }
    if minute < 0 {
        minute += 60;
        hour -= 1;
    }
    if hour < 0 {
        hour += 24;
        day -= 1;
    }
    if day < 0 {
        let (py, pm) = if b.month() == 1 {
            (i64::from(b.year()) - 1, 12)
        } else {
            (i64::from(b.year()), i64::from(b.month()) - 1)
        };
        let days_in_last_month = month_days(py, pm);
        let days_in_month = month_days(i64::from(b.year()), i64::from(b.month()));
        if day < days_in_month - days_in_last_month {
            if days_in_last_month < i64::from(a.day()) {
                day += i64::from(a.day());
            } else {
                day += days_in_last_month;
            }
        } else if day == days_in_month - days_in_last_month {
            day = 0;
            month += 1;
        } else {
            day += days_in_last_month;
        }
        month -= 1;
    }
    if month < 0 {
        month += 12;
        year -= 1;
    }
    [year, month, day, hour, minute, second]
}

/// Airflow's `macros.datetime_diff_for_humans(dt, since)`: pendulum 3's
/// `diff_for_humans(since)` in English ("3 days before", "1 day after",
/// "in 2 hours", "a few seconds ago").
pub(crate) fn datetime_diff_for_humans(dt: DateTime, since: Option<DateTime>) -> String {
    let is_now = since.is_none();
    let other = since.unwrap_or_else(|| DateTime::from_utc(now_utc(), Zone::Utc));
    // Interval(self, other): inverted when self is later.
    let invert = dt.utc() > other.utc();
    let (start, end) = if invert { (other, dt) } else { (dt, other) };
    let (a, b) = if start.zone() == end.zone() {
        (start.local(), end.local())
    } else {
        (start.utc().naive_utc(), end.utc().naive_utc())
    };
    let [years, months, days, hours, minutes, seconds] = precise_diff(a, b);
    let (weeks, remaining_days) = (days / 7, days % 7);
    let (unit, mut count) = if years > 0 {
        ("year", years + i64::from(months > 6))
    } else if months == 11 && weeks * 7 + remaining_days > 15 {
        ("year", 1)
    } else if months > 0 {
        (
            "month",
            months + i64::from(weeks * 7 + remaining_days >= 27),
        )
    } else if weeks > 0 {
        ("week", weeks + i64::from(remaining_days > 3))
    } else if remaining_days > 0 {
        ("day", remaining_days + i64::from(hours >= 22))
    } else if hours > 0 {
        ("hour", hours)
    } else if minutes > 0 {
        ("minute", minutes)
    } else if (11..=59).contains(&seconds) {
        ("second", seconds)
    } else {
        let time = "a few seconds";
        return match (is_now, invert) {
            (true, true) => format!("in {time}"),
            (true, false) => format!("{time} ago"),
            (false, true) => format!("{time} after"),
            (false, false) => format!("{time} before"),
        };
    };
    if count == 0 {
        count = 1;
    }
    let units = if count == 1 {
        format!("{count} {unit}")
    } else {
        format!("{count} {unit}s")
    };
    match (is_now, invert) {
        (true, true) => format!("in {units}"),
        (true, false) => format!("{units} ago"),
        (false, true) => format!("{units} after"),
        (false, false) => format!("{units} before"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> DateTime {
        DateTime::parse(s).unwrap()
    }

    #[test]
    fn diff_for_humans_matches_pendulum() {
        let d = dt("2024-06-01T00:00:00+00:00");
        let plus = |micros: i64| d.add(TimeDelta { micros }).unwrap();
        const H: i64 = 3_600_000_000;
        assert_eq!(
            datetime_diff_for_humans(d, Some(plus(72 * H))),
            "3 days before"
        );
        assert_eq!(
            datetime_diff_for_humans(plus(24 * H), Some(d)),
            "1 day after"
        );
        assert_eq!(
            datetime_diff_for_humans(d, Some(plus(5 * H))),
            "5 hours before"
        );
        assert_eq!(
            datetime_diff_for_humans(d, Some(plus(5_000_000))),
            "a few seconds before"
        );
        assert_eq!(
            datetime_diff_for_humans(d, Some(plus(30_000_000))),
            "30 seconds before"
        );
        assert_eq!(
            datetime_diff_for_humans(d, Some(plus(10 * 24 * H))),
            "1 week before"
        );
        assert_eq!(
            datetime_diff_for_humans(d, Some(plus(12 * 24 * H))),
            "2 weeks before"
        );
        assert_eq!(
            datetime_diff_for_humans(plus(400 * 24 * H), Some(d)),
            "1 year after"
        );
        assert_eq!(
            datetime_diff_for_humans(plus(60 * 24 * H), Some(d)),
            "2 months after"
        );
    }
}
