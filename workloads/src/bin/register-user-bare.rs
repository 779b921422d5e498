//! `register-user` without the SDK: the same event, validation, submission and answer, with no
//! `xray-core` attribute or call, so nothing of the SDK is linked. The harness's cold-start
//! scenario compares its start-up time and stripped size with `register-user`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use workloads::register_user::{RegisterUser, Registered, User, ValidationError};

fn validate(event: &RegisterUser) -> Result<User, ValidationError> {
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

async fn submit_user(user: &User, delay_ms: u64) -> Result<(), Error> {
    // The traced version records the user as metadata when sampled; serialising it here keeps
    // the work comparable.
    std::hint::black_box(serde_json::to_vec(user)?);
    if delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
    }
    Ok(())
}

async fn handler(event: LambdaEvent<RegisterUser>) -> Result<Registered, Error> {
    let user = validate(&event.payload)?;
    submit_user(&user, event.payload.delay_ms.unwrap_or(0)).await?;
    Ok(Registered {
        user_id: user.id,
        status: "created".to_owned(),
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
