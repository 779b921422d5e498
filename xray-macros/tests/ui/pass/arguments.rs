// The attribute's arguments, alone and together, and literal annotation keys the macros
// accept.
#![deny(warnings)]

use xray_core::{capture_method, put_annotation};

#[capture_method(name = "## custom")]
fn named() -> u32 {
    1
}

#[capture_method(capture_response = false)]
fn secret() -> String {
    "not recorded".to_owned()
}

#[capture_method(capture_error = false)]
fn quiet_failure() -> Result<(), String> {
    Err("not recorded".to_owned())
}

#[capture_method(capture_response = true, capture_error = true)]
async fn both_on() -> Result<u32, String> {
    Ok(1)
}

#[capture_method(name = "fetch orders", capture_response = false, capture_error = false)]
async fn all_three() -> Result<Vec<u32>, std::io::Error> {
    Ok(vec![1, 2])
}

#[capture_method(capture_error = false, name = "## a_b.c:d/e%f&g#h=i+j-k@l 0")]
fn any_order_and_every_allowed_character() {}

#[capture_method(name = "## café ünïcode")]
fn unicode_name() {}

#[capture_method(
    name = "## a name of exactly 200 characters: \
     aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\
     aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\
     aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)]
fn two_hundred_characters() {}

#[capture_method]
fn annotated(user: &str, attempt: u32) {
    put_annotation("user_id", user);
    xray_core::put_annotation("attempt", attempt);
    xray_core::put_annotation("Retry_2", attempt > 1);
    let _ = xray_core::try_put_annotation("ratio", 0.5);
    let key = "computed-at-run-time";
    put_annotation(key, 1);
    let annotate = |n: u32| put_annotation("in_closure", n);
    annotate(2);
}

#[capture_method]
async fn annotated_async(order: u64) {
    put_annotation("order_id", order);
    async {
        put_annotation("in_block", true);
    }
    .await;
}

fn main() {
    let mut config = xray_core::Config::default();
    config.context_missing = xray_core::ContextMissing::IgnoreError;
    assert!(xray_core::set_global(xray_core::Tracer::new(config)).is_ok());

    assert_eq!(named(), 1);
    assert_eq!(secret(), "not recorded");
    assert!(quiet_failure().is_err());
    any_order_and_every_allowed_character();
    unicode_name();
    two_hundred_characters();
    annotated("u-1", 2);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(both_on().await, Ok(1));
        assert_eq!(all_three().await.unwrap(), [1, 2]);
        annotated_async(7).await;
    });
}
