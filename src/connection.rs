//! Airflow connections: parsing `AIRFLOW_CONN_<ID>` values, rendering them back, and listing the
//! values that must be masked in logs.
//!
//! This module owns the [`Connection`] model and its two wire forms, reproduced byte for byte from
//! Airflow's Python `Connection` class so that a value behaves here exactly as in Airflow:
//!
//! * the URI form (`Connection.from_uri`, Task SDK `definitions/connection.py`; identical to core
//!   `models/connection.py _parse_from_uri`), built on CPython's `urllib.parse` as
//!   [`crate::py::urllib`] reproduces it;
//! * the JSON form (`Connection.from_json`, Airflow >= 2.3), including `json.dumps` formatting of an
//!   `extra` object (`", "`/`": "` separators, `ensure_ascii`) so `{{ conn.x.extra }}` matches;
//! * `get_uri()` as in the Airflow 3 Task SDK, and the masking inputs (`secrets()`,
//!   [`is_sensitive_key`]) that Airflow's secrets masker derives from a connection.
//!
//! Looking connections up (env var names, secrets backends) and the masker itself live elsewhere.

use std::fmt;

use serde_json::{Map, Value};

use crate::py;
use crate::py::text::strip as py_strip;
use crate::py::truth::truthy as py_truthy;
use crate::py::urllib::{
    self, SAFE_NONE, SAFE_SLASH, parse_qsl, unquote, urlencode, urlsplit, userinfo,
};

/// Query key whose value is taken verbatim as `extra` (Airflow: `Connection.EXTRA_KEY`).
const EXTRA_KEY: &str = "__extra__";

/// Airflow's `DEFAULT_SENSITIVE_FIELDS` (secrets masker; Airflow 3.1.6 adds `proxy`, `proxies`).
pub const DEFAULT_SENSITIVE_FIELDS: [&str; 12] = [
    "access_token",
    "api_key",
    "apikey",
    "authorization",
    "passphrase",
    "passwd",
    "password",
    "private_key",
    "secret",
    "token",
    "keyfile_dict",
    "service_account",
];

/// An Airflow connection, field for field as Airflow stores it.
#[derive(Clone, PartialEq)]
pub struct Connection {
    pub conn_id: String,
    pub conn_type: Option<String>,
    pub description: Option<String>,
    pub host: Option<String>,
    pub login: Option<String>,
    pub password: Option<String>,
    pub schema: Option<String>,
    pub port: Option<u16>,
    /// Raw JSON string as Airflow stores it (not re-validated, as in the Airflow 3 Task SDK).
    pub extra: Option<String>,
}

/// Why a connection value could not be parsed. Messages never contain the password, nor any part
/// of a URI that could be a mis-split password.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("connection `{conn_id}` has an empty value")]
    Empty { conn_id: String },
    #[error("invalid connection URI for `{conn_id}`: {reason}")]
    Uri { conn_id: String, reason: UriError },
    #[error("invalid connection JSON for `{conn_id}`: {reason}")]
    Json { conn_id: String, reason: JsonError },
}

/// What is wrong with a URI-form connection (Airflow raises these as `AirflowException` or
/// `urllib.parse`'s `ValueError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("more than two `://` separators")]
    TooManySchemes,
    #[error("a login, password or port comes before the host's own `://` protocol")]
    AuthBeforeProtocol,
    #[error("{0}")]
    BadBrackets(&'static str),
    // The port text is not echoed: an unencoded `/`, `?`, `#` or `@` in a password makes urlsplit
    // read part of the password as the port.
    #[error(
        "port is not a number (percent-encode `/`, `?`, `#` and `@` in the login and password)"
    )]
    PortNotNumber,
    #[error("port is out of range 0-65535")]
    PortOutOfRange,
}

impl From<urllib::ValueError> for UriError {
    fn from(e: urllib::ValueError) -> Self {
        match e {
            urllib::ValueError::BadBrackets(why) => UriError::BadBrackets(why),
            urllib::ValueError::PortNotNumber => UriError::PortNotNumber,
            urllib::ValueError::PortOutOfRange => UriError::PortOutOfRange,
        }
    }
}

/// What is wrong with a JSON-form connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("{0}")]
    Syntax(String),
    #[error("expected a JSON object, got {0}")]
    NotObject(&'static str),
    #[error("unexpected key `{0}`")]
    UnknownKey(String),
    #[error("`{key}` must be a string, got {got}")]
    NotString {
        key: &'static str,
        got: &'static str,
    },
    #[error("port must be an integer or a numeric string, got {0}")]
    PortType(&'static str),
    #[error("port `{0}` is not a number")]
    PortNotNumber(String),
    #[error("port `{0}` is out of range 0-65535")]
    PortOutOfRange(String),
    #[error("`uri` cannot be combined with other keys")]
    UriMixed,
}

impl Connection {
    fn empty(conn_id: &str) -> Self {
        Self {
            conn_id: conn_id.to_owned(),
            conn_type: None,
            description: None,
            host: None,
            login: None,
            password: None,
            schema: None,
            port: None,
            extra: None,
        }
    }

    /// Parses an `AIRFLOW_CONN_*` value. Airflow: `BaseSecretsBackend.deserialize_connection`
    /// strips the value and picks JSON when it starts with `{`, the URI form otherwise.
    pub fn parse(conn_id: &str, value: &str) -> Result<Self, ConnectionError> {
        let value = py_strip(value);
        match value.chars().next() {
            None => Err(ConnectionError::Empty {
                conn_id: conn_id.to_owned(),
            }),
            Some('{') => Self::from_json(conn_id, value),
            Some(_) => Self::from_uri(conn_id, value),
        }
    }

    /// Airflow: Task SDK `Connection.from_uri` (same algorithm as core `_parse_from_uri`).
    pub fn from_uri(conn_id: &str, uri: &str) -> Result<Self, ConnectionError> {
        let fail = |reason| ConnectionError::Uri {
            conn_id: conn_id.to_owned(),
            reason,
        };
        let schemes = uri.matches("://").count();
        if schemes > 2 {
            return Err(fail(UriError::TooManySchemes));
        }
        // Two `://` means the host carries its own protocol, e.g. `http://https://example.com`.
        let host_with_protocol = schemes == 2;
        let conn_type = urlsplit(uri).map_err(|e| fail(e.into()))?.scheme;
        // Airflow replaces *every* `<scheme>://`, not just the first one.
        let rest = uri.replace(
            &format!("{conn_type}://"),
            if host_with_protocol { "" } else { "//" },
        );
        if host_with_protocol {
            let head = rest
                .split_once("://")
                .map_or(rest.as_str(), |(head, _)| head);
            if head.contains(['@', ':']) {
                return Err(fail(UriError::AuthBeforeProtocol));
            }
        }
        let parts = urlsplit(&rest).map_err(|e| fail(e.into()))?;
        let host = netloc_to_hostname(&parts.netloc);
        // Airflow `_create_host`: an empty host stays empty (never None), even with a protocol.
        let host = if host_with_protocol && !parts.scheme.is_empty() && !host.is_empty() {
            format!("{}://{host}", parts.scheme)
        } else {
            host
        };
        // `path[1:]` drops the first character whatever it is (see the `my_type://host` vector).
        let mut path = parts.path.chars();
        path.next();
        let schema = unquote(path.as_str());
        let (username, password) = userinfo(&parts.netloc);
        // An empty login/password stays `""` (Airflow only unquotes truthy values).
        let login = username.map(unquote);
        let password = password.map(unquote);
        let port = urllib::port(&parts.netloc).map_err(|e| fail(e.into()))?;
        let extra = if parts.query.is_empty() {
            None
        } else {
            let mut query = Map::new();
            for (key, value) in parse_qsl(&parts.query) {
                // `dict(pairs)`: the last duplicate wins but keeps the first one's position.
                query.insert(key, Value::String(value));
            }
            Some(match query.get(EXTRA_KEY) {
                Some(Value::String(raw)) => raw.clone(),
                _ => py::json::dumps(&Value::Object(query)),
            })
        };
        Ok(Self {
            conn_type: Some(normalize_conn_type(&conn_type)),
            host: Some(host),
            login,
            password,
            schema: Some(schema),
            port,
            extra,
            ..Self::empty(conn_id)
        })
    }

    /// Airflow: Task SDK `Connection.from_json` followed by the constructor's keyword checks.
    pub fn from_json(conn_id: &str, json: &str) -> Result<Self, ConnectionError> {
        let fail = |reason| ConnectionError::Json {
            conn_id: conn_id.to_owned(),
            reason,
        };
        let value: Value =
            serde_json::from_str(json).map_err(|e| fail(JsonError::Syntax(e.to_string())))?;
        let Value::Object(mut fields) = value else {
            return Err(fail(JsonError::NotObject(json_type(&value))));
        };
        // from_json pops `extra`, `conn_type` and `port`, and puts them back only when set; what is
        // left goes to the constructor as keyword arguments (`uri` included).
        let mut has_kwargs = false;
        let extra = match fields.shift_remove("extra") {
            Some(Value::String(raw)) if !raw.is_empty() => Some(raw),
            Some(value) if py_truthy(&value) => Some(py::json::dumps(&value)),
            _ => None,
        };
        has_kwargs |= extra.is_some();
        let conn_type = match fields.shift_remove("conn_type") {
            Some(Value::String(kind)) if !kind.is_empty() => Some(normalize_conn_type(&kind)),
            Some(value) if py_truthy(&value) => {
                return Err(fail(JsonError::NotString {
                    key: "conn_type",
                    got: json_type(&value),
                }));
            }
            _ => None,
        };
        has_kwargs |= conn_type.is_some();
        let port = match fields.shift_remove("port") {
            None | Some(Value::Null) => None,
            Some(value) => {
                // A present port is passed on even when it coerces to None (`""`).
                has_kwargs = true;
                json_port(&value).map_err(fail)?
            }
        };
        let uri = fields.shift_remove("uri");
        has_kwargs |= !fields.is_empty();
        match uri {
            None | Some(Value::Null) => {}
            Some(_) if has_kwargs => return Err(fail(JsonError::UriMixed)),
            Some(Value::String(uri)) => return Self::from_uri(conn_id, &uri),
            Some(other) => {
                return Err(fail(JsonError::NotString {
                    key: "uri",
                    got: json_type(&other),
                }));
            }
        }
        let mut conn = Self {
            conn_type,
            port,
            extra,
            ..Self::empty(conn_id)
        };
        for (key, value) in fields {
            let (name, slot) = match key.as_str() {
                "host" => ("host", &mut conn.host),
                "login" => ("login", &mut conn.login),
                "password" => ("password", &mut conn.password),
                "schema" => ("schema", &mut conn.schema),
                "description" => ("description", &mut conn.description),
                // Includes `conn_id` (a duplicate keyword argument in Airflow).
                _ => return Err(fail(JsonError::UnknownKey(key))),
            };
            *slot = py_str_of_scalar(name, &value).map_err(fail)?;
        }
        Ok(conn)
    }

    /// Airflow: `extra_dejson`, but `{}` for anything that is not a JSON object (Airflow returns
    /// `{}` on invalid JSON and passes other JSON types through).
    pub fn extra_dejson(&self) -> Map<String, Value> {
        match self.extra.as_deref().map(serde_json::from_str::<Value>) {
            Some(Ok(Value::Object(map))) => map,
            _ => Map::new(),
        }
    }

    /// Airflow 3 Task SDK `Connection.get_uri`.
    pub fn get_uri(&self) -> String {
        let mut uri = match self.conn_type.as_deref() {
            Some(kind) if !kind.is_empty() => {
                format!("{}://", kind.to_lowercase().replace('_', "-"))
            }
            _ => "//".to_owned(),
        };
        let mut host = self.host.as_deref().unwrap_or_default();
        if let Some((protocol, bare_host)) = host.split_once("://") {
            // A host whose protocol equals conn_type is quoted whole instead (`%3A%2F%2F`).
            if Some(protocol) != self.conn_type.as_deref() {
                host = bare_host;
                if !protocol.is_empty() {
                    uri.push_str(protocol);
                    uri.push_str("://");
                }
            }
        }
        let mut authority = String::new();
        if let Some(login) = &self.login {
            authority.push_str(&urllib::quote(login, SAFE_NONE));
        }
        if let Some(password) = &self.password {
            authority.push(':');
            authority.push_str(&urllib::quote(password, SAFE_NONE));
        }
        if !authority.is_empty() {
            uri.push_str(&authority);
            uri.push('@');
        }
        let host_block = urllib::quote(host, SAFE_NONE);
        if let Some(port) = self.port {
            // `@:port` keeps a bare port from being read as the host.
            let sep = if host_block.is_empty() && authority.is_empty() {
                "@:"
            } else {
                ":"
            };
            uri.push_str(&host_block);
            uri.push_str(sep);
            uri.push_str(&port.to_string());
        } else {
            uri.push_str(&host_block);
        }
        let schema = self.schema.as_deref().unwrap_or_default();
        if !schema.is_empty() {
            uri.push('/');
            uri.push_str(&urllib::quote(schema, SAFE_NONE));
        }
        if let Some(extra) = self.extra.as_deref().filter(|e| !e.is_empty()) {
            uri.push_str(if schema.is_empty() { "/?" } else { "?" });
            // Plain query params only if they survive `dict(parse_qsl(urlencode(d))) == d`, i.e. a
            // non-empty object of strings (urlencode would str() anything else).
            let dejson = self.extra_dejson();
            let all_strings = !dejson.is_empty() && dejson.values().all(Value::is_string);
            let pairs: Vec<(&str, &str)> = if all_strings {
                dejson
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
                    .collect()
            } else {
                vec![(EXTRA_KEY, extra)]
            };
            uri.push_str(&urlencode(&pairs));
        }
        uri
    }

    /// Values Airflow masks for this connection: the password, its `quote()`d forms (`safe=''` as
    /// used by `get_uri`, `safe='/'` as masked by core), the whole `extra` string (Airflow 3 task
    /// runtime `_mask_connection_secrets`), and the strings under sensitive keys of `extra_dejson`.
    /// Min-length and the `airflow` literal are left to the masker.
    pub fn secrets(&self) -> Vec<String> {
        self.secrets_with(&[])
    }

    /// [`Self::secrets`] with `[core] sensitive_var_conn_names` added to the sensitive key names.
    pub fn secrets_with(&self, extra_names: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |s: String| {
            if !s.is_empty() && !out.contains(&s) {
                out.push(s);
            }
        };
        if let Some(password) = &self.password {
            push(password.clone());
            push(urllib::quote(password, SAFE_NONE));
            push(urllib::quote(password, SAFE_SLASH));
        }
        if let Some(extra) = &self.extra {
            push(extra.clone());
        }
        let mut found = Vec::new();
        let dejson = Value::Object(self.extra_dejson());
        sensitive_strings(&dejson, "", extra_names, &mut found);
        found.into_iter().for_each(push);
        out
    }

    /// `extra` for `Debug`: structured values under sensitive keys replaced by `***`, and the
    /// password blanked wherever else it appears.
    fn redacted_extra(&self) -> Option<String> {
        let extra = self.extra.as_deref()?;
        let password = self.password.as_deref().filter(|p| !p.is_empty());
        let blank = |s: &str| password.map_or_else(|| s.to_owned(), |p| s.replace(p, "***"));
        Some(match serde_json::from_str::<Value>(extra) {
            Ok(object @ Value::Object(_)) => py::json::dumps(&redact_value(object, "", &blank)),
            _ => blank(extra),
        })
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("conn_id", &self.conn_id)
            .field("conn_type", &self.conn_type)
            .field("description", &self.description)
            .field("host", &self.host)
            .field("login", &self.login)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("schema", &self.schema)
            .field("port", &self.port)
            .field("extra", &self.redacted_extra())
            .finish()
    }
}

/// Airflow's `should_hide_value_for_key`: `name.strip().lower()` contains any default sensitive
/// field or any of `extra_names` (`[core] sensitive_var_conn_names`).
///
/// Deviations, both towards masking more safely: `extra_names` are lower-cased (Airflow only strips
/// them, so an upper-case entry never matches), and blank entries are skipped (in Airflow a stray
/// comma adds `""`, which makes every key sensitive).
pub fn is_sensitive_key(name: &str, extra_names: &[String]) -> bool {
    let name = py_strip(name).to_lowercase();
    DEFAULT_SENSITIVE_FIELDS
        .iter()
        .any(|field| name.contains(field))
        || extra_names.iter().any(|field| {
            let field = py_strip(field).to_lowercase();
            !field.is_empty() && name.contains(&field)
        })
}

/// Airflow `SecretsMasker.add_mask`: a string is masked when the nearest enclosing object key is
/// sensitive; lists inherit their key; non-string scalars are never masked.
pub fn sensitive_strings(value: &Value, name: &str, extra_names: &[String], out: &mut Vec<String>) {
    match value {
        Value::String(s) if is_sensitive_key(name, extra_names) => out.push(s.clone()),
        Value::Array(items) => items
            .iter()
            .for_each(|item| sensitive_strings(item, name, extra_names, out)),
        Value::Object(map) => map
            .iter()
            .for_each(|(key, item)| sensitive_strings(item, key, extra_names, out)),
        _ => {}
    }
}

/// `Debug` counterpart of [`sensitive_strings`]: those strings become `***`, other strings pass
/// through `blank`.
fn redact_value(value: Value, name: &str, blank: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::String(_) if is_sensitive_key(name, &[]) => Value::String("***".to_owned()),
        Value::String(s) => Value::String(blank(&s)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| redact_value(item, name, blank))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = redact_value(v, &k, blank);
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
}

/// Airflow `_normalize_conn_type`.
fn normalize_conn_type(conn_type: &str) -> String {
    if conn_type == "postgresql" {
        "postgres".to_owned()
    } else {
        conn_type.replace('-', "_")
    }
}

// ---------------------------------------------------------------------------------------------
// JSON-form helpers (Python `json`, `int()`, `str()` semantics)
// ---------------------------------------------------------------------------------------------

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string attribute from JSON. Airflow stores whatever JSON gave; scalars are kept as Python's
/// `str()` of them (what a template renders), containers are refused.
fn py_str_of_scalar(key: &'static str, value: &Value) -> Result<Option<String>, JsonError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Bool(b) => Ok(Some(if *b { "True" } else { "False" }.to_owned())),
        Value::Number(_) => Ok(Some(py::json::dumps(value))),
        Value::Array(_) | Value::Object(_) => Err(JsonError::NotString {
            key,
            got: json_type(value),
        }),
    }
}

/// Airflow 3 SDK `_coerce_port` + `_validate_port`: an int, or a string through Python `int()`;
/// `""` means no port; floats and booleans are refused.
fn json_port(value: &Value) -> Result<Option<u16>, JsonError> {
    match value {
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => match py::text::int(s) {
            Some((negative, digits)) => urllib::port_from_digits(negative, &digits)
                .map(Some)
                .ok_or_else(|| JsonError::PortOutOfRange(s.clone())),
            None => Err(JsonError::PortNotNumber(s.clone())),
        },
        Value::Number(n) if !n.is_f64() => n
            .as_u64()
            .and_then(|port| u16::try_from(port).ok())
            .map(Some)
            .ok_or_else(|| JsonError::PortOutOfRange(n.to_string())),
        other => Err(JsonError::PortType(json_type(other))),
    }
}

/// Airflow `_parse_netloc_to_hostname`: the unquoted hostname, but when it decodes to something
/// with a `/` (a socket path) it is re-read from the raw netloc, keeping its case.
fn netloc_to_hostname(netloc: &str) -> String {
    let host = unquote(&urllib::hostname(netloc).unwrap_or_default());
    if !host.contains('/') {
        return host;
    }
    let raw = netloc.rsplit_once('@').map_or(netloc, |(_, h)| h);
    unquote(raw.split_once(':').map_or(raw, |(h, _)| h))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Expect<'a> {
        conn_type: &'a str,
        host: &'a str,
        schema: &'a str,
        login: Option<&'a str>,
        password: Option<&'a str>,
        port: Option<u16>,
        extra: Option<&'a str>,
    }

    fn check(uri: &str, e: Expect<'_>) -> Connection {
        let c = Connection::from_uri("c", uri).unwrap_or_else(|err| panic!("{uri}: {err}"));
        assert_eq!(
            c.conn_type.as_deref(),
            Some(e.conn_type),
            "conn_type of {uri}"
        );
        assert_eq!(c.host.as_deref(), Some(e.host), "host of {uri}");
        assert_eq!(c.schema.as_deref(), Some(e.schema), "schema of {uri}");
        assert_eq!(c.login.as_deref(), e.login, "login of {uri}");
        assert_eq!(c.password.as_deref(), e.password, "password of {uri}");
        assert_eq!(c.port, e.port, "port of {uri}");
        assert_eq!(c.extra.as_deref(), e.extra, "extra of {uri}");
        assert_eq!(c.description, None);
        c
    }

    fn conn(conn_type: Option<&str>) -> Connection {
        Connection {
            conn_type: conn_type.map(str::to_owned),
            ..Connection::empty("c")
        }
    }

    fn uri_err(uri: &str) -> UriError {
        match Connection::from_uri("c", uri) {
            Err(ConnectionError::Uri { reason, .. }) => reason,
            other => panic!("{uri}: expected a URI error, got {other:?}"),
        }
    }

    fn json_err(json: &str) -> JsonError {
        match Connection::from_json("c", json) {
            Err(ConnectionError::Json { reason, .. }) => reason,
            other => panic!("{json}: expected a JSON error, got {other:?}"),
        }
    }

    // --- reference-doc section 4.2 vectors ---------------------------------------------------

    #[test]
    fn vector_01_postgresql_encoded_credentials_and_duplicate_query() {
        check(
            "postgresql://user:p%40ss%2Fw@MyHost.Example.com:5432/my%2Fdb?sslmode=require&a=&a=2",
            Expect {
                conn_type: "postgres",
                host: "myhost.example.com",
                schema: "my/db",
                login: Some("user"),
                password: Some("p@ss/w"),
                port: Some(5432),
                extra: Some(r#"{"sslmode": "require", "a": "2"}"#),
            },
        );
    }

    #[test]
    fn vector_02_hyphenated_type() {
        check(
            "my-conn-type://login:password@host:1234/schema?param1=val1&param2=val2",
            Expect {
                conn_type: "my_conn_type",
                host: "host",
                schema: "schema",
                login: Some("login"),
                password: Some("password"),
                port: Some(1234),
                extra: Some(r#"{"param1": "val1", "param2": "val2"}"#),
            },
        );
    }

    #[test]
    fn vector_03_host_with_protocol() {
        check(
            "http://https://user:pw@example.com:443/path",
            Expect {
                conn_type: "http",
                host: "https://example.com",
                schema: "path",
                login: Some("user"),
                password: Some("pw"),
                port: Some(443),
                extra: None,
            },
        );
    }

    #[test]
    fn vector_04_raw_extra() {
        check(
            "mysql://host?__extra__=%7B%22k%22%3A+%5B1%2C2%5D%7D",
            Expect {
                conn_type: "mysql",
                host: "host",
                schema: "",
                login: None,
                password: None,
                port: None,
                extra: Some(r#"{"k": [1,2]}"#),
            },
        );
    }

    #[test]
    fn vector_05_bare_type() {
        check(
            "aws://",
            Expect {
                conn_type: "aws",
                host: "",
                schema: "",
                login: None,
                password: None,
                port: None,
                extra: None,
            },
        );
    }

    #[test]
    fn vector_06_sqlite_absolute_path() {
        check(
            "sqlite:////tmp/x.db",
            Expect {
                conn_type: "sqlite",
                host: "",
                schema: "/tmp/x.db",
                login: None,
                password: None,
                port: None,
                extra: None,
            },
        );
    }

    #[test]
    fn vector_07_socket_path_host() {
        check(
            "postgres://%2Fvar%2Frun%2Fpg/db",
            Expect {
                conn_type: "postgres",
                host: "/var/run/pg",
                schema: "db",
                login: None,
                password: None,
                port: None,
                extra: None,
            },
        );
    }

    #[test]
    fn vector_08_ipv6() {
        check(
            "postgres://u@[::1]:5432/db",
            Expect {
                conn_type: "postgres",
                host: "::1",
                schema: "db",
                login: Some("u"),
                password: None,
                port: Some(5432),
                extra: None,
            },
        );
    }

    #[test]
    fn vector_09_plus_signs() {
        check(
            "x://a+b:c+d@h/?q=a+b%20c",
            Expect {
                conn_type: "x",
                host: "h",
                schema: "",
                login: Some("a+b"),
                password: Some("c+d"),
                port: None,
                extra: Some(r#"{"q": "a b c"}"#),
            },
        );
    }

    #[test]
    fn vector_10_underscore_scheme_is_broken_by_design() {
        check(
            "my_type://host",
            Expect {
                conn_type: "",
                host: "",
                schema: "y_type//host",
                login: None,
                password: None,
                port: None,
                extra: None,
            },
        );
    }

    // --- more URI cases (Airflow's own test_connection.py) -------------------------------------

    #[test]
    fn airflow_uri_cases() {
        let none = Expect {
            conn_type: "http",
            host: "",
            schema: "",
            login: None,
            password: None,
            port: None,
            extra: None,
        };
        check(
            "http://:password@host:80/database",
            Expect {
                host: "host",
                schema: "database",
                login: Some(""),
                password: Some("password"),
                port: Some(80),
                ..none
            },
        );
        // The SDK keeps an empty password as "" (core's password getter turns it into None).
        check(
            "http://user:@host:80/database",
            Expect {
                host: "host",
                schema: "database",
                login: Some("user"),
                password: Some(""),
                port: Some(80),
                ..none
            },
        );
        check(
            "http://user:password@/",
            Expect {
                login: Some("user"),
                password: Some("password"),
                ..none
            },
        );
        check(
            "postgresql://user@%2Ftmp%2Fz6rqdzqh%2Fexample%3Aeurope-west1%3Atestdb/testdb",
            Expect {
                conn_type: "postgres",
                host: "/tmp/z6rqdzqh/example:europe-west1:testdb",
                schema: "testdb",
                login: Some("user"),
                ..none
            },
        );
        check(
            "spark://user:password@k8s%3a%2F%2F100.68.0.1:443?deploy-mode=cluster",
            Expect {
                conn_type: "spark",
                host: "k8s://100.68.0.1",
                login: Some("user"),
                password: Some("password"),
                port: Some(443),
                extra: Some(r#"{"deploy-mode": "cluster"}"#),
                ..none
            },
        );
        check(
            "scheme://%2FTmP%2F:1234",
            Expect {
                conn_type: "scheme",
                host: "/TmP/",
                port: Some(1234),
                ..none
            },
        );
        check(
            "scheme://@:1234",
            Expect {
                conn_type: "scheme",
                login: Some(""),
                port: Some(1234),
                ..none
            },
        );
        check(
            "scheme://:password%2F%21%40%23%24%25%5E%26%2A%28%29%7B%7D@",
            Expect {
                conn_type: "scheme",
                login: Some(""),
                password: Some("password/!@#$%^&*(){}"),
                ..none
            },
        );
        check(
            "google-cloud-platform://?key_path=%2Fkeys%2Fkey.json&scope=\
             https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform&project=airflow",
            Expect {
                conn_type: "google_cloud_platform",
                extra: Some(
                    r#"{"key_path": "/keys/key.json", "scope": "https://www.googleapis.com/auth/cloud-platform", "project": "airflow"}"#,
                ),
                ..none
            },
        );
        // SDK test: an unencoded JSON __extra__ is taken verbatim.
        check(
            r#"postgres://user:pass@host:5432/db?__extra__={"ssl_mode": "require", "connect_timeout": 10}"#,
            Expect {
                conn_type: "postgres",
                host: "host",
                schema: "db",
                login: Some("user"),
                password: Some("pass"),
                port: Some(5432),
                extra: Some(r#"{"ssl_mode": "require", "connect_timeout": 10}"#),
            },
        );
    }

    #[test]
    fn uri_hostname_case_and_zone() {
        // Only the part before the first `%` is lower-cased (CPython keeps IPv6 zone ids).
        let c = Connection::from_uri("c", "x://MyHost%20NAME:1/s").unwrap();
        assert_eq!(c.host.as_deref(), Some("myhost NAME"));
        let c = Connection::from_uri("c", "x://[FE80::1%25Eth0]:80").unwrap();
        assert_eq!(c.host.as_deref(), Some("fe80::1%Eth0"));
        assert_eq!(c.port, Some(80));
    }

    #[test]
    fn uri_query_edge_cases() {
        // Keys without `=`, `;` not a separator, empty fields skipped, non-ASCII escaped.
        let c = Connection::from_uri("c", "x://h?flag&a=1;b=2&&k%C3%A9=%E2%82%AC+x").unwrap();
        assert_eq!(
            c.extra.as_deref(),
            Some(r#"{"flag": "", "a": "1;b=2", "k\u00e9": "\u20ac x"}"#)
        );
        // Only separators: an empty dict, still dumped.
        let c = Connection::from_uri("c", "x://h?&&").unwrap();
        assert_eq!(c.extra.as_deref(), Some("{}"));
        // Fragment dropped; invalid UTF-8 replaced; malformed escapes kept.
        let c = Connection::from_uri("c", "x://h/s%ZZ%ff?a=%\"#frag").unwrap();
        assert_eq!(c.schema.as_deref(), Some("s%ZZ\u{fffd}"));
        assert_eq!(c.extra.as_deref(), Some(r#"{"a": "%\""}"#));
        // Emoji becomes a surrogate pair, DEL and controls are escaped.
        let c = Connection::from_uri("c", "x://h?e=%F0%9F%98%80%7F%01%0A").unwrap();
        assert_eq!(
            c.extra.as_deref(),
            Some(r#"{"e": "\ud83d\ude00\u007f\u0001\n"}"#)
        );
    }

    #[test]
    fn uri_scheme_and_whitespace_handling() {
        // urlsplit lowercases the scheme; the literal replace then misses, leaving the netloc alone.
        let c = Connection::from_uri("c", "POSTGRESQL://Host/db").unwrap();
        assert_eq!(c.conn_type.as_deref(), Some("postgres"));
        assert_eq!(c.host.as_deref(), Some("host"));
        // Tabs and newlines anywhere are dropped by urlsplit.
        let c = Connection::from_uri("c", "x://us\ter:p\nw@h\r:5/d").unwrap();
        assert_eq!(c.login.as_deref(), Some("user"));
        assert_eq!(c.password.as_deref(), Some("pw"));
        assert_eq!(c.port, Some(5));
        // parse() strips Python whitespace, including U+001C..U+001F.
        let c = Connection::parse("c", "\u{1c} \n x://h \u{3000}").unwrap();
        assert_eq!(c.host.as_deref(), Some("h"));
        // Port with leading zeros, port 0.
        assert_eq!(
            Connection::from_uri("c", "x://h:0080").unwrap().port,
            Some(80)
        );
        assert_eq!(Connection::from_uri("c", "x://h:0").unwrap().port, Some(0));
        assert_eq!(Connection::from_uri("c", "x://h:").unwrap().port, None);
    }

    #[test]
    fn uri_errors() {
        assert_eq!(
            uri_err("http://https://ftp://example.com"),
            UriError::TooManySchemes
        );
        assert_eq!(
            uri_err("http://user@host://example.com"),
            UriError::AuthBeforeProtocol
        );
        assert_eq!(
            uri_err("http://h:1://example.com"),
            UriError::AuthBeforeProtocol
        );
        assert_eq!(uri_err("x://h:abc/db"), UriError::PortNotNumber);
        assert_eq!(uri_err("x://h:+80"), UriError::PortNotNumber);
        assert_eq!(uri_err("x://h:65536"), UriError::PortOutOfRange);
        assert_eq!(
            uri_err("x://h:99999999999999999999"),
            UriError::PortOutOfRange
        );
        assert!(matches!(uri_err("x://[::1/db"), UriError::BadBrackets(_)));
        assert!(matches!(
            uri_err("x://[1.2.3.4]/db"),
            UriError::BadBrackets(_)
        ));
        assert!(matches!(
            uri_err("x://[fe80::1%]/db"),
            UriError::BadBrackets(_)
        ));
        assert!(matches!(uri_err("x://[vz.1]/db"), UriError::BadBrackets(_)));
        assert!(Connection::from_uri("c", "x://[v1f.x]/db").is_ok());
    }

    #[test]
    fn error_messages_name_the_connection_but_not_the_password() {
        let err = Connection::parse("warehouse", "postgres://user:hunter2/x@host/db").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("invalid connection URI for `warehouse`: port is not a number"));
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!format!("{err:?}").contains("hunter2"));
        let err = Connection::parse("warehouse", r#"{"port": "abc"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid connection JSON for `warehouse`: port `abc` is not a number"
        );
        let err = Connection::parse("w", " \t ").unwrap_err();
        assert_eq!(err.to_string(), "connection `w` has an empty value");
    }

    // --- JSON form -----------------------------------------------------------------------------

    #[test]
    fn json_full() {
        let c = Connection::parse(
            "c",
            r#" {"conn_type": "postgresql", "description": "d", "host": "H", "login": "l",
                "password": "p", "schema": "s", "port": 5432, "extra": {"b": 1, "a": [1.0, null, true], "é": "ü"}} "#,
        )
        .unwrap();
        assert_eq!(c.conn_type.as_deref(), Some("postgres"));
        assert_eq!(c.description.as_deref(), Some("d"));
        assert_eq!(c.host.as_deref(), Some("H"));
        assert_eq!(c.login.as_deref(), Some("l"));
        assert_eq!(c.password.as_deref(), Some("p"));
        assert_eq!(c.schema.as_deref(), Some("s"));
        assert_eq!(c.port, Some(5432));
        assert_eq!(
            c.extra.as_deref(),
            Some(r#"{"b": 1, "a": [1.0, null, true], "\u00e9": "\u00fc"}"#)
        );
    }

    #[test]
    fn json_extra_forms() {
        let extra = |json: &str| Connection::from_json("c", json).unwrap().extra;
        assert_eq!(extra(r#"{"extra": null}"#), None);
        assert_eq!(extra(r#"{"extra": {}}"#), None);
        assert_eq!(extra(r#"{"extra": ""}"#), None);
        assert_eq!(
            extra(r#"{"extra": {"yo": "hi"}}"#).as_deref(),
            Some(r#"{"yo": "hi"}"#)
        );
        // A string is kept verbatim, even when it is not JSON.
        assert_eq!(
            extra(r#"{"extra": "{\"yo\":\"hi\"}"}"#).as_deref(),
            Some(r#"{"yo":"hi"}"#)
        );
        assert_eq!(
            extra(r#"{"extra": "not json"}"#).as_deref(),
            Some("not json")
        );
        // Nested containers and floats the way json.dumps writes them.
        assert_eq!(
            extra(r#"{"extra": {"x": {"y": []}, "f": [1e16, 1e-5, 0.0001, -2.5, 123456789.125]}}"#)
                .as_deref(),
            Some(r#"{"x": {"y": []}, "f": [1e+16, 1e-05, 0.0001, -2.5, 123456789.125]}"#)
        );
        // Duplicate keys: the last value wins at the first position (Python dict).
        assert_eq!(
            extra(r#"{"extra": {"a": 1, "b": 2, "a": 3}}"#).as_deref(),
            Some(r#"{"a": 3, "b": 2}"#)
        );
    }

    #[test]
    fn json_conn_type_and_ports() {
        let c = |json: &str| Connection::from_json("c", json).unwrap();
        assert_eq!(
            c(r#"{"conn_type": "abc-abc"}"#).conn_type.as_deref(),
            Some("abc_abc")
        );
        assert_eq!(
            c(r#"{"conn_type": "abc_abc"}"#).conn_type.as_deref(),
            Some("abc_abc")
        );
        assert_eq!(c(r#"{"conn_type": ""}"#).conn_type, None);
        for (json, port) in [
            (r#"{"port": 0}"#, Some(0)),
            (r#"{"port": 65535}"#, Some(65535)),
            (r#"{"port": "0"}"#, Some(0)),
            (r#"{"port": " +1_0 "}"#, Some(10)),
            (r#"{"port": "-0"}"#, Some(0)),
            (r#"{"port": ""}"#, None),
            (r#"{"port": null}"#, None),
        ] {
            assert_eq!(c(json).port, port, "{json}");
        }
        for json in [
            r#"{"port": -1}"#,
            r#"{"port": 65536}"#,
            r#"{"port": "65536"}"#,
            r#"{"port": 1.5}"#,
            r#"{"port": 80.0}"#,
            r#"{"port": "1.5"}"#,
            r#"{"port": "1__0"}"#,
            r#"{"port": true}"#,
            r#"{"port": [80]}"#,
        ] {
            assert!(
                matches!(
                    json_err(json),
                    JsonError::PortType(_)
                        | JsonError::PortNotNumber(_)
                        | JsonError::PortOutOfRange(_)
                ),
                "{json}"
            );
        }
    }

    #[test]
    fn json_strings_and_errors() {
        let c = Connection::from_json(
            "c",
            r#"{"password": "", "host": 5, "schema": true, "login": 1.5e20}"#,
        )
        .unwrap();
        assert_eq!(c.password.as_deref(), Some(""));
        assert_eq!(c.host.as_deref(), Some("5"));
        assert_eq!(c.schema.as_deref(), Some("True"));
        assert_eq!(c.login.as_deref(), Some("1.5e+20"));
        assert_eq!(
            json_err(r#"{"hots": "x"}"#),
            JsonError::UnknownKey("hots".into())
        );
        assert_eq!(
            json_err(r#"{"conn_id": "x"}"#),
            JsonError::UnknownKey("conn_id".into())
        );
        assert!(matches!(
            json_err(r#"{"host": ["x"]}"#),
            JsonError::NotString { key: "host", .. }
        ));
        assert!(matches!(
            json_err(r#"{"conn_type": 5}"#),
            JsonError::NotString { .. }
        ));
        assert!(matches!(json_err(r#"{"host": "x""#), JsonError::Syntax(_)));
        assert!(matches!(json_err("[1]"), JsonError::NotObject(_)));
        assert_eq!(
            json_err(r#"{"uri": "x://h", "host": null}"#),
            JsonError::UriMixed
        );
        // `uri` alone goes through the URI parser; a null uri is ignored.
        let c = Connection::from_json("c", r#"{"uri": "x://u:p@h:1/s", "extra": null}"#).unwrap();
        assert_eq!(c, Connection::from_uri("c", "x://u:p@h:1/s").unwrap());
        let c = Connection::from_json("c", r#"{"uri": null, "host": "h"}"#).unwrap();
        assert_eq!(c.host.as_deref(), Some("h"));
    }

    #[test]
    fn extra_dejson_shapes() {
        let with = |extra: Option<&str>| Connection {
            extra: extra.map(str::to_owned),
            ..conn(None)
        };
        assert!(with(None).extra_dejson().is_empty());
        assert!(with(Some("nope")).extra_dejson().is_empty());
        assert!(with(Some("[1, 2]")).extra_dejson().is_empty());
        let map = with(Some(r#"{"timeout": 30, "verify": false}"#)).extra_dejson();
        assert_eq!(map.get("timeout"), Some(&Value::from(30)));
        assert_eq!(map.keys().collect::<Vec<_>>(), ["timeout", "verify"]);
    }

    // --- get_uri -------------------------------------------------------------------------------

    #[test]
    fn get_uri_airflow_examples() {
        let c = Connection {
            host: Some("localhost".into()),
            login: Some("user".into()),
            password: Some("password".into()),
            schema: Some("test_schema".into()),
            port: Some(3306),
            ..conn(Some("mysql"))
        };
        assert_eq!(
            c.get_uri(),
            "mysql://user:password@localhost:3306/test_schema"
        );
        let c = Connection {
            host: Some("host".into()),
            login: Some("user".into()),
            password: Some("pass".into()),
            schema: Some("schema".into()),
            port: Some(100),
            extra: Some(r#"{"param1": "val1", "param2": "val2"}"#.into()),
            ..conn(Some("type"))
        };
        assert_eq!(
            c.get_uri(),
            "type://user:pass@host:100/schema?param1=val1&param2=val2"
        );
        // Non-string extras go through __extra__, verbatim and quote_plus'd.
        let c = Connection {
            extra: Some(r#"{"a": 1}"#.into()),
            ..conn(Some("google_cloud_platform"))
        };
        assert_eq!(
            c.get_uri(),
            "google-cloud-platform:///?__extra__=%7B%22a%22%3A+1%7D"
        );
        let c = Connection {
            extra: Some("{}".into()),
            schema: Some("s".into()),
            ..conn(None)
        };
        assert_eq!(c.get_uri(), "///s?__extra__=%7B%7D");
    }

    #[test]
    fn get_uri_hosts_ports_and_auth() {
        let port_only = Connection {
            port: Some(0),
            ..conn(Some("x"))
        };
        assert_eq!(port_only.get_uri(), "x://@:0");
        let empty_login = Connection {
            login: Some(String::new()),
            password: Some("p w/@".into()),
            host: Some("/tmp/sock".into()),
            ..conn(Some("x"))
        };
        assert_eq!(empty_login.get_uri(), "x://:p%20w%2F%40@%2Ftmp%2Fsock");
        let other_protocol = Connection {
            host: Some("https://Example.com".into()),
            port: Some(443),
            ..conn(Some("http"))
        };
        assert_eq!(other_protocol.get_uri(), "http://https://Example.com:443");
        let same_protocol = Connection {
            host: Some("http://x".into()),
            ..conn(Some("http"))
        };
        assert_eq!(same_protocol.get_uri(), "http://http%3A%2F%2Fx");
        assert_eq!(
            Connection::from_uri("c", &same_protocol.get_uri())
                .unwrap()
                .host,
            same_protocol.host
        );
    }

    #[test]
    fn get_uri_round_trips() {
        let uris = [
            "postgresql://user:p%40ss%2Fw@MyHost.Example.com:5432/my%2Fdb?sslmode=require&a=&a=2",
            "my-conn-type://login:password@host:1234/schema?param1=val1&param2=val2",
            "http://https://user:pw@example.com:443/path",
            "mysql://host?__extra__=%7B%22k%22%3A+%5B1%2C2%5D%7D",
            "aws://",
            "postgres://%2Fvar%2Frun%2Fpg/db",
            "postgres://u@[::1]:5432/db",
            "x://a+b:c+d@h/?q=a+b%20c",
            "scheme://user:password%20with%20space@host%2Flocation%3Ax%3Ay:1234/schema",
            "scheme://domain%2Fuser:password@host:1234/schema%2Ftest",
            "scheme:///airflow",
            "scheme://@:1234",
            "scheme://:password%2F%21%40%23%24%25%5E%26%2A%28%29%7B%7D@",
            "spark://k8s%3a%2F%2F100.68.0.1:443?deploy-mode=cluster",
            "x://h/s?k%C3%A9=%E2%82%AC+x&empty=",
        ];
        for uri in uris {
            let first = Connection::from_uri("c", uri).unwrap();
            let again = Connection::from_uri("c", &first.get_uri()).unwrap();
            assert_eq!(first.extra_dejson(), again.extra_dejson(), "{uri}");
            let strip = |c: Connection| Connection { extra: None, ..c };
            assert_eq!(strip(first), strip(again), "{uri}");
        }
        // Exact renderings.
        let render = |uri: &str| Connection::from_uri("c", uri).unwrap().get_uri();
        assert_eq!(
            render(
                "postgresql://user:p%40ss%2Fw@MyHost.Example.com:5432/my%2Fdb?sslmode=require&a=&a=2"
            ),
            "postgres://user:p%40ss%2Fw@myhost.example.com:5432/my%2Fdb?sslmode=require&a=2"
        );
        assert_eq!(render("sqlite:////tmp/x.db"), "sqlite:///%2Ftmp%2Fx.db");
        assert_eq!(
            render("x://a+b:c+d@h/?q=a+b%20c"),
            "x://a%2Bb:c%2Bd@h/?q=a+b+c"
        );
        assert_eq!(
            render("postgres://u@[::1]:5432/db"),
            "postgres://u@%3A%3A1:5432/db"
        );
        assert_eq!(render("aws://"), "aws://");
    }

    // --- masking -------------------------------------------------------------------------------

    #[test]
    fn is_sensitive_key_matches_like_airflow() {
        for key in [
            "password",
            " My_API_KEY ",
            "x_token_y",
            "Authorization",
            "keyfile_dict",
        ] {
            assert!(is_sensitive_key(key, &[]), "{key}");
        }
        for key in ["host", "region", "tok", ""] {
            assert!(!is_sensitive_key(key, &[]), "{key}");
        }
        let extra = vec![" Region ".to_owned(), String::new()];
        assert!(is_sensitive_key("aws_region_name", &extra));
        assert!(!is_sensitive_key("host", &extra));
    }

    #[test]
    fn secrets_lists_password_forms_extra_and_sensitive_values() {
        let c = Connection::parse(
            "c",
            r#"{"password": "p@ss/w rd", "extra": {"api_key": "k1", "nested": {"token": ["t1", {"x": "no"}], "n": 5},
                "secret_num": 42, "password": {"inner": "hidden?"}, "region": "eu"}}"#,
        )
        .unwrap();
        let extra = c.extra.clone().unwrap();
        assert_eq!(
            c.secrets(),
            vec![
                "p@ss/w rd".to_owned(),
                "p%40ss%2Fw%20rd".to_owned(),
                "p%40ss/w%20rd".to_owned(),
                extra,
                "k1".to_owned(),
                "t1".to_owned(),
            ]
        );
        let plain = Connection {
            password: Some("simple".into()),
            ..conn(None)
        };
        assert_eq!(plain.secrets(), vec!["simple".to_owned()]);
        assert!(conn(None).secrets().is_empty());
        let with_extra = Connection {
            extra: Some(r#"{"region": "eu-west"}"#.into()),
            ..conn(None)
        };
        assert_eq!(
            with_extra.secrets_with(&["region".to_owned()]),
            vec![r#"{"region": "eu-west"}"#.to_owned(), "eu-west".to_owned()]
        );
    }

    #[test]
    fn debug_redacts_password_and_sensitive_extra() {
        let c = Connection::from_uri(
            "c",
            "x://user:s3cr3t-pw@h/db?token=tok-value&note=has+s3cr3t-pw+inside&region=eu",
        )
        .unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cr3t-pw"), "{debug}");
        assert!(!debug.contains("tok-value"), "{debug}");
        assert!(debug.contains(r#"password: Some("***")"#), "{debug}");
        assert!(debug.contains("eu"), "{debug}");
        assert!(debug.contains(r#"login: Some("user")"#), "{debug}");
        let raw = Connection {
            password: Some("pw123".into()),
            extra: Some("not json pw123".into()),
            ..conn(None)
        };
        assert!(!format!("{raw:?}").contains("pw123"));
    }
}
