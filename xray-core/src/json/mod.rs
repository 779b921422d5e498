//! JSON output: primitives, full documents, and the minimal form used as a last resort.

pub(crate) mod depth;
pub(crate) mod document;
mod entries;
pub(crate) mod minimal;
pub(crate) mod writer;
