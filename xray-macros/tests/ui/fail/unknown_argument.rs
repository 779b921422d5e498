// An argument with no close match lists the arguments there are.
use xray_core::capture_method;

#[capture_method(sample_rate = 1)]
fn a() {}

#[capture_method(trace)]
fn b() {}

#[capture_method("## c")]
fn c() {}

fn main() {
    a();
    b();
    c();
}
