//! Connections and variables from every place Airflow users put them, with one
//! documented precedence, and the list of secret values to mask.
//!
//! Precedence, first found wins, mirroring Airflow's backend order (a custom
//! secrets backend, then environment variables, then the metastore):
//! 1. a file `AIRFLOW_CONN_<ID>` / `AIRFLOW_VAR_<KEY>` in the secrets folder
//!    (`TASK_RUNNER_SECRETS_DIR`, else `/run/secrets`: a mounted Kubernetes or
//!    Docker secret);
//! 2. the env var `AIRFLOW_CONN_<ID>` / `AIRFLOW_VAR_<KEY>`;
//! 3. the context payload's `connections` / `variables`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::connection::{Connection, is_sensitive_key};
use crate::environ::Environ;
use crate::error::{Error, Result};

mod mounted;

pub const SECRETS_DIR_ENV: &str = "TASK_RUNNER_SECRETS_DIR";

#[derive(Debug, Default, Clone)]
pub struct Store {
    /// Env-style name (`AIRFLOW_CONN_WAREHOUSE`) to raw value, secrets dir and env merged.
    named: BTreeMap<String, String>,
    payload_connections: Map<String, Value>,
    payload_variables: Map<String, Value>,
    sensitive_names: Vec<String>,
    /// What the secrets folder's other files hold.
    mounted: Vec<mounted::Found>,
    /// The run is Airflow 3's (the payload's `airflow_version`).
    airflow3: bool,
}

/// Where a connection's value came from, which decides how Airflow reads an
/// empty password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// `AIRFLOW_CONN_*` or the secrets folder: Airflow's env-var backend.
    Env,
    /// The payload's `connections`: rows of the metastore, as resolved on
    /// the worker.
    Payload,
}

impl Store {
    pub fn new(
        env: &Environ,
        payload_connections: Map<String, Value>,
        payload_variables: Map<String, Value>,
        sensitive_names: Vec<String>,
    ) -> Result<Store> {
        Ok(Store::from_env(env)?.with_payload(
            payload_connections,
            payload_variables,
            sensitive_names,
        ))
    }

    /// What the environment and the secrets folder hold (the folder is read
    /// here, once per run), before the payload is known.
    pub fn from_env(env: &Environ) -> Result<Store> {
        let mut named = BTreeMap::new();
        for (k, v) in env.iter() {
            if k.starts_with("AIRFLOW_CONN_") || k.starts_with("AIRFLOW_VAR_") {
                named.insert(k.to_string(), v.to_string());
            }
        }
        let mut found = Vec::new();
        if let Some((dir, named_dir)) = mounted::folder(env) {
            let m = mounted::read(&dir, named_dir)?;
            named.extend(m.named);
            found = m.found;
        }
        // Airflow's `[core] sensitive_var_conn_names`, as its env override.
        let sensitive_names = env
            .get("AIRFLOW__CORE__SENSITIVE_VAR_CONN_NAMES")
            .map(|extra| {
                extra
                    .split(',')
                    .map(|s| s.trim().to_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Ok(Store {
            named,
            sensitive_names,
            mounted: found,
            ..Store::default()
        })
    }

    /// The store with the payload's connections, variables and sensitive
    /// names (the environment's and the folder's entries still win).
    pub fn with_payload(
        mut self,
        payload_connections: Map<String, Value>,
        payload_variables: Map<String, Value>,
        mut sensitive_names: Vec<String>,
    ) -> Store {
        sensitive_names.append(&mut self.sensitive_names);
        self.payload_connections = payload_connections;
        self.payload_variables = payload_variables;
        self.sensitive_names = sensitive_names;
        self
    }

    /// Whether a name is sensitive by Airflow's rule, with the configured
    /// names (`[core] sensitive_var_conn_names`, the payload's).
    pub fn is_sensitive(&self, name: &str) -> bool {
        is_sensitive_key(name, &self.sensitive_names)
    }

    /// Reads connections as Airflow 3 does (`true`) or Airflow 2 (the default).
    pub fn with_airflow3(mut self, airflow3: bool) -> Store {
        self.airflow3 = airflow3;
        self
    }

    /// The connection `conn_id`, parsed as Airflow parses it. The env-var
    /// backend finds `AIRFLOW_CONN_<ID upper-cased>`, so any case of the id;
    /// the payload's connections, like the metastore, match it exactly.
    ///
    /// An empty password is `None` wherever Airflow reads the connection
    /// through its ORM model: the metastore, and Airflow 2's env-var backend.
    /// Airflow 3's env-var backend builds the Task SDK's `Connection`, which
    /// keeps `""` (both checked by the real-Airflow template fixtures).
    pub fn connection(&self, conn_id: &str) -> Result<Connection> {
        let (raw, origin) = self
            .raw_connection(conn_id)
            .or_else(|| default_connection(conn_id).map(|raw| (raw, Origin::Payload)))
            .ok_or_else(|| Error::UnknownConnection {
                conn_id: conn_id.into(),
            })?;
        let mut conn = Connection::parse(conn_id, &raw).map_err(|source| Error::Connection {
            conn_id: conn_id.into(),
            source,
        })?;
        if !(self.airflow3 && origin == Origin::Env) && conn.password.as_deref() == Some("") {
            conn.password = None;
        }
        Ok(conn)
    }

    fn raw_connection(&self, conn_id: &str) -> Option<(String, Origin)> {
        if let Some(v) = self
            .named
            .get(&format!("AIRFLOW_CONN_{}", conn_id.to_uppercase()))
        {
            return Some((v.clone(), Origin::Env));
        }
        let raw = match self.payload_connections.get(conn_id)? {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Some((raw, Origin::Payload))
    }

    /// The variable `key` as Airflow stores it: a string.
    pub fn variable(&self, key: &str) -> Option<String> {
        if let Some(v) = self
            .named
            .get(&format!("AIRFLOW_VAR_{}", key.to_uppercase()))
        {
            return Some(v.clone());
        }
        match self.payload_variables.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    /// Every value that must never be printed: connection passwords (and their
    /// URL-quoted forms), sensitive extras, and variables with sensitive names.
    /// A connection that does not parse is masked whole.
    pub fn secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut conn = |id: &str, raw: &str| {
            match Connection::parse(id, raw) {
                Ok(c) => out.extend(c.secrets_with(&self.sensitive_names)),
                Err(_) => out.push(raw.trim().to_string()),
            }
            // The password as the URI spells it (`p%40ss%2fw`: any case of hex,
            // any choice of escapes), for a task that prints its environment.
            out.extend(raw_uri_password(raw).map(str::to_owned));
        };
        for (name, raw) in &self.named {
            if let Some(id) = name.strip_prefix("AIRFLOW_CONN_") {
                conn(&id.to_lowercase(), raw);
            }
        }
        for (id, v) in &self.payload_connections {
            match v {
                Value::String(s) => conn(id, s),
                other => conn(id, &other.to_string()),
            }
        }
        for (name, raw) in &self.named {
            if let Some(key) = name.strip_prefix("AIRFLOW_VAR_")
                && is_sensitive_key(key, &self.sensitive_names)
            {
                out.push(raw.clone());
            }
        }
        for (key, v) in &self.payload_variables {
            if is_sensitive_key(key, &self.sensitive_names) {
                out.push(v.as_str().map_or_else(|| v.to_string(), str::to_owned));
            }
        }
        // Every other mounted secret file (an AWS credentials file, a token).
        for found in &self.mounted {
            out.extend(
                found
                    .secret(|key| is_sensitive_key(key, &self.sensitive_names))
                    .map(str::to_owned),
            );
        }
        // A JSON variable (`{{ var.json.cfg.password }}`): as Airflow's
        // mask_secret, sensitive keys are found at any depth, and every string
        // under a sensitive variable name.
        let json_vars = self
            .named
            .iter()
            .filter_map(|(name, raw)| {
                Some((
                    name.strip_prefix("AIRFLOW_VAR_")?.to_lowercase(),
                    Cow::Borrowed(raw.as_str()),
                ))
            })
            .chain(self.payload_variables.iter().map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str()
                        .map_or_else(|| Cow::Owned(v.to_string()), Cow::Borrowed),
                )
            }));
        for (key, raw) in json_vars {
            let raw = raw.trim_start();
            if !(raw.starts_with('{') || raw.starts_with('[')) {
                continue;
            }
            if let Ok(value) = serde_json::from_str::<Value>(raw) {
                crate::connection::sensitive_strings(&value, &key, &self.sensitive_names, &mut out);
            }
        }
        out
    }
}

/// The password of a connection URI exactly as written in it.
fn raw_uri_password(raw: &str) -> Option<&str> {
    let raw = raw.trim();
    if raw.starts_with('{') {
        return None;
    }
    let rest = &raw[raw.rfind("://")? + 3..];
    let netloc = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &netloc[..netloc.rfind('@')?];
    userinfo
        .split_once(':')
        .map(|(_, pw)| pw)
        .filter(|pw| !pw.is_empty())
}

/// Airflow's default connections that need no server, used when not defined
/// elsewhere: `sqlite_default`, a database file in the temp dir, as
/// `airflow db init` creates it (utils/db.py `create_default_connections`).
fn default_connection(conn_id: &str) -> Option<String> {
    match conn_id {
        "sqlite_default" => {
            let path = std::env::temp_dir().join("sqlite_default.db");
            Some(
                serde_json::json!({"conn_type": "sqlite", "host": path.display().to_string()})
                    .to_string(),
            )
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_secrets_dir_env_payload() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("AIRFLOW_CONN_A"),
            "postgres://u:from-file@h/db\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("AIRFLOW_VAR_X"), "file-x\n").unwrap();
        let env = Environ::from_pairs([
            ("AIRFLOW_CONN_A", "postgres://u:from-env@h/db"),
            ("AIRFLOW_CONN_B", "postgres://u:b-env@h/db"),
            ("AIRFLOW_VAR_X", "env-x"),
            (SECRETS_DIR_ENV, dir.path().to_str().unwrap()),
        ]);
        let mut conns = Map::new();
        conns.insert("b".into(), "postgres://u:b-payload@h/db".into());
        conns.insert(
            "c".into(),
            serde_json::json!({"conn_type": "mysql", "password": "c-json-pw"}),
        );
        let mut vars = Map::new();
        vars.insert("y".into(), "payload-y".into());
        vars.insert("api_token".into(), "tok-12345".into());
        let store = Store::new(&env, conns, vars, vec![]).unwrap();
        assert_eq!(
            store.connection("a").unwrap().password.as_deref(),
            Some("from-file")
        );
        assert_eq!(
            store.connection("b").unwrap().password.as_deref(),
            Some("b-env")
        );
        assert_eq!(
            store.connection("c").unwrap().password.as_deref(),
            Some("c-json-pw")
        );
        assert!(matches!(
            store.connection("zzz"),
            Err(Error::UnknownConnection { .. })
        ));
        assert_eq!(store.variable("x").as_deref(), Some("file-x"));
        assert_eq!(store.variable("y").as_deref(), Some("payload-y"));
        let secrets = store.secrets();
        for s in ["from-file", "b-env", "b-payload", "c-json-pw", "tok-12345"] {
            assert!(secrets.iter().any(|x| x == s), "{s} not in {secrets:?}");
        }
        assert!(!secrets.iter().any(|x| x == "payload-y"));
    }

    #[test]
    fn the_password_as_written_in_the_uri_is_a_secret() {
        let env =
            Environ::from_pairs([("AIRFLOW_CONN_X", "postgres://u:p%40ss%2fw%20rd@h:5432/db")]);
        let store = Store::new(&env, Map::new(), Map::new(), vec![]).unwrap();
        assert!(store.secrets().iter().any(|s| s == "p%40ss%2fw%20rd"));
        assert_eq!(
            raw_uri_password("http://https://u:pw123@x/y"),
            Some("pw123")
        );
        assert_eq!(raw_uri_password("{\"password\": \"x\"}"), None);
    }

    #[test]
    fn sqlite_default_exists_unless_defined() {
        let store = Store::new(&Environ::default(), Map::new(), Map::new(), vec![]).unwrap();
        let c = store.connection("sqlite_default").unwrap();
        assert_eq!(c.conn_type.as_deref(), Some("sqlite"));
        assert!(c.host.unwrap().ends_with("sqlite_default.db"));
        let env = Environ::from_pairs([("AIRFLOW_CONN_SQLITE_DEFAULT", "sqlite:////data/x.db")]);
        let store = Store::new(&env, Map::new(), Map::new(), vec![]).unwrap();
        assert_eq!(
            store
                .connection("sqlite_default")
                .unwrap()
                .schema
                .as_deref(),
            Some("/data/x.db")
        );
    }
}
