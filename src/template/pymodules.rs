//! The Python modules Airflow's `macros` exposes: `uuid`, `time`,
//! `dateutil` (`relativedelta`), `yaml`; and Python's `%` string formatting.

use minijinja::value::Value;

/// `macros.<name>` for the modules this file provides.
pub fn module(_name: &str) -> Option<Value> {
    None
}
