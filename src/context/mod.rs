//! The Airflow task context: what a template and a task may know about its run.
//!
//! Built from the injected payload (or `AIRFLOW_CTX_*`), the spec's `task_id` and
//! `params`, and `--logical-date`. Pure data: its key tree ([`Context::entries`])
//! is what the template module turns into Jinja values and the shim protocol
//! into JSON; the process runners get `AIRFLOW_CTX_*` env vars.

mod datetime;
mod entries;
mod payload;
mod schedule;
pub mod xcom;

use serde_json::{Map, Value};

pub use datetime::{DATE_STRINGS, DateString, DateTime, TimeDelta, Zone};
pub use entries::{Entry, Item, Record, TemplateItem};
pub use payload::{Payload, XComEntry};

use crate::error::{Error, Result};

/// Today at midnight UTC: the logical date of a run given none, as
/// `airflow tasks test` takes it.
pub fn today() -> DateTime {
    let midnight = chrono::Utc::now()
        .date_naive()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    DateTime::from_utc(midnight, Zone::Utc)
}

/// Which Airflow's context to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Airflow 2.x: deprecated keys present, `logical_date` always set.
    Airflow2,
    /// Airflow 3.x: deprecated keys removed, `logical_date` may be null.
    Airflow3,
}

impl Profile {
    /// The profile of a payload's `airflow_version`: 3.x, else 2.
    pub fn of(airflow_version: Option<&str>) -> Profile {
        match airflow_version {
            Some(v) if v.trim_start().starts_with('3') => Profile::Airflow3,
            _ => Profile::Airflow2,
        }
    }
}

/// The resolved context of one task run.
#[derive(Debug, Clone)]
pub struct Context {
    pub profile: Profile,
    pub dag_id: String,
    pub task_id: String,
    pub run_id: String,
    pub run_type: String,
    /// Whether the run was triggered from outside (Airflow 2's `dag_run.external_trigger`).
    pub external_trigger: bool,
    pub owner: Option<String>,
    pub email: Option<String>,
    pub logical_date: Option<DateTime>,
    pub data_interval_start: Option<DateTime>,
    pub data_interval_end: Option<DateTime>,
    pub prev_data_interval_start_success: Option<DateTime>,
    pub prev_data_interval_end_success: Option<DateTime>,
    pub prev_start_date_success: Option<DateTime>,
    pub prev_end_date_success: Option<DateTime>,
    pub start_date: Option<DateTime>,
    /// Airflow 3: when the run was due (`dag_run.run_after`).
    pub run_after: Option<DateTime>,
    /// The DAG's schedule (cron or preset), which Airflow 2's `prev_ds` and
    /// `next_ds` follow.
    pub schedule: Option<String>,
    pub try_number: i64,
    pub max_tries: i64,
    pub map_index: i64,
    pub params: Map<String, Value>,
    pub dag_run_conf: Map<String, Value>,
    pub xcom: Vec<XComEntry>,
    pub test_mode: bool,
}

/// The logical dates around a run's, for Airflow 2's deprecated keys.
#[derive(Debug, Clone, Copy)]
pub struct Neighbours {
    pub prev: DateTime,
    pub next: DateTime,
    pub yesterday: DateTime,
    pub tomorrow: DateTime,
}

impl Neighbours {
    /// `prev_ds`, `next_ds`, `yesterday_ds`, `tomorrow_ds`, their `_nodash`
    /// names and their dates.
    pub fn ds_keys(&self) -> [(&'static str, &'static str, DateTime); 4] {
        [
            ("prev_ds", "prev_ds_nodash", self.prev),
            ("next_ds", "next_ds_nodash", self.next),
            ("yesterday_ds", "yesterday_ds_nodash", self.yesterday),
            ("tomorrow_ds", "tomorrow_ds_nodash", self.tomorrow),
        ]
    }
}

/// What the context is built from besides the payload.
#[derive(Debug, Default)]
pub struct Overrides<'a> {
    pub task_id: Option<&'a str>,
    pub params: Option<&'a Map<String, Value>>,
    pub logical_date: Option<&'a str>,
    /// The date a local run falls back to (midnight UTC today, as
    /// `airflow tasks test` does) when nothing else gives one.
    pub today: Option<DateTime>,
    pub origin: &'a str,
}

impl Context {
    pub fn build(payload: Payload, over: Overrides<'_>) -> Result<Context> {
        let bad = |message: String| Error::Context {
            origin: over.origin.to_string(),
            message,
        };
        // Airflow keeps every date of a run in UTC (`timezone.parse`, then
        // `convert_to_utc`), whatever offset the payload wrote.
        let date = |key: &str, value: Option<&str>| -> Result<Option<DateTime>> {
            value
                .map(|v| {
                    DateTime::parse(v)
                        .map(|d| d.in_zone(Zone::Utc))
                        .map_err(|e| bad(format!("key `{key}`: {e}")))
                })
                .transpose()
        };
        let profile = Profile::of(payload.airflow_version.as_deref());

        let explicit_null = matches!(payload.logical_date, Some(Value::Null));
        let logical_text = match &payload.logical_date {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => payload.execution_date.clone(),
            Some(other) => {
                return Err(bad(format!(
                    "key `logical_date`: expected a date-time string or null, got `{other}`"
                )));
            }
        };
        let mut logical_date = date("logical_date", logical_text.as_deref())?;
        let run_after = date("run_after", payload.run_after.as_deref())?;
        if logical_date.is_none()
            && let Some(given) = over.logical_date
        {
            logical_date = Some(DateTime::parse(given).map_err(|e| Error::Usage {
                message: format!("invalid `--logical-date`: {e}"),
            })?);
        }
        if logical_date.is_none() && explicit_null && profile == Profile::Airflow2 {
            return Err(Error::Context {
                origin: over.origin.to_string(),
                message: "`logical_date` is null, which only Airflow 3 allows: set `airflow_version` to a 3.x version, or give a date".into(),
            });
        }
        if logical_date.is_none() && !explicit_null {
            logical_date = over.today;
        }
        if logical_date.is_none() && !(explicit_null && profile == Profile::Airflow3) {
            return Err(Error::Context {
                origin: over.origin.to_string(),
                message: "no logical date: the payload has no `logical_date`; pass `--logical-date` for a local run".into(),
            });
        }
        // Airflow's `tasks test`: the data interval defaults to [logical_date, logical_date].
        let data_interval_start = date(
            "data_interval_start",
            payload.data_interval_start.as_deref(),
        )?
        .or(logical_date);
        let data_interval_end =
            date("data_interval_end", payload.data_interval_end.as_deref())?.or(logical_date);

        let dag_id = payload.dag_id.unwrap_or_else(|| "adhoc_task_runner".into());
        let task_id = over
            .task_id
            .map(str::to_owned)
            .or(payload.task_id)
            .unwrap_or_else(|| "task".into());
        let run_id = payload.run_id.unwrap_or_else(|| match &logical_date {
            Some(d) => format!("manual__{}", d.isoformat('T')),
            None => "manual".into(),
        });
        // Airflow names runs `<run_type>__<date>`, so the prefix tells the type.
        let run_type = payload.run_type.unwrap_or_else(|| {
            [
                "scheduled",
                "manual",
                "backfill",
                "dataset_triggered",
                "asset_triggered",
            ]
            .iter()
            .find(|t| run_id.starts_with(&format!("{t}__")))
            .map_or("manual", |t| t)
            .to_string()
        });

        // DAG params, then the task's, then `dag_run.conf` over both
        // (Airflow's `[core] dag_run_conf_overrides_params`, on by default).
        let mut params = payload.params;
        if let Some(spec_params) = over.params {
            for (k, v) in spec_params {
                params.insert(k.clone(), v.clone());
            }
        }
        for (k, v) in &payload.dag_run_conf {
            params.insert(k.clone(), v.clone());
        }
        let email = match payload.email {
            Some(Value::String(s)) => Some(s),
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            _ => None,
        };
        Ok(Context {
            profile,
            dag_id,
            task_id,
            run_id,
            external_trigger: payload.external_trigger.unwrap_or(run_type == "manual"),
            run_type,
            owner: payload.owner,
            email,
            logical_date,
            data_interval_start,
            data_interval_end,
            prev_data_interval_start_success: date(
                "prev_data_interval_start_success",
                payload.prev_data_interval_start_success.as_deref(),
            )?,
            prev_data_interval_end_success: date(
                "prev_data_interval_end_success",
                payload.prev_data_interval_end_success.as_deref(),
            )?,
            prev_start_date_success: date(
                "prev_start_date_success",
                payload.prev_start_date_success.as_deref(),
            )?,
            prev_end_date_success: date(
                "prev_end_date_success",
                payload.prev_end_date_success.as_deref(),
            )?,
            start_date: date("start_date", payload.start_date.as_deref())?,
            run_after,
            schedule: payload.schedule,
            try_number: payload.try_number.unwrap_or(1),
            max_tries: payload.max_tries.unwrap_or(0),
            map_index: payload.map_index.unwrap_or(-1),
            params,
            dag_run_conf: payload.dag_run_conf,
            xcom: payload.xcom,
            test_mode: payload.test_mode.unwrap_or(false),
        })
    }

    /// `ds`: the logical date as `YYYY-MM-DD`.
    pub fn ds(&self) -> Option<String> {
        self.logical_date.map(|d| d.ds())
    }

    /// The string keys Airflow derives from the logical date: `ds`,
    /// `ds_nodash`, `ts`, `ts_nodash`, `ts_nodash_with_tz`; none without one.
    pub fn date_strings(&self) -> Vec<(&'static str, String)> {
        let Some(ld) = self.logical_date else {
            return vec![];
        };
        datetime::DATE_STRINGS
            .iter()
            .map(|(key, f)| (*key, f(&ld)))
            .collect()
    }

    /// `task_instance_key_str`: `dag__task__ds_nodash` (Airflow 3 without a
    /// logical date: `dag__task__run_id`).
    pub fn task_instance_key_str(&self) -> String {
        let tail = self
            .logical_date
            .map_or_else(|| self.run_id.clone(), |d| d.ds_nodash());
        format!("{}__{}__{tail}", self.dag_id, self.task_id)
    }

    /// Airflow 2's neighbouring logical dates (TaskInstance._get_template_context):
    /// an externally triggered run's previous and next are its own (a manual run
    /// unless the payload's `external_trigger` says otherwise); others' are the
    /// cron's previous and following schedule, else one data interval away.
    pub fn neighbours(&self) -> Option<Neighbours> {
        let ld = self.logical_date?;
        let shift = |d: DateTime, micros: i64| d.add(TimeDelta { micros }).unwrap_or(d);
        let around = self
            .schedule
            .as_deref()
            .and_then(schedule::Cron::parse)
            .and_then(|c| {
                let t = ld.utc().naive_utc();
                // Airflow: previous_schedule(logical_date), and next_dagrun_info
                // of this run's interval, whose next start follows its start
                // (the same instant for a scheduled run; not for a manual run
                // whose interval was inferred to end at the logical date).
                let start = self.data_interval_start.unwrap_or(ld).utc().naive_utc();
                let utc = |n| DateTime::from_local(n, Zone::Utc);
                Some((utc(c.prev_before(t)?)?, utc(c.next_after(start)?)?))
            });
        let (prev, next) = if self.external_trigger {
            (ld, ld)
        } else if let Some(around) = around {
            around
        } else {
            let interval = match (self.data_interval_start, self.data_interval_end) {
                (Some(s), Some(e)) => e.since(&s).micros,
                _ => 0,
            };
            (shift(ld, -interval), self.data_interval_end.unwrap_or(ld))
        };
        const DAY: i64 = 86_400_000_000;
        Some(Neighbours {
            prev,
            next,
            yesterday: shift(ld, -DAY),
            tomorrow: shift(ld, DAY),
        })
    }

    /// `AIRFLOW_CTX_*` as `context_to_airflow_vars` exports them to a task
    /// process: empty values skipped, dates in isoformat, in Airflow's order.
    pub fn airflow_ctx_env(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                out.push((format!("AIRFLOW_CTX_{k}"), v));
            }
        };
        put("DAG_EMAIL", self.email.clone());
        put("DAG_OWNER", self.owner.clone());
        put("DAG_ID", Some(self.dag_id.clone()));
        put("TASK_ID", Some(self.task_id.clone()));
        let date_key = match self.profile {
            Profile::Airflow2 => "EXECUTION_DATE",
            Profile::Airflow3 => "LOGICAL_DATE",
        };
        put(date_key, self.logical_date.map(|d| d.isoformat('T')));
        put(
            "TRY_NUMBER",
            Some(self.try_number.to_string()).filter(|_| self.try_number != 0),
        );
        put("DAG_RUN_ID", Some(self.run_id.clone()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(json: &str) -> Result<Context> {
        let payload: Payload = serde_json::from_str(json).unwrap();
        Context::build(
            payload,
            Overrides {
                origin: "test",
                ..Overrides::default()
            },
        )
    }

    #[test]
    fn derives_defaults() {
        let c = build(r#"{"logical_date": "2024-06-01T00:00:00+00:00", "run_id": "scheduled__2024-06-01T00:00:00+00:00"}"#).unwrap();
        assert_eq!(c.ds().unwrap(), "2024-06-01");
        assert_eq!(c.run_type, "scheduled");
        assert_eq!(c.data_interval_end, c.logical_date);
        assert_eq!(c.try_number, 1);
        let env = c.airflow_ctx_env();
        assert!(env.contains(&(
            "AIRFLOW_CTX_EXECUTION_DATE".into(),
            "2024-06-01T00:00:00+00:00".into()
        )));
    }

    #[test]
    fn null_logical_date_needs_airflow3() {
        assert!(
            build(r#"{"logical_date": null}"#)
                .unwrap_err()
                .to_string()
                .contains("only Airflow 3 allows")
        );
        assert!(
            build(r#"{}"#)
                .unwrap_err()
                .to_string()
                .contains("no logical date")
        );
        let c = build(r#"{"logical_date": null, "airflow_version": "3.1.0"}"#).unwrap();
        assert!(c.logical_date.is_none());
        assert_eq!(c.profile, Profile::Airflow3);
    }

    #[test]
    fn bad_date_names_key() {
        let e = build(r#"{"logical_date": "2024-06-01", "data_interval_end": "soon"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("data_interval_end"), "{e}");
    }

    /// `airflow dags test` on a cron DAG: a manual run that is not externally
    /// triggered, its interval inferred to end at the logical date. Airflow
    /// 2.10 renders prev_ds from the cron before the logical date and next_ds
    /// from the cron after the interval's start (checked against real Airflow
    /// by the provider's parity suite).
    #[test]
    fn neighbours_follow_external_trigger_and_the_interval() {
        let manual_not_external = r#"{"logical_date": "2024-06-01T06:00:00+00:00",
            "data_interval_start": "2024-05-31T06:00:00+00:00", "data_interval_end": "2024-06-01T06:00:00+00:00",
            "run_id": "manual__2024-06-01T06:00:00+00:00", "schedule": "0 6 * * *", "external_trigger": false}"#;
        let n = build(manual_not_external).unwrap().neighbours().unwrap();
        assert_eq!(n.prev.isoformat('T'), "2024-05-31T06:00:00+00:00");
        assert_eq!(n.next.isoformat('T'), "2024-06-01T06:00:00+00:00");
        let triggered = manual_not_external.replace("false", "true");
        let n = build(&triggered).unwrap().neighbours().unwrap();
        assert_eq!(
            (n.prev.isoformat('T'), n.next.isoformat('T')),
            (
                "2024-06-01T06:00:00+00:00".into(),
                "2024-06-01T06:00:00+00:00".into()
            )
        );
        // Without the key a manual run counts as external, as before.
        let legacy = manual_not_external.replace(r#", "external_trigger": false"#, "");
        assert!(build(&legacy).unwrap().external_trigger);
    }
}
