//! Python's semantics for what `rewrite` turns into calls: `+`, `-` and `%`
//! on numbers, strings, lists, date-times and deltas, and Python's mutable
//! `list` and `dict` for literals (`{% set l = [] %}{% do l.append(x) %}`).

use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind, from_args};
use minijinja::{Environment, Error as JinjaError, ErrorKind, State};

use crate::context::TimeDelta;
use crate::template::objects::{DateTimeObj, IntervalObj, TimeDeltaObj, invalid};
use crate::template::pyfmt;

pub fn register(env: &mut Environment<'static>, native: bool) {
    env.add_function("__tr_binop", binop);
    env.add_function(
        "range",
        move |start: i64, stop: Option<i64>, step: Option<i64>| {
            let (start, stop) = match stop {
                Some(stop) => (start, stop),
                None => (0, start),
            };
            let step = step.unwrap_or(1);
            if step == 0 {
                return Err(invalid("range() arg 3 must not be zero"));
            }
            let range = PyRange { start, stop, step };
            // Jinja's sandbox caps ranges (MAX_RANGE); the native environment is
            // not sandboxed.
            if !native && range.len() > 100_000 {
                return Err(invalid(
                    "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).",
                ));
            }
            Ok(Value::from_object(range))
        },
    );
    env.add_function("__tr_list", |items: minijinja::value::Rest<Value>| {
        Value::from_object(MutList::new(items.0))
    });
    env.add_function("__tr_dict", |items: minijinja::value::Rest<Value>| {
        let pairs = items
            .0
            .chunks(2)
            .map(|kv| (kv[0].clone(), kv.get(1).cloned().unwrap_or_default()))
            .collect();
        Value::from_object(MutDict::new(pairs))
    });
}

/// Python's type name of a value, for error messages.
pub fn type_name(v: &Value) -> &'static str {
    if v.downcast_object_ref::<DateTimeObj>().is_some() {
        return "DateTime";
    }
    if v.downcast_object_ref::<TimeDeltaObj>().is_some() {
        return "timedelta";
    }
    match v.kind() {
        ValueKind::Undefined => "Undefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if v.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq if v.is_tuple() => "tuple",
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

fn unsupported(op: &str, a: &Value, b: &Value) -> JinjaError {
    JinjaError::new(
        ErrorKind::InvalidOperation,
        format!(
            "unsupported operand type(s) for {op}: '{}' and '{}'",
            type_name(a),
            type_name(b)
        ),
    )
}

fn as_int(v: &Value) -> Option<i128> {
    match v.kind() {
        ValueKind::Bool => Some(i128::from(v.is_true())),
        ValueKind::Number if v.is_integer() => i128::try_from(v.clone()).ok(),
        _ => None,
    }
}

fn as_float(v: &Value) -> Option<f64> {
    match v.kind() {
        ValueKind::Bool | ValueKind::Number => f64::try_from(v.clone()).ok(),
        _ => None,
    }
}

fn int_value(n: i128) -> Value {
    i64::try_from(n).map_or_else(|_| Value::from(n), Value::from)
}

fn binop(
    state: &State,
    op: &str,
    a: Value,
    b: Value,
    sources: minijinja::value::Rest<String>,
) -> Result<Value, JinjaError> {
    for (i, v) in [&a, &b].into_iter().enumerate() {
        let src = sources.get(i);
        if v.is_undefined() {
            let what = src.map_or_else(|| format!("an operand of `{op}`"), |s| format!("'{s}'"));
            return Err(JinjaError::new(
                ErrorKind::UndefinedError,
                format!("{what} is undefined"),
            ));
        }
    }
    if let Some(v) = date_binop(op, &a, &b)? {
        return Ok(v);
    }
    let _ = state;
    match op {
        "+" | "-" => {
            if let (Some(x), Some(y)) = (as_int(&a), as_int(&b)) {
                let r = if op == "+" {
                    x.checked_add(y)
                } else {
                    x.checked_sub(y)
                };
                return r.map(int_value).ok_or_else(|| invalid("integer overflow"));
            }
            if let (Some(x), Some(y)) = (as_float(&a), as_float(&b)) {
                return Ok(Value::from(if op == "+" { x + y } else { x - y }));
            }
            if op == "+" {
                if let (Some(x), Some(y)) = (a.as_str(), b.as_str()) {
                    return Ok(Value::from(format!("{x}{y}")));
                }
                let seq = |v: &Value| matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable);
                if seq(&a) && seq(&b) {
                    let mut items: Vec<Value> = a.try_iter()?.collect();
                    items.extend(b.try_iter()?);
                    return Ok(if a.is_tuple() && b.is_tuple() {
                        Value::from(minijinja::value::Tuple::from(items))
                    } else {
                        Value::from_object(MutList::new(items))
                    });
                }
            }
            Err(unsupported(op, &a, &b))
        }
        _ => {
            if let Some(fmt) = a.as_str() {
                return crate::template::pymodules::percent_format(fmt, &b).map(Value::from);
            }
            if let (Some(x), Some(y)) = (as_int(&a), as_int(&b)) {
                if y == 0 {
                    return Err(invalid("integer modulo by zero"));
                }
                // Python's `%` takes the sign of the divisor.
                return Ok(int_value(
                    x.rem_euclid(y) + if y < 0 && x.rem_euclid(y) != 0 { y } else { 0 },
                ));
            }
            if let (Some(x), Some(y)) = (as_float(&a), as_float(&b)) {
                if y == 0.0 {
                    return Err(invalid("float modulo"));
                }
                let r = x % y;
                return Ok(Value::from(if r != 0.0 && (r < 0.0) != (y < 0.0) {
                    r + y
                } else {
                    r
                }));
            }
            Err(unsupported("%", &a, &b))
        }
    }
}

/// `+`/`-` where a date-time, date or delta is involved; `None` when neither is.
fn date_binop(op: &str, a: &Value, b: &Value) -> Result<Option<Value>, JinjaError> {
    let dt_a = a.downcast_object_ref::<DateTimeObj>();
    let dt_b = b.downcast_object_ref::<DateTimeObj>();
    let td_a = a.downcast_object_ref::<TimeDeltaObj>().map(|t| t.0);
    let td_b = b.downcast_object_ref::<TimeDeltaObj>().map(|t| t.0);
    let rd_b = b.downcast_object_ref::<crate::template::pymodules::RelativeDelta>();
    let neg = |d: TimeDelta| TimeDelta { micros: -d.micros };
    let out_of_range = || invalid("date value out of range");
    Ok(Some(match (op, dt_a, dt_b, td_a, td_b) {
        (_, Some(x), None, _, Some(d)) => {
            let d = if op == "-" { neg(d) } else { d };
            x.with(x.dt.add(d).ok_or_else(out_of_range)?)
        }
        ("+", None, Some(y), Some(d), _) => y.with(y.dt.add(d).ok_or_else(out_of_range)?),
        ("-", Some(x), Some(y), _, _) => {
            if x.is_naive() != y.is_naive() {
                return Err(invalid(
                    "can't subtract offset-naive and offset-aware datetimes",
                ));
            }
            // pendulum's DateTime minus DateTime is an Interval; datetime's a timedelta.
            if x.pendulum {
                Value::from_object(IntervalObj {
                    start: y.dt,
                    end: x.dt,
                })
            } else {
                Value::from_object(TimeDeltaObj(x.dt.since(&y.dt)))
            }
        }
        (_, None, None, Some(x), Some(y)) => {
            let micros = if op == "+" {
                x.micros.checked_add(y.micros)
            } else {
                x.micros.checked_sub(y.micros)
            };
            Value::from_object(TimeDeltaObj(TimeDelta {
                micros: micros.ok_or_else(|| invalid("timedelta overflow"))?,
            }))
        }
        (_, Some(x), None, _, None) if rd_b.is_some() => {
            let rd = rd_b.ok_or_else(out_of_range)?;
            x.with(crate::template::pymodules::apply_relativedelta(
                x.dt,
                rd,
                op == "-",
            )?)
        }
        _ if dt_a.is_some() || dt_b.is_some() || td_a.is_some() || td_b.is_some() => {
            return Err(unsupported(op, a, b));
        }
        _ => return Ok(None),
    }))
}

/// Python's `range`: lazy, prints as `range(0, 3)`.
#[derive(Debug)]
pub struct PyRange {
    start: i64,
    stop: i64,
    step: i64,
}

impl PyRange {
    fn len(&self) -> usize {
        let span = if self.step > 0 {
            self.stop - self.start
        } else {
            self.start - self.stop
        };
        let step = self.step.unsigned_abs() as i64;
        usize::try_from(if span <= 0 {
            0
        } else {
            (span + step - 1) / step
        })
        .unwrap_or(0)
    }
}

impl Object for PyRange {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let i = key.as_i64()?;
        let len = self.len() as i64;
        let i = if i < 0 { i + len } else { i };
        (0..len)
            .contains(&i)
            .then(|| Value::from(self.start + i * self.step))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.len())
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.step == 1 {
            write!(f, "range({}, {})", self.start, self.stop)
        } else {
            write!(f, "range({}, {}, {})", self.start, self.stop, self.step)
        }
    }
}

/// Python's `list`: mutable, so `{% do l.append(x) %}` works as in Jinja.
#[derive(Debug, Default)]
pub struct MutList {
    items: Mutex<Vec<Value>>,
}

impl MutList {
    pub fn new(items: Vec<Value>) -> MutList {
        MutList {
            items: Mutex::new(items),
        }
    }

    fn snapshot(&self) -> Vec<Value> {
        self.items.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Object for MutList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = self.items.lock().ok()?;
        let i = key.as_i64()?;
        let i = if i < 0 { i + items.len() as i64 } else { i };
        items.get(usize::try_from(i).ok()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.snapshot())
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JinjaError> {
        let mut items = self
            .items
            .lock()
            .map_err(|_| invalid("list lock poisoned"))?;
        match method {
            "append" => {
                let (v,): (Value,) = from_args(args)?;
                items.push(v);
                Ok(Value::from(()))
            }
            "extend" => {
                let (v,): (Value,) = from_args(args)?;
                items.extend(v.try_iter()?);
                Ok(Value::from(()))
            }
            "insert" => {
                let (i, v): (i64, Value) = from_args(args)?;
                let len = items.len() as i64;
                let i = if i < 0 { (i + len).max(0) } else { i.min(len) };
                items.insert(usize::try_from(i).unwrap_or(0), v);
                Ok(Value::from(()))
            }
            "pop" => {
                let (i,): (Option<i64>,) = from_args(args)?;
                let len = items.len() as i64;
                let i = i.unwrap_or(-1);
                let i = if i < 0 { i + len } else { i };
                if i < 0 || i >= len {
                    return Err(invalid("pop index out of range"));
                }
                Ok(items.remove(usize::try_from(i).unwrap_or(0)))
            }
            "remove" => {
                let (v,): (Value,) = from_args(args)?;
                let pos = items
                    .iter()
                    .position(|x| x == &v)
                    .ok_or_else(|| invalid("list.remove(x): x not in list"))?;
                items.remove(pos);
                Ok(Value::from(()))
            }
            "index" => {
                let (v,): (Value,) = from_args(args)?;
                items
                    .iter()
                    .position(|x| x == &v)
                    .map(Value::from)
                    .ok_or_else(|| invalid(format!("{} is not in list", pyfmt::py_repr(&v))))
            }
            "count" => {
                let (v,): (Value,) = from_args(args)?;
                Ok(Value::from(items.iter().filter(|x| *x == &v).count()))
            }
            "clear" => {
                items.clear();
                Ok(Value::from(()))
            }
            "reverse" => {
                items.reverse();
                Ok(Value::from(()))
            }
            "sort" => {
                items.sort();
                Ok(Value::from(()))
            }
            "copy" => Ok(Value::from_object(MutList::new(items.clone()))),
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&pyfmt::py_repr(&Value::from(self.snapshot())))
    }
}

/// Python's `dict`: ordered, mutable (`{% do d.update({...}) %}`).
#[derive(Debug, Default)]
pub struct MutDict {
    pairs: Mutex<Vec<(Value, Value)>>,
}

impl MutDict {
    pub fn new(pairs: Vec<(Value, Value)>) -> MutDict {
        let d = MutDict::default();
        if let Ok(mut slot) = d.pairs.lock() {
            for (k, v) in pairs {
                set(&mut slot, k, v);
            }
        }
        d
    }

    fn snapshot(&self) -> Vec<(Value, Value)> {
        self.pairs.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

fn set(pairs: &mut Vec<(Value, Value)>, k: Value, v: Value) {
    match pairs.iter_mut().find(|(x, _)| x == &k) {
        Some(slot) => slot.1 = v,
        None => pairs.push((k, v)),
    }
}

impl Object for MutDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.pairs
            .lock()
            .ok()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.snapshot().into_iter().map(|(k, _)| k).collect())
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JinjaError> {
        let mut pairs = self
            .pairs
            .lock()
            .map_err(|_| invalid("dict lock poisoned"))?;
        match method {
            "update" => {
                let (other, kwargs): (Option<Value>, minijinja::value::Kwargs) = from_args(args)?;
                if let Some(other) = other {
                    for k in other.try_iter()? {
                        let v = other.get_item(&k)?;
                        set(&mut pairs, k, v);
                    }
                }
                for k in kwargs.args() {
                    let v: Value = kwargs.get(k)?;
                    set(&mut pairs, Value::from(k), v);
                }
                Ok(Value::from(()))
            }
            "pop" => {
                let (k, default): (Value, Option<Value>) = from_args(args)?;
                match pairs.iter().position(|(x, _)| x == &k) {
                    Some(i) => Ok(pairs.remove(i).1),
                    None => default.ok_or_else(|| {
                        JinjaError::new(ErrorKind::InvalidOperation, pyfmt::py_repr(&k))
                    }),
                }
            }
            "setdefault" => {
                let (k, default): (Value, Option<Value>) = from_args(args)?;
                if let Some((_, v)) = pairs.iter().find(|(x, _)| x == &k) {
                    return Ok(v.clone());
                }
                let v = default.unwrap_or(Value::from(()));
                pairs.push((k, v.clone()));
                Ok(v)
            }
            "get" => {
                let (k, default): (Value, Option<Value>) = from_args(args)?;
                Ok(pairs
                    .iter()
                    .find(|(x, _)| x == &k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or(default.unwrap_or(Value::from(()))))
            }
            "keys" => Ok(Value::from(
                pairs.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            )),
            "values" => Ok(Value::from(
                pairs.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
            )),
            "items" => Ok(Value::from(
                pairs
                    .iter()
                    .map(|(k, v)| Value::from(vec![k.clone(), v.clone()]))
                    .collect::<Vec<_>>(),
            )),
            "copy" => Ok(Value::from_object(MutDict::new(pairs.clone()))),
            "clear" => {
                pairs.clear();
                Ok(Value::from(()))
            }
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }
}
