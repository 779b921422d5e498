//! The `tracing` bridge (feature `tracing`): [`SubsegmentLayer`] records `tracing` spans as
//! subsegments, [`WithTraceId`] puts the trace id into every log line.
//!
//! # Recipe beside `lambda_runtime`
//!
//! `lambda_runtime::tracing::init_default_subscriber()` installs a global fmt subscriber, and
//! there can be only one: build the same one with the two additions instead.
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//! use xray_core::tracing_bridge::{SubsegmentLayer, WithTraceId};
//!
//! let subscriber = tracing_subscriber::registry()
//!     .with(tracing_subscriber::fmt::layer().event_format(WithTraceId::new(
//!         tracing_subscriber::fmt::format().without_time(),
//!     )))
//!     .with(SubsegmentLayer::new().annotate("order_id"));
//! // In `main`: tracing::subscriber::set_global_default(subscriber)?;
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info_span!("validate", order_id = "A-1").in_scope(|| {
//!         tracing::info!("outside an invocation: no subsegment, no trace id");
//!     });
//! });
//! ```
//!
//! # Which spans
//!
//! Spans at `INFO` or more severe (the level `#[tracing::instrument]` uses) created inside a
//! sampled invocation, or under a span that is itself a subsegment; change the level with
//! [`SubsegmentLayer::max_level`], or pick spans with [`SubsegmentLayer::filter`]. The
//! subsegment is named after the span and opened under the X-Ray entity current where the
//! span is created (the innermost: an entered span's subsegment, or a captured function
//! inside it); a span given an explicit parent, or created where its invocation is not
//! running, goes under its nearest ancestor that is a subsegment. It closes when the span
//! closes.
//!
//! Fields become metadata (in the service's namespace), fields named with
//! [`SubsegmentLayer::annotate`] annotations; an `error` field, or an `ERROR` event inside
//! the span, marks the subsegment as a fault with the error as cause (an event marks the
//! current entity: one inside a captured function marks that function's subsegment).
//!
//! # The current entity
//!
//! While a recorded span is entered, its subsegment is the current X-Ray entity of its
//! invocation: a `#[capture_method]` function, an [`in_subsegment`](crate::in_subsegment), an
//! HTTP, SQL or AWS call, or a span made inside it nests under the span, and on exit the
//! entity before comes back. `async { .. }.instrument(span)` enters the span around every
//! poll, so the same holds across `.await`s, and under `run_concurrent` each invocation's
//! spans only ever change that invocation's current entity. A span entered where its
//! invocation is not running (another thread without a [`Handle`], or after
//! the invocation ended) changes nothing there. Only the entity of the running invocation's
//! frame moves, never the frame, so the change travels with the frame when it is swapped out
//! around a poll. A span entered in one place and exited where its invocation's frame is not
//! in place (a guard held across `.await` and dropped on another thread) leaves its
//! subsegment current there; what the invocation and its captured functions close is still
//! their own subsegment.

mod fields;
mod log_ids;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::runtime::context::{Handle, Switched, restore_entity};
use crate::runtime::subsegment::Subsegment;

pub use log_ids::WithTraceId;

/// Spans that are subsegments right now, across all subscribers: when there are none and the
/// current code is not in a sampled invocation, a new span is dismissed after two loads.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The subsegment of one span, kept in the span's extensions (taken out when it closes), a
/// handle to it for making it current when the span is entered, and what each enter not yet
/// exited replaced (kept with the span, so an exit on another thread finds it).
struct SpanSubsegment {
    sub: Option<Subsegment>,
    handle: Handle,
    entered: Enters,
}

/// The switches of a span's enters not yet exited, most recent last. The first is kept inline:
/// a span is rarely entered again before it exits, and a span must cost no allocation for it.
#[derive(Default)]
struct Enters {
    first: Option<Switched>,
    more: Vec<Switched>,
}

impl Enters {
    fn push(&mut self, s: Switched) {
        if self.first.is_none() {
            self.first = Some(s);
        } else {
            self.more.push(s);
        }
    }

    fn pop(&mut self) -> Option<Switched> {
        self.more.pop().or_else(|| self.first.take())
    }
}

impl Drop for SpanSubsegment {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

type Filter = Arc<dyn Fn(&Metadata<'_>) -> bool + Send + Sync>;

/// A [`tracing_subscriber::Layer`] that records spans as subsegments (see the
/// [module docs](self)).
#[derive(Clone)]
pub struct SubsegmentLayer {
    max_level: Level,
    filter: Option<Filter>,
    annotations: Arc<[String]>,
}

impl std::fmt::Debug for SubsegmentLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubsegmentLayer")
            .field("max_level", &self.max_level)
            .field("filter", &self.filter.is_some())
            .field("annotations", &self.annotations)
            .finish()
    }
}

impl Default for SubsegmentLayer {
    fn default() -> SubsegmentLayer {
        SubsegmentLayer::new()
    }
}

impl SubsegmentLayer {
    /// Records spans at `INFO` and more severe.
    pub fn new() -> SubsegmentLayer {
        SubsegmentLayer {
            max_level: Level::INFO,
            filter: None,
            annotations: Arc::from(Vec::new()),
        }
    }

    /// Records spans at `level` and more severe (`Level::DEBUG` adds debug spans).
    #[must_use]
    pub fn max_level(mut self, level: Level) -> SubsegmentLayer {
        self.max_level = level;
        self
    }

    /// Records only the spans `keep` accepts (on top of the level), e.g. by target.
    #[must_use]
    pub fn filter(
        mut self,
        keep: impl Fn(&Metadata<'_>) -> bool + Send + Sync + 'static,
    ) -> SubsegmentLayer {
        self.filter = Some(Arc::new(keep));
        self
    }

    /// Records the field `name` as an annotation (indexed, searchable) instead of metadata.
    #[must_use]
    pub fn annotate(mut self, name: &str) -> SubsegmentLayer {
        let mut names = self.annotations.to_vec();
        names.push(name.to_owned());
        self.annotations = Arc::from(names);
        self
    }

    fn wants(&self, meta: &Metadata<'_>) -> bool {
        // `Level` orders verbose above severe: TRACE > DEBUG > INFO > WARN > ERROR.
        *meta.level() <= self.max_level && self.filter.as_ref().is_none_or(|f| f(meta))
    }
}

/// The nearest span, from `id` up, that is a subsegment; `f` runs on it.
fn with_nearest<S, R>(ctx: &Context<'_, S>, id: &Id, f: impl FnOnce(&Subsegment) -> R) -> Option<R>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let span = ctx.span(id)?;
    for s in span.scope() {
        if let Some(SpanSubsegment { sub: Some(sub), .. }) = s.extensions().get::<SpanSubsegment>()
        {
            return Some(f(sub));
        }
    }
    None
}

impl<S> tracing_subscriber::Layer<S> for SubsegmentLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let meta = attrs.metadata();
        let sampled = crate::runtime::api::is_sampled();
        if (!sampled && LIVE.load(Ordering::Relaxed) == 0) || !self.wants(meta) {
            return;
        }
        let name = meta.name();
        let sub = if sampled && attrs.is_contextual() {
            // The current entity is the innermost: entering a recorded span made it current,
            // and a captured function called inside one is deeper still.
            Some(Subsegment::begin(name))
        } else {
            let parent = if attrs.is_contextual() {
                ctx.current_span().id().cloned()
            } else {
                attrs.parent().cloned()
            };
            parent
                .and_then(|p| with_nearest(&ctx, &p, |ps| ps.in_scope(|| Subsegment::begin(name))))
                .or_else(|| sampled.then(|| Subsegment::begin(name)))
        };
        let Some(sub) = sub.filter(Subsegment::is_recording) else {
            return;
        };
        attrs.record(&mut fields::Recorder::new(&sub, &self.annotations));
        if let Some(span) = ctx.span(id) {
            LIVE.fetch_add(1, Ordering::Relaxed);
            let handle = sub.handle();
            span.extensions_mut().insert(SpanSubsegment {
                sub: Some(sub),
                handle,
                entered: Enters::default(),
            });
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if LIVE.load(Ordering::Relaxed) == 0 {
            return;
        }
        if let Some(span) = ctx.span(id)
            && let Some(SpanSubsegment { sub: Some(sub), .. }) =
                span.extensions().get::<SpanSubsegment>()
        {
            values.record(&mut fields::Recorder::new(sub, &self.annotations));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        let target = event.metadata().target();
        let sampled = crate::runtime::api::is_sampled();
        // The message is formatted before anything is locked: the fields' `Debug` is user code.
        let on_current = || {
            let message = fields::error_message(event);
            crate::runtime::api::with_current(|mut e| {
                fields::record_error(&mut e, target, &message);
            });
        };
        if sampled && event.is_contextual() {
            // The current entity is the innermost one this event happened in.
            on_current();
            return;
        }
        let recorded = ctx.event_span(event).and_then(|span| {
            with_nearest(&ctx, &span.id(), |sub| {
                let message = fields::error_message(event);
                sub.with_fields(|e| fields::record_error(e, target, &message));
            })
        });
        if recorded.is_none() && sampled {
            // Not under a recorded span: the error belongs to the current X-Ray entity.
            on_current();
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if LIVE.load(Ordering::Relaxed) == 0 || !crate::runtime::api::is_sampled() {
            return;
        }
        // Its subsegment becomes current if it belongs to the running invocation.
        if let Some(span) = ctx.span(id)
            && let Some(held) = span.extensions_mut().get_mut::<SpanSubsegment>()
            && let Some(switched) = held.handle.switch_entity()
        {
            held.entered.push(switched);
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if LIVE.load(Ordering::Relaxed) == 0 {
            return;
        }
        // The entity its latest enter replaced comes back, if that enter changed anything and
        // the span's subsegment is still current in the same invocation.
        let switched = ctx.span(id).and_then(|span| {
            span.extensions_mut()
                .get_mut::<SpanSubsegment>()
                .and_then(|held| held.entered.pop())
        });
        if let Some(switched) = switched {
            restore_entity(switched);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if LIVE.load(Ordering::Relaxed) == 0 {
            return;
        }
        if let Some(span) = ctx.span(&id)
            && let Some(mut held) = span.extensions_mut().remove::<SpanSubsegment>()
            && let Some(sub) = held.sub.take()
        {
            sub.end();
        }
    }
}
