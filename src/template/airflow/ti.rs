//! The task instance (`ti`, `task_instance`): its attributes and `xcom_pull`, with Airflow 2's
//! `LazySelectSequence` for several values.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Enumerator, Kwargs, Object, Value, from_args};
use minijinja::{Error as JinjaError, ErrorKind, State};

use crate::context::xcom::{self, Item, MapIndexes, Selection, TaskIds, XComQuery};
use crate::context::{Profile, XComEntry};

use crate::template::pyvalue::repr::LazySeq;
use crate::template::pyvalue::to_value;

#[derive(Debug)]
pub(crate) struct TaskInstanceObj {
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
    /// `ti.xcom_pull` over the injected XComs: the arguments read as Airflow's
    /// signature takes them, the selection made by [`xcom::select`], and the result in
    /// Airflow's shape (2.x: `LazySelectSequence` for several values; 3.x: a list).
    fn xcom_pull(&self, args: &[Value]) -> Result<Value, JinjaError> {
        let (positional, kwargs): (&[Value], Kwargs) = from_args(args)?;
        let profile = if self.airflow3 {
            Profile::Airflow3
        } else {
            Profile::Airflow2
        };
        // Both majors: (task_ids, dag_id, key, include_prior_dates[, session]) by
        // position, the rest by keyword only.
        let names = [
            "task_ids",
            "dag_id",
            "key",
            "include_prior_dates",
            "session",
        ];
        let positional_max = if self.airflow3 { 4 } else { 5 };
        if positional.len() > positional_max {
            return Err(JinjaError::new(
                ErrorKind::TooManyArguments,
                format!("xcom_pull() takes at most {positional_max} positional arguments"),
            ));
        }
        let arg = |i: usize| -> Result<Option<Value>, JinjaError> {
            match positional.get(i) {
                Some(_) if kwargs.has(names[i]) => Err(JinjaError::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "xcom_pull() got multiple values for argument '{}'",
                        names[i]
                    ),
                )),
                Some(v) => Ok(Some(v.clone())),
                None => kwargs.get::<Option<Value>>(names[i]),
            }
        };
        let texts = |v: &Value| -> Result<Vec<String>, JinjaError> {
            Ok(v.try_iter()?.map(|x| x.to_string()).collect())
        };
        let task_ids = match arg(0)?.filter(|v| !v.is_none()) {
            None => TaskIds::Unset,
            Some(v) if v.as_str().is_some() => TaskIds::One(v.to_string()),
            Some(v) => TaskIds::Many(texts(&v)?),
        };
        let dag_ids = match arg(1)?.filter(|v| !v.is_none()) {
            None => None,
            Some(v) if v.as_str().is_some() => Some(vec![v.to_string()]),
            Some(v) => Some(texts(&v)?),
        };
        let key = if positional.len() > 2 || kwargs.has("key") {
            arg(2)?.filter(|v| !v.is_none()).map(|v| v.to_string())
        } else {
            Some("return_value".into())
        };
        let _include_prior_dates = arg(3)?;
        if !self.airflow3 {
            let _session = arg(4)?;
        }
        let map_indexes = match kwargs.get::<Option<Value>>("map_indexes")? {
            _ if !kwargs.has("map_indexes") => MapIndexes::Unset,
            None => MapIndexes::Null,
            Some(v) => match v.as_i64() {
                Some(m) => MapIndexes::One(m),
                // A non-integer index matches nothing, as in Airflow's query.
                None => MapIndexes::Many(v.try_iter()?.filter_map(|m| m.as_i64()).collect()),
            },
        };
        let given_run_id = kwargs.has("run_id");
        let run_id = kwargs.get::<Option<Value>>("run_id")?;
        let run_id = if self.airflow3 {
            run_id.filter(|v| !v.is_none()).map(|v| v.to_string())
        } else {
            // 2.x has no such parameter: `select` refuses it in Airflow's words.
            given_run_id.then(String::new)
        };
        let default = kwargs
            .get::<Option<Value>>("default")?
            .unwrap_or_else(|| Value::from(()));
        kwargs.assert_all_used()?;

        let query = XComQuery {
            task_ids,
            dag_ids,
            key,
            map_indexes,
            run_id,
        };
        let caller = xcom::Caller {
            dag_id: &self.dag_id,
            task_id: &self.task_id,
            run_id: &self.run_id,
        };
        let selection = xcom::select(&self.xcom, &query, caller, profile)
            .map_err(|e| JinjaError::new(ErrorKind::InvalidOperation, e.to_string()))?;
        let item = |i: &Item<'_>| match i {
            Item::Entry(e) => to_value(&e.value),
            Item::Null => Value::from(()),
            Item::Default => default.clone(),
        };
        Ok(match selection {
            Selection::One(i) => item(&i),
            Selection::Many(items) => {
                let values: Vec<Value> = items.iter().map(item).collect();
                if self.airflow3 {
                    Value::from(values)
                } else {
                    Value::from_object(LazySeq(values))
                }
            }
        })
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
