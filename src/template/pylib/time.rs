//! Python's `time` module as `macros.time`: `time()`, `gmtime`, `localtime`, `strftime`, `struct_time`.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, Timelike};
use minijinja::value::{Object, ObjectRepr, Value, from_args};
use minijinja::{Error, State};

use crate::context::{DateTime, Zone};
use crate::template::pylib::unknown_method;
use crate::template::pyvalue::PyObject;
use crate::template::pyvalue::{invalid, is_sequence, type_name};

#[derive(Debug)]
pub(crate) struct TimeModule;

/// A `time.struct_time` (UTC: `gmtime`, and `localtime` in a container whose
/// zone is UTC).
#[derive(Debug, Clone)]
pub(crate) struct StructTime(pub chrono::NaiveDateTime);

const STRUCT_FIELDS: [&str; 9] = [
    "tm_year", "tm_mon", "tm_mday", "tm_hour", "tm_min", "tm_sec", "tm_wday", "tm_yday", "tm_isdst",
];

impl StructTime {
    fn fields(&self) -> [i64; 9] {
        let t = self.0;
        [
            i64::from(t.year()),
            i64::from(t.month()),
            i64::from(t.day()),
            i64::from(t.hour()),
            i64::from(t.minute()),
            i64::from(t.second()),
            i64::from(t.weekday().num_days_from_monday()),
            i64::from(t.ordinal()),
            0,
        ]
    }
}

impl PyObject for StructTime {
    fn type_name(&self) -> &'static str {
        "struct_time"
    }
}

impl Object for StructTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let fields = self.fields();
        if let Some(i) = key.as_i64() {
            let i = if i < 0 { i + 9 } else { i };
            return fields
                .get(usize::try_from(i).ok()?)
                .map(|v| Value::from(*v));
        }
        match key.as_str()? {
            "tm_zone" => Some("UTC".into()),
            "tm_gmtoff" => Some(0.into()),
            name => STRUCT_FIELDS
                .iter()
                .position(|f| *f == name)
                .map(|i| Value::from(fields[i])),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("time.struct_time(")?;
        for (i, (name, v)) in STRUCT_FIELDS.iter().zip(self.fields()).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name}={v}")?;
        }
        f.write_str(")")
    }
}

pub(crate) fn now_utc() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

fn struct_time_arg(v: Option<Value>) -> Result<chrono::NaiveDateTime, Error> {
    match v {
        None => Ok(now_utc().naive_utc()),
        Some(v) if v.is_none() => Ok(now_utc().naive_utc()),
        Some(v) => {
            if let Some(st) = v.downcast_object_ref::<StructTime>() {
                return Ok(st.0);
            }
            if is_sequence(&v) {
                let parts: Vec<i64> = v.try_iter()?.map(|x| x.as_i64().unwrap_or(0)).collect();
                if parts.len() == 9 {
                    let u = |x: i64| u32::try_from(x).unwrap_or(0);
                    let date = NaiveDate::from_ymd_opt(
                        i32::try_from(parts[0]).unwrap_or(1970),
                        u(parts[1]),
                        u(parts[2]),
                    )
                    .ok_or_else(|| invalid("day of month out of range"))?;
                    return date
                        .and_hms_opt(u(parts[3]), u(parts[4]), u(parts[5]))
                        .ok_or_else(|| invalid("time out of range"));
                }
            }
            Err(invalid("Tuple or struct_time argument required"))
        }
    }
}

fn gmtime(secs: Option<Value>) -> Result<chrono::NaiveDateTime, Error> {
    let Some(secs) = secs.filter(|v| !v.is_none()) else {
        return Ok(now_utc().naive_utc());
    };
    let f = f64::try_from(secs.clone()).map_err(|_| {
        invalid(format!(
            "'{}' object cannot be interpreted as an integer",
            type_name(&secs)
        ))
    })?;
    // Python floors the seconds (a negative fraction goes to the earlier second).
    let whole = f.floor();
    if !whole.is_finite() || whole.abs() > 1e14 {
        return Err(invalid("timestamp out of range for platform time_t"));
    }
    chrono::DateTime::from_timestamp(whole as i64, 0)
        .map(|d| d.naive_utc())
        .ok_or_else(|| invalid("timestamp out of range for platform time_t"))
}

impl Object for TimeModule {
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
            "time" => {
                let () = from_args(args)?;
                let now = now_utc();
                Ok(Value::from(
                    now.timestamp() as f64 + f64::from(now.timestamp_subsec_micros()) / 1e6,
                ))
            }
            "time_ns" => {
                let () = from_args(args)?;
                Ok(Value::from(now_utc().timestamp_nanos_opt().unwrap_or(0)))
            }
            "gmtime" | "localtime" => {
                let (secs,): (Option<Value>,) = from_args(args)?;
                Ok(Value::from_object(StructTime(gmtime(secs)?)))
            }
            "strftime" => {
                let (fmt, t): (&str, Option<Value>) = from_args(args)?;
                let t = struct_time_arg(t)?;
                let dt = DateTime::from_local(t, Zone::Utc)
                    .ok_or_else(|| invalid("date out of range"))?;
                // A struct_time from gmtime names its zone GMT.
                let mut fixed = String::with_capacity(fmt.len());
                let mut chars = fmt.chars();
                while let Some(c) = chars.next() {
                    match (c, c == '%') {
                        (_, true) => match chars.next() {
                            Some('Z') => fixed.push_str("GMT"),
                            Some(d) => {
                                fixed.push('%');
                                fixed.push(d);
                            }
                            None => fixed.push('%'),
                        },
                        _ => fixed.push(c),
                    }
                }
                Ok(dt.strftime(&fixed).into())
            }
            "mktime" | "timegm" => {
                let (t,): (Value,) = from_args(args)?;
                let t = struct_time_arg(Some(t))?;
                let secs = t.and_utc().timestamp();
                Ok(if method == "mktime" {
                    Value::from(secs as f64)
                } else {
                    Value::from(secs)
                })
            }
            other => Err(unknown_method("time", other)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<module 'time' (built-in)>")
    }
}
