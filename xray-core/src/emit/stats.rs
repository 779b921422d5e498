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
    /// Datagrams the socket accepted: handed to the kernel, which is all a UDP send can tell.
    /// A datagram counted here may still be lost (see [`EmitterStats::datagrams_known_lost`]).
    datagrams_handed_to_kernel,
    /// Bytes in those datagrams, headers included.
    bytes_handed_to_kernel,
    /// Sends refused because the socket buffer was full (`EWOULDBLOCK`): that datagram is lost.
    sends_would_block,
    /// Sends that failed with `ECONNREFUSED`: the daemon's host answered an *earlier*
    /// datagram with an ICMP "port unreachable" (nothing listens), and the kernel reports it
    /// on this send. This datagram is lost, and so is at least one earlier datagram already
    /// counted in `datagrams_handed_to_kernel`.
    sends_refused,
    /// Sends that failed with any other error: that datagram is lost.
    sends_failed,
    /// Datagrams not sent because no socket could be opened.
    sends_without_socket,
    /// Failed attempts to resolve a daemon host name that did not resolve at configuration
    /// time (see [`Emitter::udp_resolving`](super::Emitter::udp_resolving)).
    daemon_resolve_failures,
    /// Documents dropped because even their minimal form did not fit (never seen in practice).
    dropped_oversized,
    /// Documents that would have exceeded the datagram limit and were split or cut.
    oversized_documents,
    /// Subsegments sent outside their parent's document to keep it under the limit (alone, or
    /// packed in a batch).
    subsegments_streamed,
    /// Grouping subsegments ([`BATCH_NAME`](crate::wire::BATCH_NAME)) sent to pack streamed
    /// subsegments several to a datagram; they are the SDK's, not the user's entities.
    batch_documents,
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
    /// Datagrams known to be lost after the emitter tried to send them: every failed send,
    /// plus, for each refused send, the earlier datagram whose refusal it reports.
    ///
    /// A lower bound. UDP has no delivery receipt: a daemon that is not reading (its receive
    /// buffer full), a network drop, or a port closed on a host that sends no ICMP replies all
    /// lose datagrams that were counted as handed to the kernel, and nothing on the sending
    /// side can see it. Several refusals that arrive between two sends surface as one error.
    /// Compare with the daemon's own counts where the loss matters.
    pub fn datagrams_known_lost(&self) -> u64 {
        self.sends_would_block
            + 2 * self.sends_refused
            + self.sends_failed
            + self.sends_without_socket
    }
}
