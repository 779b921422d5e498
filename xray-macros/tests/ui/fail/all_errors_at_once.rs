// Every problem is reported in one go, and the function is still emitted (`main` can call it).
use xray_core::{capture_lambda_handler, put_annotation};

#[capture_lambda_handler(nmae = "## h", capture_error = "no")]
fn handler() -> u32 {
    put_annotation("bad key", 1);
    1
}

fn main() {
    let _: u32 = handler();
}
