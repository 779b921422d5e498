// `#[capture_lambda_handler]` shapes: the event by name, `mut`, destructured or ignored;
// extra arguments; `lambda_runtime::Error`, a custom error, or unit results; generic events;
// `Context` or `impl InvocationSource` as the source; the arguments. Each handler whose
// shape allows it works with `lambda_runtime::run`, and each sends one document for a sampled
// invocation.
#![deny(warnings)]

use std::net::UdpSocket;

use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use xray_core::{capture_lambda_handler, capture_method};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Request {
    user: String,
}

#[derive(Debug)]
enum ApiError {
    NotFound(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::NotFound(what) => write!(f, "{what} not found"),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<ApiError> for lambda_runtime::Diagnostic {
    fn from(e: ApiError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "ApiError".to_owned(),
            error_message: e.to_string(),
        }
    }
}

#[capture_method]
async fn lookup(user: &str) -> Result<u32, ApiError> {
    if user == "nobody" {
        return Err(ApiError::NotFound(user.to_owned()));
    }
    Ok(7)
}

#[capture_lambda_handler]
async fn by_name(event: LambdaEvent<Request>) -> Result<Value, Error> {
    let id = lookup(&event.payload.user).await?;
    xray_core::put_annotation("user_id", id);
    Ok(json!({ "id": id, "request_id": event.context.request_id }))
}

#[capture_lambda_handler]
async fn mutable(mut event: LambdaEvent<Request>) -> Result<Request, Error> {
    event.payload.user.push('!');
    Ok(event.payload)
}

#[capture_lambda_handler]
async fn destructured(
    LambdaEvent { payload, context }: LambdaEvent<Request>,
) -> Result<String, Error> {
    Ok(format!("{} {}", payload.user, context.request_id))
}

#[capture_lambda_handler]
async fn ignored(_: LambdaEvent<Value>) -> Result<(), Error> {
    Ok(())
}

#[capture_lambda_handler]
async fn underscored(_event: LambdaEvent<Value>) -> Result<(), ApiError> {
    Err(ApiError::NotFound("page".to_owned()))
}

struct Db {
    prefix: String,
}

#[capture_lambda_handler]
async fn with_dependencies(
    event: LambdaEvent<Request>,
    db: &Db,
    retries: u8,
) -> Result<String, ApiError> {
    let id = lookup(&event.payload.user).await?;
    Ok(format!("{}{id}:{retries}", db.prefix))
}

#[capture_lambda_handler]
async fn custom_error(event: LambdaEvent<Request>) -> Result<u32, ApiError> {
    lookup(&event.payload.user).await
}

#[capture_lambda_handler]
async fn generic<T>(event: LambdaEvent<T>) -> Result<T, Error>
where
    T: DeserializeOwned + Serialize + Send,
{
    Ok(event.payload)
}

#[capture_lambda_handler(name = "## api", capture_response = false, capture_error = false)]
async fn configured(event: LambdaEvent<Request>) -> Result<Value, Error> {
    Ok(json!({ "secret": event.payload.user }))
}

#[capture_lambda_handler]
async fn from_context(context: Context, payload: Request) -> Result<String, Error> {
    Ok(format!("{} {}", payload.user, context.request_id))
}

#[capture_lambda_handler]
async fn any_source(source: impl xray_core::InvocationSource + Send, n: u32) -> u32 {
    let _ = source.xray_trace_header();
    n
}

#[capture_lambda_handler]
async fn plain_value(event: LambdaEvent<u32>) -> u32 {
    event.payload + 1
}

fn event<T>(payload: T) -> LambdaEvent<T> {
    let mut context = Context::default();
    "req-1".clone_into(&mut context.request_id);
    context.xray_trace_id = Some(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned(),
    );
    LambdaEvent::new(payload, context)
}

fn request(user: &str) -> Request {
    Request {
        user: user.to_owned(),
    }
}

fn main() {
    // Compiles only if each handler is a valid `lambda_runtime` service (futures `Send`, …);
    // never polled.
    let db = Db {
        prefix: "id-".to_owned(),
    };
    drop(lambda_runtime::run(service_fn(by_name)));
    drop(lambda_runtime::run(service_fn(mutable)));
    drop(lambda_runtime::run(service_fn(destructured)));
    drop(lambda_runtime::run(service_fn(ignored)));
    drop(lambda_runtime::run(service_fn(underscored)));
    drop(lambda_runtime::run(service_fn(|e| {
        with_dependencies(e, &db, 3)
    })));
    drop(lambda_runtime::run(service_fn(custom_error)));
    drop(lambda_runtime::run(service_fn(generic::<Value>)));
    drop(lambda_runtime::run(service_fn(configured)));

    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let emitter = xray_core::wire::Emitter::udp(
        daemon.local_addr().unwrap(),
        xray_core::wire::DEFAULT_DATAGRAM_LIMIT,
    );
    let tracer = xray_core::Tracer::with_emitter(xray_core::Config::default(), emitter);
    assert!(xray_core::set_global(tracer).is_ok());

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(by_name(event(request("ann"))).await.unwrap()["id"], 7);
        assert!(by_name(event(request("nobody"))).await.is_err());
        assert_eq!(mutable(event(request("bob"))).await.unwrap().user, "bob!");
        assert_eq!(
            destructured(event(request("cy"))).await.unwrap(),
            "cy req-1"
        );
        ignored(event(json!(null))).await.unwrap();
        assert!(underscored(event(json!({}))).await.is_err());
        assert_eq!(
            with_dependencies(event(request("di")), &db, 3)
                .await
                .unwrap(),
            "id-7:3"
        );
        assert!(custom_error(event(request("nobody"))).await.is_err());
        assert_eq!(generic(event(5_u8)).await.unwrap(), 5);
        assert!(configured(event(request("eve"))).await.is_ok());
        let LambdaEvent { payload, context } = event(request("fay"));
        assert_eq!(from_context(context, payload).await.unwrap(), "fay req-1");
        assert_eq!(plain_value(event(1)).await, 2);
        let header = event(()).context.xray_trace_id.unwrap();
        assert_eq!(any_source(header.as_str(), 3).await, 3);
    });

    let mut buf = vec![0u8; 65_536];
    let mut names = Vec::new();
    for _ in 0..13 {
        let n = daemon.recv(&mut buf).unwrap();
        let doc: Value = serde_json::from_slice(&buf[30..n]).unwrap();
        assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
        if doc["name"] == "## api" {
            assert!(doc.get("metadata").is_none(), "{doc:#}");
        }
        names.push(doc["name"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        names,
        [
            "## by_name",
            "## by_name",
            "## mutable",
            "## destructured",
            "## ignored",
            "## underscored",
            "## with_dependencies",
            "## custom_error",
            "## generic",
            "## api",
            "## from_context",
            "## plain_value",
            "## any_source",
        ]
    );
}
