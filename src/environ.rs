//! A snapshot of the process environment, taken once in `main` and passed down,
//! so that every stage is a function of its inputs and tests need no `set_var`.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};

#[derive(Debug, Clone, Default)]
pub struct Environ {
    vars: BTreeMap<String, String>,
    /// Entries whose name or value is not UTF-8: no Airflow setting this
    /// runner reads is such, but a task inherits them unchanged
    /// (`FILE_NAME=caf\xe9.csv`), as BashOperator's `os.environ` passes them.
    opaque: Vec<(OsString, OsString)>,
}

impl Environ {
    /// The current process's environment.
    pub fn capture() -> Environ {
        let mut env = Environ::default();
        for (k, v) in std::env::vars_os() {
            match (k.to_str(), v.to_str()) {
                (Some(k), Some(v)) => {
                    env.vars.insert(k.to_string(), v.to_string());
                }
                _ => env.opaque.push((k, v)),
            }
        }
        env
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Environ {
        Environ {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            opaque: vec![],
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Entries whose name starts with `prefix`, with the prefix removed.
    pub fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.vars
            .range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(move |(k, v)| (&k[prefix.len()..], v.as_str()))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every entry, the non-UTF-8 ones too, as a child process inherits them.
    pub fn iter_os(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.vars
            .iter()
            .map(|(k, v)| (OsStr::new(k), OsStr::new(v)))
            .chain(
                self.opaque
                    .iter()
                    .map(|(k, v)| (k.as_os_str(), v.as_os_str())),
            )
    }
}

/// Why the runner believes it runs in a container, if it does: PID 1 (an
/// image's ENTRYPOINT), Docker's `/.dockerenv`, Podman's `/run/.containerenv`,
/// or a Kubernetes pod's `KUBERNETES_SERVICE_HOST`.
pub fn container_reason(env: &Environ) -> Option<String> {
    detect_container(
        std::process::id(),
        |p| std::path::Path::new(p).exists(),
        env,
    )
}

fn detect_container(pid: u32, exists: impl Fn(&str) -> bool, env: &Environ) -> Option<String> {
    if pid == 1 {
        return Some("it runs as PID 1".into());
    }
    if let Some(marker) = ["/.dockerenv", "/run/.containerenv"]
        .into_iter()
        .find(|p| exists(p))
    {
        return Some(format!("`{marker}` exists"));
    }
    env.get("KUBERNETES_SERVICE_HOST")
        .filter(|v| !v.is_empty())
        .map(|_| "`KUBERNETES_SERVICE_HOST` is set".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_told_by_pid_1_marker_files_or_kubernetes() {
        let none = Environ::default();
        let kube = Environ::from_pairs([("KUBERNETES_SERVICE_HOST", "10.0.0.1")]);
        assert_eq!(detect_container(4242, |_| false, &none), None);
        assert!(
            detect_container(1, |_| false, &none)
                .unwrap()
                .contains("PID 1")
        );
        assert!(
            detect_container(4242, |p| p == "/run/.containerenv", &none)
                .unwrap()
                .contains("/run/.containerenv")
        );
        assert!(
            detect_container(4242, |_| false, &kube)
                .unwrap()
                .contains("KUBERNETES_SERVICE_HOST")
        );
    }
}
