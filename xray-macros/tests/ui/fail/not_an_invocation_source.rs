// The first argument must carry the invocation's trace header.
use lambda_runtime::Error;
use xray_core::capture_lambda_handler;

struct Request {
    user: String,
}

#[capture_lambda_handler]
async fn handler(request: Request) -> Result<String, Error> {
    Ok(request.user)
}

#[capture_lambda_handler]
async fn batch(events: Vec<Request>) -> Result<usize, Error> {
    Ok(events.len())
}

fn main() {
    let _ = handler(Request {
        user: String::new(),
    });
    let _ = batch(Vec::new());
}
