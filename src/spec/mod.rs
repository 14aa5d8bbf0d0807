//! The task spec: where it comes from, its document form, and its typed form.

pub mod raw;
pub mod source;
pub mod validate;
pub mod yaml;

pub use source::Document;
pub use validate::{BashTask, EnvSpec, Operator, PythonTask, RubyTask, SqlTask, TaskSpec, parse};
