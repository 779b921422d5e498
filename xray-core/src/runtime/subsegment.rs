//! The public subsegment API: open a subsegment under the current entity, fill its fields,
//! make it current where its work runs, close it.
//!
//! TEMPORARY shim of the pinned API on top of the current runtime, kept to this one file so
//! the recording layer's implementation can replace it whole. Known gaps of the shim: an
//! unsampled header carries no incoming `Parent` nor extras, and a dropped subsegment is
//! closed like an ended one.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use serde::Serialize;

use crate::annotation::{AnnotationValue, RecordError};
use crate::model::EntityMut;

use super::scope::{self, Entered, Frame, Handle, MODE_NONE, MODE_RECORDING, Scope};
use super::span::{MAX_ENTITIES, context_missing};

/// An open subsegment under the current entity.
///
/// Inert (every method a no-op, [`Subsegment::is_recording`] false) when the current
/// invocation is not sampled or there is no trace (then the context-missing strategy applies
/// once, in [`Subsegment::begin`]).
///
/// ```
/// let sub = xray_core::Subsegment::begin("lookup");
/// sub.with_fields(|e| {
///     e.set_namespace(xray_core::Namespace::Remote);
/// });
/// sub.end();
/// ```
#[derive(Debug)]
pub struct Subsegment {
    /// `Recording` with this subsegment's entity, `None` when inert.
    frame: Frame,
    /// When inert: the trace it was opened in, kept for downstream headers.
    outer: Handle,
    ended: bool,
}

impl Subsegment {
    /// Opens `name` (invalid characters repaired and counted) under the current entity.
    pub fn begin(name: &str) -> Subsegment {
        let mode = scope::mode();
        let mut outer = Handle::default();
        let frame = if mode == MODE_RECORDING {
            scope::with_scope(|s| {
                let now = s.state.now();
                let mut rec = s.state.lock();
                if rec.tree.len() >= MAX_ENTITIES {
                    rec.tree.counts.subsegments_over_limit += 1;
                    return Frame::None;
                }
                let node = rec.tree.begin_subsegment(s.node, name, now);
                Frame::Recording(Scope {
                    state: s.state.clone(),
                    node,
                })
            })
            .unwrap_or_default()
        } else {
            if mode == MODE_NONE {
                context_missing(name);
            }
            outer = Handle::current();
            Frame::None
        };
        Subsegment {
            frame,
            outer,
            ended: false,
        }
    }

    /// True when this subsegment records.
    pub fn is_recording(&self) -> bool {
        matches!(self.frame, Frame::Recording(_))
    }

    /// Runs `f` on the subsegment's entity; `None` when inert.
    pub fn with_fields<R>(&self, f: impl FnOnce(&mut EntityMut<'_>) -> R) -> Option<R> {
        let Frame::Recording(s) = &self.frame else {
            return None;
        };
        let mut rec = s.state.lock();
        Some(f(&mut rec.tree.entity_mut(s.node)))
    }

    /// Adds an annotation (indexed for filter expressions).
    pub fn put_annotation<'v>(
        &self,
        key: &str,
        value: impl Into<AnnotationValue<'v>>,
    ) -> Result<(), RecordError> {
        self.with_fields(|e| e.put_annotation(key, value).map(|_| ()))
            .unwrap_or(Ok(()))
    }

    /// Adds metadata under the service's namespace.
    pub fn put_metadata<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), RecordError> {
        let Frame::Recording(s) = &self.frame else {
            return Ok(());
        };
        let mut rec = s.state.lock();
        let rec = &mut *rec;
        let ns = if rec.namespace.is_empty() {
            "default"
        } else {
            rec.namespace.as_str()
        };
        rec.tree
            .entity_mut(s.node)
            .put_metadata(ns, key, value)
            .map(|_| ())
    }

    /// Records `error` and its `source()` chain as exceptions; a local error (`remote` false)
    /// also sets `fault` (a remote one leaves the flags to the caller).
    pub fn record_error(&self, error: &(dyn std::error::Error + 'static), remote: bool) {
        self.with_fields(|e| {
            e.record_error(error, None, remote);
            if !remote {
                e.set_fault(true);
            }
        });
    }

    /// The `X-Amzn-Trace-Id` value for a downstream call made inside this subsegment; `None`
    /// outside any trace.
    pub fn downstream_header(&self) -> Option<String> {
        let mut out = String::new();
        self.write_downstream_header(&mut out).then_some(out)
    }

    /// Appends the downstream header value to `out`; false when there is nothing to write.
    pub fn write_downstream_header(&self, out: &mut String) -> bool {
        match self.handle().downstream_header() {
            Some(h) => {
                out.push_str(h.as_str());
                true
            }
            None => false,
        }
    }

    /// A handle that makes this subsegment the current entity where it is entered.
    pub fn handle(&self) -> Handle {
        if self.is_recording() {
            Handle::from_frame(self.frame.clone())
        } else {
            self.outer.clone()
        }
    }

    /// Runs `f` with this subsegment as the current entity.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        if !self.is_recording() {
            return f();
        }
        let mut frame = self.frame.clone();
        let _entered = Entered::new(&mut frame);
        f()
    }

    /// Closes it now.
    pub fn end(mut self) {
        self.close();
    }

    fn close(&mut self) {
        self.ended = true;
        if let Frame::Recording(s) = std::mem::take(&mut self.frame) {
            let now = s.state.now();
            let mut rec = s.state.lock();
            if std::thread::panicking() {
                rec.tree.entity_mut(s.node).set_fault(true);
            }
            rec.close(s.node, now, &s.state.emitter);
        }
    }
}

impl Drop for Subsegment {
    fn drop(&mut self) {
        if !self.ended {
            self.close();
        }
    }
}

/// Opens `name`, runs `f` with it current, closes it (a panic closes it as a fault).
///
/// ```
/// let n = xray_core::in_subsegment("parse", |_sub| 41 + 1);
/// assert_eq!(n, 42);
/// ```
pub fn in_subsegment<R>(name: &str, f: impl FnOnce(&Subsegment) -> R) -> R {
    let sub = Subsegment::begin(name);
    let out = sub.in_scope(|| f(&sub));
    sub.end();
    out
}

/// The future form: the subsegment spans the future's real duration and is current during
/// every poll.
///
/// ```
/// use xray_core::InSubsegmentExt;
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// assert_eq!(rt.block_on(async { 7 }.in_subsegment("work")), 7);
/// ```
pub trait InSubsegmentExt: Future + Sized {
    /// Wraps the future in a subsegment named `name`, opened now.
    fn in_subsegment(self, name: &str) -> InSubsegment<Self>;
}

impl<F: Future> InSubsegmentExt for F {
    fn in_subsegment(self, name: &str) -> InSubsegment<Self> {
        InSubsegment {
            sub: Some(Subsegment::begin(name)),
            future: self,
        }
    }
}

pin_project_lite::pin_project! {
    /// A future inside a subsegment (see [`InSubsegmentExt`]).
    #[derive(Debug)]
    pub struct InSubsegment<F> {
        sub: Option<Subsegment>,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for InSubsegment<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let out = match this.sub.as_mut() {
            Some(sub) if sub.is_recording() => {
                let _entered = Entered::new(&mut sub.frame);
                this.future.poll(cx)
            }
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
