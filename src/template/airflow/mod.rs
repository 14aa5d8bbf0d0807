//! Airflow's objects in the template context: the context itself (`globals`), the task instance,
//! the `var`/`conn` accessors and `macros`.

pub mod accessors;
pub mod globals;
pub mod macros;
pub mod ti;
