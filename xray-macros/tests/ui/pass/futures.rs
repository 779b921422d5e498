// Functions returning a future — `impl Future`, a hand-written `Pin<Box<dyn Future>>`, and the
// methods `#[async_trait]` rewrites into the latter — are traced from their first poll to
// their completion, not for the instant it takes to build the future.
#![deny(warnings)]

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use lambda_runtime::LambdaEvent;
use xray_core::{capture_lambda_handler, capture_method};

#[capture_method]
fn sleep_impl(ms: u64) -> impl Future<Output = u64> + Send {
    async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    }
}

#[capture_method]
fn sleep_boxed<'a>(label: &'a str, ms: u64) -> Pin<Box<dyn Future<Output = Result<&'a str, String>> + Send + 'a>> {
    if ms == 0 {
        return Box::pin(async move { Err(format!("{label}: nothing to wait for")) });
    }
    Box::pin(async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(label)
    })
}

#[async_trait::async_trait]
trait Store {
    async fn put(&self, ms: u64) -> Result<u64, String>;
}

struct Slow;

#[async_trait::async_trait]
impl Store for Slow {
    #[capture_method]
    async fn put(&self, ms: u64) -> Result<u64, String> {
        if ms == 0 {
            return Err("empty put".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(ms)
    }
}

#[capture_lambda_handler]
async fn handler(_event: LambdaEvent<()>) -> Result<(), String> {
    assert_eq!(sleep_impl(5).await, 5);
    assert_eq!(sleep_boxed("b", 5).await, Ok("b"));
    assert!(sleep_boxed("b", 0).await.is_err());
    let store: &dyn Store = &Slow;
    assert_eq!(store.put(5).await, Ok(5));
    assert!(store.put(0).await.is_err());
    Ok(())
}

fn main() {
    let (result, doc) = invoke_sampled(handler, ());
    assert_eq!(result, Ok(()));
    let subsegments = doc["subsegments"].as_array().unwrap();
    assert_eq!(subsegments.len(), 5, "{doc:#}");
    let duration = |s: &serde_json::Value| {
        s["end_time"].as_f64().unwrap() - s["start_time"].as_f64().unwrap()
    };
    for (s, name, slept) in [
        (&subsegments[0], "## sleep_impl", true),
        (&subsegments[1], "## sleep_boxed", true),
        (&subsegments[2], "## sleep_boxed", false),
        (&subsegments[3], "## put", true),
        (&subsegments[4], "## put", false),
    ] {
        assert_eq!(s["name"], name, "{s:#}");
        if slept {
            // A 5 ms sleep; timers may fire a little early, never 1 ms early.
            assert!(duration(s) >= 0.004, "{s:#}");
            assert!(s.get("fault").is_none(), "{s:#}");
        } else {
            assert_eq!(s["fault"], true, "{s:#}");
        }
    }
    assert_eq!(
        subsegments[4]["cause"]["exceptions"][0]["message"],
        "empty put"
    );
}

include!("../support/invoke.rs");
