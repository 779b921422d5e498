//! The page and its JSON API. Assets are compiled in; every answer forbids sniffing and
//! outside resources, so hostile strings in traces stay text.

use serde_json::json;

use super::filter::Filter;
use super::view::{ServiceMap, TraceSummary, Waterfall};
use super::{LIST_LIMIT, State, lock};
use crate::serve::{Reply, Request};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Scripts, styles and fetches from this origin only; no inline code, no frames.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub(super) fn handle(req: &Request, state: &State) -> Reply {
    if req.method != "GET" {
        return Reply::text(405, "only GET is served here");
    }
    let reply = match req.path.as_str() {
        "/" | "/index.html" => Reply::with_type(200, "text/html; charset=utf-8", INDEX_HTML),
        "/app.js" => Reply::with_type(200, "text/javascript; charset=utf-8", APP_JS),
        "/app.css" => Reply::with_type(200, "text/css; charset=utf-8", APP_CSS),
        "/api/traces" => traces(req, state),
        "/api/trace" => trace(req, state),
        "/api/map" => {
            let traces = state.daemon.newest_traces(state.max_traces);
            json_reply(&ServiceMap::of(&traces))
        }
        "/api/rejected" => {
            let log = lock(&state.rejected);
            // Newest first, as the page lists them.
            let kept: Vec<_> = log.kept.iter().rev().collect();
            json_reply(&json!({"rejected": kept, "dropped": log.dropped}))
        }
        _ => Reply::text(404, "not found"),
    };
    reply
        .header("content-security-policy", CSP)
        .header("x-content-type-options", "nosniff")
        .header("cache-control", "no-store")
}

fn json_reply(value: &impl serde::Serialize) -> Reply {
    match serde_json::to_vec(value) {
        Ok(body) => Reply::json(200, body),
        Err(e) => Reply::text(500, format!("cannot serialise: {e}")),
    }
}

/// The newest traces matching `q`, with the daemon's counters so one poll updates the page.
fn traces(req: &Request, state: &State) -> Reply {
    let text = req.query_param("q").unwrap_or_default();
    let (filter, error) = match Filter::parse(&text) {
        Ok(f) => (f, None),
        Err(e) => (Filter::default(), Some(e)),
    };
    let all = state.daemon.newest_traces(state.max_traces);
    let shown: Vec<TraceSummary> = all
        .iter()
        .map(TraceSummary::of)
        .filter(|s| filter.matches(s))
        .take(LIST_LIMIT)
        .collect();
    let stats = state.daemon.stats();
    let rejected_dropped = lock(&state.rejected).dropped;
    json_reply(&json!({
        "traces": shown,
        "filter_error": error,
        "stats": {
            "datagrams": stats.datagrams_received,
            "accepted": stats.accepted,
            "rejected": stats.rejected,
            "traces_kept": all.len(),
            "traces_evicted": stats.traces_evicted,
            "entities_over_cap": stats.entities_over_cap,
            "otlp_spans": stats.otlp_spans,
            "rejected_dropped": rejected_dropped,
            "not_kept": stats.documents_not_kept,
            "kernel_drops": stats.kernel_drops,
        },
    }))
}

fn trace(req: &Request, state: &State) -> Reply {
    let id = req.query_param("id").unwrap_or_default();
    match state.daemon.trace(&id) {
        Some(trace) => json_reply(&Waterfall::of(&trace)),
        None => Reply::json(
            404,
            json!({"error": format!("no trace {id} is kept")}).to_string(),
        ),
    }
}
