//! The one writer of `return.json`: one strict UTF-8 JSON value, written to a
//! temp file in the same folder, fsynced, then renamed into place, so KPO's
//! sidecar (`cat` after the container ends) never sees a partial or invalid file.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::environ::Environ;
use crate::error::{Error, Result};

/// KPO's sidecar reads this path (cncf.kubernetes utils/xcom_sidecar.py).
pub const DEFAULT_PATH: &str = "/airflow/xcom/return.json";
pub const PATH_ENV: &str = "TASK_RUNNER_XCOM_PATH";

/// `--xcom-path`, else `TASK_RUNNER_XCOM_PATH`, else KPO's path.
pub fn resolve_path(flag: Option<&Path>, env: &Environ) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| {
            env.get(PATH_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
}

/// Serializes `value` as strict JSON and checks it against the size cap.
pub fn encode(value: &Value, max_bytes: u64) -> Result<Vec<u8>> {
    let bytes = serde_json::to_vec(value).map_err(|e| Error::XComValue {
        message: e.to_string(),
    })?;
    if bytes.len() as u64 > max_bytes {
        return Err(Error::XComValue {
            message: format!(
                "it is {} bytes, over the limit of {max_bytes} bytes: raise `max_xcom_bytes` in the spec, or write the full result to a file (`output_path` for SQL tasks) and return its path",
                bytes.len()
            ),
        });
    }
    Ok(bytes)
}

/// Checks JSON text a task wrote: one valid JSON value, within the cap. The
/// bytes are kept as they are, so big integers and exact decimals survive.
pub fn check_raw(bytes: Vec<u8>, max_bytes: u64) -> Result<Vec<u8>> {
    if bytes.len() as u64 > max_bytes {
        return Err(Error::XComValue {
            message: format!(
                "it is {} bytes, over the limit of {max_bytes} bytes: raise `max_xcom_bytes` in the spec, or write the full result to a file and return its path",
                bytes.len()
            ),
        });
    }
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    de.disable_recursion_limit();
    serde::de::IgnoredAny::deserialize(&mut de)
        .and_then(|_| de.end())
        .map_err(|e| Error::XComValue {
            message: format!("the task's result is not one valid JSON value: {e}"),
        })?;
    Ok(bytes)
}

/// Writes `bytes` to `path` atomically, creating the folder as
/// `@task.kubernetes` does (`mkdir -p /airflow/xcom`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let fail = |source: std::io::Error| Error::XComWrite {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".return.json.")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    // The rename is durable once the folder's entry is.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_atomically_and_creates_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("xcom/return.json");
        write_atomic(&path, b"[1,2]").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[1,2]");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("xcom"))
            .unwrap()
            .collect();
        assert_eq!(leftovers.len(), 1);
    }

    #[test]
    fn size_cap_names_the_remedy() {
        let err = encode(&Value::String("x".repeat(100)), 10)
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_xcom_bytes"), "{err}");
    }
}
