//! The api tests' name for the shared harness in `tests/support/`, so that every test module
//! keeps its `use crate::helpers::*`.

pub use crate::support::*;
