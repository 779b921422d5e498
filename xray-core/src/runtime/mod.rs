//! Tracing at run time.
//!
//! - `context`: which trace and entity the running code belongs to (the thread-local frame
//!   swapped around polls, [`Handle`](crate::Handle)).
//! - `recording`: the only code that touches an invocation's entity tree and decides what is
//!   sent when.
//! - `capture`: what a captured function's outcome records, formatted before anything is
//!   locked; `span`: the macros' subsegments; `subsegment`: the public guard; `api`: the
//!   free recording functions; `lambda`, `service`, `http_layer`: the roots.
//!
//! Imports go one way: `context` → `recording` → `capture`; everything else sits on top.

pub(crate) mod api;
pub(crate) mod capture;
pub(crate) mod context;
pub(crate) mod deadline;
#[cfg(feature = "service")]
pub(crate) mod host;
#[cfg(feature = "http")]
pub(crate) mod http_layer;
pub(crate) mod lambda;
#[cfg(feature = "lambda")]
pub(crate) mod lambda_layer;
pub(crate) mod recording;
#[cfg(feature = "service")]
pub(crate) mod service;
pub(crate) mod span;
pub(crate) mod subsegment;
pub(crate) mod tracer;

#[cfg(test)]
mod tests;
