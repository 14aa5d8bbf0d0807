//! The context's key tree, derived once: every key a template or a task's
//! callable gets, what kind of value it holds, and which keys only templates
//! get (and why). `template::airflow::globals` maps it to Jinja values, the
//! shim protocol (`runner::shim`, runners/PROTOCOL.md §3) to JSON plus
//! `datetime_keys`; neither adds or drops a key of its own.
//!
//! PythonOperator hands the callable the template context (Airflow 2:
//! `TaskInstance.get_template_context`; ExternalPythonOperator:
//! `_iter_serializable_context_keys`), so one tree serves both.

use serde_json::Value;

use super::{Context, DateTime, Profile, schedule};

/// One key of the tree.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: &'static str,
    pub item: Item,
}

/// What an entry holds.
#[derive(Debug, Clone)]
pub enum Item {
    Text(String),
    Int(i64),
    Bool(bool),
    /// Python's `None`.
    None,
    /// A date-time, or `None`.
    Date(Option<DateTime>),
    /// Airflow 3's lazily fetched `prev_*_success`: a date-time when there is
    /// one; without, a proxy that prints `None` and is falsy but is not `None`
    /// to a filter (the shims get `null`).
    LazyDate(Option<DateTime>),
    /// Plain JSON: `params`, `dag_run.conf`, `inlets`.
    Json(Value),
    /// An Airflow object with named fields.
    Record(Record, Vec<Entry>),
    /// A key only templates get; `why` says why the shims don't.
    TemplatesOnly {
        why: &'static str,
        item: TemplateItem,
    },
}

/// The Airflow object a [`Item::Record`] stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// `dag_run`: a mapping to both sides.
    DagRun,
    /// `dag`: `<DAG: id>` to templates.
    Dag,
    /// `dag.timetable` of a cron DAG.
    Timetable,
    /// `task`: `<Task(Operator): id>` to templates.
    Task,
    /// `ti`: its fields are those the shims build their TaskInstance from
    /// (PROTOCOL §3.2); the template's carries the XComs as well.
    TaskInstance,
}

/// What a templates-only entry holds.
#[derive(Debug, Clone)]
pub enum TemplateItem {
    /// An ordinary value.
    Plain(Box<Item>),
    /// The same object as the entry named (at the same level).
    SameAs(&'static str),
    /// The operator's name, which the spec gives the template, not the context.
    TaskType,
    /// `var`: `var.value` and `var.json`.
    Var,
    /// `conn`.
    Conn,
    /// `macros`.
    Macros,
}

fn entry(key: &'static str, item: Item) -> Entry {
    Entry { key, item }
}

fn text(key: &'static str, value: &str) -> Entry {
    entry(key, Item::Text(value.to_owned()))
}

fn templates_only(key: &'static str, why: &'static str, item: TemplateItem) -> Entry {
    entry(key, Item::TemplatesOnly { why, item })
}

fn plain(item: Item) -> TemplateItem {
    TemplateItem::Plain(Box::new(item))
}

/// Why templates have `var`, `conn` and `macros` and tasks don't (PROTOCOL §3).
const BEFORE_THE_TASK: &str = "templates use it before the task runs; a task reads connections from `AIRFLOW_CONN_*` like any process";

/// Why the shims' `dag` and `task` are only their ids and owner (PROTOCOL §3).
const PLAIN_RECORD: &str =
    "the shims' `dag` and `task` are plain dicts of the ids and the owner, not Airflow's objects";

impl Context {
    /// The key tree, in the order the shims receive it.
    pub fn entries(&self) -> Vec<Entry> {
        let airflow2 = self.profile == Profile::Airflow2;
        let date = |key, d| entry(key, Item::Date(d));
        // Airflow 2 has no lazy proxies: a missing previous success is None.
        let success = |key, d| {
            entry(
                key,
                if airflow2 {
                    Item::Date(d)
                } else {
                    Item::LazyDate(d)
                },
            )
        };

        let mut out: Vec<Entry> = self
            .date_strings()
            .into_iter()
            .map(|(key, s)| entry(key, Item::Text(s)))
            .collect();
        out.push(text("task_instance_key_str", &self.task_instance_key_str()));
        if let Some(ld) = self.logical_date {
            out.push(date("logical_date", Some(ld)));
            out.push(date("data_interval_start", self.data_interval_start));
            out.push(date("data_interval_end", self.data_interval_end));
            if airflow2 && let Some(n) = self.neighbours() {
                out.push(date("execution_date", Some(ld)));
                out.push(date("prev_execution_date", Some(n.prev)));
                out.push(date("next_execution_date", Some(n.next)));
                for (key, nodash, d) in n.ds_keys() {
                    out.push(entry(key, Item::Text(d.ds())));
                    out.push(entry(nodash, Item::Text(d.ds_nodash())));
                }
                out.push(entry("prev_execution_date_success", Item::None));
            }
            out.push(success(
                "prev_data_interval_start_success",
                self.prev_data_interval_start_success,
            ));
            out.push(success(
                "prev_data_interval_end_success",
                self.prev_data_interval_end_success,
            ));
        }
        out.push(success(
            "prev_start_date_success",
            self.prev_start_date_success,
        ));
        out.push(success("prev_end_date_success", self.prev_end_date_success));
        out.push(text("run_id", &self.run_id));
        out.push(entry(
            "dag_run",
            Item::Record(Record::DagRun, self.dag_run()),
        ));
        out.push(entry("dag", Item::Record(Record::Dag, self.dag())));
        out.push(entry("task", Item::Record(Record::Task, self.task())));
        out.push(entry(
            "ti",
            Item::Record(
                Record::TaskInstance,
                vec![
                    text("dag_id", &self.dag_id),
                    text("task_id", &self.task_id),
                    text("run_id", &self.run_id),
                    entry("try_number", Item::Int(self.try_number)),
                    entry("max_tries", Item::Int(self.max_tries)),
                    entry("map_index", Item::Int(self.map_index)),
                ],
            ),
        ));
        out.push(templates_only(
            "task_instance",
            "the shims make `task_instance` the same object as the `ti` they build (PROTOCOL §3.2)",
            TemplateItem::SameAs("ti"),
        ));
        out.push(entry(
            "params",
            Item::Json(Value::Object(self.params.clone())),
        ));
        if airflow2 {
            out.push(entry("test_mode", Item::Bool(self.test_mode)));
        }
        out.push(entry("inlets", Item::Json(Value::Array(vec![]))));
        out.push(entry("outlets", Item::Json(Value::Array(vec![]))));
        out.push(templates_only("var", BEFORE_THE_TASK, TemplateItem::Var));
        out.push(templates_only("conn", BEFORE_THE_TASK, TemplateItem::Conn));
        out.push(templates_only(
            "macros",
            BEFORE_THE_TASK,
            TemplateItem::Macros,
        ));
        out.push(templates_only(
            "map_index_template",
            "not part of the shim protocol's context (PROTOCOL §3)",
            plain(Item::None),
        ));
        out
    }

    fn dag_run(&self) -> Vec<Entry> {
        let date = |key, d| entry(key, Item::Date(d));
        let mut out = vec![
            text("dag_id", &self.dag_id),
            text("run_id", &self.run_id),
            text("run_type", &self.run_type),
            entry("conf", Item::Json(Value::Object(self.dag_run_conf.clone()))),
            date("logical_date", self.logical_date),
            date("data_interval_start", self.data_interval_start),
            date("data_interval_end", self.data_interval_end),
            date("start_date", self.start_date),
        ];
        match self.profile {
            Profile::Airflow2 => {
                out.push(date("execution_date", self.logical_date));
                out.push(entry(
                    "external_trigger",
                    Item::Bool(self.run_type == "manual"),
                ));
            }
            // When the run was due, with the template context's fallbacks.
            Profile::Airflow3 => out.push(date(
                "run_after",
                self.run_after
                    .or(self.data_interval_end)
                    .or(self.logical_date),
            )),
        }
        out
    }

    fn owner(&self) -> &str {
        self.owner.as_deref().unwrap_or("airflow")
    }

    fn dag(&self) -> Vec<Entry> {
        let mut out = vec![
            text("dag_id", &self.dag_id),
            templates_only(
                "owner",
                PLAIN_RECORD,
                plain(Item::Text(self.owner().into())),
            ),
        ];
        if self.profile == Profile::Airflow2
            && let Some(cron) = self.schedule.as_deref().and_then(schedule::Cron::parse)
        {
            let summary = text("summary", cron.summary());
            out.push(templates_only(
                "timetable",
                PLAIN_RECORD,
                plain(Item::Record(Record::Timetable, vec![summary])),
            ));
        }
        out
    }

    fn task(&self) -> Vec<Entry> {
        vec![
            text("task_id", &self.task_id),
            text("dag_id", &self.dag_id),
            text("owner", self.owner()),
            templates_only("task_type", PLAIN_RECORD, TemplateItem::TaskType),
            templates_only("retries", PLAIN_RECORD, plain(Item::Int(0))),
            templates_only("map_index", PLAIN_RECORD, plain(Item::Int(self.map_index))),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{Overrides, Payload};

    fn entries(json: &str) -> Vec<Entry> {
        let payload: Payload = serde_json::from_str(json).unwrap();
        let over = Overrides {
            origin: "test",
            ..Overrides::default()
        };
        Context::build(payload, over).unwrap().entries()
    }

    fn templates_only(entries: &[Entry]) -> Vec<&'static str> {
        entries
            .iter()
            .filter(|e| matches!(e.item, Item::TemplatesOnly { .. }))
            .map(|e| e.key)
            .collect()
    }

    #[test]
    fn one_sided_keys_are_the_template_objects() {
        let all = entries(
            r#"{"logical_date": "2024-06-03T06:00:00+00:00", "run_id": "scheduled__x",
                "schedule": "0 6 * * 1"}"#,
        );
        assert_eq!(
            templates_only(&all),
            [
                "task_instance",
                "var",
                "conn",
                "macros",
                "map_index_template"
            ]
        );
        let record = |key| match &all.iter().find(|e| e.key == key).unwrap().item {
            Item::Record(_, fields) => templates_only(fields),
            other => panic!("{key}: {other:?}"),
        };
        assert_eq!(record("dag"), ["owner", "timetable"]);
        assert_eq!(record("task"), ["task_type", "retries", "map_index"]);
        assert!(record("dag_run").is_empty() && record("ti").is_empty());
    }

    #[test]
    fn airflow3_misses_are_lazy_and_airflow2_keys_go() {
        let all =
            entries(r#"{"logical_date": "2024-06-01T00:00:00Z", "airflow_version": "3.0.2"}"#);
        let item = |key| all.iter().find(|e| e.key == key).map(|e| &e.item);
        assert!(matches!(
            item("prev_start_date_success"),
            Some(Item::LazyDate(None))
        ));
        assert!(item("execution_date").is_none() && item("test_mode").is_none());
    }
}
