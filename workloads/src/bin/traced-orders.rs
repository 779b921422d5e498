//! The `traced-orders` Lambda function (feature `traced-orders`).

use lambda_runtime::{Error, service_fn};
use workloads::traced_orders::{handler, init_subscriber};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_subscriber()?;
    lambda_runtime::run(service_fn(handler)).await
}
