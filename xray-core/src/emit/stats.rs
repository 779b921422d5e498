//! Counters for everything the emitter sends, repairs, splits, truncates or loses.
//!
//! Nothing is dropped silently: every path that loses or changes data bumps one of these, and
//! [`Emitter::stats`](super::Emitter::stats) reads them at any time.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::model::RecordCounts;

macro_rules! counters {
    ($( $(#[$doc:meta])* $name:ident, )*) => {
        /// Live counters (relaxed atomics).
        #[derive(Debug, Default)]
        pub struct EmitterCounters {
            $( $(#[$doc])* pub(crate) $name: AtomicU64, )*
        }

        /// A copy of the counters at one moment.
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
        pub struct EmitterStats {
            $( $(#[$doc])* pub $name: u64, )*
        }

        impl EmitterCounters {
            /// Reads every counter.
            pub fn snapshot(&self) -> EmitterStats {
                EmitterStats { $( $name: self.$name.load(Relaxed), )* }
            }
        }

        impl EmitterStats {
            /// `self - earlier`, counter by counter (saturating).
            #[must_use]
            pub fn since(&self, earlier: &EmitterStats) -> EmitterStats {
                EmitterStats { $( $name: self.$name.saturating_sub(earlier.$name), )* }
            }
        }
    };
}

counters! {
    /// Documents handed to the emitter (each may become several datagrams).
    documents,
    /// Datagrams the socket accepted.
    datagrams_sent,
    /// Bytes in those datagrams, headers included.
    bytes_sent,
    /// Datagrams lost because the socket buffer was full (`EWOULDBLOCK`).
    dropped_would_block,
    /// Datagrams lost because nothing listens at the daemon address (`ECONNREFUSED`).
    dropped_refused,
    /// Datagrams lost to any other send error.
    dropped_send_error,
    /// Datagrams not sent because no socket could be opened.
    dropped_no_socket,
    /// Documents dropped because even their minimal form did not fit (never seen in practice).
    dropped_oversized,
    /// Documents that would have exceeded the datagram limit and were split or cut.
    oversized_documents,
    /// Subsegments sent as their own document to keep their parent under the limit.
    subsegments_streamed,
    /// Documents sent with one or more metadata values replaced by a truncation marker.
    documents_truncated,
    /// Metadata values replaced by a truncation marker.
    metadata_values_truncated,
    /// Documents reduced to their minimal form (ids, times, flags) to fit.
    documents_minimal,
    /// The largest datagram sent, in bytes (a maximum, not a sum).
    largest_datagram,
    /// Names repaired to fit the schema.
    names_sanitized,
    /// Annotations refused for an invalid key.
    annotation_keys_rejected,
    /// Values refused for being NaN or infinite.
    non_finite_rejected,
    /// Strings cut to their schema limit.
    strings_truncated,
    /// Metadata refused (reserved namespace, serialisation error).
    metadata_rejected,
    /// Subsegments closed by a panic unwinding through their function.
    spans_panicked,
    /// Subsegments closed because their future was dropped before it completed.
    spans_dropped_before_completion,
    /// Captured calls not recorded because their invocation already held the most entities.
    subsegments_over_limit,
    /// Entries refused because their entity already held its byte budget (256 KiB).
    entries_over_budget,
    /// Metadata values nested more than 32 levels deep, cut with a marker string.
    metadata_depth_cut,
}

impl EmitterCounters {
    pub(crate) fn add_record_counts(&self, c: &RecordCounts) {
        for (counter, v) in [
            (&self.names_sanitized, c.names_sanitized),
            (&self.annotation_keys_rejected, c.annotation_keys_rejected),
            (&self.non_finite_rejected, c.non_finite_rejected),
            (&self.strings_truncated, c.strings_truncated),
            (&self.metadata_rejected, c.metadata_rejected),
            (&self.spans_panicked, c.spans_panicked),
            (
                &self.spans_dropped_before_completion,
                c.spans_dropped_before_completion,
            ),
            (&self.subsegments_over_limit, c.subsegments_over_limit),
            (&self.entries_over_budget, c.entries_over_budget),
            (&self.metadata_depth_cut, c.metadata_depth_cut),
        ] {
            if v > 0 {
                counter.fetch_add(v, Relaxed);
            }
        }
    }

    #[inline]
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}

impl EmitterStats {
    /// Datagrams lost after the emitter tried to send them.
    pub fn datagrams_dropped(&self) -> u64 {
        self.dropped_would_block
            + self.dropped_refused
            + self.dropped_send_error
            + self.dropped_no_socket
    }
}
