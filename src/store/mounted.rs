//! Secrets mounted as files: the folder Docker, docker compose and most
//! Kubernetes charts mount them in (`/run/secrets`), or the one
//! `TASK_RUNNER_SECRETS_DIR` names.
//!
//! Files named `AIRFLOW_CONN_<ID>` / `AIRFLOW_VAR_<KEY>` are connections and
//! variables (the store's precedence 1). Every other file is a secret the task
//! may print (an AWS credentials file, a MySQL option file, a token): its
//! values are registered with the masker. A file holding one value is masked
//! whole; a file of `key = value` / `key: value` / `KEY=value` lines (INI,
//! YAML, dotenv, option files) has each value masked; a JSON document has each
//! of its strings masked.

use std::path::{Path, PathBuf};

use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::store::SECRETS_DIR_ENV as DIR_ENV;

/// The folder read when `TASK_RUNNER_SECRETS_DIR` is not set.
pub(crate) const DEFAULT_DIR: &str = "/run/secrets";
/// A Kubernetes Secret holds at most 1 MiB; a larger file is no credential.
const MAX_FILE_BYTES: u64 = 1 << 20;
/// Files read at most, subfolders included.
const MAX_FILES: usize = 1000;
/// Subfolder depth followed (projected volumes may nest keys in folders).
const MAX_DEPTH: usize = 4;

/// What the secrets folder holds.
#[derive(Debug, Default, Clone)]
pub(crate) struct Mounted {
    /// `AIRFLOW_CONN_*` / `AIRFLOW_VAR_*` files, name to value.
    pub(crate) named: Vec<(String, String)>,
    /// What every other file holds that must not be printed.
    pub(crate) found: Vec<Found>,
}

/// A value of a mounted file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// Secret whatever it looks like: a file's whole content, a string of a
    /// JSON document, a line that is not `key = value`.
    Whole(String),
    /// The value of a `key = value` line; a plain number or boolean is taken
    /// for configuration (a port, a flag) unless its key is sensitive.
    Keyed { key: String, value: String },
}

impl Found {
    /// The value to mask, if it is one.
    pub(crate) fn secret(&self, sensitive: impl Fn(&str) -> bool) -> Option<&str> {
        match self {
            Found::Whole(v) => Some(v),
            Found::Keyed { key, value } => {
                (!is_plain_setting(value) || sensitive(key)).then_some(value.as_str())
            }
        }
    }
}

/// The secrets folder of this run: `TASK_RUNNER_SECRETS_DIR` when set (empty
/// turns it off), else `/run/secrets` when it is a folder. The flag says
/// whether it was named (then a folder that cannot be read is an error).
pub(crate) fn folder(env: &Environ) -> Option<(PathBuf, bool)> {
    match env.get(DIR_ENV) {
        Some("") => None,
        Some(dir) => Some((PathBuf::from(dir), true)),
        None => {
            let dir = Path::new(DEFAULT_DIR);
            dir.is_dir().then(|| (dir.to_path_buf(), false))
        }
    }
}

/// Reads the folder. A connection or variable file that cannot be read is an
/// error (the task would run without it); any other file that cannot be read,
/// is too large or is binary is skipped with a warning (the task, running as
/// the same user, cannot read it either; a binary file prints as garbage).
pub(crate) fn read(dir: &Path, named_dir: bool) -> Result<Mounted> {
    let mut mounted = Mounted::default();
    let mut walk = Walk {
        files: 0,
        warned_full: false,
    };
    let names = match listing(dir) {
        Ok(names) => names,
        Err(source) if named_dir => {
            return Err(Error::Read {
                what: "secrets folder (TASK_RUNNER_SECRETS_DIR)",
                path: dir.into(),
                source,
            });
        }
        Err(e) => {
            tracing::warn!(
                "cannot read the secrets folder `{}` ({e}): its files are not masked; set `{DIR_ENV}=\"\"` to not read it",
                dir.display()
            );
            return Ok(mounted);
        }
    };
    walk.folder(dir, names, 0, &mut mounted)?;
    Ok(mounted)
}

/// The names in `dir`, sorted (the order files are read in).
fn listing(dir: &Path) -> std::io::Result<Vec<std::ffi::OsString>> {
    let mut names: Vec<_> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.file_name())
        .collect();
    names.sort();
    Ok(names)
}

struct Walk {
    files: usize,
    warned_full: bool,
}

impl Walk {
    /// Reads the files `names` of `dir` (and its subfolders).
    fn folder(
        &mut self,
        dir: &Path,
        names: Vec<std::ffi::OsString>,
        depth: usize,
        out: &mut Mounted,
    ) -> Result<()> {
        for name in names {
            let name_text = name.to_string_lossy();
            // Kubernetes' atomic-update layout: `..data` and `..2024_...` hold
            // the files the top-level symlinks point at; read each file once.
            if name_text.starts_with("..") {
                continue;
            }
            let path = dir.join(&name);
            let Ok(meta) = std::fs::metadata(&path) else {
                tracing::debug!("secret `{}` is a dangling link: skipped", path.display());
                continue;
            };
            if meta.is_dir() {
                if depth + 1 < MAX_DEPTH {
                    match listing(&path) {
                        Ok(names) => self.folder(&path, names, depth + 1, out)?,
                        Err(e) => tracing::warn!(
                            "cannot read the secrets folder `{}` ({e}): its files are not masked",
                            path.display()
                        ),
                    }
                }
                continue;
            }
            if !meta.is_file() {
                continue;
            }
            if self.files == MAX_FILES {
                if !self.warned_full {
                    self.warned_full = true;
                    tracing::warn!(
                        "the secrets folder `{}` holds more than {MAX_FILES} files: the rest are not read",
                        dir.display()
                    );
                }
                return Ok(());
            }
            // Public parts of the service-account folder Kubernetes mounts
            // under /run/secrets (via /var/run): the pod's namespace would
            // mask a common word in every line. Its `token` is masked.
            if path.ends_with("kubernetes.io/serviceaccount/namespace") {
                continue;
            }
            self.files += 1;
            let airflow = depth == 0
                && (name_text.starts_with("AIRFLOW_CONN_")
                    || name_text.starts_with("AIRFLOW_VAR_"));
            if airflow {
                named_file(&path, meta.len(), &name_text, out)?;
            } else {
                other_file(&path, meta.len(), out);
            }
        }
        Ok(())
    }
}

fn named_file(path: &Path, len: u64, name: &str, out: &mut Mounted) -> Result<()> {
    if len > MAX_FILE_BYTES {
        return Err(Error::config(format!(
            "secret file `{}` is {len} bytes, over the {MAX_FILE_BYTES}-byte limit of a secret",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        what: "secret file",
        path: path.into(),
        source,
    })?;
    // `echo value > file` and `kubectl create secret --from-file` leave one newline.
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    out.named.push((name.to_string(), text.to_string()));
    Ok(())
}

fn other_file(path: &Path, len: u64, out: &mut Mounted) {
    if len > MAX_FILE_BYTES {
        tracing::warn!(
            "secret file `{}` is {len} bytes, over {MAX_FILE_BYTES}: not masked",
            path.display()
        );
        return;
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(
                "cannot read secret file `{}` ({e}): not masked",
                path.display()
            );
            return;
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) if !text.contains('\0') => out.found.extend(values(&text)),
        _ => tracing::debug!("secret file `{}` is binary: not masked", path.display()),
    }
}

/// The secret values of one file's text.
pub(crate) fn values(text: &str) -> Vec<Found> {
    let body = text.trim_matches(|c| c == '\n' || c == '\r');
    if body.trim().is_empty() {
        return Vec::new();
    }
    let start = body.trim_start();
    // A certificate (a CA bundle) is public; a private key beside it is not.
    if start.starts_with("-----BEGIN CERTIFICATE-----") && !body.contains("PRIVATE KEY") {
        return Vec::new();
    }
    if (start.starts_with('{') || start.starts_with('['))
        && let Ok(doc) = serde_json::from_str::<serde_json::Value>(body)
    {
        let mut out = Vec::new();
        json_strings(&doc, &mut out);
        return out;
    }
    let mut keyed = Vec::new();
    let mut loose = Vec::new();
    for line in body.lines() {
        let line = line.trim();
        if line.is_empty() || is_structure(line) {
            continue;
        }
        match key_line(line) {
            Some((key, value)) => {
                if let Some(value) = setting_value(value) {
                    keyed.push(Found::Keyed {
                        key: key.to_string(),
                        value: value.to_string(),
                    });
                }
            }
            None => loose.push(Found::Whole(line.to_string())),
        }
    }
    if keyed.is_empty() {
        // One value, perhaps over several lines (a private key): the masker
        // also masks each of its lines.
        return vec![Found::Whole(body.trim().to_string())];
    }
    // The lines that are not `key = value` in a file that has some: the
    // lines of a YAML block scalar or of a key pasted into an INI file.
    keyed.extend(loose);
    if !body.contains('\n') {
        keyed.push(Found::Whole(body.trim().to_string()));
    }
    keyed
}

fn json_strings(value: &serde_json::Value, out: &mut Vec<Found>) {
    match value {
        serde_json::Value::String(s) => out.push(Found::Whole(s.clone())),
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| json_strings(v, out)),
        _ => {}
    }
}

/// Comments, INI sections and YAML document markers.
fn is_structure(line: &str) -> bool {
    line.starts_with('#')
        || line.starts_with(';')
        || (line.starts_with('[') && line.ends_with(']'))
        || line == "---"
        || line == "..."
}

/// `key = value`, `key: value`, `export KEY=value`, `- key: value`: the key
/// and the raw value. The key is a name (letters, digits, `_ . -`, not
/// starting with a digit), so a URL or a base64 text is no key line.
fn key_line(line: &str) -> Option<(&str, &str)> {
    let line = line.strip_prefix("- ").unwrap_or(line).trim_start();
    let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        .unwrap_or(line.len());
    let key = &line[..end];
    if key.is_empty() || key.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let rest = line[end..].trim_start();
    // `abc==` is base64 padding, not a key.
    if let Some(value) = rest.strip_prefix('=').filter(|v| !v.starts_with('=')) {
        return Some((key, value));
    }
    // YAML wants a space after the colon (`host:port` is no mapping).
    let value = rest.strip_prefix(':')?;
    (value.is_empty() || value.starts_with([' ', '\t'])).then_some((key, value))
}

/// A raw value as the file means it: quotes removed, an inline comment after
/// an unquoted value removed; `None` for an empty value or a YAML block
/// indicator (`|`, `>-`: the lines below are the value).
fn setting_value(raw: &str) -> Option<&str> {
    let raw = raw.trim();
    for q in ['"', '\''] {
        if raw.len() >= 2
            && raw.starts_with(q)
            && let Some(end) = raw[1..].find(q)
        {
            let inner = &raw[1..=end];
            return (!inner.is_empty()).then_some(inner);
        }
    }
    let value = match raw.find(" #").or_else(|| raw.find(" ;")) {
        Some(i) => raw[..i].trim_end(),
        None => raw,
    };
    let block = value.len() <= 3
        && (value.starts_with('|') || value.starts_with('>'))
        && value[1..]
            .chars()
            .all(|c| matches!(c, '-' | '+' | '1'..='9'));
    (!value.is_empty() && !block).then_some(value)
}

/// A number, a boolean or a null: a setting, not a secret.
fn is_plain_setting(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "none"
    ) || value.parse::<f64>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(text: &str) -> Vec<String> {
        values(text)
            .iter()
            .filter_map(|f| f.secret(|k| k.to_lowercase().contains("password")))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_single_value_is_masked_whole() {
        assert_eq!(secrets("s3cr3t-token\n"), ["s3cr3t-token"]);
        assert_eq!(
            secrets("postgres://u:pw@db:5432/x?sslmode=require\n"),
            ["postgres://u:pw@db:5432/x?sslmode=require"]
        );
        assert_eq!(secrets("abc==\n"), ["abc=="]);
        let pem =
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\nBgkqhkiG9w0B\n-----END PRIVATE KEY-----\n";
        assert_eq!(secrets(pem), [pem.trim()]);
        assert!(secrets("\n\n").is_empty());
        let ca = "-----BEGIN CERTIFICATE-----\nMIIDBTCCAe2gAwIBAgIIZ\n-----END CERTIFICATE-----\n";
        assert!(secrets(ca).is_empty());
        let bundle =
            format!("{ca}-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----\n");
        assert_eq!(secrets(&bundle), [bundle.trim()]);
    }

    #[test]
    fn key_value_files_mask_their_values() {
        let aws = "[default]\naws_access_key_id = AKIAEXAMPLE123\naws_secret_access_key=wJalr/XUtnFEMI+K7MDENG\nregion = eu-west-1\n# a comment = not a value\n";
        assert_eq!(
            secrets(aws),
            ["AKIAEXAMPLE123", "wJalr/XUtnFEMI+K7MDENG", "eu-west-1"]
        );
        let mycnf = "[client]\nuser=app\npassword=\"p@ss w0rd\"\nport=3306\n";
        assert_eq!(secrets(mycnf), ["app", "p@ss w0rd"]);
        let dotenv = "export API_TOKEN='tok-123456'\nDEBUG=true\nPASSWORD=12345678\nURL=https://x.example/a # the endpoint\n";
        assert_eq!(
            secrets(dotenv),
            ["tok-123456", "12345678", "https://x.example/a"]
        );
        let yaml = "---\nuser: app\npassword: hunter2hunter\nkey: |\n  line-one-of-key\n  line-two-of-key\nlist:\n  - item\n";
        assert_eq!(
            secrets(yaml),
            [
                "app",
                "hunter2hunter",
                "line-one-of-key",
                "line-two-of-key",
                "- item"
            ]
        );
        assert_eq!(
            secrets("password=hunter22"),
            ["hunter22", "password=hunter22"]
        );
    }

    #[test]
    fn json_documents_mask_their_strings() {
        assert_eq!(
            secrets(
                r#"{"type": "service_account", "private_key": "k-123", "n": 5, "l": ["a1", {"b": "b2"}]}"#
            ),
            ["service_account", "k-123", "a1", "b2"]
        );
    }

    #[test]
    fn the_folder_follows_kubernetes_links_and_skips_binary_and_large_files() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("..2026_12_01_00_00_00.000");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("token"), "tok-from-k8s\n").unwrap();
        std::fs::write(data.join("AIRFLOW_CONN_DB"), "postgres://u:pw-k8s@h/db\n").unwrap();
        std::os::unix::fs::symlink(&data, dir.path().join("..data")).unwrap();
        for f in ["token", "AIRFLOW_CONN_DB"] {
            std::os::unix::fs::symlink(format!("..data/{f}"), dir.path().join(f)).unwrap();
        }
        std::fs::write(dir.path().join("keytab"), b"\x05\x02\0\0binary").unwrap();
        std::fs::write(
            dir.path().join("big"),
            vec![b'a'; MAX_FILE_BYTES as usize + 1],
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("nested")).unwrap();
        std::fs::write(dir.path().join("nested/api"), "api-key-nested").unwrap();
        std::os::unix::fs::symlink("missing", dir.path().join("dangling")).unwrap();
        let sa = dir.path().join("kubernetes.io/serviceaccount");
        std::fs::create_dir_all(&sa).unwrap();
        std::fs::write(sa.join("namespace"), "data-team").unwrap();
        std::fs::write(sa.join("token"), "eyJhbGciOiJSUzI1NiJ9.sa-token").unwrap();
        let m = read(dir.path(), true).unwrap();
        assert_eq!(
            m.named,
            [(
                "AIRFLOW_CONN_DB".to_string(),
                "postgres://u:pw-k8s@h/db".to_string()
            )]
        );
        assert_eq!(
            m.found,
            [
                Found::Whole("eyJhbGciOiJSUzI1NiJ9.sa-token".into()),
                Found::Whole("api-key-nested".into()),
                Found::Whole("tok-from-k8s".into())
            ]
        );
    }

    #[test]
    fn the_folder_is_the_named_one_the_default_or_none() {
        let env = Environ::from_pairs([(DIR_ENV, "")]);
        assert_eq!(folder(&env), None);
        let env = Environ::from_pairs([(DIR_ENV, "/x/y")]);
        assert_eq!(folder(&env), Some((PathBuf::from("/x/y"), true)));
        let err = read(Path::new("/nonexistent/secrets"), true).unwrap_err();
        assert!(matches!(err, Error::Read { .. }), "{err:?}");
        assert!(
            read(Path::new("/nonexistent/secrets"), false)
                .unwrap()
                .found
                .is_empty()
        );
    }
}
