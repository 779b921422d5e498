//! Tracing at run time: the tracer, per-invocation recordings, the current frame, captured
//! functions, the Lambda invocation wrapper, service segments and the HTTP layer.

pub(crate) mod api;
pub(crate) mod capture;
pub(crate) mod host;
#[cfg(feature = "http")]
pub(crate) mod http_layer;
pub(crate) mod lambda;
pub(crate) mod scope;
pub(crate) mod service;
pub(crate) mod span;
pub(crate) mod state;
pub(crate) mod subsegment;
pub(crate) mod tracer;

#[cfg(test)]
mod tests;
