// User code that looks like the expansion's glue, or shadows what it uses, changes nothing:
// glue names cannot clash, paths are absolute, and the user's own `Result` aliases, statics,
// nested captured functions and macro-generated functions work.
#![deny(warnings)]

use xray_core::{capture_lambda_handler, capture_method};

// Shadows of what the expansion names.
#[allow(dead_code)]
mod core {}
#[allow(dead_code)]
mod std {}
#[allow(dead_code)]
struct Wrap;
#[allow(dead_code)]
struct Recorder;
#[allow(dead_code)]
static __XRAY_OPTIONS: u8 = 0;

#[derive(Debug)]
struct AppError;

impl ::std::fmt::Display for AppError {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        f.write_str("app error")
    }
}

type Result<T> = ::std::result::Result<T, AppError>;

#[capture_method]
fn alias(n: u32) -> Result<u32> {
    if n == 0 {
        return Err(AppError);
    }
    Ok(n)
}

#[capture_method]
fn glue_names(__xray_result: u32, __xray_span: u32, __xray_recorder: u32) -> u32 {
    let __xray_value = __xray_result + __xray_span;
    let __xray_error = __xray_recorder;
    let __xray_fake_return = 1;
    __xray_value + __xray_error + __xray_fake_return + u32::from(__XRAY_OPTIONS)
}

#[capture_method]
async fn async_glue_names(__xray_result: u32) -> u32 {
    let __xray_span = __xray_result;
    __xray_span + 1
}

#[capture_lambda_handler]
async fn handler(
    __xray_event: lambda_runtime::LambdaEvent<u32>,
    __xray_invocation: u32,
) -> ::std::result::Result<u32, lambda_runtime::Error> {
    Ok(__xray_event.payload + __xray_invocation)
}

#[capture_method]
fn outer(n: u32) -> u32 {
    #[capture_method]
    fn inner(n: u32) -> u32 {
        n * 2
    }
    inner(n) + 1
}

macro_rules! captured {
    ($name:ident, $value:expr) => {
        #[capture_method]
        fn $name() -> u32 {
            $value
        }
    };
}

captured!(from_macro, 40 + 2);

pub mod nested {
    #[xray_core::capture_method]
    pub(crate) fn visible() -> bool {
        true
    }
}

fn main() {
    let mut config = xray_core::Config::default();
    config.context_missing = xray_core::ContextMissing::IgnoreError;
    assert!(xray_core::set_global(xray_core::Tracer::new(config)).is_ok());

    assert_eq!(alias(1).unwrap(), 1);
    assert!(alias(0).is_err());
    assert_eq!(glue_names(1, 2, 3), 7);
    assert_eq!(outer(2), 5);
    assert_eq!(from_macro(), 42);
    assert!(nested::visible());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(async_glue_names(4).await, 5);
        let event = lambda_runtime::LambdaEvent::new(1, lambda_runtime::Context::default());
        assert_eq!(handler(event, 2).await.unwrap(), 3);
    });
}
