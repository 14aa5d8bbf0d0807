//! `ti.xcom_pull`'s selection over the injected XComs: which entries a call returns, in
//! what shape, for each Airflow major. Pure; the template's `TaskInstance` calls it, and
//! the shims' copies (runners/) are held to the same case table (fixtures/xcom_pull.json,
//! written by tools/xcom-pull/generate.py from real Airflow).
//!
//! The payload's list order stands for recency: where Airflow takes the most recent XCom
//! (2.x: `ORDER BY timestamp DESC`), this takes the earliest matching entry, and entries
//! that tie in Airflow's ordering keep the payload's order.

use super::{Profile, XComEntry};

/// `task_ids=`.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskIds {
    /// Not given or `None`: 2.x any task, 3.x the calling task.
    Unset,
    One(String),
    Many(Vec<String>),
}

/// `map_indexes=`.
#[derive(Debug, Clone, PartialEq)]
pub enum MapIndexes {
    /// Not given (2.x: also `None`).
    Unset,
    /// An explicit `None`: 3.x asks for the XCom whose map index is null (there is none).
    Null,
    One(i64),
    Many(Vec<i64>),
}

/// One call's arguments (`default` stays with the caller: its value is the caller's type).
#[derive(Debug, Clone, PartialEq)]
pub struct XComQuery {
    pub task_ids: TaskIds,
    /// `None`: the calling task's DAG. 2.x also takes several.
    pub dag_ids: Option<Vec<String>>,
    /// `None`: `key=None` (2.x: any key; 3.x: an error). The default is `return_value`.
    pub key: Option<String>,
    pub map_indexes: MapIndexes,
    /// `run_id=`, which only 3.x takes; `None` when not given.
    pub run_id: Option<String>,
}

impl Default for XComQuery {
    fn default() -> Self {
        XComQuery {
            task_ids: TaskIds::Unset,
            dag_ids: None,
            key: Some("return_value".into()),
            map_indexes: MapIndexes::Unset,
            run_id: None,
        }
    }
}

/// The calling task instance.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub dag_id: &'a str,
    pub task_id: &'a str,
    pub run_id: &'a str,
}

/// One place in the result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Item<'a> {
    Entry(&'a XComEntry),
    /// `None` (3.x: a task with no XCom, in a list or alone).
    Null,
    /// The call's `default`.
    Default,
}

/// What a call returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection<'a> {
    One(Item<'a>),
    /// 2.x: a `LazyXComSelectSequence`; 3.x: a list.
    Many(Vec<Item<'a>>),
}

/// A call real Airflow refuses, with its words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PullError {
    /// 2.x's `TaskInstance.xcom_pull` has no `run_id` parameter.
    #[error("TypeError: TaskInstance.xcom_pull() got an unexpected keyword argument 'run_id'")]
    RunIdOnAirflow2,
    /// 3.x: the Task SDK's `GetXComSequenceSlice` / `GetXCom` need a string key.
    #[error("ValidationError: xcom_pull's key must be a string on Airflow 3, not None")]
    KeyNone,
    /// 3.x: the Execution API's routes need a non-empty key.
    #[error("ServerResponseError: xcom_pull's key must not be empty on Airflow 3")]
    KeyEmpty,
}

/// `ti.xcom_pull` over `entries` as Airflow of `profile` selects.
pub fn select<'a>(
    entries: &'a [XComEntry],
    query: &XComQuery,
    caller: Caller<'_>,
    profile: Profile,
) -> Result<Selection<'a>, PullError> {
    match profile {
        Profile::Airflow2 => select2(entries, query, caller),
        Profile::Airflow3 => select3(entries, query, caller),
    }
}

fn dag_of<'e>(e: &'e XComEntry, caller: Caller<'e>) -> &'e str {
    e.dag_id.as_deref().unwrap_or(caller.dag_id)
}

fn run_of<'e>(e: &'e XComEntry, caller: Caller<'e>) -> &'e str {
    e.run_id.as_deref().unwrap_or(caller.run_id)
}

/// Airflow 2.10: `_xcom_pull` over `XCom.get_many`.
fn select2<'a>(
    entries: &'a [XComEntry],
    query: &XComQuery,
    caller: Caller<'_>,
) -> Result<Selection<'a>, PullError> {
    if query.run_id.is_some() {
        return Err(PullError::RunIdOnAirflow2);
    }
    // `if key:` — an empty key removes the filter too.
    let key = query.key.as_deref().filter(|k| !k.is_empty());
    let found: Vec<&XComEntry> = entries
        .iter()
        .filter(|e| {
            let dag = dag_of(e, caller);
            run_of(e, caller) == caller.run_id
                && query
                    .dag_ids
                    .as_ref()
                    .map_or(dag == caller.dag_id, |ids| ids.iter().any(|d| d == dag))
                && key.is_none_or(|k| e.key == k)
                && match &query.task_ids {
                    TaskIds::Unset => true,
                    TaskIds::One(t) => e.task_id == *t,
                    TaskIds::Many(ts) => ts.contains(&e.task_id),
                }
                && match &query.map_indexes {
                    MapIndexes::Unset | MapIndexes::Null => true,
                    MapIndexes::One(m) => e.map_index == *m,
                    MapIndexes::Many(ms) => ms.contains(&e.map_index),
                }
        })
        .collect();
    let many_maps = matches!(query.map_indexes, MapIndexes::Many(_));
    let items = |found: Vec<&'a XComEntry>| found.into_iter().map(Item::Entry).collect();
    if !matches!(query.task_ids, TaskIds::Many(_)) && !many_maps {
        let Some(first) = found.first() else {
            return Ok(Selection::One(Item::Default));
        };
        if matches!(query.map_indexes, MapIndexes::One(_)) || first.map_index < 0 {
            return Ok(Selection::One(Item::Entry(first)));
        }
        // A mapped upstream: all of it, by map index (LazyXComSelectSequence).
        let mut found = found;
        found.sort_by_key(|e| e.map_index);
        return Ok(Selection::Many(items(found)));
    }
    // By position in task_ids (by task id when one or none was named), then in
    // map_indexes (else by map index); a stable sort keeps the payload's order in ties.
    let position = |list: &[String], id: &str| list.iter().position(|t| t == id);
    let mut found = found;
    match (&query.task_ids, &query.map_indexes) {
        (TaskIds::Many(ts), MapIndexes::Many(ms)) => found.sort_by_key(|e| {
            (
                position(ts, &e.task_id),
                ms.iter().position(|m| *m == e.map_index),
            )
        }),
        (TaskIds::Many(ts), _) => found.sort_by_key(|e| (position(ts, &e.task_id), e.map_index)),
        (_, MapIndexes::Many(ms)) => found.sort_by(|a, b| {
            let pos = |e: &XComEntry| ms.iter().position(|m| *m == e.map_index);
            a.task_id.cmp(&b.task_id).then(pos(a).cmp(&pos(b)))
        }),
        _ => found.sort_by(|a, b| {
            a.task_id
                .cmp(&b.task_id)
                .then(a.map_index.cmp(&b.map_index))
        }),
    }
    Ok(Selection::Many(items(found)))
}

/// Airflow 3.x: the Task SDK's `RuntimeTaskInstance.xcom_pull`, its `XCom.get_all`
/// (the Execution API's `slice` route: every map index, in order) and `XCom.get_one`
/// (one map index; a null value counts as missing).
fn select3<'a>(
    entries: &'a [XComEntry],
    query: &XComQuery,
    caller: Caller<'_>,
) -> Result<Selection<'a>, PullError> {
    let key = match query.key.as_deref() {
        None => return Err(PullError::KeyNone),
        Some("") => return Err(PullError::KeyEmpty),
        Some(k) => k,
    };
    let dag_id = query
        .dag_ids
        .as_ref()
        .and_then(|ids| ids.first())
        .map_or(caller.dag_id, String::as_str);
    let run_id = query.run_id.as_deref().unwrap_or(caller.run_id);
    let own = [caller.task_id.to_string()];
    let (task_ids, single_task): (&[String], bool) = match &query.task_ids {
        TaskIds::Unset => (&own, true),
        TaskIds::One(t) => (std::slice::from_ref(t), true),
        TaskIds::Many(ts) => (ts, false),
    };
    let of_task = |task_id: &str| -> Vec<&'a XComEntry> {
        entries
            .iter()
            .filter(|e| {
                e.task_id == task_id
                    && e.key == key
                    && dag_of(e, caller) == dag_id
                    && run_of(e, caller) == run_id
            })
            .collect()
    };
    let maps: &[i64] = match &query.map_indexes {
        MapIndexes::Unset => {
            let mut out = Vec::new();
            for t in task_ids {
                let mut found = of_task(t);
                if found.is_empty() {
                    out.push(Item::Null);
                }
                found.sort_by_key(|e| e.map_index);
                out.extend(found.into_iter().map(Item::Entry));
            }
            return Ok(match (single_task, out.as_slice()) {
                (true, [one]) => Selection::One(*one),
                _ => Selection::Many(out),
            });
        }
        MapIndexes::Null => &[],
        MapIndexes::One(m) => std::slice::from_ref(m),
        MapIndexes::Many(ms) => ms,
    };
    let mut out = Vec::new();
    for t in task_ids {
        let found = of_task(t);
        if matches!(query.map_indexes, MapIndexes::Null) {
            out.push(Item::Default);
        }
        for m in maps {
            out.push(
                found
                    .iter()
                    .find(|e| e.map_index == *m && !e.value.is_null())
                    .map_or(Item::Default, |e| Item::Entry(e)),
            );
        }
    }
    let single_map = !matches!(query.map_indexes, MapIndexes::Many(_));
    Ok(match (single_task && single_map, out.first()) {
        (true, Some(first)) => Selection::One(*first),
        _ => Selection::Many(out),
    })
}
