//! Python's value semantics that need no template engine: `repr(float)`, `str` methods and
//! `repr(str)`, truthiness, `json.dumps`, `urllib.parse`. Each function prints or parses byte for
//! byte as CPython 3.11 does, because Airflow's own text is the reference.
//!
//! A leaf: it depends on std and external crates only, never on the rest of the crate. Its users
//! are the connection parser, output forwarding, the masker and the templates.

pub(crate) mod float;
pub(crate) mod json;
pub(crate) mod text;
pub(crate) mod truth;
pub(crate) mod urllib;
