//! Test support (feature `testing`): a counting global allocator, to prove code paths
//! allocate nothing.
//!
//! Install it in a test binary or a measuring tool, then count around the code under test:
//!
//! ```
//! use xray_core::testing::{CountingAllocator, count_allocations};
//!
//! // In a test binary: #[global_allocator] static A: CountingAllocator = CountingAllocator;
//! let (value, allocations) = count_allocations(|| 2 + 2);
//! assert_eq!(value, 4);
//! assert_eq!(allocations, 0);
//! ```
//!
//! The counter is per thread, so a test harness's other threads do not disturb it. Use
//! [`counting_installed`] as the canary: without the allocator installed every count is 0,
//! which must never pass for a proof.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Forwards to the system allocator and counts allocations (and reallocations) per thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

// SAFETY: every call is forwarded unchanged to the system allocator, which upholds the
// `GlobalAlloc` contract; the only addition is a bump of a `const`-initialised thread-local
// `Cell`, which needs no lazy setup or destructor, so it neither allocates nor unwinds.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's layout contract is passed through unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through this allocator) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's layout contract is passed through unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: `ptr` came from this allocator with `layout`; the caller upholds the rest.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations this thread has made so far (0 when the allocator is not installed).
pub fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Runs `f` and returns its value with the allocations this thread made meanwhile.
pub fn count_allocations<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = allocations();
    let r = f();
    (r, allocations() - before)
}

/// Polls a future that never waits until it is ready, on this thread, with no executor (and so
/// without an executor's allocations): for measuring handlers whose work completes at once.
///
/// ```
/// assert_eq!(xray_core::testing::poll_to_completion(async { 6 * 7 }), 42);
/// ```
pub fn poll_to_completion<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// True when [`CountingAllocator`] is the global allocator (an allocation is seen).
pub fn counting_installed() -> bool {
    let ((), n) = count_allocations(|| drop(std::hint::black_box(Box::new(0u64))));
    n > 0
}

/// A tracer recording into memory, for tests that assert on exact documents.
///
/// Code run through [`run`](Capture::run), [`run_future`](Capture::run_future) or
/// [`run_invocation`](Capture::run_invocation) uses this tracer (the macros, the manual API
/// and the context-missing strategy consult it before the global one), and
/// [`documents`](Capture::documents) returns exactly what it sent, nothing from other tests.
///
/// ```
/// use xray_core::testing::Capture;
///
/// let capture = Capture::new();
/// capture.run_invocation(|| xray_core::put_annotation("order", "A-1"));
/// let docs = capture.documents();
/// assert_eq!(docs.len(), 1);
/// assert_eq!(docs[0]["annotations"]["order"], "A-1");
/// assert_eq!(docs[0]["annotations"]["ColdStart"], true);
/// ```
#[derive(Debug, Clone)]
pub struct Capture {
    tracer: crate::Tracer,
    sink: crate::wire::MemorySink,
}

/// The header [`Capture::run_invocation`] passes: sampled, with a fixed root and parent.
pub const SAMPLED_HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

impl Default for Capture {
    fn default() -> Self {
        Capture::new()
    }
}

impl Capture {
    /// A capture with the default configuration (service `service_undefined`).
    pub fn new() -> Capture {
        Capture::with_config(crate::Config::default())
    }

    /// A capture with `config` (its daemon address is not used).
    pub fn with_config(config: crate::Config) -> Capture {
        let (emitter, sink) = crate::wire::Emitter::memory(crate::wire::DEFAULT_DATAGRAM_LIMIT);
        Capture {
            tracer: crate::Tracer::with_emitter(config, emitter),
            sink,
        }
    }

    /// The tracer documents are captured from.
    pub fn tracer(&self) -> &crate::Tracer {
        &self.tracer
    }

    /// Runs `f` with this capture's tracer in scope.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        self.tracer.in_scope(f)
    }

    /// Polls `future` to completion (it must not wait) with this capture's tracer in scope.
    pub fn run_future<F: std::future::Future>(&self, future: F) -> F::Output {
        poll_to_completion(self.tracer.scope_future(future))
    }

    /// Runs `f` as the body of one sampled invocation ([`SAMPLED_HEADER`]) and sends it.
    pub fn run_invocation<R>(&self, f: impl FnOnce() -> R) -> R {
        self.tracer.in_scope(|| {
            let mut invocation = self.tracer.begin_invocation(Some(SAMPLED_HEADER));
            let out = invocation.in_scope(f);
            invocation.finish();
            out
        })
    }

    /// The documents sent since the last call, parsed, in the order they were sent.
    pub fn documents(&self) -> Vec<serde_json::Value> {
        self.sink.take_documents()
    }

    /// What the tracer counted.
    pub fn stats(&self) -> crate::TracerStats {
        self.tracer.stats()
    }
}
