//! Lambda functions written the way a user of `xray-core` writes them: attributes on the
//! handler and on each step worth seeing, nothing else.
//!
//! # Example
//!
//! ```
//! use lambda_runtime::{Context, LambdaEvent};
//! use workloads::register_user::{handler, RegisterUser};
//!
//! let event: RegisterUser = serde_json::from_str(r#"{"user_id":"u-1","email":"a@example.com"}"#).unwrap();
//! let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
//! let out = rt.block_on(handler(LambdaEvent::new(event, Context::default()))).unwrap();
//! assert_eq!(out.user_id, "u-1");
//! ```
//!
//! # Features
//!
//! - `aws-sdk`: [`user_put`](crate) (KMS and DynamoDB through
//!   `xray_core::aws_sdk::XRayInterceptor`) and the `user-put` binary.
//! - `traced-orders`: the `traced_orders` function, instrumented with `tracing` only.
//!
//! # Limitations
//!
//! The "database" of `register-user` is a sleep of `delay_ms`.

#![warn(missing_docs)]

pub mod register_user;
pub mod synthetic;
#[cfg(feature = "traced-orders")]
pub mod traced_orders;
#[cfg(feature = "aws-sdk")]
pub mod user_put;
