//! Where the spec and context bytes come from: a file, stdin, a file an env
//! var names, or an env var, and how a payload is encoded (raw JSON/YAML,
//! base64, or base64 of gzip), detected rather than declared; and the DAG
//! project's `include/` folder an image may carry.

use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;

use crate::error::{Error, Result};
use crate::limits;

/// The env var that carries the spec when no `--config` is given.
pub const SPEC_ENV: &str = "TASK_RUNNER_SPEC";
/// The env var that carries the context payload when no `--context` is given.
pub const CONTEXT_ENV: &str = "TASK_RUNNER_CONTEXT";
/// The env var naming a file that holds the spec payload: for payloads too
/// big for an env var (Linux caps one env string at 128 KiB), which the
/// Airflow side ships as files in a mounted folder.
pub const SPEC_FILE_ENV: &str = "TASK_RUNNER_SPEC_FILE";
/// The same for the context payload.
pub const CONTEXT_FILE_ENV: &str = "TASK_RUNNER_CONTEXT_FILE";

/// The DAG project's `include/` folder in the image: the default
/// `python_path` of Python tasks and the last `template_searchpath` entry.
pub const INCLUDE_ENV: &str = "TASK_RUNNER_INCLUDE";
pub const DEFAULT_INCLUDE: &str = "/opt/airflow/include";

/// `TASK_RUNNER_INCLUDE` (default `/opt/airflow/include`; empty turns it
/// off), as an absolute path, when that folder exists.
pub fn include_dir(env_value: Option<&str>) -> Option<PathBuf> {
    let dir = match env_value {
        Some(v) if v.trim().is_empty() => return None,
        Some(v) => PathBuf::from(v),
        None => PathBuf::from(DEFAULT_INCLUDE),
    };
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    dir.is_dir().then_some(dir)
}

/// A document's text and where it came from, for error messages and for
/// resolving relative paths.
#[derive(Debug, Clone)]
pub struct Document {
    pub text: String,
    /// Human description: "file `x.yaml`", "stdin", "env `TASK_RUNNER_SPEC` (base64+gzip)".
    pub origin: String,
    /// The folder relative paths in the document resolve against.
    pub base_dir: PathBuf,
    /// What `base_dir` is.
    pub base: Base,
    /// Whether line numbers in `text` mean something to the user (not for a
    /// decoded base64 payload, which they never saw as lines).
    pub has_lines: bool,
}

/// What a document's relative paths resolve against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// The folder of the spec file the user named (`--config`).
    FileFolder,
    /// The working directory: a payload (env, stdin, `TASK_RUNNER_SPEC_FILE`)
    /// has no folder of its own.
    WorkingDir,
}

impl Document {
    /// What relative paths were resolved against, for messages.
    pub fn describe_base(&self) -> String {
        match self.base {
            Base::FileFolder => format!("the spec file's folder `{}`", self.base_dir.display()),
            Base::WorkingDir => format!(
                "the working directory `{}` (the spec came from {}, which has no folder)",
                self.base_dir.display(),
                self.origin
            ),
        }
    }
}

/// Reads a document from `--flag FILE` (`-` = stdin), else from the file the
/// `_FILE` env var names (`file_env`: its name and value), else from the env
/// var itself.
pub fn load_with_file(
    path: Option<&Path>,
    file_env: (&str, Option<&str>),
    env_name: &str,
    env_value: Option<&str>,
    what: &'static str,
    max: u64,
) -> Result<Option<Document>> {
    match file_env {
        (file_var, Some(file)) if path.is_none() && !file.trim().is_empty() => {
            let file = Path::new(file);
            let bytes = read_file(file, what, max)?;
            // The env payload moved to a file because of its size: it means
            // what it would mean in the env var, so relative paths in it
            // resolve against the working directory, not the mounted folder.
            let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
            decode(
                bytes,
                format!("file `{}` (env `{file_var}`)", file.display()),
                cwd,
                Base::WorkingDir,
                max,
            )
            .map(Some)
        }
        _ => load(path, env_name, env_value, what, max),
    }
}

/// Reads a document from `--flag FILE` (`-` = stdin), else from the env var.
pub fn load(
    path: Option<&Path>,
    env_name: &str,
    env_value: Option<&str>,
    what: &'static str,
    max: u64,
) -> Result<Option<Document>> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    if let Some(path) = path {
        if path == Path::new("-") {
            let mut bytes = Vec::new();
            // One byte past the cap tells "too large" from "exactly the cap".
            std::io::stdin()
                .take(max.saturating_add(1))
                .read_to_end(&mut bytes)
                .map_err(|source| Error::Read {
                    what,
                    path: path.into(),
                    source,
                })?;
            return decode(bytes, "stdin".into(), cwd, Base::WorkingDir, max).map(Some);
        }
        let bytes = read_file(path, what, max)?;
        let base_dir = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    cwd.clone()
                } else {
                    cwd.join(p)
                }
            })
            .unwrap_or(cwd);
        return decode(
            bytes,
            format!("file `{}`", path.display()),
            base_dir,
            Base::FileFolder,
            max,
        )
        .map(Some);
    }
    match env_value {
        Some(value) if !value.trim().is_empty() => decode(
            value.as_bytes().to_vec(),
            format!("env `{env_name}`"),
            cwd,
            Base::WorkingDir,
            max,
        )
        .map(Some),
        _ => Ok(None),
    }
}

/// A file's bytes, at most one past `max` (so that `decode` can tell it is too large).
fn read_file(path: &Path, what: &'static str, max: u64) -> Result<Vec<u8>> {
    let read = || -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        std::fs::File::open(path)?
            .take(max.saturating_add(1))
            .read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    read().map_err(|source| Error::Read {
        what,
        path: path.into(),
        source,
    })
}

fn too_large(origin: &str, max: u64) -> Error {
    Error::SpecDecode {
        origin: origin.to_string(),
        message: format!(
            "the payload decodes to more than {max} bytes (`{}`; default {})",
            limits::MAX_PAYLOAD_ENV,
            limits::DEFAULT_MAX_PAYLOAD_BYTES
        ),
    }
}

/// Turns raw bytes into text, undoing base64 and gzip when the bytes are such,
/// and checks the limits every document obeys: at most `max` bytes once
/// decoded (gzip is inflated through a `take`, so a bomb stops at the cap),
/// and at most [`limits::MAX_DEPTH`] levels of nesting.
fn decode(
    bytes: Vec<u8>,
    origin: String,
    base_dir: PathBuf,
    base: Base,
    max: u64,
) -> Result<Document> {
    if bytes.len() as u64 > max {
        return Err(too_large(&origin, max));
    }
    let trimmed = bytes.trim_ascii();
    // A spec or context is a mapping, so its raw text always has `{` or `:`;
    // base64 never does. Anything made only of the base64 alphabet is base64.
    let looks_base64 = !trimmed.is_empty()
        && trimmed.iter().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_' | b'\n' | b'\r')
        });
    if !looks_base64 {
        let text = String::from_utf8(bytes).map_err(|e| Error::SpecDecode {
            origin: origin.clone(),
            message: format!("not valid UTF-8 (byte {})", e.utf8_error().valid_up_to()),
        })?;
        check_depth(&text, &origin)?;
        return Ok(Document {
            text,
            origin,
            base_dir,
            base,
            has_lines: true,
        });
    }
    let compact: Vec<u8> = trimmed
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let decoded = decode_base64(&compact).ok_or_else(|| Error::SpecDecode {
        origin: origin.clone(),
        message: "it looks like base64 but does not decode as base64".into(),
    })?;
    let (decoded, how) = if decoded.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(decoded.as_slice())
            .take(max.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| Error::SpecDecode {
                origin: origin.clone(),
                message: format!("base64 decoded to gzip data that does not decompress: {e}"),
            })?;
        if out.len() as u64 > max {
            return Err(too_large(&format!("{origin} (base64+gzip)"), max));
        }
        (out, "base64+gzip")
    } else {
        (decoded, "base64")
    };
    let origin = format!("{origin} ({how})");
    let text = String::from_utf8(decoded).map_err(|e| Error::SpecDecode {
        origin: origin.clone(),
        message: format!(
            "the decoded payload is not valid UTF-8 (byte {})",
            e.utf8_error().valid_up_to()
        ),
    })?;
    check_depth(&text, &origin)?;
    Ok(Document {
        text,
        origin,
        base_dir,
        base,
        has_lines: false,
    })
}

fn check_depth(text: &str, origin: &str) -> Result<()> {
    limits::check_depth(text).map_err(|deep| Error::SpecDecode {
        origin: origin.to_string(),
        message: deep.to_string(),
    })
}

/// Standard or URL-safe alphabet, padded or not.
fn decode_base64(bytes: &[u8]) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(bytes).ok())
}

/// The payload `encode` prints: base64 of gzip of the text.
pub fn encode(text: &str) -> String {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(text.as_bytes());
    let bytes = gz.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document {
        decode(
            text.as_bytes().to_vec(),
            "test".into(),
            PathBuf::from("/"),
            Base::WorkingDir,
            limits::DEFAULT_MAX_PAYLOAD_BYTES,
        )
        .unwrap()
    }

    #[test]
    fn raw_yaml_and_json_pass_through() {
        assert_eq!(doc("operator: bash\n").text, "operator: bash\n");
        assert_eq!(
            doc("{\"operator\": \"bash\"}").text,
            "{\"operator\": \"bash\"}"
        );
        assert!(doc("operator: bash").has_lines);
    }

    #[test]
    fn base64_and_gzip_are_detected() {
        let plain = base64::engine::general_purpose::STANDARD.encode("operator: bash\n");
        let d = doc(&plain);
        assert_eq!(d.text, "operator: bash\n");
        assert!(d.origin.ends_with("(base64)"));
        let d = doc(&encode("operator: sql\n"));
        assert_eq!(d.text, "operator: sql\n");
        assert!(d.origin.ends_with("(base64+gzip)"));
    }

    #[test]
    fn broken_base64_is_an_error() {
        let err = decode(
            b"a".to_vec(),
            "env".into(),
            PathBuf::from("/"),
            Base::WorkingDir,
            limits::DEFAULT_MAX_PAYLOAD_BYTES,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("does not decode as base64"),
            "{err}"
        );
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_cap() {
        // 10 MB of zeros gzip to ~10 KB; a 1 MB cap stops the inflater there.
        let bomb = encode(&"0".repeat(10_000_000));
        let err = decode(
            bomb.into_bytes(),
            "env".into(),
            PathBuf::from("/"),
            Base::WorkingDir,
            1_000_000,
        )
        .unwrap_err();
        assert!(err.to_string().contains("more than 1000000 bytes"), "{err}");
    }
}
