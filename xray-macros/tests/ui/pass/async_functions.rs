// `async fn` of every return shape, with generics, lifetimes, `impl Trait`, early `return`,
// `?`, recursion through a boxed future, and futures that stay `Send`.
#![deny(warnings)]

use std::fmt::Display;
use std::future::Future;
use std::num::ParseIntError;
use std::pin::Pin;

use xray_core::capture_method;

#[capture_method]
async fn plain(n: u32) -> u32 {
    tokio::task::yield_now().await;
    n + 1
}

#[capture_method]
async fn unit() {}

#[capture_method]
async fn parse(s: &str) -> Result<u32, ParseIntError> {
    if s.is_empty() {
        return Ok(0);
    }
    let n: u32 = s.trim().parse()?;
    Ok(n * 2)
}

#[capture_method]
async fn check(n: u32) -> Result<(), String> {
    if n > 10 {
        return Err(format!("{n} is too large"));
    }
    Ok(())
}

#[capture_method]
async fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[capture_method]
async fn parse_shown(s: &str) -> Result<impl Display + use<>, ParseIntError> {
    let n: u64 = s.parse()?;
    Ok(n)
}

#[capture_method]
async fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.len() >= b.len() { a } else { b }
}

#[capture_method]
async fn sum_all(items: impl IntoIterator<Item = u32>) -> u32 {
    items.into_iter().sum()
}

#[capture_method]
async fn describe<T, U>(t: T, u: &U) -> String
where
    T: Display + Send,
    U: std::fmt::Debug + Sync + ?Sized,
{
    plain(0).await;
    format!("{t} {u:?}")
}

#[capture_method]
async fn chained(s: &str) -> Result<u32, ParseIntError> {
    let n = parse(s).await?;
    check(n)
        .await
        .map_err(|_| "x".parse::<u32>().unwrap_err())?;
    Ok(n)
}

#[capture_method]
fn countdown(n: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move {
        if n == 0 {
            return 0;
        }
        countdown(n - 1).await + 1
    })
}

#[capture_method]
async fn fibonacci(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    Box::pin(fibonacci(n - 1)).await + Box::pin(fibonacci(n - 2)).await
}

fn assert_send<F: Future + Send>(f: F) -> F {
    f
}

fn main() {
    // No handler here: nothing is recorded, and that is not worth a log line.
    let mut config = xray_core::Config::default();
    config.context_missing = xray_core::ContextMissing::IgnoreError;
    assert!(xray_core::set_global(xray_core::Tracer::new(config)).is_ok());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(assert_send(plain(1)).await, 2);
        assert_send(unit()).await;
        assert_eq!(assert_send(parse("21")).await, Ok(42));
        assert!(parse("x").await.is_err());
        assert!(check(30).await.is_err());
        assert_eq!(evens(5).await.count(), 3);
        assert_eq!(parse_shown("5").await.unwrap().to_string(), "5");
        assert_eq!(longest("ab", "c").await, "ab");
        assert_eq!(sum_all(vec![1, 2]).await, 3);
        assert_eq!(assert_send(describe(1, "x")).await, "1 \"x\"");
        assert_eq!(chained("2").await, Ok(4));
        assert_eq!(assert_send(countdown(3)).await, 3);
        assert_eq!(assert_send(fibonacci(10)).await, 55);
    });
}
