//! Renders templated fields as Airflow's Jinja environment would: strict
//! undefined, the `do` extension, one trailing newline stripped, Python's `str()`
//! of values, Airflow's context, macros and filters (airflow/templates.py,
//! models/dag.py `get_template_env`, BaseOperator `render_template_fields`).

pub mod filters;
pub mod macros;
pub mod objects;
pub mod pyfmt;
pub mod pymodules;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use objects::to_value;

use crate::context::{Context, DateTime, Profile, TimeDelta};
use crate::error::{Error, Result};
use crate::spec::Operator;
use crate::store::Store;
use objects::{ConnAccessor, DateTimeObj, Misses, TaskInstanceObj, VarAccessor};

pub struct Renderer {
    env: Environment<'static>,
    globals: Value,
    misses: Arc<Misses>,
    native: bool,
}

impl Renderer {
    pub fn new(
        ctx: &Context,
        store: Arc<Store>,
        searchpath: Vec<PathBuf>,
        native: bool,
    ) -> Renderer {
        let misses = Arc::new(Misses::default());
        let globals = globals(ctx, store, misses.clone());
        Renderer {
            env: environment(searchpath),
            globals,
            misses,
            native,
        }
    }

    /// Renders every templated field of the operator in place.
    pub fn render_operator(&self, op: &mut Operator) -> Result<()> {
        let exts = op.template_ext();
        for (name, value) in op.template_fields_mut() {
            // Airflow skips falsy field values (`if not value: continue`).
            if is_falsy(value) {
                continue;
            }
            *value = self.render_value(name, value, exts)?;
        }
        Ok(())
    }

    fn render_value(
        &self,
        path: &str,
        value: &serde_json::Value,
        exts: &[&str],
    ) -> Result<serde_json::Value> {
        use serde_json::Value as J;
        Ok(match value {
            J::String(s) => {
                if exts.iter().any(|e| s.ends_with(e)) {
                    self.render_file(path, s)?
                } else {
                    self.render_source(path, s, None)?
                }
            }
            J::Array(items) => J::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.render_value(&format!("{path}[{i}]"), v, exts))
                    .collect::<Result<_>>()?,
            ),
            J::Object(map) => J::Object(
                map.iter()
                    .map(|(k, v)| {
                        Ok((
                            k.clone(),
                            self.render_value(&format!("{path}.{k}"), v, exts)?,
                        ))
                    })
                    .collect::<Result<_>>()?,
            ),
            other => other.clone(),
        })
    }

    fn render_file(&self, path: &str, name: &str) -> Result<serde_json::Value> {
        let template = self.env.get_template(name).map_err(|e| {
            let message = if e.kind() == minijinja::ErrorKind::TemplateNotFound {
                format!("template file `{name}` not found in the template search path")
            } else {
                e.to_string()
            };
            Error::Template {
                field: path.into(),
                line: e.line(),
                message,
            }
        })?;
        let out = template
            .render(&self.globals)
            .map_err(|e| self.template_error(path, Some(name), &e))?;
        Ok(self.finish(out))
    }

    /// Renders a template given as text.
    pub fn render_source(
        &self,
        path: &str,
        source: &str,
        name: Option<&str>,
    ) -> Result<serde_json::Value> {
        if self.native
            && let Some(value) = self.native_value(path, source)?
        {
            return Ok(value);
        }
        let out = self
            .env
            .render_named_str(name.unwrap_or(path), source, &self.globals)
            .map_err(|e| self.template_error(path, name, &e))?;
        Ok(self.finish(out))
    }

    /// Native rendering of a template that is one expression: the value itself
    /// (Airflow: NativeEnvironment with a single node).
    fn native_value(&self, path: &str, source: &str) -> Result<Option<serde_json::Value>> {
        let trimmed = source.trim_end_matches('\n');
        let Some(inner) = trimmed
            .strip_prefix("{{")
            .and_then(|s| s.strip_suffix("}}"))
        else {
            return Ok(None);
        };
        if inner.contains("{{") || inner.contains("}}") {
            return Ok(None);
        }
        let expr = self
            .env
            .compile_expression(inner.trim())
            .map_err(|e| self.template_error(path, None, &e))?;
        let value = expr
            .eval(&self.globals)
            .map_err(|e| self.template_error(path, None, &e))?;
        if value.is_undefined() {
            return Err(Error::Template {
                field: path.into(),
                line: Some(1),
                message: "undefined value".into(),
            });
        }
        if let Some(s) = value.as_str() {
            return Ok(Some(serde_json::Value::String(s.to_string())));
        }
        if value.as_object().is_some() && value.kind() == minijinja::value::ValueKind::Plain {
            return Ok(Some(serde_json::Value::String(value.to_string())));
        }
        serde_json::to_value(&value)
            .map(Some)
            .map_err(|e| Error::Template {
                field: path.into(),
                line: None,
                message: format!("value is not JSON: {e}"),
            })
    }

    fn finish(&self, rendered: String) -> serde_json::Value {
        serde_json::Value::String(rendered)
    }

    fn template_error(&self, path: &str, name: Option<&str>, err: &minijinja::Error) -> Error {
        let misses = self.misses.take();
        let mut message = match err.kind() {
            minijinja::ErrorKind::UndefinedError if !misses.is_empty() => misses.join("; "),
            minijinja::ErrorKind::UndefinedError => {
                format!(
                    "{} (Airflow uses StrictUndefined: every name a template uses must exist)",
                    err_detail(err)
                )
            }
            _ => err_detail(err),
        };
        if let Some(name) = name {
            message = format!("{message} (in template file `{name}`)");
        }
        Error::Template {
            field: path.into(),
            line: err.line(),
            message,
        }
    }
}

fn err_detail(err: &minijinja::Error) -> String {
    let mut s = err.kind().to_string();
    if let Some(detail) = err.detail() {
        s.push_str(": ");
        s.push_str(detail);
    }
    s
}

fn is_falsy(v: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match v {
        J::Null => true,
        J::Bool(b) => !b,
        J::String(s) => s.is_empty(),
        J::Array(a) => a.is_empty(),
        J::Object(o) => o.is_empty(),
        J::Number(n) => n.as_f64() == Some(0.0),
    }
}

fn environment(searchpath: Vec<PathBuf>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_recursion_limit(500);
    env.set_formatter(|out, _state, value| {
        if let Some(s) = value.as_str() {
            out.write_str(s)?;
        } else {
            out.write_str(&pyfmt::py_str(value))?;
        }
        Ok(())
    });
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.set_loader(move |name| {
        for dir in &searchpath {
            if let Some(source) = minijinja::path_loader(dir)(name)? {
                return Ok(Some(source));
            }
        }
        Ok(None)
    });
    filters::register(&mut env);
    for (name, f) in macros::date_filters() {
        env.add_filter(name, move |value: Value| {
            macros::apply_date_filter(f, &value)
        });
    }
    env
}

/// The template context: every key Airflow gives a template.
fn globals(ctx: &Context, store: Arc<Store>, misses: Arc<Misses>) -> Value {
    let mut g: BTreeMap<&str, Value> = BTreeMap::new();
    let date = |d: Option<DateTime>| d.map_or(Value::from(()), DateTimeObj::value);
    let airflow2 = ctx.profile == Profile::Airflow2;

    if let Some(ld) = ctx.logical_date {
        let ds = ld.strftime("%Y-%m-%d");
        let ds_nodash = ds.replace('-', "");
        g.insert("ds", ds.clone().into());
        g.insert("ds_nodash", ds_nodash.clone().into());
        g.insert("ts", ld.isoformat('T').into());
        g.insert("ts_nodash", ld.strftime("%Y%m%dT%H%M%S").into());
        g.insert(
            "ts_nodash_with_tz",
            ld.isoformat('T').replace(['-', ':'], "").into(),
        );
        g.insert("logical_date", DateTimeObj::value(ld));
        g.insert("data_interval_start", date(ctx.data_interval_start));
        g.insert("data_interval_end", date(ctx.data_interval_end));
        g.insert(
            "task_instance_key_str",
            format!("{}__{}__{}", ctx.dag_id, ctx.task_id, ds_nodash).into(),
        );
        if airflow2 {
            let day = TimeDelta {
                micros: 86_400_000_000,
            };
            let shift = |d: DateTime, delta: TimeDelta, neg: bool| {
                d.add(if neg {
                    TimeDelta {
                        micros: -delta.micros,
                    }
                } else {
                    delta
                })
                .unwrap_or(d)
            };
            // Airflow 2 (TaskInstance._get_template_context): a manual run's
            // previous and next logical dates are its own; a scheduled run's are
            // one data interval away.
            let (prev, next) = if ctx.run_type == "manual" {
                (ld, ld)
            } else {
                let interval = match (ctx.data_interval_start, ctx.data_interval_end) {
                    (Some(s), Some(e)) => e.since(&s),
                    _ => TimeDelta { micros: 0 },
                };
                (
                    shift(ld, interval, true),
                    ctx.data_interval_end.unwrap_or(ld),
                )
            };
            g.insert("execution_date", DateTimeObj::value(ld));
            g.insert("prev_execution_date", DateTimeObj::value(prev));
            g.insert("next_execution_date", DateTimeObj::value(next));
            g.insert("prev_ds", prev.strftime("%Y-%m-%d").into());
            g.insert("prev_ds_nodash", prev.strftime("%Y%m%d").into());
            g.insert("next_ds", next.strftime("%Y-%m-%d").into());
            g.insert("next_ds_nodash", next.strftime("%Y%m%d").into());
            let yesterday = shift(ld, day, true);
            let tomorrow = shift(ld, day, false);
            g.insert("yesterday_ds", yesterday.strftime("%Y-%m-%d").into());
            g.insert("yesterday_ds_nodash", yesterday.strftime("%Y%m%d").into());
            g.insert("tomorrow_ds", tomorrow.strftime("%Y-%m-%d").into());
            g.insert("tomorrow_ds_nodash", tomorrow.strftime("%Y%m%d").into());
            g.insert("prev_execution_date_success", Value::from(()));
        }
        g.insert(
            "prev_data_interval_start_success",
            date(ctx.prev_data_interval_start_success),
        );
        g.insert(
            "prev_data_interval_end_success",
            date(ctx.prev_data_interval_end_success),
        );
    } else {
        g.insert(
            "task_instance_key_str",
            format!("{}__{}__{}", ctx.dag_id, ctx.task_id, ctx.run_id).into(),
        );
    }
    g.insert("prev_start_date_success", date(ctx.prev_start_date_success));
    g.insert("prev_end_date_success", date(ctx.prev_end_date_success));
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
    }
    g.insert("dag_run", Value::from(dag_run));

    let mut dag: BTreeMap<&str, Value> = BTreeMap::new();
    dag.insert("dag_id", ctx.dag_id.clone().into());
    g.insert("dag", Value::from(dag));
    let mut task: BTreeMap<&str, Value> = BTreeMap::new();
    task.insert("task_id", ctx.task_id.clone().into());
    task.insert("dag_id", ctx.dag_id.clone().into());
    task.insert(
        "owner",
        ctx.owner.clone().unwrap_or_else(|| "airflow".into()).into(),
    );
    g.insert("task", Value::from(task));

    let ti = Value::from_object(TaskInstanceObj {
        dag_id: ctx.dag_id.clone(),
        task_id: ctx.task_id.clone(),
        run_id: ctx.run_id.clone(),
        try_number: ctx.try_number,
        max_tries: ctx.max_tries,
        map_index: ctx.map_index,
        xcom: ctx.xcom.clone(),
    });
    g.insert("ti", ti.clone());
    g.insert("task_instance", ti);
    g.insert("params", to_value(&ctx.params));

    let mut var: BTreeMap<&str, Value> = BTreeMap::new();
    var.insert(
        "value",
        Value::from_object(VarAccessor {
            store: store.clone(),
            json: false,
            misses: misses.clone(),
        }),
    );
    var.insert(
        "json",
        Value::from_object(VarAccessor {
            store: store.clone(),
            json: true,
            misses: misses.clone(),
        }),
    );
    g.insert("var", Value::from(var));
    g.insert("conn", Value::from_object(ConnAccessor { store, misses }));
    g.insert("macros", Value::from_object(macros::Macros));
    if airflow2 {
        g.insert("test_mode", ctx.test_mode.into());
    }
    g.insert("inlets", Value::from(Vec::<Value>::new()));
    g.insert("outlets", Value::from(Vec::<Value>::new()));
    Value::from(g)
}
