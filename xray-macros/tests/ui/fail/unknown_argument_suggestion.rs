// A misspelt argument is reported with the argument it is closest to.
use xray_core::capture_method;

#[capture_method(nmae = "## a")]
fn a() {}

#[capture_method(name = "## b", capture_respone = false)]
fn b() {}

fn main() {
    a();
    b();
}
