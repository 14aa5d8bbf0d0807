//! Timezone-aware date-times that format exactly as Python's `datetime` and
//! pendulum's `DateTime` do, so that templates render byte for byte as in
//! Airflow. Pure: no clock, no minijinja.

use chrono::{Datelike, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::{OffsetName, Tz};

/// The zone a date-time is shown in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    Utc,
    Named(Tz),
    Fixed(FixedOffset),
    /// A naive date-time (no `tzinfo`), as `datetime(2024, 6, 1)` makes.
    Naive,
}

/// An instant plus the zone it is displayed in (pendulum's model).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DateTime {
    utc: chrono::DateTime<Utc>,
    zone: Zone,
}

/// A signed duration in microseconds, Python's `timedelta` resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeDelta {
    pub micros: i64,
}

const DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

impl Zone {
    /// A zone by name as pendulum accepts it: `UTC`, an IANA name, or `+02:00`.
    pub fn parse(name: &str) -> Option<Zone> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("utc") || name == "Z" || name == "Etc/UTC" {
            return Some(Zone::Utc);
        }
        if let Ok(tz) = name.parse::<Tz>() {
            return Some(Zone::Named(tz));
        }
        parse_offset(name).map(Zone::Fixed)
    }

    fn offset_at(&self, utc: &chrono::DateTime<Utc>) -> FixedOffset {
        match self {
            Zone::Utc | Zone::Naive => FixedOffset::east_opt(0).expect("zero offset"),
            Zone::Named(tz) => tz.offset_from_utc_datetime(&utc.naive_utc()).fix(),
            Zone::Fixed(off) => *off,
        }
    }

    /// The name `tzinfo` prints: pendulum shows IANA names and `+HH:MM`.
    pub fn name(&self) -> String {
        match self {
            Zone::Utc => "UTC".into(),
            Zone::Named(tz) => tz.name().into(),
            // Python's `datetime.timezone(timedelta(hours=2))` prints `UTC+02:00`.
            Zone::Fixed(off) => format!("UTC{}", format_offset(off.local_minus_utc(), true)),
            Zone::Naive => "None".into(),
        }
    }
}

fn parse_offset(s: &str) -> Option<FixedOffset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits[..2].parse().ok()?;
    let m: i32 = digits[2..].parse().ok()?;
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

fn format_offset(seconds: i32, colon: bool) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.abs();
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let sep = if colon { ":" } else { "" };
    if sec != 0 {
        format!("{sign}{h:02}{sep}{m:02}{sep}{sec:02}")
    } else {
        format!("{sign}{h:02}{sep}{m:02}")
    }
}

/// A formula of [`DATE_STRINGS`].
pub type DateString = fn(&DateTime) -> String;

/// Airflow's string forms of a date, by the name of the context key and of
/// the template filter that give them (Airflow: `TaskInstance.get_template_context`,
/// `airflow.templates` filters): the one place their formulas live.
pub const DATE_STRINGS: [(&str, DateString); 5] = [
    ("ds_nodash", DateTime::ds_nodash),
    ("ds", DateTime::ds),
    ("ts", DateTime::ts),
    ("ts_nodash", DateTime::ts_nodash),
    ("ts_nodash_with_tz", DateTime::ts_nodash_with_tz),
];

impl DateTime {
    pub fn from_utc(utc: chrono::DateTime<Utc>, zone: Zone) -> DateTime {
        DateTime { utc, zone }
    }

    /// Builds a date-time from wall-clock parts in `zone` (ambiguous times take
    /// the earlier instant, as pendulum does by default).
    pub fn from_local(local: NaiveDateTime, zone: Zone) -> Option<DateTime> {
        let utc = match zone {
            Zone::Utc | Zone::Naive => Utc.from_utc_datetime(&local),
            Zone::Named(tz) => tz
                .from_local_datetime(&local)
                .earliest()?
                .with_timezone(&Utc),
            Zone::Fixed(off) => off
                .from_local_datetime(&local)
                .single()?
                .with_timezone(&Utc),
        };
        Some(DateTime { utc, zone })
    }

    /// Parses ISO 8601 as Airflow sends it: `2024-06-01T00:00:00+00:00`, with
    /// `Z`, a space, fractional seconds, or a bare date (midnight UTC). A value
    /// without an offset is UTC, as Airflow's `timezone.parse` assumes.
    pub fn parse(text: &str) -> Result<DateTime, String> {
        let s = text.trim();
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return Ok(DateTime {
                utc: Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight")),
                zone: Zone::Utc,
            });
        }
        let normalized = s.replacen(' ', "T", 1);
        if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(
            &normalized.replace("+00:00", "Z").replace('z', "Z"),
        ) {
            let zone = if dt.offset().local_minus_utc() == 0 {
                Zone::Utc
            } else {
                Zone::Fixed(*dt.offset())
            };
            return Ok(DateTime {
                utc: dt.with_timezone(&Utc),
                zone,
            });
        }
        for fmt in [
            "%Y-%m-%dT%H:%M:%S%.f%:z",
            "%Y-%m-%dT%H:%M:%S%.f%z",
            "%Y-%m-%dT%H:%M%:z",
        ] {
            if let Ok(dt) = chrono::DateTime::parse_from_str(&normalized, fmt) {
                let zone = if dt.offset().local_minus_utc() == 0 {
                    Zone::Utc
                } else {
                    Zone::Fixed(*dt.offset())
                };
                return Ok(DateTime {
                    utc: dt.with_timezone(&Utc),
                    zone,
                });
            }
        }
        for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
            if let Ok(naive) = NaiveDateTime::parse_from_str(&normalized, fmt) {
                return Ok(DateTime {
                    utc: Utc.from_utc_datetime(&naive),
                    zone: Zone::Utc,
                });
            }
        }
        Err(format!(
            "`{text}` is not an ISO 8601 date-time (expected e.g. 2024-06-01T00:00:00+00:00)"
        ))
    }

    pub fn zone(&self) -> Zone {
        self.zone
    }

    pub fn is_naive(&self) -> bool {
        self.zone == Zone::Naive
    }

    /// Parses as Python's `datetime.fromisoformat`: naive without an offset.
    pub fn parse_python(text: &str) -> Result<DateTime, String> {
        let parsed = DateTime::parse(text)?;
        let t = text.trim();
        let has_offset = t.ends_with('Z') || t.ends_with('z') || {
            let time = t.split(['T', ' ']).nth(1).unwrap_or("");
            time.contains('+') || time.contains('-')
        };
        Ok(if has_offset {
            parsed
        } else {
            DateTime {
                utc: parsed.utc,
                zone: Zone::Naive,
            }
        })
    }

    pub fn utc(&self) -> chrono::DateTime<Utc> {
        self.utc
    }

    /// Wall-clock time in the display zone.
    pub fn local(&self) -> NaiveDateTime {
        self.utc.naive_utc() + self.offset()
    }

    pub fn offset(&self) -> FixedOffset {
        self.zone.offset_at(&self.utc)
    }

    pub fn in_zone(&self, zone: Zone) -> DateTime {
        DateTime {
            utc: self.utc,
            zone,
        }
    }

    pub fn add(&self, delta: TimeDelta) -> Option<DateTime> {
        let utc = self
            .utc
            .checked_add_signed(chrono::TimeDelta::microseconds(delta.micros))?;
        Some(DateTime {
            utc,
            zone: self.zone,
        })
    }

    /// `self - other` as Python computes it for aware date-times.
    pub fn since(&self, other: &DateTime) -> TimeDelta {
        TimeDelta {
            micros: (self.utc - other.utc)
                .num_microseconds()
                .unwrap_or(i64::MAX),
        }
    }

    pub fn timestamp(&self) -> f64 {
        self.utc.timestamp() as f64 + f64::from(self.utc.timestamp_subsec_micros()) / 1e6
    }

    /// Python's `isoformat(sep)`: microseconds only when non-zero.
    pub fn isoformat(&self, sep: char) -> String {
        let l = self.local();
        let mut out = format!(
            "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
            l.year(),
            l.month(),
            l.day(),
            l.hour(),
            l.minute(),
            l.second()
        );
        let micros = l.nanosecond() / 1000;
        if micros != 0 {
            out.push_str(&format!(".{micros:06}"));
        }
        if !self.is_naive() {
            out.push_str(&format_offset(self.offset().local_minus_utc(), true));
        }
        out
    }

    /// `isoformat(sep, timespec)` with Python's timespecs.
    pub fn isoformat_spec(&self, sep: char, timespec: &str) -> Option<String> {
        let l = self.local();
        let micros = l.nanosecond() / 1000;
        let time = match timespec {
            "auto" => return Some(self.isoformat(sep)),
            "hours" => format!("{:02}", l.hour()),
            "minutes" => format!("{:02}:{:02}", l.hour(), l.minute()),
            "seconds" => format!("{:02}:{:02}:{:02}", l.hour(), l.minute(), l.second()),
            "milliseconds" => format!(
                "{:02}:{:02}:{:02}.{:03}",
                l.hour(),
                l.minute(),
                l.second(),
                micros / 1000
            ),
            "microseconds" => format!(
                "{:02}:{:02}:{:02}.{micros:06}",
                l.hour(),
                l.minute(),
                l.second()
            ),
            _ => return None,
        };
        let mut out = format!("{:04}-{:02}-{:02}{sep}{time}", l.year(), l.month(), l.day());
        if !self.is_naive() {
            out.push_str(&format_offset(self.offset().local_minus_utc(), true));
        }
        Some(out)
    }

    /// `str(dt)` of pendulum 3 (Airflow ≥ 2.8 ships it): isoformat with a space.
    pub fn py_str(&self) -> String {
        self.isoformat(' ')
    }

    /// `ds`: the date as `YYYY-MM-DD`.
    pub fn ds(&self) -> String {
        self.strftime("%Y-%m-%d")
    }

    /// `ds_nodash`: `YYYYMMDD`.
    pub fn ds_nodash(&self) -> String {
        self.strftime("%Y%m%d")
    }

    /// `ts`: isoformat with a `T`.
    pub fn ts(&self) -> String {
        self.isoformat('T')
    }

    /// `ts_nodash`: `YYYYMMDDTHHMMSS`, no offset.
    pub fn ts_nodash(&self) -> String {
        self.strftime("%Y%m%dT%H%M%S")
    }

    /// `ts_nodash_with_tz`: `ts` without `-` and `:`.
    pub fn ts_nodash_with_tz(&self) -> String {
        self.ts().replace(['-', ':'], "")
    }

    /// Python's `tzname()`: `UTC`, the zone's abbreviation (`CEST`), or `+02:00`.
    pub fn tzname(&self) -> String {
        match self.zone {
            Zone::Utc => "UTC".into(),
            Zone::Named(tz) => tz
                .offset_from_utc_datetime(&self.utc.naive_utc())
                .abbreviation()
                .unwrap_or("")
                .to_string(),
            Zone::Fixed(off) => format!("UTC{}", format_offset(off.local_minus_utc(), true)),
            Zone::Naive => String::new(),
        }
    }

    /// Python's `strftime` on Linux (glibc, C locale), including Python's own
    /// `%f`, `%z`, `%:z` and `%Z`.
    pub fn strftime(&self, fmt: &str) -> String {
        let l = self.local();
        let mut out = String::with_capacity(fmt.len() + 16);
        let mut chars = fmt.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            // glibc flags: `-` no padding, `_` space padding, `0` zero padding.
            let mut pad: Option<char> = None;
            if let Some(&f) = chars.peek()
                && matches!(f, '-' | '_' | '0' | '^' | '#')
            {
                pad = Some(f);
                chars.next();
            }
            let Some(d) = chars.next() else {
                out.push('%');
                break;
            };
            let num = |n: i64, width: usize, default_pad: char| -> String {
                match pad {
                    Some('-') => n.to_string(),
                    Some('_') => format!("{n:>width$}"),
                    Some('0') => format!("{n:0width$}"),
                    _ if default_pad == ' ' => format!("{n:>width$}"),
                    _ => format!("{n:0width$}"),
                }
            };
            let upper = |s: String| {
                if pad == Some('^') {
                    s.to_uppercase()
                } else {
                    s
                }
            };
            let wd = l.weekday().num_days_from_monday() as usize;
            let hour12 = if l.hour().is_multiple_of(12) {
                12
            } else {
                l.hour() % 12
            };
            match d {
                'a' => out.push_str(&upper(DAY_NAMES[wd][..3].to_string())),
                'A' => out.push_str(&upper(DAY_NAMES[wd].to_string())),
                'w' => out.push_str(&l.weekday().num_days_from_sunday().to_string()),
                'u' => out.push_str(&l.weekday().number_from_monday().to_string()),
                'd' => out.push_str(&num(l.day().into(), 2, '0')),
                'e' => out.push_str(&num(l.day().into(), 2, ' ')),
                'b' | 'h' => {
                    out.push_str(&upper(MONTH_NAMES[l.month0() as usize][..3].to_string()))
                }
                'B' => out.push_str(&upper(MONTH_NAMES[l.month0() as usize].to_string())),
                'm' => out.push_str(&num(l.month().into(), 2, '0')),
                'y' => out.push_str(&num(i64::from(l.year().rem_euclid(100)), 2, '0')),
                'Y' => out.push_str(&num(l.year().into(), 1, '0')),
                'C' => out.push_str(&num(i64::from(l.year().div_euclid(100)), 2, '0')),
                'G' => out.push_str(&num(l.iso_week().year().into(), 1, '0')),
                'g' => out.push_str(&num(i64::from(l.iso_week().year().rem_euclid(100)), 2, '0')),
                'V' => out.push_str(&num(l.iso_week().week().into(), 2, '0')),
                'H' => out.push_str(&num(l.hour().into(), 2, '0')),
                'k' => out.push_str(&num(l.hour().into(), 2, ' ')),
                'I' => out.push_str(&num(hour12.into(), 2, '0')),
                'l' => out.push_str(&num(hour12.into(), 2, ' ')),
                'p' => out.push_str(if l.hour() < 12 { "AM" } else { "PM" }),
                'P' => out.push_str(if l.hour() < 12 { "am" } else { "pm" }),
                'M' => out.push_str(&num(l.minute().into(), 2, '0')),
                'S' => out.push_str(&num(l.second().into(), 2, '0')),
                'f' => out.push_str(&format!("{:06}", l.nanosecond() / 1000)),
                'z' if self.is_naive() => {}
                'z' => out.push_str(&format_offset(self.offset().local_minus_utc(), false)),
                ':' if chars.peek() == Some(&'z') => {
                    chars.next();
                    if !self.is_naive() {
                        out.push_str(&format_offset(self.offset().local_minus_utc(), true));
                    }
                }
                'Z' => out.push_str(&self.tzname()),
                'j' => out.push_str(&num(l.ordinal().into(), 3, '0')),
                'U' => {
                    let week = (l.ordinal0() + 7 - l.weekday().num_days_from_sunday()) / 7;
                    out.push_str(&num(week.into(), 2, '0'));
                }
                'W' => {
                    let week = (l.ordinal0() + 7 - l.weekday().num_days_from_monday()) / 7;
                    out.push_str(&num(week.into(), 2, '0'));
                }
                's' => out.push_str(&self.utc.timestamp().to_string()),
                'c' => out.push_str(&self.strftime("%a %b %e %H:%M:%S %Y")),
                'x' | 'D' => out.push_str(&self.strftime("%m/%d/%y")),
                'X' | 'T' => out.push_str(&self.strftime("%H:%M:%S")),
                'F' => out.push_str(&self.strftime("%Y-%m-%d")),
                'R' => out.push_str(&self.strftime("%H:%M")),
                'r' => out.push_str(&self.strftime("%I:%M:%S %p")),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                '%' => out.push('%'),
                other => {
                    // glibc prints unknown directives as written.
                    out.push('%');
                    if let Some(p) = pad {
                        out.push(p);
                    }
                    out.push(other);
                }
            }
        }
        out
    }
}

impl TimeDelta {
    pub fn from_parts(
        days: f64,
        seconds: f64,
        micros: f64,
        millis: f64,
        minutes: f64,
        hours: f64,
        weeks: f64,
    ) -> TimeDelta {
        let total = weeks * 7.0 * 86_400e6
            + days * 86_400e6
            + hours * 3_600e6
            + minutes * 60e6
            + seconds * 1e6
            + millis * 1e3
            + micros;
        TimeDelta {
            micros: total.round() as i64,
        }
    }

    pub fn days(&self) -> i64 {
        self.micros.div_euclid(86_400_000_000)
    }

    pub fn seconds(&self) -> i64 {
        self.micros.rem_euclid(86_400_000_000) / 1_000_000
    }

    pub fn microseconds(&self) -> i64 {
        self.micros.rem_euclid(1_000_000)
    }

    pub fn total_seconds(&self) -> f64 {
        self.micros as f64 / 1e6
    }

    /// `str(timedelta)`: `1 day, 2:03:04.000005`, `-1 day, 23:59:59`.
    pub fn py_str(&self) -> String {
        let days = self.days();
        let secs = self.seconds();
        let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
        let mut out = String::new();
        if days != 0 {
            let plural = if days.abs() != 1 { "s" } else { "" };
            out.push_str(&format!("{days} day{plural}, "));
        }
        out.push_str(&format!("{h}:{m:02}:{s:02}"));
        if self.microseconds() != 0 {
            out.push_str(&format!(".{:06}", self.microseconds()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> DateTime {
        DateTime::parse(s).unwrap()
    }

    #[test]
    fn parses_airflow_forms() {
        for s in [
            "2024-06-01T00:00:00+00:00",
            "2024-06-01T00:00:00Z",
            "2024-06-01",
            "2024-06-01 00:00:00+00:00",
            "2024-06-01T00:00:00",
        ] {
            assert_eq!(dt(s).isoformat('T'), "2024-06-01T00:00:00+00:00", "{s}");
        }
        assert_eq!(
            dt("2023-05-08T19:34:56.205505+00:00").isoformat('T'),
            "2023-05-08T19:34:56.205505+00:00"
        );
        assert_eq!(
            dt("2024-06-01T02:00:00+02:00").isoformat('T'),
            "2024-06-01T02:00:00+02:00"
        );
        assert!(DateTime::parse("yesterday").is_err());
    }

    #[test]
    fn strftime_matches_python() {
        let d = dt("2024-12-30T19:04:05.000123+00:00");
        assert_eq!(d.strftime("%Y-%m-%d"), "2024-12-30");
        assert_eq!(d.strftime("%Y%m%dT%H%M%S"), "20241230T190405");
        assert_eq!(
            d.strftime("%a %A %b %B %p %I"),
            "Mon Monday Dec December PM 07"
        );
        assert_eq!(
            d.strftime("%j %U %W %f %z %Z"),
            "365 52 53 000123 +0000 UTC"
        );
        assert_eq!(d.strftime("%-d/%-m %e %%"), "30/12 30 %");
        assert_eq!(d.strftime("%G-W%V-%u"), "2025-W01-1");
        assert_eq!(
            dt("2024-01-01T00:00:00+00:00").strftime("%U %W %j"),
            "00 01 001"
        );
    }

    #[test]
    fn zones_and_str() {
        let d = dt("2024-03-31T00:30:00+00:00");
        let ams = d.in_zone(Zone::parse("Europe/Amsterdam").unwrap());
        assert_eq!(ams.isoformat('T'), "2024-03-31T01:30:00+01:00");
        assert_eq!(ams.tzname(), "CET");
        let later = ams
            .add(TimeDelta {
                micros: 3_600_000_000,
            })
            .unwrap();
        assert_eq!(later.py_str(), "2024-03-31 03:30:00+02:00");
        assert_eq!(later.tzname(), "CEST");
    }

    #[test]
    fn timedelta_str() {
        assert_eq!(
            TimeDelta::from_parts(1.0, 3.0, 5.0, 0.0, 2.0, 0.0, 0.0).py_str(),
            "1 day, 0:02:03.000005"
        );
        assert_eq!(
            TimeDelta { micros: -1_000_000 }.py_str(),
            "-1 day, 23:59:59"
        );
        assert_eq!(
            TimeDelta::from_parts(2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0).py_str(),
            "2 days, 0:00:00"
        );
    }
}
