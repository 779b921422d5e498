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
