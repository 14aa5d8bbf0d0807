//! The task spec: where it comes from (`source`), the YAML it is written in
//! (`yaml`), its vocabulary (`keys`), the document checked against it
//! (`document`), and its typed form (`validate`, one builder per operator).

mod bash;
mod document;
pub(crate) mod keys;
mod python;
mod ruby;
pub mod source;
mod sql;
mod validate;
pub mod yaml;

pub use bash::BashTask;
pub use keys::OperatorKind;
pub use python::PythonTask;
pub use ruby::RubyTask;
pub use source::Document;
pub use sql::SqlTask;
pub use validate::{EnvFile, EnvSpec, Operator, TaskSpec, parse};
