// `result` says that a return type the syntax cannot read as a `Result` (a type alias) is
// one, so its errors are recorded as faults, sync and async, on methods and handlers.
#![deny(warnings)]


use lambda_runtime::LambdaEvent;
use xray_core::{capture_lambda_handler, capture_method};

type Outcome = Result<u32, String>;
type HandlerResult = Result<(), lambda_runtime::Error>;

#[capture_method(result)]
fn checked(n: u32) -> Outcome {
    if n > 10 {
        return Err(format!("{n} is too large"));
    }
    Ok(n)
}

#[capture_method(result, name = "## checked later")]
async fn checked_later(n: u32) -> Outcome {
    let n = checked(n)?;
    Ok(n + 1)
}

/// Without `result`, the alias is a plain value: recorded as the response, no fault.
#[capture_method]
fn unmarked() -> Outcome {
    Err("not a fault".to_owned())
}

#[capture_lambda_handler(result)]
async fn handler(_event: LambdaEvent<()>) -> HandlerResult {
    assert_eq!(checked(3), Ok(3));
    assert!(checked(30).is_err());
    assert!(checked_later(40).await.is_err());
    assert!(unmarked().is_err());
    Err("handler failed".into())
}

fn main() {
    let (result, doc) = invoke_sampled(handler, ());
    assert!(result.is_err());
    assert_eq!(doc["fault"], true, "{doc:#}");
    assert_eq!(doc["cause"]["exceptions"][0]["message"], "handler failed");
    let subsegments = doc["subsegments"].as_array().unwrap();
    let message = |s: &serde_json::Value| s["cause"]["exceptions"][0]["message"].clone();
    assert_eq!(subsegments[0]["name"], "## checked");
    assert!(subsegments[0].get("fault").is_none());
    assert_eq!(message(&subsegments[1]), "30 is too large");
    assert_eq!(subsegments[2]["name"], "## checked later");
    assert_eq!(message(&subsegments[2]), "40 is too large");
    // The nested call inside `checked_later`.
    assert_eq!(message(&subsegments[2]["subsegments"][0]), "40 is too large");
    assert_eq!(subsegments[3]["name"], "## unmarked");
    assert!(subsegments[3].get("fault").is_none(), "{:#}", subsegments[3]);
}

include!("../support/invoke.rs");
