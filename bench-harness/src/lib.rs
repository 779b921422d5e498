//! Benchmark and conformance harness for `xray-core`: an embedded fake X-Ray daemon that
//! receives datagrams over UDP, validates them and reassembles traces, so tests and load
//! scenarios can assert what actually went over the wire.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use bench_harness::daemon::FakeDaemon;
//! use xray_core::{TraceId, wire::{EmitBuffer, Emitter}, model::{EntityTree, Timestamp}};
//!
//! let daemon = FakeDaemon::start().unwrap();
//! let emitter = Emitter::udp(daemon.addr(), xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
//!
//! let mut tree = EntityTree::new(TraceId::random());
//! let root = tree.begin_segment("checkout", None, Timestamp::now());
//! let db = tree.begin_subsegment(root, "orders-db", Timestamp::now());
//! tree.end(db, Timestamp::now());
//! tree.end(root, Timestamp::now());
//! emitter.emit(&mut tree, root, &mut EmitBuffer::new());
//!
//! assert!(daemon.wait_for(1, Duration::from_secs(5)));
//! let trace = daemon.trace(&tree.trace_id().to_string()).unwrap();
//! let db_id = tree.id(db).unwrap().to_string();
//! assert_eq!(trace.entity(&db_id).unwrap().name, "orders-db");
//! assert_eq!(trace.parent_of(&db_id), tree.id(root).map(|id| id.to_string()).as_deref());
//! assert_eq!(daemon.stats().rejected, 0);
//! ```
//!
//! # Features
//!
//! None. The crate always enables `xray-core/testing` (and so its validator).
//!
//! # Limitations
//!
//! - One thread receives and validates; when validation cannot keep up, the kernel drops
//!   datagrams, which [`daemon::DaemonStats::kernel_drops`] reports (Linux only).
//! - The socket asks for an 8 MiB receive buffer; the kernel grants at most
//!   `net.core.rmem_max`.

#![warn(missing_docs)]

pub mod alloc_count;
pub mod cli;
pub mod daemon;
pub mod driver;
pub mod flags;
pub mod local_xray;
pub mod report;
pub mod runtime_api;
pub mod scenarios;
pub mod serve;
pub mod stats;
