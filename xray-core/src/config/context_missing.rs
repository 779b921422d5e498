//! The rate limit on context-missing log lines, whatever `AWS_XRAY_CONTEXT_MISSING` says.
//!
//! A call made outside any trace is usually made in a loop (a helper called per item), so a
//! line per call can cost more than the handler: 40 000 calls wrote 40 000 lines. At most
//! [`ContextMissingLog::LINES_PER_WINDOW`] lines go out per minute; the rest are counted, and
//! the first line of the next minute says how many were left out.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Whether a context-missing line may be written now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogDecision {
    /// Write the line; `suppressed_before` lines were left out in the minute before.
    Write {
        /// Lines counted but not written since the last written one.
        suppressed_before: u64,
        /// This is the last line written in this minute.
        last_in_window: bool,
    },
    /// Count it and write nothing.
    Suppress,
}

#[derive(Debug)]
struct Window {
    start: Option<Instant>,
    written: u32,
    suppressed: u64,
}

/// Admits at most [`ContextMissingLog::LINES_PER_WINDOW`] lines per
/// [`ContextMissingLog::WINDOW`], counting the others.
#[derive(Debug)]
pub(crate) struct ContextMissingLog {
    window: Mutex<Window>,
}

/// The process's limiter: stderr is one per process, so is its budget.
pub(crate) static CONTEXT_MISSING_LOG: ContextMissingLog = ContextMissingLog::new();

impl Default for ContextMissingLog {
    fn default() -> Self {
        ContextMissingLog::new()
    }
}

impl ContextMissingLog {
    /// A limiter with nothing written yet.
    pub(crate) const fn new() -> ContextMissingLog {
        ContextMissingLog {
            window: Mutex::new(Window {
                start: None,
                written: 0,
                suppressed: 0,
            }),
        }
    }

    /// Lines written per window at most.
    pub(crate) const LINES_PER_WINDOW: u32 = 10;
    /// The window.
    pub(crate) const WINDOW: Duration = Duration::from_secs(60);

    /// Decides for a line at `now` (the caller's clock, so tests need not wait a minute).
    pub(crate) fn admit(&self, now: Instant) -> LogDecision {
        let mut w = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        let expired = w
            .start
            .is_none_or(|start| now.saturating_duration_since(start) >= Self::WINDOW);
        if expired {
            w.start = Some(now);
            w.written = 0;
        }
        if w.written >= Self::LINES_PER_WINDOW {
            w.suppressed += 1;
            return LogDecision::Suppress;
        }
        w.written += 1;
        LogDecision::Write {
            suppressed_before: std::mem::take(&mut w.suppressed),
            last_in_window: w.written == Self::LINES_PER_WINDOW,
        }
    }

    /// Writes `message` to stderr if the limit allows, with a note of what was left out.
    pub(crate) fn log(&self, message: std::fmt::Arguments<'_>) {
        if let LogDecision::Write {
            suppressed_before,
            last_in_window,
        } = self.admit(Instant::now())
        {
            if suppressed_before > 0 {
                eprintln!(
                    "[xray] {suppressed_before} context-missing messages were counted, not logged"
                );
            }
            eprintln!("[xray] {message}");
            if last_in_window {
                eprintln!(
                    "[xray] further context-missing messages this minute are counted, not logged"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_lines_a_minute_and_the_rest_counted() {
        let log = ContextMissingLog::default();
        let t0 = Instant::now();
        let mut written = 0;
        for i in 0..40_000u64 {
            // 40 000 calls within one second.
            let now = t0 + Duration::from_micros(i * 25);
            if matches!(log.admit(now), LogDecision::Write { .. }) {
                written += 1;
            }
        }
        assert_eq!(written, 10);
        // A minute later: one more line, reporting what was left out.
        assert_eq!(
            log.admit(t0 + Duration::from_secs(61)),
            LogDecision::Write {
                suppressed_before: 39_990,
                last_in_window: false
            }
        );
    }

    #[test]
    fn the_tenth_line_is_marked_last() {
        let log = ContextMissingLog::default();
        let t0 = Instant::now();
        for i in 1..=10 {
            let LogDecision::Write { last_in_window, .. } = log.admit(t0) else {
                panic!("line {i} suppressed");
            };
            assert_eq!(last_in_window, i == 10);
        }
        assert_eq!(log.admit(t0), LogDecision::Suppress);
    }
}
