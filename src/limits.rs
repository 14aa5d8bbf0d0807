//! The bounds on what the runner reads, in one place: how long a duration may
//! be, how deeply a document may nest, and how large a payload may decode to.
//! Each is checked where the input is parsed, so nothing downstream (timers,
//! recursive walks over values, the inflater) meets a value it cannot handle.

use std::time::Duration;

/// The longest duration any setting takes (`execution_timeout`,
/// `grace_period`, a connection's `connect_timeout`): 10 years, far beyond
/// any task, and far below what a timer deadline (`Instant + d`) can hold.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// Checks a duration given in seconds: finite, not negative, at most [`MAX_DURATION`].
pub fn seconds(secs: f64) -> Result<Duration, String> {
    if !secs.is_finite() {
        return Err("must be a finite number of seconds".into());
    }
    if secs < 0.0 {
        return Err("must not be negative".into());
    }
    // Compared in f64 before converting: `Duration::from_secs_f64` panics
    // past u64 seconds.
    if secs > MAX_DURATION.as_secs_f64() {
        return Err(too_long());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Checks a duration parsed some other way (`1h 30m`): at most [`MAX_DURATION`].
pub fn duration(d: Duration) -> Result<Duration, String> {
    if d > MAX_DURATION {
        return Err(too_long());
    }
    Ok(d)
}

fn too_long() -> String {
    format!("must be at most 10 years ({} s)", MAX_DURATION.as_secs())
}

/// How deeply a spec or context document may nest lists and mappings.
/// Everything that reads a document walks it recursively: the JSON parser,
/// the template values (minijinja's `tojson` stops at its recursion limit,
/// 500 here, counted together with the template's own nesting), dropping
/// and printing values, the Python shim's `json.load` (Python's recursion
/// limit, 1000). 256 keeps every accepted value within all of them with
/// room to spare, in debug builds and on 2 MiB threads too; real Airflow
/// payloads nest a handful of levels. (serde_json's own limit, 128, is off:
/// its count is fixed, and its error names no key.)
pub const MAX_DEPTH: usize = 256;

/// The largest `env_file` the runner reads: 1 MiB, far past any real one
/// (Linux caps the whole environment near 2 MiB through `ARG_MAX`).
pub const MAX_ENV_FILE_BYTES: u64 = 1024 * 1024;

/// The env var that sets the cap on a decoded payload, in bytes.
pub const MAX_PAYLOAD_ENV: &str = "TASK_RUNNER_MAX_PAYLOAD_BYTES";
/// The default cap on a decoded payload (spec or context): 64 MiB.
pub const DEFAULT_MAX_PAYLOAD_BYTES: u64 = 64 * 1024 * 1024;

/// `TASK_RUNNER_MAX_PAYLOAD_BYTES` (a positive integer), else the default.
pub fn max_payload_bytes(env_value: Option<&str>) -> Result<u64, String> {
    match env_value.map(str::trim) {
        None | Some("") => Ok(DEFAULT_MAX_PAYLOAD_BYTES),
        Some(v) => v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            format!("`{MAX_PAYLOAD_ENV}` must be a positive number of bytes, got `{v}`")
        }),
    }
}

/// Where a document nests deeper than [`MAX_DEPTH`]: the key path to it
/// (as far as it can be told from the text) and the limit.
#[derive(Debug, PartialEq, Eq)]
pub struct TooDeep {
    pub path: String,
}

impl std::fmt::Display for TooDeep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "it nests lists and mappings more than {MAX_DEPTH} levels deep"
        )?;
        if !self.path.is_empty() {
            write!(f, " (at key `{}`)", self.path)?;
        }
        Ok(())
    }
}

/// The path segments kept for the message; deeper ones are elided.
const PATH_SHOWN: usize = 8;

enum Segment {
    Key(Option<String>),
    Index(usize),
}

/// Checks that `text` (JSON, or YAML) nests no deeper than [`MAX_DEPTH`], in
/// one pass with no recursion, before any parser sees it: parsers recurse
/// per level (a stack overflow), and the YAML scanner's flow collections cost
/// time quadratic in their depth. For JSON the count is exact; for YAML it
/// counts flow collections (`[`, `{`) outside double-quoted strings, and the
/// YAML loader (`spec::yaml`) counts block nesting against the same limit.
pub fn check_depth(text: &str) -> Result<(), TooDeep> {
    let mut stack: Vec<Segment> = Vec::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    // The last string or plain word, as a key candidate (YAML keys are often unquoted).
    let mut word = String::new();
    let mut comment = false;
    for c in text.chars() {
        if comment {
            comment = c != '\n';
            continue;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            } else if word.len() < 256 {
                word.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                word.clear();
            }
            '#' => comment = true,
            '[' | '{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(TooDeep {
                        path: path_of(&stack),
                    });
                }
                if stack.len() < PATH_SHOWN + 1 {
                    stack.push(if c == '[' {
                        Segment::Index(0)
                    } else {
                        Segment::Key(None)
                    });
                }
                word.clear();
            }
            ']' | '}' => {
                if depth <= stack.len() {
                    stack.pop();
                }
                depth = depth.saturating_sub(1);
                word.clear();
            }
            ':' => {
                if depth == stack.len()
                    && let Some(Segment::Key(key)) = stack.last_mut()
                {
                    *key = Some(word.trim().to_string());
                }
                word.clear();
            }
            ',' => {
                if depth == stack.len() {
                    match stack.last_mut() {
                        Some(Segment::Index(i)) => *i += 1,
                        Some(Segment::Key(key)) => *key = None,
                        None => {}
                    }
                }
                word.clear();
            }
            '\n' => word.clear(),
            c if word.len() < 256 => word.push(c),
            _ => {}
        }
    }
    Ok(())
}

fn path_of(stack: &[Segment]) -> String {
    let mut out = String::new();
    for (i, seg) in stack.iter().enumerate() {
        if i == PATH_SHOWN {
            out.push_str("...");
            break;
        }
        match seg {
            Segment::Key(Some(k)) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Key(None) => {}
            Segment::Index(n) => out.push_str(&format!("[{n}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_finite_non_negative_and_bounded() {
        assert_eq!(seconds(2.5), Ok(Duration::from_millis(2500)));
        assert_eq!(seconds(0.0), Ok(Duration::ZERO));
        for bad in [f64::INFINITY, f64::NAN, -1.0, 1e19, 1e20, u64::MAX as f64] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        assert!(duration(MAX_DURATION).is_ok());
        assert!(duration(MAX_DURATION + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn depth_is_counted_in_json_and_yaml() {
        let deep = |n: usize| {
            format!(
                "{{\"xcom\": [{{\"value\": {}{}}}]}}",
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        assert!(check_depth(&deep(MAX_DEPTH - 3)).is_ok());
        let err = check_depth(&deep(MAX_DEPTH)).unwrap_err();
        assert!(err.path.starts_with("xcom[0].value[0][0]"), "{}", err.path);
        // Brackets in strings and comments do not count.
        let s = format!("{{\"a\": \"{}\"}}", "[".repeat(MAX_DEPTH * 2));
        assert!(check_depth(&s).is_ok());
        let y = format!("params:\n  a: {}\n", "{b: ".repeat(MAX_DEPTH + 1));
        let err = check_depth(&y).unwrap_err();
        assert!(err.path.starts_with("b.b"), "{}", err.path);
        let c = format!("a: 1 # {}\n", "[".repeat(MAX_DEPTH * 2));
        assert!(check_depth(&c).is_ok());
    }

    #[test]
    fn payload_cap_from_env() {
        assert_eq!(max_payload_bytes(None), Ok(DEFAULT_MAX_PAYLOAD_BYTES));
        assert_eq!(max_payload_bytes(Some("1000")), Ok(1000));
        assert!(max_payload_bytes(Some("0")).is_err());
        assert!(max_payload_bytes(Some("lots")).is_err());
    }
}
