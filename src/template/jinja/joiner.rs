//! Jinja's `joiner` and `cycler` globals.

use std::sync::{Arc, Mutex};

use minijinja::value::{Object, ObjectRepr, Tuple, Value, from_args};
use minijinja::{Error, ErrorKind, State};

/// Jinja's `joiner(sep)`: `""` the first call, `sep` after.
#[derive(Debug)]
pub(crate) struct Joiner {
    sep: String,
    used: Mutex<bool>,
}

impl Joiner {
    /// `joiner(sep)`: the first call gives `""`, every later one `sep`.
    pub(crate) fn new(sep: String) -> Joiner {
        Joiner {
            sep,
            used: Mutex::new(false),
        }
    }
}

impl Object for Joiner {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, _: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let () = from_args(args)?;
        let mut used = crate::template::pyvalue::lock(&self.used);
        if *used {
            Ok(Value::from(self.sep.clone()))
        } else {
            *used = true;
            Ok(Value::from(""))
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<jinja2.utils.Joiner object>")
    }
}

/// Jinja's `cycler(*items)`: `.next()`, `.current`, `.reset()`.
#[derive(Debug)]
pub(crate) struct Cycler {
    items: Vec<Value>,
    pos: Mutex<usize>,
}

impl Cycler {
    /// `cycler(*items)`, at its first item.
    pub(crate) fn new(items: Vec<Value>) -> Cycler {
        Cycler {
            items,
            pos: Mutex::new(0),
        }
    }
}

impl Object for Cycler {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "current" => self
                .items
                .get(*crate::template::pyvalue::lock(&self.pos))
                .cloned(),
            "items" => Some(Value::from(Tuple::from(self.items.clone()))),
            "pos" => Some(Value::from(*crate::template::pyvalue::lock(&self.pos))),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let () = from_args(args)?;
        let mut pos = crate::template::pyvalue::lock(&self.pos);
        match method {
            "next" | "__next__" => {
                let rv = self.items.get(*pos).cloned().unwrap_or_default();
                *pos = (*pos + 1) % self.items.len().max(1);
                Ok(rv)
            }
            "reset" => {
                *pos = 0;
                Ok(Value::from(()))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<jinja2.utils.Cycler object>")
    }
}
