// Literal annotation keys are checked at compile time; the error points at the literal.
use xray_core::{capture_method, put_annotation};

#[capture_method]
fn record(id: u32) {
    put_annotation("user-id", id);
    xray_core::put_annotation("ok_key", id);
    let _ = xray_core::try_put_annotation("", id);
    xray_core::with_current(|mut e| {
        let _ = e.put_annotation("user id", id);
    });
}

fn main() {
    record(1);
}
