//! TEMPORARY shim of the pinned public subsegment API (branch `downstream`), built on today's
//! runtime so the HTTP, SQL and `tracing` integrations can be written against it. The
//! recording-layer branch replaces this file with the real implementation at merge.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::Serialize;

use crate::annotation::{AnnotationValue, RecordError};
use crate::model::EntityMut;

use super::scope::Handle;
use super::scope::{self, Frame, MODE_NONE, MODE_RECORDING, Scope};
use super::span::{MAX_ENTITIES, context_missing};

/// An open subsegment under the current entity; inert when the invocation is not sampled.
///
/// ```
/// let sub = xray_core::Subsegment::begin("orders-db");
/// assert!(!sub.is_recording()); // no invocation here
/// sub.end();
/// ```
#[derive(Debug)]
pub struct Subsegment {
    /// This subsegment's entity while it records.
    scope: Option<Scope>,
    /// Makes it current; when inert, the trace current at `begin` (for the downstream header
    /// of an unsampled invocation).
    handle: Handle,
}

impl Subsegment {
    /// Opens `name` under the current entity, starting now.
    pub fn begin(name: &str) -> Subsegment {
        let mode = scope::mode();
        if mode != MODE_RECORDING {
            if mode == MODE_NONE {
                context_missing(name);
            }
            return Subsegment {
                scope: None,
                handle: Handle::current(),
            };
        }
        let scope = scope::with_scope(|s| {
            let now = s.state.now();
            let mut rec = s.state.lock();
            if rec.tree.len() >= MAX_ENTITIES {
                rec.tree.counts.subsegments_over_limit += 1;
                return None;
            }
            let node = rec.tree.begin_subsegment(s.node, name, now);
            Some(Scope {
                state: s.state.clone(),
                node,
            })
        })
        .flatten();
        let handle = match &scope {
            Some(s) => Handle::from_frame(Frame::Recording(s.clone())),
            None => Handle::default(),
        };
        Subsegment { scope, handle }
    }

    /// True when this subsegment records.
    pub fn is_recording(&self) -> bool {
        self.scope.is_some()
    }

    /// Runs `f` on the subsegment's entity; `None` when inert.
    pub fn with_fields<R>(&self, f: impl FnOnce(&mut EntityMut<'_>) -> R) -> Option<R> {
        let s = self.scope.as_ref()?;
        let mut rec = s.state.lock();
        Some(f(&mut rec.tree.entity_mut(s.node)))
    }

    /// Adds an annotation.
    pub fn put_annotation<'v>(
        &self,
        key: &str,
        value: impl Into<AnnotationValue<'v>>,
    ) -> Result<(), RecordError> {
        let value = value.into();
        self.with_fields(|e| e.put_annotation(key, value).map(|_| ()))
            .unwrap_or(Err(RecordError::NoEntity))
    }

    /// Adds metadata in the service's namespace.
    pub fn put_metadata<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), RecordError> {
        let Some(s) = self.scope.as_ref() else {
            return Err(RecordError::NoEntity);
        };
        let mut rec = s.state.lock();
        let rec = &mut *rec;
        rec.tree
            .entity_mut(s.node)
            .put_metadata(&rec.namespace, key, value)
            .map(|_| ())
    }

    /// Records `error` and its `source()` chain as cause and sets fault.
    pub fn record_error(&self, error: &(dyn std::error::Error + 'static), remote: bool) {
        self.with_fields(|e| {
            e.record_error(error, None, remote);
            e.set_fault(true);
        });
    }

    /// The `X-Amzn-Trace-Id` value for a downstream call made inside this subsegment.
    pub fn downstream_header(&self) -> Option<String> {
        let mut out = String::new();
        self.write_downstream_header(&mut out).then_some(out)
    }

    /// Appends the downstream header to `out`; false when there is no trace.
    pub fn write_downstream_header(&self, out: &mut String) -> bool {
        match self.handle.downstream_header() {
            Some(h) => {
                out.push_str(h.as_str());
                true
            }
            None => false,
        }
    }

    /// A handle that makes this subsegment the current entity where it is entered.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Runs `f` with this subsegment as the current entity.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        if self.is_recording() {
            self.handle.in_scope(f)
        } else {
            f()
        }
    }

    /// Closes it now.
    pub fn end(mut self) {
        self.close();
    }

    fn close(&mut self) {
        if let Some(s) = self.scope.take() {
            self.handle = Handle::default();
            let now = s.state.now();
            s.state.lock().close(s.node, now, &s.state.emitter);
        }
    }
}

impl Drop for Subsegment {
    fn drop(&mut self) {
        self.close();
    }
}

/// Opens `name`, runs `f` with it current, closes it (a panic closes it as a fault).
pub fn in_subsegment<R>(name: &str, f: impl FnOnce(&Subsegment) -> R) -> R {
    struct FaultOnUnwind<'a>(&'a Subsegment);
    impl Drop for FaultOnUnwind<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.0.with_fields(|e| {
                    e.set_fault(true);
                });
            }
        }
    }
    let sub = Subsegment::begin(name);
    let out = {
        let _guard = FaultOnUnwind(&sub);
        sub.in_scope(|| f(&sub))
    };
    sub.end();
    out
}

/// Future form: the subsegment spans the future's real duration, current during every poll.
pub trait InSubsegmentExt: Future + Sized {
    /// Wraps `self` in a subsegment named `name`, opened at the first poll.
    fn in_subsegment(self, name: &str) -> InSubsegment<Self>;
}

impl<F: Future> InSubsegmentExt for F {
    fn in_subsegment(self, name: &str) -> InSubsegment<Self> {
        InSubsegment {
            name: Some(name.to_owned()),
            sub: None,
            future: self,
        }
    }
}

pin_project_lite::pin_project! {
    /// A future run inside a subsegment (see [`InSubsegmentExt`]).
    #[derive(Debug)]
    pub struct InSubsegment<F> {
        name: Option<String>,
        sub: Option<Subsegment>,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for InSubsegment<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if let Some(name) = this.name.take() {
            *this.sub = Some(Subsegment::begin(&name));
        }
        let out = match this.sub.as_mut() {
            Some(sub) if sub.is_recording() => sub.handle.in_scope(|| this.future.poll(cx)),
            _ => this.future.poll(cx),
        };
        if out.is_ready()
            && let Some(sub) = this.sub.take()
        {
            sub.end();
        }
        out
    }
}
