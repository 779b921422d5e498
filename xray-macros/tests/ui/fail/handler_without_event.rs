// A handler's first argument is the invocation's event.
use lambda_runtime::Error;
use xray_core::capture_lambda_handler;

#[capture_lambda_handler]
async fn handler() -> Result<(), Error> {
    Ok(())
}

fn main() {
    let _ = handler();
}
