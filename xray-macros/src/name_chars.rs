//! Which characters a subsegment name may hold, as far as the macro can tell without the
//! schema's table (that table lives in `xray-core`, which a proc-macro crate cannot use).
//!
//! Kept free of dependencies: `xray-core/tests/macro_name_check.rs` includes this file and
//! checks it against `xray_core::model::is_name_char` for every `char`, so the macro never refuses a
//! name the core accepts, nor calls valid a name the core would repair.

/// `Some(true)`: allowed. `Some(false)`: refused by the schema. `None`: not decided here; the
/// run-time check, which has the schema's exact table, decides (the name is then checked on
/// each call, and repaired and counted if it has to be).
pub(crate) fn name_char(c: char) -> Option<bool> {
    if c.is_ascii() {
        Some(c.is_ascii_alphanumeric() || " _.:/%&#=+-@".contains(c))
    } else if c.is_alphanumeric() || c.is_whitespace() {
        None
    } else {
        Some(false)
    }
}
