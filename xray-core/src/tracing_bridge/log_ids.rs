//! Trace ids in log lines, so CloudWatch Logs and X-Ray link to each other.

use std::cell::RefCell;
use std::fmt;

use tracing_core::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::SpanSubsegment;
use crate::trace_header::TraceHeader;

/// Wraps a `tracing_subscriber` event format so every line written inside a traced
/// invocation carries `xray_trace_id` and, when sampled, `xray_segment_id` (the subsegment the
/// line belongs to: the nearest span recorded by [`SubsegmentLayer`](super::SubsegmentLayer),
/// else the current X-Ray entity), as Powertools Logger does.
///
/// JSON lines (`format().json()`) get two more keys at the front of the object; text lines
/// get ` xray_trace_id=… xray_segment_id=…` at the end. Lines outside any trace are written
/// unchanged. ANSI colours are not kept on traced lines (Lambda logs have none).
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// use xray_core::tracing_bridge::WithTraceId;
///
/// let subscriber = tracing_subscriber::registry().with(
///     tracing_subscriber::fmt::layer()
///         .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
///         .event_format(WithTraceId::new(tracing_subscriber::fmt::format().json())),
/// );
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!("outside a trace: written unchanged");
/// });
/// ```
#[derive(Debug, Clone, Default)]
pub struct WithTraceId<F> {
    inner: F,
}

impl<F> WithTraceId<F> {
    /// Adds the ids to the lines `inner` formats.
    pub fn new(inner: F) -> WithTraceId<F> {
        WithTraceId { inner }
    }
}

thread_local! {
    /// The inner format's line, then the header text; reused across lines.
    static BUFS: RefCell<(String, String)> = const { RefCell::new((String::new(), String::new())) };
}

impl<S, N, F> FormatEvent<S, N> for WithTraceId<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        BUFS.with(|bufs| {
            let Ok(mut bufs) = bufs.try_borrow_mut() else {
                // Formatting from inside a format (a `Debug` impl that logs): no ids.
                return self.inner.format_event(ctx, writer, event);
            };
            let (line, header) = &mut *bufs;
            header.clear();
            if !current_header(ctx, event, header) {
                return self.inner.format_event(ctx, writer, event);
            }
            let parsed = TraceHeader::parse(header);
            let Some(root) = parsed.root() else {
                return self.inner.format_event(ctx, writer, event);
            };
            let segment = parsed
                .sampled()
                .is_sampled()
                .then(|| parsed.parent())
                .flatten();
            line.clear();
            self.inner.format_event(ctx, Writer::new(line), event)?;
            if let Some(rest) = line.strip_prefix('{') {
                write!(writer, "{{\"xray_trace_id\":\"{root}\",")?;
                if let Some(id) = segment {
                    write!(writer, "\"xray_segment_id\":\"{id}\",")?;
                }
                writer.write_str(rest)
            } else {
                let body = line.strip_suffix('\n').unwrap_or(line);
                write!(writer, "{body} xray_trace_id={root}")?;
                if let Some(id) = segment {
                    write!(writer, " xray_segment_id={id}")?;
                }
                if body.len() == line.len() {
                    Ok(())
                } else {
                    writer.write_char('\n')
                }
            }
        })
    }
}

/// Writes the downstream header of the entity this event belongs to; false outside a trace.
fn current_header<S, N>(ctx: &FmtContext<'_, S, N>, event: &Event<'_>, out: &mut String) -> bool
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    // In a recorded invocation the current entity is the innermost (an entered span's
    // subsegment, or a captured function inside it); elsewhere a recorded span still knows
    // its trace (a thread without the invocation's frame).
    if !crate::runtime::api::is_sampled()
        && let Some(scope) = ctx.event_scope()
    {
        for span in scope {
            if let Some(SpanSubsegment { sub: Some(sub), .. }) =
                span.extensions().get::<SpanSubsegment>()
            {
                return sub.write_downstream_header(out);
            }
        }
    }
    let _ = event;
    match crate::downstream_header() {
        Some(h) => {
            out.push_str(h.as_str());
            true
        }
        None => false,
    }
}
