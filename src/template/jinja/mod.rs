//! Jinja's side of Airflow's template engine: the filters and globals where minijinja differs from
//! Jinja 3.1.6, the rewrite of Python syntax minijinja lacks into helper calls, and native
//! rendering's `literal_eval`.

pub(super) mod filters;
pub(super) mod html;
pub(super) mod joiner;
pub(super) mod native;
pub(super) mod rewrite;
pub(super) mod text;
