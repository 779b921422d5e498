//! The `register-user` Lambda function.
//!
//! Runs the `lambda_runtime` loop; with `AWS_LAMBDA_MAX_CONCURRENCY` above 1 (Lambda Managed
//! Instances) it runs that many invocations at once with `run_concurrent`.

use lambda_runtime::{Error, service_fn};
use workloads::register_user::handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let concurrency = std::env::var("AWS_LAMBDA_MAX_CONCURRENCY")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(1);
    if concurrency > 1 {
        lambda_runtime::run_concurrent(service_fn(handler)).await
    } else {
        lambda_runtime::run(service_fn(handler)).await
    }
}
