// An argument without its value, or arguments without a comma between them.
use xray_core::capture_method;

#[capture_method(capture_response)]
fn a() {}

#[capture_method(name =)]
fn b() {}

#[capture_method(name = "## c" capture_error = false)]
fn c() {}

fn main() {
    a();
    b();
    c();
}
