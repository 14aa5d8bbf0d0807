//! The template context: every key Airflow gives a template (`ds`, `ti`, `dag_run`, `var`,
//! `conn`, `macros`, ...), the task's [`Context::entries`] as Jinja values.

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Object, ObjectRepr, Value};

use crate::context::{Context, Entry, Item, Profile, Record, TemplateItem};
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
pub(crate) fn globals(
    ctx: &Context,
    store: Arc<Store>,
    misses: Arc<Misses>,
    task_type: &str,
) -> Value {
    let adapter = Adapter {
        ctx,
        store,
        misses,
        task_type,
    };
    adapter.mapping(ctx.entries())
}

/// Maps the context's entries to Jinja values: dates to pendulum-like
/// datetimes, records to the objects Airflow's templates see.
struct Adapter<'a> {
    ctx: &'a Context,
    store: Arc<Store>,
    misses: Arc<Misses>,
    task_type: &'a str,
}

impl Adapter<'_> {
    fn fields(&self, entries: Vec<Entry>) -> BTreeMap<&'static str, Value> {
        let mut out = BTreeMap::new();
        for Entry { key, item } in entries {
            let value = match item {
                Item::TemplatesOnly {
                    item: TemplateItem::SameAs(other),
                    ..
                } => out.get(other).cloned().unwrap_or_default(),
                item => self.value(item),
            };
            out.insert(key, value);
        }
        out
    }

    fn mapping(&self, entries: Vec<Entry>) -> Value {
        Value::from(self.fields(entries))
    }

    fn value(&self, item: Item) -> Value {
        let airflow3 = self.ctx.profile == Profile::Airflow3;
        match item {
            Item::Text(s) => s.into(),
            Item::Int(i) => i.into(),
            Item::Bool(b) => b.into(),
            Item::None | Item::Date(None) => Value::from(()),
            Item::Date(Some(d)) | Item::LazyDate(Some(d)) => DateTimeObj::value(d),
            Item::LazyDate(None) => Value::from_object(NoneProxy),
            Item::Json(v) => to_value(&v),
            Item::Record(Record::DagRun, fields) => self.mapping(fields),
            Item::Record(Record::Dag, fields) => Value::from_object(Described {
                repr: format!("<DAG: {}>", self.ctx.dag_id),
                attrs: self.fields(fields),
            }),
            Item::Record(Record::Timetable, fields) => Value::from_object(Described {
                repr: "<airflow.timetables.interval.CronDataIntervalTimetable>".into(),
                attrs: self.fields(fields),
            }),
            Item::Record(Record::Task, fields) => Value::from_object(Described {
                repr: format!("<Task({}): {}>", self.task_type, self.ctx.task_id),
                attrs: self.fields(fields),
            }),
            // The same fields as the shims' TaskInstance, plus the XComs it pulls.
            Item::Record(Record::TaskInstance, _) => Value::from_object(TaskInstanceObj {
                dag_id: self.ctx.dag_id.clone(),
                task_id: self.ctx.task_id.clone(),
                run_id: self.ctx.run_id.clone(),
                try_number: self.ctx.try_number,
                max_tries: self.ctx.max_tries,
                map_index: self.ctx.map_index,
                xcom: self.ctx.xcom.clone(),
                airflow3,
            }),
            Item::TemplatesOnly { item, .. } => match item {
                TemplateItem::Plain(item) => self.value(*item),
                // Resolved by `fields`, which sees the other entries.
                TemplateItem::SameAs(_) => Value::from(()),
                TemplateItem::TaskType => self.task_type.into(),
                TemplateItem::Var => {
                    let accessor = |json: bool| {
                        Value::from_object(VarAccessor {
                            store: self.store.clone(),
                            json,
                            misses: self.misses.clone(),
                            airflow3,
                        })
                    };
                    Value::from(BTreeMap::from([
                        ("value", accessor(false)),
                        ("json", accessor(true)),
                    ]))
                }
                TemplateItem::Conn => Value::from_object(ConnAccessor {
                    store: self.store.clone(),
                    misses: self.misses.clone(),
                    airflow3,
                }),
                TemplateItem::Macros => Value::from_object(macros::Macros),
            },
        }
    }
}
