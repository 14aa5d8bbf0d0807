//! Jinja's side of Airflow's template engine: the filters and globals where minijinja differs from
//! Jinja 3.1.6, the rewrite of Python syntax minijinja lacks into helper calls, and native
//! rendering's `literal_eval`.

pub mod filters;
pub mod html;
pub mod joiner;
pub mod native;
pub mod rewrite;
pub mod text;
