//! The `register-user` function traced by `xray_core::LambdaLayer` instead of the handler
//! macro: the same work (`validate`, `submit_user`), the same documents.
//!
//! Runs the `lambda_runtime` loop; with `AWS_LAMBDA_MAX_CONCURRENCY` above 1 it runs that many
//! invocations at once with `run_concurrent`.

use lambda_runtime::tower::ServiceBuilder;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use workloads::register_user::{RegisterUser, Registered, submit_user, validate};
use xray_core::LambdaLayer;

/// The handler, without `#[capture_lambda_handler]`: the layer traces it.
async fn handler(event: LambdaEvent<RegisterUser>) -> Result<Registered, Error> {
    let user = validate(&event.payload)?;
    submit_user(&user, event.payload.delay_ms.unwrap_or(0)).await?;
    Ok(Registered {
        user_id: user.id,
        status: "created".to_owned(),
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let concurrency = std::env::var("AWS_LAMBDA_MAX_CONCURRENCY")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(1);
    let service = ServiceBuilder::new()
        .layer(LambdaLayer::new())
        .service(service_fn(handler));
    if concurrency > 1 {
        lambda_runtime::run_concurrent(service).await
    } else {
        lambda_runtime::run(service).await
    }
}
