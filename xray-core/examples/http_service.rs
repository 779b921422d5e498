//! A small HTTP service traced with `XRayLayer`: every request becomes a segment sent to the
//! X-Ray daemon (`AWS_XRAY_DAEMON_ADDRESS`, default `127.0.0.1:2000`), with the captured
//! functions it calls nested inside.
//!
//! ```text
//! cargo run -p xray-core --features http --example http_service [port]
//! ```
//!
//! The layer is plain tower: with axum it would be `Router::new()…layer(XRayLayer::new(…))`.
//! Here it wraps a hand-written router served by hyper, which shows the one thing a server has
//! to do for the client address: put the peer's `SocketAddr` in the request's extensions.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt};
use xray_core::{
    TraceId, capture_method,
    service::{ServiceTracer, XRayLayer},
};

#[derive(Debug)]
struct NotFound(u32);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no order {}", self.0)
    }
}

impl std::error::Error for NotFound {}

#[derive(serde::Serialize)]
struct Order {
    id: u32,
    items: u32,
}

/// A stand-in for a database call: a subsegment `## load_order` under the request's segment.
#[capture_method]
async fn load_order(id: u32) -> Result<Order, NotFound> {
    xray_core::put_annotation("order_id", id);
    tokio::time::sleep(Duration::from_millis(5)).await;
    if id == 0 {
        return Err(NotFound(id));
    }
    Ok(Order { id, items: id % 5 })
}

#[capture_method]
fn render(order: &Order) -> String {
    format!("{{\"id\":{},\"items\":{}}}\n", order.id, order.items)
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

async fn route(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path();
    let response = match (request.method(), path) {
        (&Method::GET, "/") => reply(StatusCode::OK, "try /orders/7, /orders/0 or /fail\n"),
        (&Method::GET, _) if path.starts_with("/orders/") => {
            match path["/orders/".len()..].parse::<u32>() {
                Ok(id) => match load_order(id).await {
                    Ok(order) => reply(StatusCode::OK, render(&order)),
                    Err(e) => reply(StatusCode::NOT_FOUND, format!("{e}\n")),
                },
                Err(_) => reply(StatusCode::BAD_REQUEST, "order ids are numbers\n"),
            }
        }
        (_, "/fail") => reply(StatusCode::INTERNAL_SERVER_ERROR, "failed on purpose\n"),
        _ => reply(StatusCode::NOT_FOUND, "not found\n"),
    };
    Ok(response)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::args()
        .nth(1)
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(8080);
    let tracer = xray_core::global().clone();
    let daemon = tracer.config().daemon.udp;
    let service = ServiceTracer::builder(tracer, "orders-example")
        .service_version(env!("CARGO_PKG_VERSION"))
        .build();

    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}; segments go to the X-Ray daemon at {daemon} (UDP)");
    println!("  curl -i http://{addr}/orders/7");
    println!("  curl -i http://{addr}/orders/0      # 404: an error");
    println!("  curl -i http://{addr}/fail          # 500: a fault");
    println!(
        "  curl -i -H 'X-Amzn-Trace-Id: Root={};Parent=53995c3f42cd8ad8;Sampled=1' http://{addr}/orders/7",
        TraceId::random()
    );
    println!("the response's X-Amzn-Trace-Id names the trace and says whether it was sampled");

    let app = ServiceBuilder::new()
        .layer(XRayLayer::new(service))
        .service_fn(route);
    loop {
        let (stream, peer) = listener.accept().await?;
        let app = app.clone();
        tokio::spawn(async move {
            let per_request = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                // The layer reads the client address from here when no X-Forwarded-For.
                request.extensions_mut().insert::<SocketAddr>(peer);
                app.clone().oneshot(request)
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), per_request);
            if let Err(e) = connection.await {
                eprintln!("connection from {peer}: {e}");
            }
        });
    }
}
