// Synchronous free functions of every return shape, with generics, lifetimes, `impl Trait`,
// early `return`, `?` and recursion.
#![deny(warnings)]

use std::fmt::Display;
use std::num::ParseIntError;

use xray_core::capture_method;

#[capture_method]
fn plain(n: u32) -> u32 {
    n + 1
}

#[capture_method]
fn unit(n: u32) {
    let _ = n;
}

#[capture_method]
fn explicit_unit() -> () {}

#[capture_method]
fn parse(s: &str) -> Result<u32, ParseIntError> {
    if s.is_empty() {
        return Ok(0);
    }
    let n: u32 = s.trim().parse()?;
    Ok(n * 2)
}

#[capture_method]
fn check(n: u32) -> Result<(), String> {
    if n > 10 {
        return Err(format!("{n} is too large"));
    }
    Ok(())
}

#[capture_method]
fn io_alias() -> std::io::Result<()> {
    std::fs::metadata(".")?;
    Ok(())
}

#[capture_method]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[capture_method]
fn parse_shown(s: &str) -> Result<impl Display, ParseIntError> {
    let n: u64 = s.parse()?;
    Ok(n)
}

#[capture_method]
fn boxed(flag: bool) -> Box<dyn Display> {
    if flag {
        return Box::new(1);
    }
    Box::new("one")
}

#[capture_method]
fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.len() >= b.len() { a } else { b }
}

#[capture_method]
fn first_word(s: &str) -> &str {
    s.split(' ').next().unwrap_or_default()
}

#[capture_method]
fn sum_all(items: impl IntoIterator<Item = u32>) -> u32 {
    items.into_iter().sum()
}

#[capture_method]
fn largest<T: PartialOrd + Copy>(items: &[T]) -> Option<T> {
    let mut best = *items.first()?;
    for &item in items {
        if item > best {
            best = item;
        }
    }
    Some(best)
}

#[capture_method]
fn describe<T, U>(t: T, u: &U) -> String
where
    T: Display + Clone,
    U: std::fmt::Debug + ?Sized,
{
    format!("{t} {u:?}")
}

#[capture_method]
fn parse_generic<T>(s: &str) -> Result<T, T::Err>
where
    T: std::str::FromStr,
{
    s.parse()
}

#[capture_method]
fn factorial(n: u64) -> u64 {
    if n <= 1 { 1 } else { n * factorial(n - 1) }
}

#[capture_method]
fn r#match(n: u32) -> bool {
    n == 0
}

#[capture_method]
fn mutate(mut v: Vec<u32>, extra: &mut Vec<u32>) -> Vec<u32> {
    v.append(extra);
    v
}

/// Documented, with other attributes kept in place.
#[capture_method]
#[inline]
#[must_use]
pub fn documented() -> u8 {
    7
}

fn main() {
    // No handler here: nothing is recorded, and that is not worth a log line.
    let mut config = xray_core::Config::default();
    config.context_missing = xray_core::ContextMissing::IgnoreError;
    assert!(xray_core::set_global(xray_core::Tracer::new(config)).is_ok());
    assert_eq!(plain(1), 2);
    unit(1);
    explicit_unit();
    assert_eq!(parse("21"), Ok(42));
    assert_eq!(parse(""), Ok(0));
    assert!(parse("x").is_err());
    assert!(check(3).is_ok());
    assert!(check(30).is_err());
    assert!(io_alias().is_ok());
    assert_eq!(evens(5).count(), 3);
    assert_eq!(parse_shown("5").map(|n| n.to_string()), Ok("5".to_owned()));
    assert_eq!(boxed(true).to_string(), "1");
    assert_eq!(longest("ab", "c"), "ab");
    assert_eq!(first_word("hello world"), "hello");
    assert_eq!(sum_all([1, 2, 3]), 6);
    assert_eq!(largest(&[3, 9, 2]), Some(9));
    assert_eq!(largest::<u8>(&[]), None);
    assert_eq!(describe(1, "x"), "1 \"x\"");
    assert_eq!(parse_generic::<i8>("-3"), Ok(-3));
    assert_eq!(factorial(5), 120);
    assert!(r#match(0));
    assert_eq!(mutate(vec![1], &mut vec![2]), [1, 2]);
    assert_eq!(documented(), 7);
}
