//! The `user-put` Lambda function (feature `aws-sdk`): KMS `Encrypt`, then DynamoDB
//! `PutItem`, both traced. See `workloads::user_put`.

use lambda_runtime::{Error, service_fn};
use workloads::user_put::{Services, handler, init};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init(Services::from_env()?);
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
