// Every kind of error takes its own recording path (picked by autoref specialisation, with no
// bound added to the function), sync and async; each is recorded in a sampled invocation and
// checked in the document sent.
#![deny(warnings)]

use std::error::Error;
use std::fmt;

use lambda_runtime::LambdaEvent;
use xray_core::{capture_lambda_handler, capture_method};

/// A `std::error::Error` with a source.
#[derive(Debug)]
struct DbError(std::io::Error);

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("database unavailable")
    }
}

impl Error for DbError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

/// An error that borrows from the input.
#[derive(Debug)]
struct BadInput<'a>(&'a str);

impl fmt::Display for BadInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad input {:?}", self.0)
    }
}

impl Error for BadInput<'_> {}

/// Only `Debug`.
#[derive(Debug)]
#[allow(dead_code)]
enum DebugOnly {
    Timeout(u32),
}

/// Neither `Debug` nor `Display`.
struct Opaque;

#[capture_method]
fn std_error() -> Result<u32, DbError> {
    Err(DbError(std::io::Error::other("connection reset")))
}

#[capture_method]
fn borrowed_error(input: &str) -> Result<(), BadInput<'_>> {
    Err(BadInput(input))
}

#[capture_method]
fn generic_error<E: Error>(result: Result<u32, E>) -> Result<u32, E> {
    result
}

#[capture_method]
async fn boxed_sync() -> Result<u32, Box<dyn Error + Send + Sync>> {
    Err("boxed and thread-safe".into())
}

#[capture_method]
fn boxed() -> Result<(), Box<dyn Error>> {
    Err(Box::new(DbError(std::io::Error::other("boxed"))))
}

#[capture_method]
async fn runtime_error() -> Result<(), lambda_runtime::Error> {
    Err("from lambda_runtime".into())
}

#[capture_method]
fn display_only() -> Result<u32, String> {
    Err("display only".to_owned())
}

#[capture_method]
async fn debug_only() -> Result<(), DebugOnly> {
    Err(DebugOnly::Timeout(3))
}

#[capture_method]
fn opaque() -> Result<u32, Opaque> {
    Err(Opaque)
}

#[capture_method]
fn succeeds() -> Result<u32, Opaque> {
    Ok(1)
}

#[capture_lambda_handler]
async fn handler(event: LambdaEvent<String>) -> Result<(), DbError> {
    assert!(std_error().is_err());
    assert!(borrowed_error(&event.payload).is_err());
    assert!(generic_error(Err(BadInput(&event.payload))).is_err());
    assert!(generic_error::<DbError>(Ok(1)).is_ok());
    assert!(boxed_sync().await.is_err());
    assert!(boxed().is_err());
    assert!(runtime_error().await.is_err());
    assert!(display_only().is_err());
    assert!(debug_only().await.is_err());
    assert!(opaque().is_err());
    assert!(succeeds().is_ok());
    std_error().map(drop)
}

fn main() {
    let (result, doc) = invoke_sampled(handler, "{".to_owned());
    assert_eq!(result.unwrap_err().to_string(), "database unavailable");
    assert_eq!(doc["name"], "## handler");
    assert_eq!(doc["fault"], true);
    let subsegment = |name: &str, nth: usize| -> serde_json::Value {
        doc["subsegments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["name"] == name)
            .nth(nth)
            .unwrap_or_else(|| panic!("no subsegment {name} in {doc:#}"))
            .clone()
    };
    let first_exception = |name: &str, nth: usize| -> (String, String) {
        let s = subsegment(name, nth);
        assert_eq!(s["fault"], true, "{s:#}");
        let e = &s["cause"]["exceptions"][0];
        let text = |field: &str| {
            e[field]
                .as_str()
                .unwrap_or_else(|| panic!("{s:#}"))
                .to_owned()
        };
        (text("type"), text("message"))
    };

    let s = subsegment("## std_error", 0);
    assert_eq!(s["cause"]["exceptions"][1]["message"], "connection reset");
    let (ty, message) = first_exception("## borrowed_error", 0);
    assert!(ty.contains("BadInput"), "{ty}");
    assert_eq!(message, "bad input \"{\"");
    let (ty, _) = first_exception("## generic_error", 0);
    assert!(ty.contains("BadInput"), "{ty}");
    assert!(subsegment("## generic_error", 1).get("fault").is_none());
    assert_eq!(
        first_exception("## boxed_sync", 0).1,
        "boxed and thread-safe"
    );
    assert_eq!(first_exception("## boxed", 0).1, "database unavailable");
    assert_eq!(
        first_exception("## runtime_error", 0).1,
        "from lambda_runtime"
    );
    assert_eq!(
        first_exception("## display_only", 0),
        // One labelling rule at every level: a type that is only `Display` is named by its
        // short type name.
        ("String".to_owned(), "display only".to_owned())
    );
    assert_eq!(first_exception("## debug_only", 0).1, "Timeout(3)");
    let s = subsegment("## opaque", 0);
    assert_eq!(s["fault"], true);
    let e = &s["cause"]["exceptions"][0];
    assert_eq!(e["type"], "Opaque", "{e}");
    assert!(e.get("message").is_none(), "{e}");
    assert_eq!(subsegment("## succeeds", 0).get("fault"), None);
}

include!("../support/invoke.rs");
