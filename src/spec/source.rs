//! Where the spec and context bytes come from: a file, stdin or an env var, and
//! how an env payload is encoded (raw JSON/YAML, base64, or base64 of gzip),
//! detected rather than declared.

use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;

use crate::error::{Error, Result};

/// The env var that carries the spec when no `--config` is given.
pub const SPEC_ENV: &str = "TASK_RUNNER_SPEC";
/// The env var that carries the context payload when no `--context` is given.
pub const CONTEXT_ENV: &str = "TASK_RUNNER_CONTEXT";

/// A document's text and where it came from, for error messages and for
/// resolving relative paths.
#[derive(Debug, Clone)]
pub struct Document {
    pub text: String,
    /// Human description: "file `x.yaml`", "stdin", "env `TASK_RUNNER_SPEC` (base64+gzip)".
    pub origin: String,
    /// The folder relative paths in the document resolve against.
    pub base_dir: PathBuf,
    /// Whether line numbers in `text` mean something to the user (not for a
    /// decoded base64 payload, which they never saw as lines).
    pub has_lines: bool,
}

/// Reads a document from `--flag FILE` (`-` = stdin), else from the env var.
pub fn load(
    path: Option<&Path>,
    env_name: &str,
    env_value: Option<&str>,
    what: &'static str,
) -> Result<Option<Document>> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    if let Some(path) = path {
        if path == Path::new("-") {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|source| Error::Read {
                    what,
                    path: path.into(),
                    source,
                })?;
            return decode(bytes, "stdin".into(), cwd).map(Some);
        }
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            what,
            path: path.into(),
            source,
        })?;
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
        return decode(bytes, format!("file `{}`", path.display()), base_dir).map(Some);
    }
    match env_value {
        Some(value) if !value.trim().is_empty() => {
            decode(value.as_bytes().to_vec(), format!("env `{env_name}`"), cwd).map(Some)
        }
        _ => Ok(None),
    }
}

/// Turns raw bytes into text, undoing base64 and gzip when the bytes are such.
fn decode(bytes: Vec<u8>, origin: String, base_dir: PathBuf) -> Result<Document> {
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
        return Ok(Document {
            text,
            origin,
            base_dir,
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
            .read_to_end(&mut out)
            .map_err(|e| Error::SpecDecode {
                origin: origin.clone(),
                message: format!("base64 decoded to gzip data that does not decompress: {e}"),
            })?;
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
    Ok(Document {
        text,
        origin,
        base_dir,
        has_lines: false,
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
        decode(text.as_bytes().to_vec(), "test".into(), PathBuf::from("/")).unwrap()
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
        let err = decode(b"a".to_vec(), "env".into(), PathBuf::from("/")).unwrap_err();
        assert!(
            err.to_string().contains("does not decode as base64"),
            "{err}"
        );
    }
}
