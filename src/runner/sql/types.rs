//! Database values to JSON text, lossless: each column gets a decoder chosen
//! once from its type, and every value is written straight into the output
//! buffer, with no intermediate `serde_json::Value`.
//!
//! PostgreSQL values arrive in the binary wire format and are decoded here by
//! hand (numeric digits, dates counted from 2000-01-01, array headers), so any
//! precision and any array depth survive. MySQL values go through sqlx's
//! decoders; SQLite values follow their storage class, as Python's `sqlite3`
//! returns them (Airflow: providers/sqlite `SqliteHook`, no `detect_types`).
//!
//! | database type | JSON |
//! |---|---|
//! | integers, `oid`, MySQL `YEAR`/`BIT` | number |
//! | `real`/`double`/`float` | number; NaN and ±Infinity as the strings `"NaN"`, `"Infinity"`, `"-Infinity"` |
//! | `numeric`/`decimal` | number, every digit kept (`1.50` stays `1.50`); PostgreSQL NaN/±Infinity as strings |
//! | `bool` | `true`/`false` (MySQL `BOOLEAN` is `TINYINT(1)`: a number) |
//! | text types, enums, `citext`, `xml`, `name`, MySQL `ENUM`/`SET` | string |
//! | `date` | `"2024-06-01"` |
//! | `time`, `timetz` | `"13:45:00"`, `"13:45:00.250000+02:00"` (MySQL `TIME` may exceed 24 h: `"-838:59:59"`) |
//! | `timestamp`, MySQL `DATETIME` | `"2024-06-01T13:45:00"` (ISO 8601, microseconds when non-zero) |
//! | `timestamptz`, MySQL `TIMESTAMP` | `"2024-06-01T13:45:00+00:00"` (UTC) |
//! | `interval` | ISO 8601 duration `"P1Y2M3DT4H5M6.5S"` |
//! | `uuid` | `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"` |
//! | `json`, `jsonb`, MySQL `JSON` | the JSON value itself, nested |
//! | `bytea`, SQLite blobs | base64 string |
//! | MySQL `BLOB`/`BINARY`/`VARBINARY` | base64 string, or the text itself when it is valid UTF-8 (MySQL marks `*_bin` text columns and MariaDB `JSON` as binary too) |
//! | `inet`/`cidr`, `macaddr` | string as PostgreSQL prints it |
//! | arrays (any dimension) | nested JSON arrays |
//! | `void` (e.g. `pg_sleep`), NULL | `null` |
//! | ±infinity dates/timestamps | `"infinity"`, `"-infinity"` |

use std::io::Write;

use base64::Engine;
use chrono::{Duration, NaiveDate, NaiveDateTime};
use sqlx::postgres::{PgTypeInfo, PgTypeKind};
use sqlx::{Decode, TypeInfo, ValueRef};

type Fail = String;

fn write_str(out: &mut Vec<u8>, s: &str) {
    // Most values need no escaping: copy them as they are (the hot path of
    // a million-row result); otherwise serde_json escapes to strict JSON.
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// `v` (< 10^width) zero-padded to `width` digits.
fn write_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut v = v;
    for i in (0..width).rev() {
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&buf[..width]);
}

/// Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u64, u64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe as i64 + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Microseconds since 2000-01-01 as `"YYYY-MM-DDTHH:MM:SS[.ffffff]"` plus
/// `suffix`, written directly; `false` for years outside 1..=9999.
fn write_timestamp(out: &mut Vec<u8>, micros: i64, suffix: &[u8]) -> bool {
    const DAY: i64 = 86_400_000_000;
    let days = micros.div_euclid(DAY) + 10_957;
    let of_day = micros.rem_euclid(DAY) as u64;
    let (y, m, d) = civil_from_days(days);
    if !(1..=9999).contains(&y) {
        return false;
    }
    let secs = of_day / 1_000_000;
    let frac = of_day % 1_000_000;
    out.push(b'"');
    write_padded(out, y as u64, 4);
    out.push(b'-');
    write_padded(out, m, 2);
    out.push(b'-');
    write_padded(out, d, 2);
    out.push(b'T');
    write_padded(out, secs / 3600, 2);
    out.push(b':');
    write_padded(out, (secs / 60) % 60, 2);
    out.push(b':');
    write_padded(out, secs % 60, 2);
    if frac != 0 {
        out.push(b'.');
        write_padded(out, frac, 6);
    }
    out.extend_from_slice(suffix);
    out.push(b'"');
    true
}

fn write_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        });
    } else {
        let _ = serde_json::to_writer(&mut *out, &v);
    }
}

fn write_f32(out: &mut Vec<u8>, v: f32) {
    if v.is_finite() {
        // The shortest text that reads back as this f32 (PostgreSQL prints `real` so too).
        let _ = serde_json::to_writer(&mut *out, &v);
    } else {
        write_f64(out, f64::from(v));
    }
}

fn write_int(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(
        base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .as_bytes(),
    );
    out.push(b'"');
}

/// `.ffffff` when there are microseconds, as Python's `isoformat()` writes them.
fn push_micros(s: &mut String, micros: i64) {
    if micros != 0 {
        s.push_str(&format!(".{micros:06}"));
    }
}

/// PostgreSQL's binary epoch for dates and timestamps: 2000-01-01 00:00.
pub(super) fn epoch_2000() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

fn iso_datetime(dt: NaiveDateTime) -> String {
    let mut s = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    push_micros(&mut s, i64::from(dt.and_utc().timestamp_subsec_micros()));
    s
}

fn iso_time(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let mut s = format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
    push_micros(&mut s, micros.rem_euclid(1_000_000));
    s
}

/// How a PostgreSQL column is decoded, chosen once from its type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PgCol {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Numeric,
    Text,
    Char,
    Bytea,
    Json,
    Jsonb,
    Date,
    Time,
    TimeTz,
    Timestamp,
    TimestampTz,
    Interval,
    Uuid,
    Inet,
    MacAddr,
    Void,
    Array(Box<PgCol>),
}

impl PgCol {
    /// The decoder for a column type, or the type's name when it has none.
    pub(crate) fn of(ty: &PgTypeInfo) -> Result<PgCol, String> {
        match ty.kind() {
            PgTypeKind::Enum(_) => return Ok(PgCol::Text),
            PgTypeKind::Domain(base) => return PgCol::of(base),
            PgTypeKind::Array(elem) => return Ok(PgCol::Array(Box::new(PgCol::of(elem)?))),
            _ => {}
        }
        if let Some(col) = ty.oid().and_then(|o| PgCol::of_oid(o.0)) {
            return Ok(col);
        }
        match ty.name().to_ascii_lowercase().as_str() {
            // Extension types whose binary form is their text.
            "citext" => Ok(PgCol::Text),
            name => Err(name.to_string()),
        }
    }

    fn of_oid(oid: u32) -> Option<PgCol> {
        use super::pg_oid::*;
        Some(match oid {
            BOOL => PgCol::Bool,
            BYTEA => PgCol::Bytea,
            CHAR => PgCol::Char,
            NAME | TEXT | XML | UNKNOWN | BPCHAR | VARCHAR => PgCol::Text,
            INT8 => PgCol::Int8,
            INT2 => PgCol::Int2,
            INT4 => PgCol::Int4,
            // oid, regproc, regclass, regtype, xid, cid and friends are unsigned 32-bit.
            REGPROC
            | OID
            | XID
            | CID
            | REGPROCEDURE..=REGTYPE
            | REGCONFIG
            | REGDICTIONARY
            | REGNAMESPACE
            | REGROLE => PgCol::Oid,
            JSON => PgCol::Json,
            JSONB => PgCol::Jsonb,
            FLOAT4 => PgCol::Float4,
            FLOAT8 => PgCol::Float8,
            NUMERIC => PgCol::Numeric,
            DATE => PgCol::Date,
            TIME => PgCol::Time,
            TIMETZ => PgCol::TimeTz,
            TIMESTAMP => PgCol::Timestamp,
            TIMESTAMPTZ => PgCol::TimestampTz,
            INTERVAL => PgCol::Interval,
            UUID => PgCol::Uuid,
            CIDR | INET => PgCol::Inet,
            MACADDR => PgCol::MacAddr,
            VOID => PgCol::Void,
            _ => return None,
        })
    }

    /// The byte size of the type's binary form, when it has one size.
    pub(crate) fn width(&self) -> Option<usize> {
        Some(match self {
            PgCol::Void => 0,
            PgCol::Bool | PgCol::Char => 1,
            PgCol::Int2 => 2,
            PgCol::Int4 | PgCol::Oid | PgCol::Float4 | PgCol::Date => 4,
            PgCol::MacAddr => 6,
            PgCol::Int8 | PgCol::Float8 | PgCol::Time | PgCol::Timestamp | PgCol::TimestampTz => 8,
            PgCol::TimeTz => 12,
            PgCol::Interval | PgCol::Uuid => 16,
            PgCol::Numeric
            | PgCol::Text
            | PgCol::Bytea
            | PgCol::Json
            | PgCol::Jsonb
            | PgCol::Inet
            | PgCol::Array(_) => return None,
        })
    }

    /// Writes one non-NULL value in binary wire format as JSON.
    pub(crate) fn write(&self, b: &[u8], out: &mut Vec<u8>) -> Result<(), Fail> {
        let short = || format!("truncated {self:?} value ({} bytes)", b.len());
        let be = |n: usize| -> Result<&[u8], Fail> { b.get(..n).ok_or_else(short) };
        match self {
            PgCol::Bool => out.extend_from_slice(if b.first() == Some(&1) {
                b"true"
            } else {
                b"false"
            }),
            PgCol::Int2 => write_int(out, i16::from_be_bytes(arr(be(2)?)).into()),
            PgCol::Int4 => write_int(out, i32::from_be_bytes(arr(be(4)?)).into()),
            PgCol::Int8 => write_int(out, i64::from_be_bytes(arr(be(8)?))),
            PgCol::Oid => write_int(out, u32::from_be_bytes(arr(be(4)?)).into()),
            PgCol::Float4 => write_f32(out, f32::from_be_bytes(arr(be(4)?))),
            PgCol::Float8 => write_f64(out, f64::from_be_bytes(arr(be(8)?))),
            PgCol::Numeric => numeric(b, out)?,
            PgCol::Text => write_str(out, utf8(b)?),
            // `"char"` is one byte; non-ASCII bytes print as PostgreSQL's octal escape.
            PgCol::Char => match b.first() {
                Some(c) if c.is_ascii() => write_str(out, &char::from(*c).to_string()),
                Some(c) => write_str(out, &format!("\\{c:03o}")),
                None => write_str(out, ""),
            },
            PgCol::Bytea => write_base64(out, b),
            PgCol::Json => out.extend_from_slice(utf8(b)?.as_bytes()),
            // jsonb's binary form is a version byte (1) and the JSON text.
            PgCol::Jsonb => match b.split_first() {
                Some((1, text)) => out.extend_from_slice(utf8(text)?.as_bytes()),
                _ => return Err("unknown jsonb binary version".into()),
            },
            PgCol::Date => {
                let days = i32::from_be_bytes(arr(be(4)?));
                match days {
                    i32::MAX => write_str(out, "infinity"),
                    i32::MIN => write_str(out, "-infinity"),
                    _ => {
                        let d = epoch_2000().date() + Duration::days(days.into());
                        write_str(out, &d.format("%Y-%m-%d").to_string());
                    }
                }
            }
            PgCol::Time => write_str(out, &iso_time(i64::from_be_bytes(arr(be(8)?)))),
            PgCol::TimeTz => {
                let micros = i64::from_be_bytes(arr(be(8)?));
                // The zone is stored in seconds *west* of UTC.
                let west = i32::from_be_bytes(arr(b.get(8..12).ok_or_else(short)?));
                let east = -west;
                let (sign, abs) = if east < 0 { ('-', -east) } else { ('+', east) };
                let mut s = iso_time(micros);
                s.push_str(&format!("{sign}{:02}:{:02}", abs / 3600, (abs / 60) % 60));
                if abs % 60 != 0 {
                    s.push_str(&format!(":{:02}", abs % 60));
                }
                write_str(out, &s);
            }
            PgCol::Timestamp | PgCol::TimestampTz => {
                let micros = i64::from_be_bytes(arr(be(8)?));
                match micros {
                    i64::MAX => write_str(out, "infinity"),
                    i64::MIN => write_str(out, "-infinity"),
                    _ => {
                        let suffix: &[u8] = if *self == PgCol::TimestampTz {
                            b"+00:00"
                        } else {
                            b""
                        };
                        if !write_timestamp(out, micros, suffix) {
                            let dt = epoch_2000()
                                .checked_add_signed(Duration::microseconds(micros))
                                .ok_or("timestamp out of range")?;
                            let mut s = iso_datetime(dt);
                            s.push_str(std::str::from_utf8(suffix).unwrap_or_default());
                            write_str(out, &s);
                        }
                    }
                }
            }
            PgCol::Interval => {
                let micros = i64::from_be_bytes(arr(be(8)?));
                let days = i32::from_be_bytes(arr(b.get(8..12).ok_or_else(short)?));
                let months = i32::from_be_bytes(arr(b.get(12..16).ok_or_else(short)?));
                write_str(out, &iso_interval(months, days, micros));
            }
            PgCol::Uuid => {
                let h: String = be(16)?.iter().map(|x| format!("{x:02x}")).collect();
                write_str(
                    out,
                    &format!(
                        "{}-{}-{}-{}-{}",
                        &h[..8],
                        &h[8..12],
                        &h[12..16],
                        &h[16..20],
                        &h[20..]
                    ),
                );
            }
            PgCol::Inet => write_str(out, &inet(b).ok_or_else(short)?),
            PgCol::MacAddr => {
                let parts: Vec<String> = be(6)?.iter().map(|x| format!("{x:02x}")).collect();
                write_str(out, &parts.join(":"));
            }
            PgCol::Void => out.extend_from_slice(b"null"),
            PgCol::Array(elem) => array(elem, b, out)?,
        }
        Ok(())
    }
}

fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[..N]);
    a
}

fn utf8(b: &[u8]) -> Result<&str, Fail> {
    std::str::from_utf8(b).map_err(|e| format!("text is not UTF-8: {e}"))
}

/// PostgreSQL `numeric`: base-10000 digits, a weight and a display scale.
fn numeric(b: &[u8], out: &mut Vec<u8>) -> Result<(), Fail> {
    let word = |i: usize| -> Result<i16, Fail> {
        b.get(i * 2..i * 2 + 2)
            .map(|x| i16::from_be_bytes([x[0], x[1]]))
            .ok_or_else(|| "truncated numeric".to_string())
    };
    let ndigits = usize::try_from(word(0)?).map_err(|_| "bad numeric")?;
    let weight = i32::from(word(1)?);
    let sign = word(2)? as u16;
    let dscale = usize::try_from(word(3)?).map_err(|_| "bad numeric")?;
    let special = match sign {
        0xC000 => Some("NaN"),
        0xD000 => Some("Infinity"),
        0xF000 => Some("-Infinity"),
        _ => None,
    };
    if let Some(s) = special {
        write_str(out, s);
        return Ok(());
    }
    let digit = |k: i32| -> Result<i16, Fail> {
        if k < 0 || k as usize >= ndigits {
            Ok(0)
        } else {
            word(4 + k as usize)
        }
    };
    // Written digit group by digit group, straight into the output.
    if sign == 0x4000 {
        out.push(b'-');
    }
    if weight < 0 {
        out.push(b'0');
    } else {
        for k in 0..=weight {
            let d = digit(k)?.max(0) as u64;
            if k == 0 {
                out.extend_from_slice(itoa::Buffer::new().format(d).as_bytes());
            } else {
                write_padded(out, d, 4);
            }
        }
    }
    if dscale > 0 {
        out.push(b'.');
        let mut left = dscale;
        let mut k = weight + 1;
        while left > 0 {
            let d = digit(k)?.max(0) as u64;
            let mut group = [0u8; 4];
            for (i, g) in group.iter_mut().enumerate() {
                *g = b'0' + ((d / 10u64.pow(3 - i as u32)) % 10) as u8;
            }
            let take = left.min(4);
            out.extend_from_slice(&group[..take]);
            left -= take;
            k += 1;
        }
    }
    Ok(())
}

/// ISO 8601 duration, as PostgreSQL's `intervalstyle = iso_8601` prints it.
fn iso_interval(months: i32, days: i32, micros: i64) -> String {
    let mut s = String::from("P");
    let (years, months) = (months / 12, months % 12);
    for (n, unit) in [(years, 'Y'), (months, 'M'), (days, 'D')] {
        if n != 0 {
            s.push_str(&format!("{n}{unit}"));
        }
    }
    if micros != 0 {
        s.push('T');
        let neg = micros < 0;
        let abs = micros.unsigned_abs();
        let (h, m) = (abs / 3_600_000_000, (abs / 60_000_000) % 60);
        let (sec, frac) = ((abs / 1_000_000) % 60, abs % 1_000_000);
        let sign = if neg { "-" } else { "" };
        if h != 0 {
            s.push_str(&format!("{sign}{h}H"));
        }
        if m != 0 {
            s.push_str(&format!("{sign}{m}M"));
        }
        if sec != 0 || frac != 0 {
            let mut f = format!("{sign}{sec}");
            if frac != 0 {
                f.push_str(format!(".{frac:06}").trim_end_matches('0'));
            }
            s.push_str(&f);
            s.push('S');
        }
    }
    if s == "P" {
        s.push_str("T0S");
    }
    s
}

fn inet(b: &[u8]) -> Option<String> {
    let (family, bits, is_cidr, n) = (*b.first()?, *b.get(1)?, *b.get(2)?, *b.get(3)? as usize);
    let addr = b.get(4..4 + n)?;
    let (text, full) = if family == 2 {
        (
            std::net::Ipv4Addr::from(<[u8; 4]>::try_from(addr).ok()?).to_string(),
            32,
        )
    } else {
        (
            std::net::Ipv6Addr::from(<[u8; 16]>::try_from(addr).ok()?).to_string(),
            128,
        )
    };
    Some(if is_cidr == 1 || bits != full {
        format!("{text}/{bits}")
    } else {
        text
    })
}

/// A binary array: dimensions, then each element with its length (-1 = NULL).
fn array(elem: &PgCol, b: &[u8], out: &mut Vec<u8>) -> Result<(), Fail> {
    let int = |i: usize| -> Result<i32, Fail> {
        b.get(i..i + 4)
            .map(|x| i32::from_be_bytes([x[0], x[1], x[2], x[3]]))
            .ok_or_else(|| "truncated array".to_string())
    };
    let ndim = usize::try_from(int(0)?).map_err(|_| "bad array")?;
    if ndim == 0 {
        out.extend_from_slice(b"[]");
        return Ok(());
    }
    let mut dims = Vec::with_capacity(ndim);
    for d in 0..ndim {
        dims.push(usize::try_from(int(12 + d * 8)?).map_err(|_| "bad array")?);
    }
    let mut pos = 12 + ndim * 8;
    array_dim(elem, b, &dims, &mut pos, out)
}

fn array_dim(
    elem: &PgCol,
    b: &[u8],
    dims: &[usize],
    pos: &mut usize,
    out: &mut Vec<u8>,
) -> Result<(), Fail> {
    out.push(b'[');
    for i in 0..dims[0] {
        if i > 0 {
            out.push(b',');
        }
        if dims.len() > 1 {
            array_dim(elem, b, &dims[1..], pos, out)?;
            continue;
        }
        let len = b
            .get(*pos..*pos + 4)
            .map(|x| i32::from_be_bytes([x[0], x[1], x[2], x[3]]))
            .ok_or("truncated array")?;
        *pos += 4;
        if len < 0 {
            out.extend_from_slice(b"null");
        } else {
            let end = *pos + len as usize;
            elem.write(b.get(*pos..end).ok_or("truncated array")?, out)?;
            *pos = end;
        }
    }
    out.push(b']');
    Ok(())
}

/// How a MySQL/MariaDB column is decoded, from sqlx's type name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum MyCol {
    Int,
    UInt,
    Float,
    Double,
    /// DECIMAL arrives as its exact text.
    Number,
    Text,
    Json,
    Bytes,
    Bit,
    Date,
    DateTime,
    Timestamp,
    Time,
    Null,
}

impl MyCol {
    pub(crate) fn of(name: &str) -> MyCol {
        match name {
            "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => {
                MyCol::Int
            }
            n if n.ends_with("UNSIGNED") => MyCol::UInt,
            "FLOAT" => MyCol::Float,
            "DOUBLE" => MyCol::Double,
            "DECIMAL" => MyCol::Number,
            "JSON" => MyCol::Json,
            "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB"
            | "GEOMETRY" => MyCol::Bytes,
            "BIT" => MyCol::Bit,
            "DATE" => MyCol::Date,
            "DATETIME" => MyCol::DateTime,
            "TIMESTAMP" => MyCol::Timestamp,
            "TIME" => MyCol::Time,
            "NULL" => MyCol::Null,
            _ => MyCol::Text,
        }
    }

    pub(crate) fn write(
        &self,
        v: sqlx::mysql::MySqlValueRef<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), Fail> {
        use sqlx::MySql;
        let e = |e: sqlx::error::BoxDynError| e.to_string();
        match self {
            MyCol::Int => write_int(out, <i64 as Decode<MySql>>::decode(v).map_err(e)?),
            MyCol::UInt => out.extend_from_slice(
                itoa::Buffer::new()
                    .format(<u64 as Decode<MySql>>::decode(v).map_err(e)?)
                    .as_bytes(),
            ),
            MyCol::Float => write_f32(out, <f32 as Decode<MySql>>::decode(v).map_err(e)?),
            MyCol::Double => write_f64(out, <f64 as Decode<MySql>>::decode(v).map_err(e)?),
            MyCol::Number => {
                let s = <&str as Decode<MySql>>::decode(v).map_err(e)?;
                // Only a plain decimal is copied through as a JSON number.
                if plain_decimal(s) {
                    out.extend_from_slice(s.trim_start_matches('+').as_bytes());
                } else {
                    write_str(out, s);
                }
            }
            MyCol::Text => write_str(out, <&str as Decode<MySql>>::decode(v).map_err(e)?),
            MyCol::Json => {
                let s = <&str as Decode<MySql>>::decode(v).map_err(e)?;
                out.extend_from_slice(s.as_bytes());
            }
            // MySQL flags `*_bin`-collated text (and MariaDB's JSON, a utf8mb4_bin
            // LONGTEXT) as binary, and sqlx does not expose the charset that tells
            // them apart: valid UTF-8 is taken as text, anything else is base64.
            MyCol::Bytes => {
                let bytes = <&[u8] as Decode<MySql>>::decode(v).map_err(e)?;
                match std::str::from_utf8(bytes) {
                    Ok(s) => write_str(out, s),
                    Err(_) => write_base64(out, bytes),
                }
            }
            MyCol::Bit => {
                let bytes = <&[u8] as Decode<MySql>>::decode(v).map_err(e)?;
                let n = bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b));
                let _ = write!(out, "{n}");
            }
            // The common case straight from the binary value; the rest (zero
            // and invalid dates among them) as chrono reads them.
            MyCol::Date | MyCol::DateTime | MyCol::Timestamp
                if write_my_datetime(out, raw(v.clone()), *self) => {}
            // mysqlclient returns None for the zero date `0000-00-00`.
            MyCol::Date => match <NaiveDate as Decode<MySql>>::decode(v) {
                Ok(d) => write_str(out, &d.format("%Y-%m-%d").to_string()),
                Err(_) => out.extend_from_slice(b"null"),
            },
            MyCol::DateTime | MyCol::Timestamp => {
                match <NaiveDateTime as Decode<MySql>>::decode(v) {
                    Ok(dt) => {
                        let mut s = iso_datetime(dt);
                        // sqlx sets the session `time_zone` to UTC, so TIMESTAMPs are UTC.
                        if *self == MyCol::Timestamp {
                            s.push_str("+00:00");
                        }
                        write_str(out, &s);
                    }
                    Err(_) => out.extend_from_slice(b"null"),
                }
            }
            MyCol::Time => {
                let t = <sqlx::mysql::types::MySqlTime as Decode<MySql>>::decode(v).map_err(e)?;
                let mut s = format!(
                    "{}{:02}:{:02}:{:02}",
                    // Not `is_negative()`: sqlx 0.8.6 returns the sign inverted there.
                    if t.sign().is_positive() { "" } else { "-" },
                    t.hours(),
                    t.minutes(),
                    t.seconds()
                );
                push_micros(&mut s, i64::from(t.microseconds()));
                write_str(out, &s);
            }
            MyCol::Null => out.extend_from_slice(b"null"),
        }
        Ok(())
    }
}

/// A value's bytes as the row holds them (for a binary temporal value, with
/// its length byte in front).
fn raw<'r>(v: sqlx::mysql::MySqlValueRef<'r>) -> &'r [u8] {
    <&[u8] as Decode<sqlx::MySql>>::decode(v).unwrap_or_default()
}

/// What `str::parse::<f64>` accepts without an exponent, infinity or NaN: a
/// sign, then digits with at most one `.` among them.
fn plain_decimal(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let dots = digits.iter().filter(|&&b| b == b'.').count();
    dots <= 1 && digits.len() > dots && digits.iter().all(|&b| b.is_ascii_digit() || b == b'.')
}

/// A binary DATE, DATETIME or TIMESTAMP value (a length byte of 4, 7 or 11,
/// then year, month, day, hour, minute, second, microseconds) written as
/// `MyCol::write` writes the chrono value; `false`, with nothing written,
/// for what is not a valid date and time of years 0-9999 (such as MySQL's
/// zero date), which goes the chrono way.
fn write_my_datetime(out: &mut Vec<u8>, b: &[u8], col: MyCol) -> bool {
    let len = match b.first() {
        Some(&n @ (4 | 7 | 11)) if b.len() == usize::from(n) + 1 => n,
        _ => return false,
    };
    let year = u16::from_le_bytes([b[1], b[2]]);
    let (month, day) = (b[3], b[4]);
    let (hour, minute, second) = if len >= 7 {
        (b[5], b[6], b[7])
    } else {
        (0, 0, 0)
    };
    let micros = if len == 11 {
        u32::from_le_bytes([b[8], b[9], b[10], b[11]])
    } else {
        0
    };
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if year > 9999
        || day == 0
        || day > days
        || hour > 23
        || minute > 59
        || second > 59
        || micros > 999_999
    {
        return false;
    }
    out.push(b'"');
    write_padded(out, year.into(), 4);
    out.push(b'-');
    write_padded(out, month.into(), 2);
    out.push(b'-');
    write_padded(out, day.into(), 2);
    if col != MyCol::Date {
        out.push(b'T');
        write_padded(out, hour.into(), 2);
        out.push(b':');
        write_padded(out, minute.into(), 2);
        out.push(b':');
        write_padded(out, second.into(), 2);
        if micros != 0 {
            out.push(b'.');
            write_padded(out, micros.into(), 6);
        }
        // sqlx sets the session `time_zone` to UTC, so TIMESTAMPs are UTC.
        if col == MyCol::Timestamp {
            out.extend_from_slice(b"+00:00");
        }
    }
    out.push(b'"');
    true
}

/// A SQLite value by its storage class.
pub(crate) fn write_sqlite(
    v: sqlx::sqlite::SqliteValueRef<'_>,
    out: &mut Vec<u8>,
) -> Result<(), Fail> {
    use sqlx::Sqlite;
    let e = |e: sqlx::error::BoxDynError| e.to_string();
    if v.is_null() {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    let class = v.type_info().name().to_string();
    match class.as_str() {
        "INTEGER" => write_int(out, <i64 as Decode<Sqlite>>::decode(v).map_err(e)?),
        "REAL" => write_f64(out, <f64 as Decode<Sqlite>>::decode(v).map_err(e)?),
        "BLOB" => write_base64(out, &<Vec<u8> as Decode<Sqlite>>::decode(v).map_err(e)?),
        _ => write_str(out, &<String as Decode<Sqlite>>::decode(v).map_err(e)?),
    }
    Ok(())
}

/// A SQLite value read straight from the statement (`lite.rs`), written as
/// [`write_sqlite`] writes the same value read through sqlx; text that is
/// not UTF-8 fails with the error sqlx's `String` decode gives.
pub(crate) fn write_lite(v: super::lite::Value<'_>, out: &mut Vec<u8>) -> Result<(), Fail> {
    use super::lite::Value;
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Integer(i) => write_int(out, i),
        Value::Real(f) => write_f64(out, f),
        Value::Blob(b) => write_base64(out, b),
        Value::Text(t) => write_str(out, std::str::from_utf8(t).map_err(|e| e.to_string())?),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(words: &[i16]) -> String {
        let b: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
        let mut out = Vec::new();
        numeric(&b, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn numeric_keeps_every_digit() {
        // 12345.6789 = [1, 2345, 6789], weight 1, scale 4
        assert_eq!(num(&[3, 1, 0, 4, 1, 2345, 6789]), "12345.6789");
        // -0.0012 with scale 4: digits [12] at weight -1
        assert_eq!(num(&[1, -1, 0x4000, 4, 12]), "-0.0012");
        // 1.50: digits [1, 5000], scale 2
        assert_eq!(num(&[2, 0, 0, 2, 1, 5000]), "1.50");
        // 10^29 + 1: 30 digits, beyond i64, f64 and rust_decimal
        assert_eq!(
            num(&[8, 7, 0, 0, 10, 0, 0, 0, 0, 0, 0, 1]),
            "100000000000000000000000000001"
        );
        assert_eq!(num(&[0, 0, 0, 0]), "0");
        assert_eq!(num(&[0, 0, 0xC000u16 as i16, 0]), "\"NaN\"");
    }

    #[test]
    fn intervals_are_iso_8601() {
        assert_eq!(iso_interval(14, 3, 14_706_500_000), "P1Y2M3DT4H5M6.5S");
        assert_eq!(iso_interval(0, 0, 0), "PT0S");
        assert_eq!(iso_interval(0, -1, -90_000_000), "P-1DT-1M-30S");
    }

    #[test]
    fn the_fast_timestamp_path_matches_chrono() {
        for micros in [
            0i64,
            1,
            -1,
            771_166_800_123_456,
            -63_082_281_600_000_000,
            252_455_615_999_999_999,
            -946_684_800_000_000,
        ] {
            let mut fast = Vec::new();
            assert!(write_timestamp(&mut fast, micros, b""));
            let dt = epoch_2000() + Duration::microseconds(micros);
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                format!("\"{}\"", iso_datetime(dt))
            );
        }
        assert!(!write_timestamp(&mut Vec::new(), i64::MAX / 2, b""));
    }

    #[test]
    fn plain_decimals_are_what_f64_parses_without_letters() {
        for s in [
            "1",
            "-1.50",
            "+2",
            "0.000",
            "1.",
            ".5",
            "-.5",
            "123456789012345678901234567890.5",
            "",
            "-",
            ".",
            "1.2.3",
            "1e5",
            "inf",
            "NaN",
            "--1",
            "+-1",
            " 1",
            "1,5",
        ] {
            let old = s.parse::<f64>().is_ok() && !s.contains(['e', 'E', 'i', 'n', 'N', 'I']);
            assert_eq!(plain_decimal(s), old, "{s:?}");
        }
    }

    #[test]
    fn binary_mysql_datetimes_are_written_as_chrono_formats_them() {
        let cases: [&[u8]; 6] = [
            &[4, 0xe8, 0x07, 6, 1],
            &[7, 0xe8, 0x07, 2, 29, 13, 45, 0],
            &[11, 0xe8, 0x07, 12, 31, 23, 59, 59, 0x3f, 0x42, 0x0f, 0],
            &[11, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0],
            &[7, 0x0f, 0x27, 12, 31, 23, 59, 59],
            &[4, 0xd0, 0x07, 2, 29],
        ];
        for b in cases {
            let year = i32::from(u16::from_le_bytes([b[1], b[2]]));
            let date = NaiveDate::from_ymd_opt(year, b[3].into(), b[4].into()).unwrap();
            let micros = if b[0] == 11 {
                u32::from_le_bytes([b[8], b[9], b[10], b[11]])
            } else {
                0
            };
            let hms = if b[0] >= 7 {
                (b[5], b[6], b[7])
            } else {
                (0, 0, 0)
            };
            let dt = date
                .and_hms_micro_opt(hms.0.into(), hms.1.into(), hms.2.into(), micros)
                .unwrap();
            for (col, want) in [
                (MyCol::Date, format!("\"{}\"", date.format("%Y-%m-%d"))),
                (MyCol::DateTime, format!("\"{}\"", iso_datetime(dt))),
                (MyCol::Timestamp, format!("\"{}+00:00\"", iso_datetime(dt))),
            ] {
                let mut out = Vec::new();
                assert!(write_my_datetime(&mut out, b, col));
                assert_eq!(String::from_utf8(out).unwrap(), want);
            }
        }
        // Zero, invalid and out-of-range values go the chrono way.
        for b in [
            &[0u8][..],
            &[4, 0, 0, 0, 0],
            &[4, 0xe9, 0x07, 2, 29],
            &[4, 0xe8, 0x07, 4, 31],
            &[7, 0xe8, 0x07, 1, 1, 24, 0, 0],
            &[4, 0x10, 0x27, 1, 1],
            &[11, 0xe8, 0x07, 1, 1, 0, 0, 0, 0x40, 0x42, 0x0f, 0],
            b"2024-06-01",
        ] {
            assert!(
                !write_my_datetime(&mut Vec::new(), b, MyCol::DateTime),
                "{b:?}"
            );
        }
    }

    #[test]
    fn times_are_iso_8601() {
        assert_eq!(iso_time(49_500_250_000), "13:45:00.250000");
        let dt = epoch_2000() + Duration::microseconds(1);
        assert_eq!(iso_datetime(dt), "2000-01-01T00:00:00.000001");
    }
}
