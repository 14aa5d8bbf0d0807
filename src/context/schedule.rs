//! A DAG's cron schedule, for Airflow 2's `prev_ds`/`next_ds` (the previous
//! and next schedule around the logical date) and `dag.timetable.summary`.
//! Cron presets and five-field expressions, evaluated in UTC.

use chrono::{Datelike, NaiveDate, NaiveDateTime};

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    day_restricted: bool,
    weekday_restricted: bool,
    expression: String,
}

impl Cron {
    /// Parses a cron expression or an Airflow preset; `None` for anything else
    /// (`None`, `@once`, a timedelta, a dataset schedule).
    pub(super) fn parse(schedule: &str) -> Option<Cron> {
        let expr = match schedule.trim() {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@quarterly" => "0 0 1 */3 *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            other => other,
        };
        let fields: Vec<&str> = expr.split_whitespace().collect();
        if fields.len() != 5 {
            return None;
        }
        let weekdays = field(fields[4], 0, 7)?;
        let mut wd = weekdays.clone();
        wd[0] = wd[0] || wd[7]; // 7 is Sunday too
        wd.truncate(7);
        Some(Cron {
            minutes: field(fields[0], 0, 59)?,
            hours: field(fields[1], 0, 23)?,
            days: field(fields[2], 1, 31)?,
            months: field(fields[3], 1, 12)?,
            weekdays: wd,
            day_restricted: fields[2] != "*",
            weekday_restricted: fields[4] != "*",
            expression: expr.to_string(),
        })
    }

    /// What Airflow 2's `dag.timetable.summary` shows for it.
    pub(super) fn summary(&self) -> &str {
        &self.expression
    }

    fn day_matches(&self, d: NaiveDate) -> bool {
        if !self.months[d.month() as usize] {
            return false;
        }
        let dom = self.days[d.day() as usize];
        let dow = self.weekdays[d.weekday().num_days_from_sunday() as usize];
        // Cron: when both are restricted, either one matching is enough.
        match (self.day_restricted, self.weekday_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    fn times(&self) -> impl DoubleEndedIterator<Item = (u32, u32)> + '_ {
        (0..24u32)
            .filter(|h| self.hours[*h as usize])
            .flat_map(move |h| {
                (0..60u32)
                    .filter(|m| self.minutes[*m as usize])
                    .map(move |m| (h, m))
            })
    }

    /// The last fire time strictly before `t`.
    pub(super) fn prev_before(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut day = t.date();
        for _ in 0..366 * 5 {
            if self.day_matches(day) {
                for (h, m) in self.times().rev() {
                    let candidate = day.and_hms_opt(h, m, 0)?;
                    if candidate < t {
                        return Some(candidate);
                    }
                }
            }
            day = day.pred_opt()?;
        }
        None
    }

    /// The first fire time strictly after `t`.
    pub(super) fn next_after(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut day = t.date();
        for _ in 0..366 * 5 {
            if self.day_matches(day) {
                for (h, m) in self.times() {
                    let candidate = day.and_hms_opt(h, m, 0)?;
                    if candidate > t {
                        return Some(candidate);
                    }
                }
            }
            day = day.succ_opt()?;
        }
        None
    }
}

/// One cron field as a table of allowed values: `*`, `5`, `1-5`, `*/15`,
/// `1,3,5`, `10-20/5`; names (`MON`, `JAN`) are accepted.
fn field(text: &str, min: u32, max: u32) -> Option<Vec<bool>> {
    let mut allowed = vec![false; max as usize + 1];
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            (v, if part.contains('/') { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return None;
        }
        for v in (lo..=hi).step_by(step as usize) {
            allowed[v as usize] = true;
        }
    }
    Some(allowed)
}

fn value(text: &str) -> Option<u32> {
    const NAMES: [&str; 19] = [
        "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "JAN", "FEB", "MAR", "APR", "MAY", "JUN",
        "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    if let Ok(n) = text.parse() {
        return Some(n);
    }
    let up = text.to_ascii_uppercase();
    let i = NAMES.iter().position(|n| *n == up)? as u32;
    Some(if i < 7 { i } else { i - 6 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn weekday_schedule_skips_the_weekend() {
        let c = Cron::parse("30 6 * * 1-5").unwrap();
        assert_eq!(
            c.prev_before(at("2024-06-03 06:30")),
            Some(at("2024-05-31 06:30"))
        );
        assert_eq!(
            c.next_after(at("2024-06-03 06:30")),
            Some(at("2024-06-04 06:30"))
        );
    }

    #[test]
    fn presets() {
        let c = Cron::parse("@daily").unwrap();
        assert_eq!(c.summary(), "0 0 * * *");
        assert_eq!(
            c.prev_before(at("2024-06-01 00:00")),
            Some(at("2024-05-31 00:00"))
        );
        assert_eq!(
            Cron::parse("@monthly")
                .unwrap()
                .next_after(at("2024-01-31 00:00")),
            Some(at("2024-02-01 00:00"))
        );
        assert!(Cron::parse("@once").is_none());
        assert!(Cron::parse("61 * * * *").is_none());
    }
}
