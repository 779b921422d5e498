//! Compile-time behaviour of `#[capture_method]` and `#[capture_lambda_handler]`: every
//! supported shape compiles warning-free (`ui/pass`), and every misuse fails with the message
//! pinned in `ui/fail/*.stderr`.
//!
//! Regenerate the snapshots with `TRYBUILD=overwrite cargo test -p xray-macros --test ui`
//! and review the diff like code.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
