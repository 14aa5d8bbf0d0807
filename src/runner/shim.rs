//! The Rust side of the shim protocol (runners/PROTOCOL.md) shared by the
//! Python and Ruby runners: the JSON context both shims receive (§2.1, §3),
//! the private folder holding the shim and its `input.json` (§1), and what a
//! finished shim's files and exit code mean (§4, §7).

use std::fs::Permissions;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use tempfile::TempDir;

use crate::context::{Context, Entry, Item, Profile};
use crate::error::{Error, Result};
use crate::runner::ReturnValue;
use crate::supervise::ProcessEnd;

/// What a finished shim's end means.
#[derive(Debug, PartialEq)]
pub(crate) enum ShimEnd {
    /// Success; the return value, if any.
    Returned(Option<ReturnValue>),
    /// The task raised; a one-line summary (`ValueError: bad row`) for the
    /// termination message. The exit code is the process's.
    Raised { summary: String },
    /// The exit code is the task's own choice (`sys.exit(n)`, `exit n`, a signal).
    Exited,
}

/// File names inside the shim's folder (PROTOCOL §1).
const SHIM: &str = "shim";
const INPUT: &str = "input.json";
const RESULT: &str = "result.json";
const ERROR: &str = "error.txt";

/// The shims cut `error.txt` at 1000 characters (PROTOCOL §4.2); reading a
/// little more than that much UTF-8 is enough and bounds a misbehaving task.
const ERROR_MAX_BYTES: u64 = 64 * 1024;

/// Interprets a finished shim (PROTOCOL §7). Failures the shim classified as
/// the runner's (the callable could not be loaded, the value is not JSON, a
/// protocol error) are `Err` with their own exit codes; everything else keeps
/// the process's code, which `lib::run_process` passes through.
///
/// `xcom_cap` is `max_xcom_bytes` when the result is pushed, `None` when it
/// is not (then it is not read at all).
pub(crate) fn interpret(dir: &Path, end: ProcessEnd, xcom_cap: Option<u64>) -> Result<ShimEnd> {
    let code = match end {
        // Stopped or crashed: 128 + N, whatever the files say.
        ProcessEnd::Signaled(_) => return Ok(ShimEnd::Exited),
        ProcessEnd::Exited(0) => return read_result(dir, xcom_cap).map(ShimEnd::Returned),
        ProcessEnd::Exited(code) => code,
    };
    // error.txt, not the code, tells the shim's verdicts from a task's own
    // `sys.exit(3)`: the shims write it for exactly these cases (§7).
    let Some(summary) = read_error(dir) else {
        return Ok(ShimEnd::Exited);
    };
    match code {
        3 => Err(Error::task_load(summary)),
        4 => Err(Error::XComValue { message: summary }),
        5 => Err(Error::Internal {
            message: format!("the task shim reported a protocol error: {summary}"),
        }),
        _ => Ok(ShimEnd::Raised { summary }),
    }
}

/// `result.json` after exit 0: absent or empty means "no XCom" (§4.1). The
/// bytes are passed on as they are (big integers and decimals stay exact);
/// `xcom::check_raw` validates them before anything is written.
fn read_result(dir: &Path, xcom_cap: Option<u64>) -> Result<Option<ReturnValue>> {
    let Some(cap) = xcom_cap else {
        return Ok(None);
    };
    let path = dir.join(RESULT);
    // The size first: a result over the cap is refused without reading it.
    if let Ok(meta) = std::fs::metadata(&path) {
        crate::xcom::check_size(meta.len(), cap)?;
    }
    match std::fs::read(&path) {
        Ok(bytes) if bytes.is_empty() => Ok(None),
        Ok(bytes) => Ok(Some(ReturnValue::Raw(bytes))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Internal {
            message: format!("cannot read the task's result `{}`: {e}", path.display()),
        }),
    }
}

/// `error.txt`, one masked line; `None` when absent, unreadable or blank.
fn read_error(dir: &Path) -> Option<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(dir.join(ERROR))
        .ok()?
        .take(ERROR_MAX_BYTES)
        .read_to_end(&mut bytes)
        .ok()?;
    // The task may have put a secret in its exception message (§4.2): mask
    // before folding, so the folded text cannot dodge the masker.
    let text = crate::mask::redact(&String::from_utf8_lossy(&bytes));
    // One line by protocol; fold anyway so a message never spans lines.
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!line.is_empty()).then_some(line)
}

/// The task input's common fields (PROTOCOL §2.1) for `kind`; each runner adds
/// its own before [`stage`].
pub(crate) fn common_input(kind: &str, ctx: &Context, do_xcom_push: bool) -> Map<String, Value> {
    let (context, datetime_keys) = context_json(ctx);
    let mut input = Map::new();
    input.insert("kind".into(), kind.into());
    input.insert("context".into(), Value::Object(context));
    input.insert("datetime_keys".into(), datetime_keys.into());
    input.insert("xcom".into(), xcom_json(ctx).into());
    // Which Airflow's `xcom_pull` the shims reproduce (PROTOCOL §3.3).
    let major = match ctx.profile {
        Profile::Airflow2 => 2,
        Profile::Airflow3 => 3,
    };
    input.insert("airflow_major".into(), major.into());
    input.insert("do_xcom_push".into(), do_xcom_push.into());
    input
}

/// The upstream XComs `ti.xcom_pull` sees (PROTOCOL §3.3), in the payload's
/// order: where Airflow takes the most recent, the shims take the first.
fn xcom_json(ctx: &Context) -> Vec<Value> {
    ctx.xcom
        .iter()
        .map(|x| {
            let mut entry = json!({
                "task_id": x.task_id,
                "key": x.key,
                "value": x.value,
                "map_index": x.map_index,
            });
            // Absent ids default to the task's own, on the shim side.
            if let Some(dag_id) = &x.dag_id {
                entry["dag_id"] = dag_id.clone().into();
            }
            if let Some(run_id) = &x.run_id {
                entry["run_id"] = run_id.clone().into();
            }
            entry
        })
        .collect()
}

/// The context a task receives, as plain JSON, and the paths in it whose
/// ISO strings the shims turn into datetimes (PROTOCOL §3, §3.1): the
/// context's [`Context::entries`] without those only templates get.
pub(crate) fn context_json(ctx: &Context) -> (Map<String, Value>, Vec<String>) {
    let mut datetime_keys = Vec::new();
    let context = object(ctx.entries(), "", &mut datetime_keys);
    (context, datetime_keys)
}

/// `entries` as a JSON object; the dates' dotted paths (under `prefix`) go
/// to `datetime_keys`.
fn object(
    entries: Vec<Entry>,
    prefix: &str,
    datetime_keys: &mut Vec<String>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for Entry { key, item } in entries {
        let value = match item {
            Item::TemplatesOnly { .. } => continue,
            Item::Text(s) => s.into(),
            Item::Int(i) => i.into(),
            Item::Bool(b) => b.into(),
            Item::None => Value::Null,
            Item::Json(v) => v,
            // Dates go in as isoformat strings (the form of `ts`) and are
            // listed so the shims hand them over as timezone-aware datetimes.
            Item::Date(d) | Item::LazyDate(d) => {
                datetime_keys.push(format!("{prefix}{key}"));
                d.map_or(Value::Null, |d| d.ts().into())
            }
            // Records are plain objects; the shims build the TaskInstance
            // (with xcom_pull) from `ti`'s fields (§3.2).
            Item::Record(_, fields) => {
                Value::Object(object(fields, &format!("{prefix}{key}."), datetime_keys))
            }
        };
        out.insert(key.into(), value);
    }
    out
}

/// A private folder (0700) holding the shim and its input (PROTOCOL §1), deleted
/// when dropped, and the shim's command-line arguments.
pub(crate) struct Staged {
    pub dir: TempDir,
    /// `<dir>/shim <dir>/input.json <dir>/result.json <dir>/error.txt`, absolute.
    pub args: [PathBuf; 4],
}

/// Writes the shim source and `input` into a fresh private folder.
/// `shim_source: None` stages no shim file: the interpreter imports an
/// installed one (its path in `args` is then never read).
pub(crate) fn stage(
    kind: &str,
    shim_source: Option<&str>,
    extra: &[(&str, &[u8])],
    input: &Map<String, Value>,
) -> Result<Staged> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("task-runner-{kind}-"))
        // The input holds the context (and so maybe secrets in params/conf).
        .permissions(Permissions::from_mode(0o700))
        .tempdir()
        .map_err(|e| {
            Error::config(format!(
                "cannot create a private temp dir for the {kind} shim in `{}` ({e}); set `TMPDIR` to a writable folder (e.g. an emptyDir volume)",
                std::env::temp_dir().display()
            ))
        })?;
    // Absolute, as the protocol wants: the task may chdir.
    let root = std::path::absolute(dir.path()).unwrap_or_else(|_| dir.path().to_path_buf());
    let write = |name: &str, bytes: &[u8]| -> Result<()> {
        let path = root.join(name);
        let mut f = std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(bytes).map(|()| f))
            .map_err(|e| {
                Error::config_caused(
                    format!("cannot write the {kind} shim's `{}`", path.display()),
                    e,
                )
            })?;
        f.flush().map_err(|e| {
            Error::config_caused(
                format!("cannot write the {kind} shim's `{}`", path.display()),
                e,
            )
        })
    };
    if let Some(source) = shim_source {
        write(SHIM, source.as_bytes())?;
    }
    for (name, bytes) in extra {
        write(name, bytes)?;
    }
    let text = serde_json::to_vec(input).map_err(|e| Error::Internal {
        message: format!("cannot encode the {kind} shim's input: {e}"),
    })?;
    write(INPUT, &text)?;
    let args = [SHIM, INPUT, RESULT, ERROR].map(|name| root.join(name));
    Ok(Staged { dir, args })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{Overrides, Payload};

    fn dir_with(files: &[(&str, &str)]) -> TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    fn run(files: &[(&str, &str)], end: ProcessEnd) -> Result<ShimEnd> {
        interpret(dir_with(files).path(), end, Some(u64::MAX))
    }

    #[test]
    fn the_size_is_checked_before_the_result_is_read() {
        let dir = dir_with(&[("result.json", "[1, 2, 3]")]);
        let err = interpret(dir.path(), ProcessEnd::Exited(0), Some(4)).unwrap_err();
        assert!(
            err.to_string()
                .contains("it is 9 bytes, over the limit of 4 bytes"),
            "{err}"
        );
        // Not pushed: not read, whatever its size.
        assert_eq!(
            interpret(dir.path(), ProcessEnd::Exited(0), None).unwrap(),
            ShimEnd::Returned(None)
        );
    }

    #[test]
    fn exit_zero_returns_the_result_bytes_untouched() {
        let big = "123456789012345678901234567890";
        assert_eq!(
            run(&[(RESULT, big)], ProcessEnd::Exited(0)).unwrap(),
            ShimEnd::Returned(Some(ReturnValue::Raw(big.as_bytes().to_vec())))
        );
    }

    #[test]
    fn exit_zero_without_result_or_with_empty_one_is_no_xcom() {
        assert_eq!(
            run(&[], ProcessEnd::Exited(0)).unwrap(),
            ShimEnd::Returned(None)
        );
        assert_eq!(
            run(&[(RESULT, "")], ProcessEnd::Exited(0)).unwrap(),
            ShimEnd::Returned(None)
        );
    }

    #[test]
    fn shim_verdicts_need_error_txt() {
        let e = run(&[(ERROR, "ImportError: no module")], ProcessEnd::Exited(3)).unwrap_err();
        assert!(
            matches!(&e, Error::TaskLoad { message, .. } if message == "ImportError: no module")
        );
        assert_eq!(e.exit_code(), crate::error::exit_code::TASK_LOAD);
        let e = run(&[(ERROR, "TypeError: set")], ProcessEnd::Exited(4)).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit_code::XCOM_VALUE);
        let e = run(&[(ERROR, "ValueError: bad input")], ProcessEnd::Exited(5)).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit_code::INTERNAL);
        assert!(e.to_string().contains("ValueError: bad input"), "{e}");
        // The task's own sys.exit(3/4/5): no error.txt, the code passes through.
        for code in [3, 4, 5] {
            assert_eq!(run(&[], ProcessEnd::Exited(code)).unwrap(), ShimEnd::Exited);
            assert_eq!(
                run(&[(ERROR, " \n")], ProcessEnd::Exited(code)).unwrap(),
                ShimEnd::Exited
            );
        }
    }

    #[test]
    fn other_codes_with_error_txt_are_raised_exceptions() {
        assert_eq!(
            run(&[(ERROR, "ValueError: bad\nrow")], ProcessEnd::Exited(1)).unwrap(),
            ShimEnd::Raised {
                summary: "ValueError: bad row".into()
            }
        );
        assert_eq!(
            run(&[(ERROR, "SystemExit: msg")], ProcessEnd::Exited(7)).unwrap(),
            ShimEnd::Raised {
                summary: "SystemExit: msg".into()
            }
        );
        assert_eq!(run(&[], ProcessEnd::Exited(99)).unwrap(), ShimEnd::Exited);
    }

    #[test]
    fn a_signal_ignores_the_files() {
        assert_eq!(
            run(&[(RESULT, "1"), (ERROR, "x")], ProcessEnd::Signaled(15)).unwrap(),
            ShimEnd::Exited
        );
    }

    #[test]
    fn a_huge_error_file_is_bounded() {
        let long = "E".repeat(100_000);
        let ShimEnd::Raised { summary } = run(&[(ERROR, &long)], ProcessEnd::Exited(1)).unwrap()
        else {
            panic!("not raised")
        };
        assert_eq!(summary.len() as u64, ERROR_MAX_BYTES);
    }

    fn context(json: &str) -> Context {
        let payload: Payload = serde_json::from_str(json).unwrap();
        Context::build(
            payload,
            Overrides {
                origin: "test",
                ..Overrides::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn context_has_airflow_keys_and_lists_its_dates() {
        let ctx = context(
            r#"{"dag_id": "sales", "task_id": "load", "logical_date": "2024-06-01T00:00:00+00:00",
                "data_interval_end": "2024-06-02T00:00:00+00:00",
                "data_interval_start": "2024-06-01T00:00:00+00:00",
                "run_id": "scheduled__2024-06-01T00:00:00+00:00", "try_number": 2,
                "params": {"region": "emea"}, "dag_run_conf": {"full": true}}"#,
        );
        let (c, keys) = context_json(&ctx);
        assert_eq!(c["ds"], "2024-06-01");
        assert_eq!(c["ts_nodash_with_tz"], "20240601T000000+0000");
        assert_eq!(c["prev_ds"], "2024-05-31");
        assert_eq!(c["next_ds"], "2024-06-02");
        assert_eq!(c["logical_date"], "2024-06-01T00:00:00+00:00");
        assert_eq!(c["task_instance_key_str"], "sales__load__20240601");
        assert_eq!(c["ti"]["try_number"], 2);
        assert_eq!(c["ti"]["map_index"], -1);
        assert_eq!(c["dag_run"]["conf"]["full"], true);
        assert_eq!(c["dag_run"]["run_type"], "scheduled");
        assert_eq!(c["params"]["region"], "emea");
        assert_eq!(c["task"]["owner"], "airflow");
        assert!(keys.contains(&"logical_date".to_string()));
        assert!(keys.contains(&"dag_run.logical_date".to_string()));
        // Every listed path exists and holds an ISO string or null (§3.1).
        for key in &keys {
            let mut v = &Value::Object(c.clone());
            for part in key.split('.') {
                v = &v[part];
            }
            assert!(v.is_string() || v.is_null(), "{key}: {v}");
        }
    }

    #[test]
    fn airflow3_without_logical_date_has_no_ds() {
        let ctx = context(r#"{"logical_date": null, "airflow_version": "3.0.2", "run_id": "r1"}"#);
        let (c, _) = context_json(&ctx);
        assert!(c.get("ds").is_none());
        assert!(c.get("execution_date").is_none());
        assert_eq!(c["run_id"], "r1");
        assert_eq!(c["dag_run"]["logical_date"], Value::Null);
    }

    #[test]
    fn staged_folder_is_private_and_complete() {
        let mut input = Map::new();
        input.insert("kind".into(), "python".into());
        let staged = stage("python", Some("print(1)\n"), &[], &input).unwrap();
        let mode = std::fs::metadata(staged.dir.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        assert!(staged.args.iter().all(|p| p.is_absolute()));
        assert_eq!(
            std::fs::read_to_string(&staged.args[0]).unwrap(),
            "print(1)\n"
        );
        assert_eq!(
            std::fs::read_to_string(&staged.args[1]).unwrap(),
            r#"{"kind":"python"}"#
        );
        let path = staged.dir.path().to_path_buf();
        drop(staged);
        assert!(!path.exists());
    }
}
