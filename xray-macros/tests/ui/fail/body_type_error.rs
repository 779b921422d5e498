// A type error in a captured body points at the user's code, not at the attribute.
use lambda_runtime::{Error, LambdaEvent};
use xray_core::{capture_lambda_handler, capture_method};

#[capture_method]
fn sync_body() -> u32 {
    let x: u32 = "s";
    x
}

#[capture_method]
async fn async_body() -> Result<u32, String> {
    let n: u32 = 1;
    let flag: bool = n;
    Ok(u32::from(flag))
}

#[capture_method]
fn wrong_return() -> Result<u32, String> {
    if true {
        return Ok("early");
    }
    Ok(1)
}

#[capture_lambda_handler]
async fn handler(event: LambdaEvent<u32>) -> Result<u32, Error> {
    let s: String = event.payload;
    Ok(s)
}

fn main() {
    let _ = sync_body();
    let _ = async_body();
    let _ = wrong_return();
}
