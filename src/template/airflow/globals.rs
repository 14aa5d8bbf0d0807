//! The template context: every key Airflow gives a template (`ds`, `ti`, `dag_run`, `var`,
//! `conn`, `macros`, ...), built from the task's [`Context`].

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Object, ObjectRepr, Value};

use crate::context::{Context, DateTime, Profile};
use crate::store::Store;
use crate::template::airflow::accessors::{ConnAccessor, Misses, VarAccessor};
use crate::template::airflow::macros;
use crate::template::airflow::ti::TaskInstanceObj;
use crate::template::pylib::datetime::DateTimeObj;
use crate::template::pyvalue::to_value;

/// An object that prints as Python's repr of the Airflow object it stands
/// for (`<DAG: sales>`) and has a few attributes.
#[derive(Debug)]
struct Described {
    repr: String,
    attrs: BTreeMap<&'static str, Value>,
}

impl Object for Described {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.attrs.get(key.as_str()?).cloned()
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.repr)
    }
}

/// Airflow 3's lazy `prev_*_success` values when there is no such run: they
/// print `None` and are falsy, but are not `None` to a filter.
#[derive(Debug)]
struct NoneProxy;

impl Object for NoneProxy {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn is_true(self: &Arc<Self>) -> bool {
        false
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("None")
    }
}

/// The template context: every key Airflow gives a template.
pub fn globals(ctx: &Context, store: Arc<Store>, misses: Arc<Misses>, task_type: &str) -> Value {
    let mut g: BTreeMap<&str, Value> = BTreeMap::new();
    let date = |d: Option<DateTime>| d.map_or(Value::from(()), DateTimeObj::value);
    let airflow2 = ctx.profile == Profile::Airflow2;
    let success = |d: Option<DateTime>| match (d, airflow2) {
        (Some(d), _) => DateTimeObj::value(d),
        (None, true) => Value::from(()),
        (None, false) => Value::from_object(NoneProxy),
    };

    for (key, text) in ctx.date_strings() {
        g.insert(key, text.into());
    }
    g.insert("task_instance_key_str", ctx.task_instance_key_str().into());
    if let Some(ld) = ctx.logical_date {
        g.insert("logical_date", DateTimeObj::value(ld));
        g.insert("data_interval_start", date(ctx.data_interval_start));
        g.insert("data_interval_end", date(ctx.data_interval_end));
        if airflow2 && let Some(n) = ctx.neighbours() {
            g.insert("execution_date", DateTimeObj::value(ld));
            g.insert("prev_execution_date", DateTimeObj::value(n.prev));
            g.insert("next_execution_date", DateTimeObj::value(n.next));
            for (key, nodash, d) in n.ds_keys() {
                g.insert(key, d.strftime("%Y-%m-%d").into());
                g.insert(nodash, d.strftime("%Y%m%d").into());
            }
            g.insert("prev_execution_date_success", Value::from(()));
        }
        g.insert(
            "prev_data_interval_start_success",
            success(ctx.prev_data_interval_start_success),
        );
        g.insert(
            "prev_data_interval_end_success",
            success(ctx.prev_data_interval_end_success),
        );
    }
    g.insert(
        "prev_start_date_success",
        success(ctx.prev_start_date_success),
    );
    g.insert("prev_end_date_success", success(ctx.prev_end_date_success));
    g.insert("run_id", ctx.run_id.clone().into());

    let mut dag_run: BTreeMap<&str, Value> = BTreeMap::new();
    dag_run.insert("dag_id", ctx.dag_id.clone().into());
    dag_run.insert("run_id", ctx.run_id.clone().into());
    dag_run.insert("run_type", ctx.run_type.clone().into());
    dag_run.insert("conf", to_value(&ctx.dag_run_conf));
    dag_run.insert("logical_date", date(ctx.logical_date));
    dag_run.insert("data_interval_start", date(ctx.data_interval_start));
    dag_run.insert("data_interval_end", date(ctx.data_interval_end));
    dag_run.insert("start_date", date(ctx.start_date));
    if airflow2 {
        dag_run.insert("execution_date", date(ctx.logical_date));
        dag_run.insert("external_trigger", (ctx.run_type == "manual").into());
    } else {
        dag_run.insert(
            "run_after",
            date(ctx.run_after.or(ctx.data_interval_end).or(ctx.logical_date)),
        );
    }
    g.insert("dag_run", Value::from(dag_run));

    let owner: Value = ctx.owner.clone().unwrap_or_else(|| "airflow".into()).into();
    let mut dag_attrs = BTreeMap::from([
        ("dag_id", ctx.dag_id.clone().into()),
        ("owner", owner.clone()),
    ]);
    if airflow2
        && let Some(cron) = ctx
            .schedule
            .as_deref()
            .and_then(crate::context::schedule::Cron::parse)
    {
        let summary = cron.summary().to_string();
        dag_attrs.insert(
            "timetable",
            Value::from_object(Described {
                repr: "<airflow.timetables.interval.CronDataIntervalTimetable>".into(),
                attrs: BTreeMap::from([("summary", summary.into())]),
            }),
        );
    }
    g.insert(
        "dag",
        Value::from_object(Described {
            repr: format!("<DAG: {}>", ctx.dag_id),
            attrs: dag_attrs,
        }),
    );
    g.insert(
        "task",
        Value::from_object(Described {
            repr: format!("<Task({task_type}): {}>", ctx.task_id),
            attrs: BTreeMap::from([
                ("task_id", ctx.task_id.clone().into()),
                ("dag_id", ctx.dag_id.clone().into()),
                ("owner", owner),
                ("task_type", task_type.into()),
                ("retries", 0.into()),
                ("map_index", ctx.map_index.into()),
            ]),
        }),
    );

    let ti = Value::from_object(TaskInstanceObj {
        dag_id: ctx.dag_id.clone(),
        task_id: ctx.task_id.clone(),
        run_id: ctx.run_id.clone(),
        try_number: ctx.try_number,
        max_tries: ctx.max_tries,
        map_index: ctx.map_index,
        xcom: ctx.xcom.clone(),
        airflow3: !airflow2,
    });
    g.insert("ti", ti.clone());
    g.insert("task_instance", ti);
    g.insert("params", to_value(&ctx.params));

    let accessor = |json: bool| {
        Value::from_object(VarAccessor {
            store: store.clone(),
            json,
            misses: misses.clone(),
            airflow3: !airflow2,
        })
    };
    let mut var: BTreeMap<&str, Value> = BTreeMap::new();
    var.insert("value", accessor(false));
    var.insert("json", accessor(true));
    g.insert("var", Value::from(var));
    g.insert(
        "conn",
        Value::from_object(ConnAccessor {
            store: store.clone(),
            misses,
            airflow3: !airflow2,
        }),
    );
    g.insert("macros", Value::from_object(macros::Macros));
    if airflow2 {
        g.insert("test_mode", ctx.test_mode.into());
    }
    g.insert("inlets", Value::from(Vec::<Value>::new()));
    g.insert("outlets", Value::from(Vec::<Value>::new()));
    g.insert("map_index_template", Value::from(()));
    Value::from(g)
}
