//! The task instance (`ti`, `task_instance`): its attributes and `xcom_pull`, with Airflow 2's
//! `LazySelectSequence` for several values.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Enumerator, Kwargs, Object, Value, from_args};
use minijinja::{Error as JinjaError, ErrorKind, State};

use crate::context::XComEntry;

use crate::template::pyvalue::repr::LazySeq;
use crate::template::pyvalue::to_value;

#[derive(Debug)]
pub struct TaskInstanceObj {
    pub dag_id: String,
    pub task_id: String,
    pub run_id: String,
    pub try_number: i64,
    pub max_tries: i64,
    pub map_index: i64,
    pub xcom: Vec<XComEntry>,
    pub airflow3: bool,
}

impl TaskInstanceObj {
    /// `ti.xcom_pull` over the injected XComs, returning what Airflow returns:
    /// one value (or `default`) for one task id; for a list of ids, or an
    /// upstream that was mapped, Airflow 2's `LazySelectSequence` (missing ids
    /// dropped) or Airflow 3's list (missing ids as `None`).
    fn xcom_pull(&self, args: &[Value]) -> Result<Value, JinjaError> {
        let (positional, kwargs): (&[Value], Kwargs) = from_args(args)?;
        let arg = |i: usize, name: &str| -> Result<Option<Value>, JinjaError> {
            match positional.get(i) {
                Some(v) => Ok(Some(v.clone())),
                None => kwargs.get::<Option<Value>>(name),
            }
        };
        let task_ids = arg(0, "task_ids")?.filter(|v| !v.is_none());
        let dag_id = arg(1, "dag_id")?
            .filter(|v| !v.is_none())
            .map(|v| v.to_string())
            .unwrap_or_else(|| self.dag_id.clone());
        let key = arg(2, "key")?
            .filter(|v| !v.is_none())
            .map(|v| v.to_string())
            .unwrap_or_else(|| "return_value".into());
        let _include_prior_dates = kwargs.get::<Option<bool>>("include_prior_dates")?;
        let map_indexes = kwargs
            .get::<Option<Value>>("map_indexes")?
            .filter(|v| !v.is_none());
        let default = kwargs.get::<Option<Value>>("default")?;
        kwargs.assert_all_used()?;
        let none = || Value::from(());
        // Airflow 3 applies `default` only when `map_indexes` is given.
        let default = match (&map_indexes, self.airflow3) {
            (None, true) => none(),
            _ => default.unwrap_or_else(none),
        };

        let entries = |task_id: &str| -> Vec<&XComEntry> {
            self.xcom
                .iter()
                .filter(|e| {
                    e.task_id == task_id
                        && e.key == key
                        && e.dag_id.as_deref().unwrap_or(&self.dag_id) == dag_id
                })
                .collect()
        };
        let value = |e: &XComEntry| to_value(&e.value);
        let many = |values: Vec<Value>| -> Value {
            if self.airflow3 {
                Value::from(values)
            } else {
                Value::from_object(LazySeq(values))
            }
        };

        let one_task = |task_id: &str| -> Result<Value, JinjaError> {
            let found = entries(task_id);
            match &map_indexes {
                Some(m) if m.as_i64().is_some() => {
                    let m = m.as_i64().unwrap_or(-1);
                    Ok(found
                        .iter()
                        .find(|e| e.map_index == m)
                        .map_or(default.clone(), |e| value(e)))
                }
                Some(list) => {
                    let mut out = Vec::new();
                    for m in list.try_iter()? {
                        match found.iter().find(|e| Some(e.map_index) == m.as_i64()) {
                            Some(e) => out.push(value(e)),
                            None if self.airflow3 => out.push(none()),
                            None => {}
                        }
                    }
                    Ok(many(out))
                }
                None => {
                    let mut mapped: Vec<&&XComEntry> =
                        found.iter().filter(|e| e.map_index >= 0).collect();
                    if mapped.is_empty() {
                        return Ok(found.first().map_or(default.clone(), |e| value(e)));
                    }
                    mapped.sort_by_key(|e| e.map_index);
                    Ok(many(mapped.into_iter().map(|e| value(e)).collect()))
                }
            }
        };
        match task_ids {
            Some(ids) if ids.as_str().is_some() => one_task(ids.as_str().unwrap_or_default()),
            Some(ids) => {
                let mut out = Vec::new();
                for id in ids.try_iter()? {
                    let id = id.to_string();
                    match entries(&id).first() {
                        Some(e) => out.push(value(e)),
                        None if self.airflow3 => out.push(none()),
                        None => {}
                    }
                }
                Ok(many(out))
            }
            None => one_task(&self.task_id),
        }
    }
}

impl Object for TaskInstanceObj {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "dag_id" => self.dag_id.clone().into(),
            "task_id" => self.task_id.clone().into(),
            "run_id" => self.run_id.clone().into(),
            "try_number" => self.try_number.into(),
            "max_tries" => self.max_tries.into(),
            "map_index" => self.map_index.into(),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&[
            "dag_id",
            "task_id",
            "run_id",
            "try_number",
            "max_tries",
            "map_index",
        ])
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, JinjaError> {
        match method {
            "xcom_pull" => self.xcom_pull(args),
            _ => Err(JinjaError::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<TaskInstance: {}.{} {} [running]>",
            self.dag_id, self.task_id, self.run_id
        )
    }
}
