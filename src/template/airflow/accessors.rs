//! `var.value`, `var.json` and `conn`: the accessors that look variables and connections up in
//! the store, and the connection object a template sees; `Misses` names what was not found.

use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{Object, ObjectRepr, Value, from_args};
use minijinja::{Error as JinjaError, ErrorKind, State};

use crate::connection::Connection;
use crate::store::Store;

use crate::template::pyvalue::{invalid, to_value};

/// Names a template looked up and did not find, so that a strict-undefined
/// error can say "variable `x` does not exist" instead of "undefined value".
#[derive(Debug, Default)]
pub(crate) struct Misses {
    pub items: Mutex<Vec<String>>,
}

impl Misses {
    fn record(&self, what: String) {
        if let Ok(mut items) = self.items.lock() {
            items.push(what);
        }
    }

    pub(crate) fn take(&self) -> Vec<String> {
        self.items
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

#[derive(Debug)]
pub(crate) struct VarAccessor {
    pub store: Arc<Store>,
    pub json: bool,
    pub misses: Arc<Misses>,
    pub airflow3: bool,
}

impl VarAccessor {
    fn lookup(&self, key: &str) -> Option<Result<Value, JinjaError>> {
        let raw = self.store.variable(key)?;
        if !self.json {
            return Some(Ok(raw.into()));
        }
        Some(
            serde_json::from_str::<serde_json::Value>(&raw)
                .map(|v| to_value(&v))
                .map_err(|e| {
                    invalid(format!(
                        "variable `{key}` is not valid JSON for `var.json`: {e}"
                    ))
                }),
        )
    }
}

impl Object for VarAccessor {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        match self.lookup(name) {
            Some(Ok(v)) => Some(v),
            Some(Err(e)) => {
                self.misses
                    .record(e.detail().unwrap_or("invalid JSON").to_string());
                None
            }
            None => {
                self.misses.record(format!(
                    "variable `{name}` does not exist (set `AIRFLOW_VAR_{}` or the context's `variables`)",
                    name.to_uppercase()
                ));
                None
            }
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JinjaError> {
        match method {
            "get" => {
                let (key, default): (&str, Option<Value>) = from_args(args)?;
                match (self.lookup(key), default) {
                    (Some(v), _) => v,
                    (None, Some(default)) => Ok(default),
                    // Airflow 3 returns its NOTSET sentinel; Airflow 2 raises KeyError.
                    (None, None) if self.airflow3 => Ok(Value::from("NOTSET")),
                    (None, None) => Err(invalid(format!("'Variable {key} does not exist'"))),
                }
            }
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[derive(Debug)]
pub(crate) struct ConnAccessor {
    pub store: Arc<Store>,
    pub misses: Arc<Misses>,
    pub airflow3: bool,
}

impl Object for ConnAccessor {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let id = key.as_str()?;
        match self.store.connection(id) {
            Ok(c) => Some(Value::from_object(ConnObj(c, self.airflow3))),
            Err(e) => {
                self.misses.record(e.chain());
                None
            }
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JinjaError> {
        match method {
            "get" => {
                let (id, default): (&str, Option<Value>) = from_args(args)?;
                match self.store.connection(id) {
                    Ok(c) => Ok(Value::from_object(ConnObj(c, self.airflow3))),
                    Err(crate::error::Error::UnknownConnection { .. }) => {
                        Ok(default.unwrap_or(Value::from(())))
                    }
                    Err(e) => Err(invalid(e.chain())),
                }
            }
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[derive(Debug)]
/// A connection; `.1` is the Airflow 3 profile, whose `str()` is the full repr.
pub(crate) struct ConnObj(pub Connection, pub bool);

impl Object for ConnObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let c = &self.0;
        let opt = |v: &Option<String>| v.clone().map_or(Value::from(()), Value::from);
        Some(match key.as_str()? {
            "conn_id" => c.conn_id.clone().into(),
            "conn_type" => opt(&c.conn_type),
            "description" => opt(&c.description),
            "host" => opt(&c.host),
            "login" => opt(&c.login),
            "password" => opt(&c.password),
            "schema" => opt(&c.schema),
            "port" => c.port.map_or(Value::from(()), Value::from),
            "extra" => opt(&c.extra),
            "extra_dejson" => to_value(&c.extra_dejson()),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, JinjaError> {
        match method {
            "get_uri" => Ok(self.0.get_uri().into()),
            "get_extra_dejson" => Ok(to_value(&self.0.extra_dejson())),
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.1 {
            return f.write_str(&self.0.conn_id);
        }
        let c = &self.0;
        let q = |v: &Option<String>| {
            v.as_deref()
                .map_or_else(|| "None".to_string(), crate::py::text::repr)
        };
        write!(
            f,
            "Connection(conn_id={}, conn_type={}, description={}, host={}, schema={}, login={}, password={}, port={}, extra={})",
            crate::py::text::repr(&c.conn_id),
            q(&c.conn_type),
            q(&c.description),
            q(&c.host),
            q(&c.schema),
            q(&c.login),
            q(&c.password),
            c.port.map_or_else(|| "None".to_string(), |p| p.to_string()),
            q(&c.extra)
        )
    }
}
