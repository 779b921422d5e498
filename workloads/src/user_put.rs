//! `user-put` (feature `aws-sdk`): encrypts the user's token with KMS when one is given, then
//! writes the user to DynamoDB. Both clients carry [`XRayInterceptor`], so the trace shows
//! `## handler` → `## user_put` → `KMS` and `DynamoDB` subsegments.
//!
//! The handler answers whether the token was encrypted, never the ciphertext (the handler's
//! answer is recorded as metadata).

use std::sync::OnceLock;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_types::SdkConfig;
use aws_types::region::Region;
use lambda_runtime::{Error, LambdaEvent};
use serde::{Deserialize, Serialize};
use xray_core::aws_sdk::XRayInterceptor;
use xray_core::{capture_lambda_handler, capture_method};

/// The incoming event.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct UserPut {
    /// The user's id (the table's key).
    pub user_id: String,
    /// Optional contact address, stored as is.
    pub email: Option<String>,
    /// Optional secret, stored encrypted with the KMS key.
    pub token: Option<String>,
}

/// The handler's answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stored {
    /// The stored user's id.
    pub user_id: String,
    /// A token was given and stored encrypted.
    pub encrypted: bool,
}

/// The clients and names the function works with.
#[derive(Debug, Clone)]
pub struct Services {
    ddb: aws_sdk_dynamodb::Client,
    kms: aws_sdk_kms::Client,
    table: String,
    key_id: String,
}

impl Services {
    /// Clients built from `sdk`, each traced by [`XRayInterceptor`] (the one added line).
    pub fn new(sdk: &SdkConfig, table: &str, key_id: &str) -> Services {
        Services {
            ddb: aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(sdk)
                    .interceptor(XRayInterceptor::new())
                    .build(),
            ),
            kms: aws_sdk_kms::Client::from_conf(
                aws_sdk_kms::config::Builder::from(sdk)
                    .interceptor(XRayInterceptor::new())
                    .build(),
            ),
            table: table.to_owned(),
            key_id: key_id.to_owned(),
        }
    }

    /// From the Lambda environment: `AWS_REGION`, the `AWS_ACCESS_KEY_ID` /
    /// `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` credentials, `USERS_TABLE`,
    /// `TOKEN_KEY_ID` and `AWS_ENDPOINT_URL`. Only plain-HTTP endpoints are reachable: the
    /// workload compiles no TLS stack (its tests run against a local stand-in).
    pub fn from_env() -> Result<Services, Error> {
        let var = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
        let mut sdk = SdkConfig::builder()
            .region(Region::new(var("AWS_REGION")?))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                var("AWS_ACCESS_KEY_ID")?,
                var("AWS_SECRET_ACCESS_KEY")?,
                std::env::var("AWS_SESSION_TOKEN").ok(),
                None,
                "environment",
            )))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest());
        if let Ok(url) = std::env::var("AWS_ENDPOINT_URL") {
            sdk = sdk.endpoint_url(url);
        }
        Ok(Services::new(
            &sdk.build(),
            &var("USERS_TABLE")?,
            &var("TOKEN_KEY_ID")?,
        ))
    }
}

static SERVICES: OnceLock<Services> = OnceLock::new();

/// Sets the services the handler uses; false if they were already set.
pub fn init(services: Services) -> bool {
    SERVICES.set(services).is_ok()
}

/// The Lambda handler.
#[capture_lambda_handler]
pub async fn handler(event: LambdaEvent<UserPut>) -> Result<Stored, Error> {
    let services = SERVICES.get().ok_or("user_put::init was not called")?;
    user_put(services, &event.payload).await
}

#[capture_method]
async fn user_put(s: &Services, user: &UserPut) -> Result<Stored, Error> {
    let mut put = s
        .ddb
        .put_item()
        .table_name(&s.table)
        .item("id", AttributeValue::S(user.user_id.clone()));
    if let Some(email) = &user.email {
        put = put.item("email", AttributeValue::S(email.clone()));
    }
    let encrypted = if let Some(token) = &user.token {
        let out = s
            .kms
            .encrypt()
            .key_id(&s.key_id)
            .plaintext(aws_sdk_kms::primitives::Blob::new(token.as_bytes()))
            .send()
            .await?;
        let blob = out.ciphertext_blob().ok_or("KMS returned no ciphertext")?;
        put = put.item("token", AttributeValue::B(blob.clone()));
        true
    } else {
        false
    };
    put.send().await?;
    Ok(Stored {
        user_id: user.user_id.clone(),
        encrypted,
    })
}
