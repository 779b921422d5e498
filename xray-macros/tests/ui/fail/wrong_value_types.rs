// `name` takes a string literal; `capture_response` and `capture_error` take `true` or `false`.
use xray_core::capture_method;

const NAME: &str = "## a";

#[capture_method(name = 5)]
fn a() {}

#[capture_method(capture_response = "yes")]
fn b() {}

#[capture_method(capture_error = 1)]
fn c() {}

#[capture_method(name = NAME)]
fn d() {}

fn main() {
    a();
    b();
    c();
    d();
    let _ = NAME;
}
