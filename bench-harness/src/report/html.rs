//! The HTML report: one self-contained page (no scripts, no external files) with the summary,
//! the checks, and the full JSON report.

use super::{Report, table};

/// Escapes text for HTML.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Renders the page.
pub fn render(report: &Report) -> String {
    let json = serde_json::to_string_pretty(report).unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>xray-rs harness report</title></head><body>\
         <h1>xray-rs harness report</h1><pre>{}</pre>\
         <h2>report.json</h2><pre>{}</pre></body></html>\n",
        escape(&table::render(report)),
        escape(&json)
    )
}
