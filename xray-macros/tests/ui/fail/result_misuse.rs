use std::future::Future;

use xray_core::capture_method;

// Nothing that could be a `Result`.
#[capture_method(result)]
fn nothing() {}

// Not a `Result`: the type error points at `result`.
#[capture_method(result)]
fn number() -> u32 {
    1
}

#[capture_method(result = true)]
fn with_value() -> Result<(), String> {
    Ok(())
}

// The wrapped future is an `async` block, which is not `Unpin`.
#[capture_method]
fn unpin_future() -> impl Future<Output = u8> + Unpin {
    std::future::ready(1)
}

fn main() {}
