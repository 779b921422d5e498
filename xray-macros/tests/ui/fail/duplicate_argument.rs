// Each argument may be given once.
use xray_core::capture_method;

#[capture_method(name = "## a", name = "## b")]
fn a() {}

#[capture_method(capture_error = true, capture_response = false, capture_error = false)]
fn b() {}

fn main() {
    a();
    b();
}
