//! Allocation counting for the harness's report, on `xray_core::testing::CountingAllocator`
//! (the harness binary installs it as the global allocator).
//!
//! When the allocator is not installed (the library used elsewhere, a test binary), counts are
//! reported as unknown, never as a false zero: see [`installed`].

pub use xray_core::testing::CountingAllocator;

/// True when the counting allocator is the global allocator.
pub fn installed() -> bool {
    xray_core::testing::counting_installed()
}

/// Allocations made by this thread while `f` runs.
pub fn count<R>(f: impl FnOnce() -> R) -> (R, u64) {
    xray_core::testing::count_allocations(f)
}
