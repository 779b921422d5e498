// lambda_runtime handlers are `async`.
use lambda_runtime::{Error, LambdaEvent};
use xray_core::capture_lambda_handler;

#[capture_lambda_handler]
fn handler(event: LambdaEvent<u32>) -> Result<u32, Error> {
    Ok(event.payload)
}

fn main() {
    let _ = handler;
}
