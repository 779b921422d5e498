// Functions that cannot be traced.
use xray_core::capture_method;

#[capture_method]
const fn answer() -> u32 {
    42
}

#[capture_method]
fn abort(reason: &str) -> ! {
    panic!("{reason}")
}

fn main() {
    let _ = answer();
    abort("done");
}
