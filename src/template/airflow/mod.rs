//! Airflow's objects in the template context: the context itself (`globals`), the task instance,
//! the `var`/`conn` accessors and `macros`.

pub(super) mod accessors;
pub(super) mod globals;
pub(super) mod macros;
pub(super) mod ti;
