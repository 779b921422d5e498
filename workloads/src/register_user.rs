//! `register-user`: validates a sign-up event, then stores the user.
//!
//! The handler is traced with `#[capture_lambda_handler]`; validation (sync) and submission
//! (async) are each a `#[capture_method]` subsegment. `submit_user` annotates `user_id` and
//! records the user as metadata. An event without `user_id` is an error; `delay_ms` makes the
//! submission wait that long, standing in for a database call.

use lambda_runtime::{Error, LambdaEvent};
use serde::{Deserialize, Serialize};
use xray_core::{capture_lambda_handler, capture_method};

/// The incoming event.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RegisterUser {
    /// Required.
    pub user_id: Option<String>,
    /// Optional contact address.
    pub email: Option<String>,
    /// Optional display name.
    pub name: Option<String>,
    /// How long the simulated database call takes.
    pub delay_ms: Option<u64>,
}

/// A validated user.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    /// The id.
    pub id: String,
    /// Contact address, if given.
    pub email: Option<String>,
    /// Display name, if given.
    pub name: Option<String>,
}

/// The handler's answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Registered {
    /// The registered user's id.
    pub user_id: String,
    /// Always `created`.
    pub status: String,
}

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidationError {
    /// `user_id` is absent or empty.
    MissingUserId,
    /// `email` has no `@`.
    BadEmail(String),
}

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValidationError::MissingUserId => f.write_str("user_id is required"),
            ValidationError::BadEmail(e) => write!(f, "`{e}` is not an email address"),
        }
    }
}

impl std::error::Error for ValidationError {}

/// Checks the event and builds the user.
#[capture_method]
pub fn validate(event: &RegisterUser) -> Result<User, ValidationError> {
    let id = match event.user_id.as_deref() {
        Some(id) if !id.trim().is_empty() => id.trim().to_owned(),
        _ => return Err(ValidationError::MissingUserId),
    };
    if let Some(email) = &event.email
        && !email.contains('@')
    {
        return Err(ValidationError::BadEmail(email.clone()));
    }
    Ok(User {
        id,
        email: event.email.clone(),
        name: event.name.clone(),
    })
}

/// Stores the user (a sleep of `delay_ms` stands in for the database).
#[capture_method]
pub async fn submit_user(user: &User, delay_ms: u64) -> Result<(), Error> {
    xray_core::put_annotation("user_id", user.id.as_str());
    xray_core::put_metadata("user", user);
    if delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
    }
    Ok(())
}

/// The Lambda handler.
#[capture_lambda_handler]
pub async fn handler(event: LambdaEvent<RegisterUser>) -> Result<Registered, Error> {
    let user = validate(&event.payload)?;
    submit_user(&user, event.payload.delay_ms.unwrap_or(0)).await?;
    Ok(Registered {
        user_id: user.id,
        status: "created".to_owned(),
    })
}
