// Synchronous bodies run in place, not in a closure: a `&mut` borrowed from an argument can
// be returned, `#[track_caller]` sees the caller, and every way out of the body (`return`,
// `?` on `Result` and `Option`, `return` inside a loop or a `let … else`) is recorded as the
// function's outcome, while closures, `async` blocks and nested functions keep their own.
#![deny(warnings)]

use std::collections::HashMap;
use std::panic::Location;

use lambda_runtime::LambdaEvent;
use xray_core::{capture_lambda_handler, capture_method};

#[capture_method]
fn first_mut(v: &mut Vec<u8>) -> &mut u8 {
    &mut v[0]
}

struct Cache(HashMap<String, u32>);

impl Cache {
    #[capture_method]
    fn entry_mut(&mut self, key: &str) -> Option<&mut u32> {
        let value = self.0.get_mut(key)?;
        *value += 1;
        Some(value)
    }
}

#[capture_method]
#[track_caller]
fn caller_line() -> u32 {
    Location::caller().line()
}

#[capture_method]
fn find_even(items: &[u32]) -> Result<u32, String> {
    for &item in items {
        if item % 2 == 0 {
            return Ok(item);
        }
    }
    Err(format!("no even number in {items:?}"))
}

#[capture_method]
fn parse_first(items: &[&str]) -> Result<u32, std::num::ParseIntError> {
    let Some(first) = items.first() else {
        return Ok(0);
    };
    let n: u32 = first.parse()?;
    Ok(n)
}

#[capture_method]
fn own_returns(n: u32) -> u32 {
    let closure = |x: u32| -> u32 {
        if x > 1 {
            return x * 2;
        }
        x
    };
    fn nested(x: u32) -> Option<u32> {
        let y = x.checked_sub(1)?;
        Some(y)
    }
    let block = async {
        let n = "x".parse::<u32>().ok()?;
        n.checked_add(1)
    };
    drop(block);
    closure(n) + nested(n).unwrap_or(0)
}

#[capture_method]
fn unit_early(v: &mut Vec<u32>) {
    if v.is_empty() {
        return;
    }
    v.push(0);
}

#[capture_lambda_handler]
async fn handler(_event: LambdaEvent<()>) -> Result<u32, String> {
    let mut v = vec![1, 2];
    *first_mut(&mut v) = 9;
    assert_eq!(v, [9, 2]);
    let mut cache = Cache(HashMap::from([("a".to_owned(), 1)]));
    assert_eq!(cache.entry_mut("a").copied(), Some(2));
    assert_eq!(cache.entry_mut("b"), None);
    assert_eq!(caller_line(), line!());
    assert_eq!(find_even(&[1, 4]), Ok(4));
    assert!(find_even(&[1, 3]).is_err());
    assert_eq!(parse_first(&[]), Ok(0));
    assert!(parse_first(&["x"]).is_err());
    assert_eq!(own_returns(3), 8);
    let mut empty = Vec::new();
    unit_early(&mut empty);
    assert!(empty.is_empty());
    Ok(1)
}

fn main() {
    let (result, doc) = invoke_sampled(handler, ());
    assert_eq!(result, Ok(1));
    let subsegments = doc["subsegments"].as_array().unwrap();
    let named = |name: &str| -> Vec<&serde_json::Value> {
        subsegments.iter().filter(|s| s["name"] == name).collect()
    };
    assert_eq!(subsegments.len(), 10, "{doc:#}");
    // All closed, none nested under another (each closed before the next opened).
    for s in subsegments {
        assert!(s.get("in_progress").is_none() && s.get("subsegments").is_none(), "{s:#}");
    }
    // An early `return Ok` and a `?` on `None` are normal returns, not faults.
    let even = named("## find_even");
    assert!(even[0].get("fault").is_none(), "{:#}", even[0]);
    assert_eq!(even[1]["fault"], true);
    assert_eq!(
        even[1]["cause"]["exceptions"][0]["message"],
        "no even number in [1, 3]"
    );
    assert!(named("## entry_mut").iter().all(|s| s.get("fault").is_none()));
    // The `?` on a `ParseIntError` is recorded as the error it returns.
    let parsed = named("## parse_first");
    assert!(parsed[0].get("fault").is_none());
    assert_eq!(
        parsed[1]["cause"]["exceptions"][0]["message"],
        "invalid digit found in string"
    );
    assert!(named("## unit_early")[0].get("fault").is_none());
}

include!("../support/invoke.rs");
