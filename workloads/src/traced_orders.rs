//! `traced-orders` (feature `traced-orders`): code instrumented with `tracing` only, shown in
//! X-Ray through [`SubsegmentLayer`], with JSON logs that carry the trace id
//! ([`WithTraceId`]).
//!
//! Only the handler has an X-Ray attribute; `price_order` and `reserve_stock` are plain
//! `#[tracing::instrument]` functions, as a library would have them. An order with
//! `quantity` 0 is refused with an `ERROR` event inside `reserve_stock`.

use lambda_runtime::{Error, LambdaEvent};
use serde::{Deserialize, Serialize};
use tracing_subscriber::layer::SubscriberExt;
use xray_core::capture_lambda_handler;
use xray_core::tracing_bridge::{SubsegmentLayer, WithTraceId};

/// The incoming order.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Order {
    /// The order id (an annotation on every span that has it).
    pub order_id: String,
    /// How many items.
    pub quantity: u32,
}

/// The handler's answer.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Priced {
    /// The order id.
    pub order_id: String,
    /// The total price.
    pub total: f64,
    /// Whether the stock was reserved.
    pub reserved: bool,
}

/// Installs the global subscriber in place of `lambda_runtime::tracing::init_default_subscriber`:
/// JSON lines on stdout with `xray_trace_id`, and spans as subsegments with `order_id`
/// annotated.
pub fn init_subscriber() -> Result<(), Error> {
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
                .event_format(WithTraceId::new(
                    tracing_subscriber::fmt::format().json().without_time(),
                )),
        )
        .with(SubsegmentLayer::new().annotate("order_id"));
    tracing::subscriber::set_global_default(subscriber)?;
    Ok(())
}

/// The `traced-orders` handler.
#[capture_lambda_handler]
pub async fn handler(event: LambdaEvent<Order>) -> Result<Priced, Error> {
    let order = event.payload;
    let total = price_order(&order.order_id, order.quantity).await;
    let reserved = reserve_stock(&order.order_id, order.quantity);
    tracing::info!(order_id = %order.order_id, total, "order priced");
    Ok(Priced {
        order_id: order.order_id,
        total,
        reserved,
    })
}

#[tracing::instrument]
async fn price_order(order_id: &str, quantity: u32) -> f64 {
    tokio::task::yield_now().await;
    tracing::info!(order_id, "pricing");
    f64::from(quantity) * 2.5
}

#[tracing::instrument(fields(warehouse = "east"))]
fn reserve_stock(order_id: &str, quantity: u32) -> bool {
    if quantity == 0 {
        tracing::error!(order_id, "nothing to reserve");
        return false;
    }
    true
}
