//! Python's semantics for what `rewrite` turns into calls: `+`, `-` and `%`
//! on numbers, strings, lists, date-times and deltas, and Python's mutable
//! `list` and `dict` for literals (`{% set l = [] %}{% do l.append(x) %}`).

use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind, from_args};
use minijinja::{Environment, Error as JinjaError, ErrorKind, State};

use crate::context::TimeDelta;
use crate::template::budget;
use crate::template::pylib::datetime::{DateTimeObj, TimeDeltaObj};
use crate::template::pylib::pendulum::IntervalObj;
use crate::template::pyvalue::repr as pyfmt;
use crate::template::pyvalue::{PyObject, invalid, type_name};

pub(crate) fn register(env: &mut Environment<'static>, native: bool) {
    env.add_function("__tr_binop", binop);
    env.add_function("__tr_slice", slice);
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
            // not sandboxed, but a range a filter turns into a list (`| list`,
            // `| join`) must fit the render budget.
            if !native && range.len() > 100_000 {
                return Err(invalid(
                    "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).",
                ));
            }
            budget::check_items("range()", range.len() as u128)?;
            Ok(Value::from_object(range))
        },
    );
    env.add_function(
        "__tr_list",
        |names: Vec<String>, items: minijinja::value::Rest<Value>| {
            defined(&names, items.0.iter(), "an item of a list")?;
            Ok(Value::from_object(MutList::new(items.0)))
        },
    );
    env.add_function(
        "__tr_dict",
        |names: Vec<String>, items: minijinja::value::Rest<Value>| {
            defined(
                &names,
                items.0.iter().skip(1).step_by(2),
                "a value of a dict",
            )?;
            let pairs = items
                .0
                .chunks(2)
                .map(|kv| (kv[0].clone(), kv.get(1).cloned().unwrap_or_default()))
                .collect();
            Ok::<_, JinjaError>(Value::from_object(MutDict::new(pairs)))
        },
    );
}

/// StrictUndefined for a literal's items: the first undefined one is named
/// as written (`names`, the items' source, in order).
fn defined<'a>(
    names: &[String],
    items: impl Iterator<Item = &'a Value>,
    unnamed: &str,
) -> Result<(), JinjaError> {
    for (i, v) in items.enumerate() {
        if v.is_undefined() {
            let what = names
                .get(i)
                .map_or_else(|| unnamed.to_string(), |s| format!("'{s}'"));
            return Err(JinjaError::new(
                ErrorKind::UndefinedError,
                format!("{what} is undefined"),
            ));
        }
    }
    Ok(())
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
    defined(
        &sources,
        [&a, &b].into_iter(),
        &format!("an operand of `{op}`"),
    )?;
    budget::checkpoint()?;
    if let Some(v) = date_binop(op, &a, &b)? {
        return Ok(v);
    }
    let _ = state;
    match op {
        // Jinja's `~`: `str(a) + str(b)`.
        "~" => {
            let (x, y) = (pyfmt::py_str(&a), pyfmt::py_str(&b));
            budget::check_bytes("the string built by `~`", x.len().saturating_add(y.len()))?;
            Ok(Value::from(x + &y))
        }
        "*" => mul(&a, &b),
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
                    budget::check_bytes(
                        "the string built by `+`",
                        x.len().saturating_add(y.len()),
                    )?;
                    return Ok(Value::from(format!("{x}{y}")));
                }
                let seq = |v: &Value| matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable);
                if seq(&a) && seq(&b) {
                    let n = a.len().unwrap_or(0) as u128 + b.len().unwrap_or(0) as u128;
                    budget::check_items("the list built by `+`", n)?;
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
                return crate::template::pyvalue::percent::percent_format(fmt, &b).map(Value::from);
            }
            if let (Some(x), Some(y)) = (as_int(&a), as_int(&b)) {
                if y == 0 {
                    return Err(invalid("integer modulo by zero"));
                }
                // Python's `%` takes the sign of the divisor (and
                // i128::MIN % -1, which overflows in Rust, is 0).
                let r = x.checked_rem_euclid(y).unwrap_or(0);
                return Ok(int_value(if y < 0 && r != 0 { r + y } else { r }));
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

/// Python's `*`: numbers, and a string or a list repeated `n` times (the
/// result's size checked against the budget before it is built).
fn mul(a: &Value, b: &Value) -> Result<Value, JinjaError> {
    let repeat = |seq: &Value, n: &Value| -> Option<i128> {
        (matches!(
            seq.kind(),
            ValueKind::String | ValueKind::Seq | ValueKind::Iterable
        ) && seq
            .as_object()
            .is_none_or(|o| o.repr() != ObjectRepr::Plain))
        .then(|| as_int(n))
        .flatten()
    };
    let (seq, n) = match (repeat(a, b), repeat(b, a)) {
        (Some(n), _) => (a, n),
        (None, Some(n)) => (b, n),
        (None, None) => {
            if let (Some(x), Some(y)) = (as_int(a), as_int(b)) {
                return x
                    .checked_mul(y)
                    .map(int_value)
                    .ok_or_else(|| invalid("integer overflow"));
            }
            if let (Some(x), Some(y)) = (as_float(a), as_float(b)) {
                return Ok(Value::from(x * y));
            }
            if matches!(a.kind(), ValueKind::String) || matches!(b.kind(), ValueKind::String) {
                return Err(invalid(format!(
                    "can't multiply sequence by non-int of type '{}'",
                    type_name(if a.kind() == ValueKind::String { b } else { a })
                )));
            }
            return Err(unsupported("*", a, b));
        }
    };
    let n = u128::try_from(n.max(0)).unwrap_or(0);
    if let Some(s) = seq.as_str() {
        let len = budget::check_bytes_wide("the string built by `*`", s.len() as u128 * n)?;
        return Ok(Value::from(s.repeat(len.checked_div(s.len()).unwrap_or(0))));
    }
    let items: Vec<Value> = seq.try_iter()?.collect();
    let total = budget::check_items("the list built by `*`", items.len() as u128 * n)?;
    let mut out = Vec::with_capacity(total);
    for _ in 0..total.checked_div(items.len()).unwrap_or(0) {
        out.extend(items.iter().cloned());
    }
    Ok(if seq.is_tuple() {
        Value::from(minijinja::value::Tuple::from(out))
    } else {
        Value::from_object(MutList::new(out))
    })
}

/// Python's `int` of a slice index: an int, a bool, or `None`.
fn slice_index(v: &Value) -> Result<Option<i128>, JinjaError> {
    if v.is_none() {
        return Ok(None);
    }
    as_int(v).map(Some).ok_or_else(|| {
        invalid("slice indices must be integers or None or have an __index__ method")
    })
}

/// Python's `slice.indices(len)`: the positions `value[start:stop:step]` takes.
fn slice_positions(
    len: usize,
    start: Option<i128>,
    stop: Option<i128>,
    step: Option<i128>,
) -> Result<impl Iterator<Item = usize>, JinjaError> {
    let step = step.unwrap_or(1);
    if step == 0 {
        return Err(invalid("slice step cannot be zero"));
    }
    let len = len as i128;
    let (lower, upper) = if step < 0 { (-1, len - 1) } else { (0, len) };
    let clamp = |i: Option<i128>, default: i128| match i {
        None => default,
        Some(i) if i < 0 => (i + len).max(lower),
        Some(i) => i.min(upper),
    };
    let start = clamp(start, if step < 0 { upper } else { lower });
    let stop = clamp(stop, if step < 0 { lower } else { upper });
    let count = if step > 0 && start < stop {
        (stop - start - 1) / step + 1
    } else if step < 0 && stop < start {
        (start - stop - 1) / (-step) + 1
    } else {
        0
    };
    // Every position is in 0..len, so it fits a usize.
    Ok((0..count).map(move |k| usize::try_from(start + k * step).unwrap_or(0)))
}

/// `value[start:stop:step]` as Python slices (minijinja 3.0.5 panics on
/// `''[::-1]` and `[][::-1]` and gets `'abc'[2:0:-1]` wrong): strings by
/// character, tuples to tuples, other sequences to a (mutable) list.
fn slice(
    value: Value,
    start: Value,
    stop: Value,
    step: Value,
    source: Option<String>,
) -> Result<Value, JinjaError> {
    let (start, stop, step) = (
        slice_index(&start)?,
        slice_index(&stop)?,
        slice_index(&step)?,
    );
    match value.kind() {
        ValueKind::Undefined => Err(JinjaError::new(
            ErrorKind::UndefinedError,
            format!(
                "{} is undefined",
                source.map_or_else(|| "the sliced value".into(), |s| format!("'{s}'"))
            ),
        )),
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default();
            let chars: Vec<char> = s.chars().collect();
            let out: String = slice_positions(chars.len(), start, stop, step)?
                .map(|i| chars[i])
                .collect();
            Ok(if value.is_safe() {
                Value::from_safe_string(out)
            } else {
                Value::from(out)
            })
        }
        ValueKind::Bytes => {
            let b = value.as_bytes().unwrap_or_default();
            let out: Vec<u8> = slice_positions(b.len(), start, stop, step)?
                .map(|i| b[i])
                .collect();
            Ok(Value::from_bytes(out))
        }
        ValueKind::Seq | ValueKind::Iterable
            if value
                .as_object()
                .is_none_or(|o| o.repr() != ObjectRepr::Plain) =>
        {
            let items: Vec<Value> = value.try_iter()?.collect();
            let out: Vec<Value> = slice_positions(items.len(), start, stop, step)?
                .map(|i| items[i].clone())
                .collect();
            Ok(if value.is_tuple() {
                Value::from(minijinja::value::Tuple::from(out))
            } else {
                Value::from_object(MutList::new(out))
            })
        }
        ValueKind::Map => Err(invalid("unhashable type: 'slice'")),
        _ => Err(invalid(format!(
            "'{}' object is not subscriptable",
            type_name(&value)
        ))),
    }
}

/// `+`/`-` where a date-time, date or delta is involved; `None` when neither is.
fn date_binop(op: &str, a: &Value, b: &Value) -> Result<Option<Value>, JinjaError> {
    let dt_a = a.downcast_object_ref::<DateTimeObj>();
    let dt_b = b.downcast_object_ref::<DateTimeObj>();
    let td_a = a.downcast_object_ref::<TimeDeltaObj>().map(|t| t.0);
    let td_b = b.downcast_object_ref::<TimeDeltaObj>().map(|t| t.0);
    let rd_b = b.downcast_object_ref::<crate::template::pylib::dateutil::RelativeDelta>();
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
            x.with(crate::template::pylib::dateutil::apply_relativedelta(
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
pub(crate) struct PyRange {
    start: i64,
    stop: i64,
    step: i64,
}

impl PyObject for PyRange {
    fn type_name(&self) -> &'static str {
        "range"
    }
}

impl PyRange {
    fn len(&self) -> usize {
        // In i128: `range(-2**63, 2**63 - 1)` spans more than an i64.
        let (start, stop, step) = (
            i128::from(self.start),
            i128::from(self.stop),
            i128::from(self.step),
        );
        let span = if step > 0 { stop - start } else { start - stop };
        let step = step.abs();
        usize::try_from(if span <= 0 {
            0
        } else {
            (span + step - 1) / step
        })
        .unwrap_or(usize::MAX)
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
            .then(|| int_value(i128::from(self.start) + i128::from(i) * i128::from(self.step)))
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
pub(crate) struct MutList {
    items: Mutex<Vec<Value>>,
}

impl MutList {
    pub(crate) fn new(items: Vec<Value>) -> MutList {
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
                // `l.extend(l)` doubles: the list must stay within the budget.
                let more: Vec<Value> = if v
                    .downcast_object_ref::<MutList>()
                    .is_some_and(|o| std::ptr::eq(o, &**self))
                {
                    items.clone()
                } else {
                    drop(items);
                    let more: Vec<Value> = v.try_iter()?.collect();
                    items = self
                        .items
                        .lock()
                        .map_err(|_| invalid("list lock poisoned"))?;
                    more
                };
                budget::check_items("the list", items.len() as u128 + more.len() as u128)?;
                items.extend(more);
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
pub(crate) struct MutDict {
    pairs: Mutex<Vec<(Value, Value)>>,
}

impl MutDict {
    pub(crate) fn new(pairs: Vec<(Value, Value)>) -> MutDict {
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
