//! The `reqwest-middleware` middleware.

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next, Result};

use super::{ClientOptions, RequestFacts, finish_error, finish_response};

/// A `reqwest-middleware` [`Middleware`] that records each request as a `remote` subsegment
/// and sends `X-Amzn-Trace-Id` with it (see the [module docs](super)).
///
/// ```
/// use xray_core::http_client::{ClientOptions, XRayMiddleware};
///
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(XRayMiddleware::new(ClientOptions::new().ignore_endpoint("*.internal", &[])))
///     .build();
/// # drop(client);
/// ```
#[derive(Debug, Clone, Default)]
pub struct XRayMiddleware {
    options: ClientOptions,
}

impl XRayMiddleware {
    /// A middleware tracing every request except those `options` leaves out.
    pub fn new(options: ClientOptions) -> XRayMiddleware {
        XRayMiddleware { options }
    }
}

#[async_trait::async_trait]
impl Middleware for XRayMiddleware {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let url = req.url();
        let facts = RequestFacts {
            method: req.method().as_str(),
            scheme: Some(url.scheme()),
            host: url.host_str(),
            port: url.port(),
            path: url.path(),
        };
        let sub = self.options.plan(&facts).apply(req.headers_mut());
        let out = next.run(req, extensions).await;
        match &out {
            Ok(resp) => finish_response(sub, resp.status().as_u16(), resp.content_length()),
            Err(e) => finish_error(sub, e),
        }
        out
    }
}
