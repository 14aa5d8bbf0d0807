//! See tests/lib.rs.
