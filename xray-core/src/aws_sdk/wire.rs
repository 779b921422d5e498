//! What the interceptor reads from the wire: the request's identifying parameters and the
//! service's error code and message. Only named top-level members are kept; item contents,
//! message bodies, plaintext and ciphertext are skipped unread by the JSON parser.

use std::borrow::Cow;

use serde::Deserialize;

use crate::model::{AwsParam, EntityMut};

/// The top-level request members recorded, for the JSON protocols (DynamoDB, SQS, KMS, …).
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct JsonRequest<'a> {
    #[serde(borrow)]
    table_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    index_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    queue_url: Option<Cow<'a, str>>,
    #[serde(borrow)]
    queue_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    key_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    topic_arn: Option<Cow<'a, str>>,
}

/// Records the request parameters of DOWNSTREAM.md §1. The body is read only when it is a
/// JSON-protocol document (DynamoDB, SQS, KMS) or a query-protocol form (SNS): there it holds
/// the parameters. REST protocols (S3, Lambda) carry them in the URI and the body is the
/// user's payload (an object, an invocation's event), never read.
pub(crate) fn record_request(e: &mut EntityMut<'_>, request: &Request<'_>) {
    let Request {
        service,
        uri,
        content_type,
        body,
        endpoint,
    } = *request;
    if service.eq_ignore_ascii_case("s3") {
        let at = super::s3::s3_location(uri, endpoint);
        if let Some(bucket) = at.bucket {
            e.aws_param(AwsParam::BucketName, bucket);
        }
        if let Some(key) = &at.key {
            e.aws_param(AwsParam::Key, key);
        }
        return;
    }
    if service.eq_ignore_ascii_case("lambda") {
        if let Some(name) = lambda_function(uri) {
            e.aws_param(AwsParam::FunctionName, &name);
        }
        return;
    }
    if content_type.starts_with("application/x-amz-json") {
        // A body that is not the JSON the service expects records nothing: the call itself
        // will say what is wrong with it.
        if let Ok(r) = serde_json::from_slice::<JsonRequest<'_>>(body) {
            if let Some(v) = &r.table_name {
                e.aws_table_name(v);
            }
            if let Some(v) = &r.index_name {
                e.aws_param(AwsParam::IndexName, v);
            }
            if let Some(v) = &r.queue_url {
                e.aws_queue_url(v);
            }
            if let Some(v) = &r.queue_name {
                e.aws_param(AwsParam::QueueName, v);
            }
            if let Some(v) = &r.key_id {
                e.aws_param(AwsParam::KeyId, v);
            }
            if let Some(v) = &r.topic_arn {
                e.aws_param(AwsParam::TopicArn, v);
            }
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded")
        && let Some(arn) = form_field(body, b"TopicArn")
    {
        e.aws_param(AwsParam::TopicArn, &arn);
    }
}

/// What [`record_request`] reads of one serialized request.
#[derive(Clone, Copy)]
pub(crate) struct Request<'a> {
    /// The operation's service (`Metadata::service`: `S3`, `DynamoDB`, …).
    pub(crate) service: &'a str,
    pub(crate) uri: &'a str,
    /// The `Content-Type` header, empty when absent.
    pub(crate) content_type: &'a str,
    /// The body when it is in memory (empty when streamed).
    pub(crate) body: &'a [u8],
    /// The client's configured endpoint URL, when not AWS's own.
    pub(crate) endpoint: Option<&'a str>,
}

/// `…/functions/<name>/invocations` (the name percent-encoded when it is an ARN).
fn lambda_function(uri: &str) -> Option<Cow<'_, str>> {
    let path = uri.split('?').next()?;
    let rest = &path[path.find("/functions/")? + "/functions/".len()..];
    let name = rest.split('/').next().filter(|n| !n.is_empty())?;
    Some(percent_decode_path(name.as_bytes()))
}

/// The value of `name` in an `application/x-www-form-urlencoded` body.
fn form_field<'a>(body: &'a [u8], name: &[u8]) -> Option<Cow<'a, str>> {
    body.split(|&b| b == b'&').find_map(|pair| {
        let eq = pair.iter().position(|&b| b == b'=')?;
        (&pair[..eq] == name).then(|| percent_decode(&pair[eq + 1..], true))
    })
}

/// A URI path segment: `+` is a plus sign there, not a space as in a form.
pub(crate) fn percent_decode_path(s: &[u8]) -> Cow<'_, str> {
    percent_decode(s, false)
}

fn percent_decode(s: &[u8], plus_is_space: bool) -> Cow<'_, str> {
    if !s.iter().any(|&b| b == b'%' || (plus_is_space && b == b'+')) {
        return String::from_utf8_lossy(s);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                let hex = std::str::from_utf8(&s[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// An error answer's code and message, from the JSON protocols' `__type` / `message`, the
/// XML protocols' `<Code>` / `<Message>`, or the `x-amzn-ErrorType` header.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ServiceError {
    pub(crate) code: String,
    pub(crate) message: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonError<'a> {
    #[serde(rename = "__type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(rename = "Message", borrow)]
    message_upper: Option<Cow<'a, str>>,
}

pub(crate) fn service_error(header_type: Option<&str>, body: &[u8]) -> ServiceError {
    let mut out = ServiceError::default();
    if body.first() == Some(&b'{') {
        if let Ok(j) = serde_json::from_slice::<JsonError<'_>>(body) {
            if let Some(c) = j.kind.as_deref().or(j.code.as_deref()) {
                out.code.push_str(c);
            }
            if let Some(m) = j.message.as_deref().or(j.message_upper.as_deref()) {
                out.message.push_str(m);
            }
        }
    } else if body.first() == Some(&b'<') {
        let text = String::from_utf8_lossy(body);
        if let Some(c) = xml_element(&text, "Code") {
            out.code.push_str(c);
        }
        if let Some(m) = xml_element(&text, "Message") {
            out.message.push_str(m);
        }
    }
    if out.code.is_empty()
        && let Some(h) = header_type
    {
        out.code.push_str(h);
    }
    // `com.amazonaws.dynamodb.v20120810#ResourceNotFoundException`, `Code:http://…`
    let short = short_code(&out.code).len();
    let start = out.code.len() - short;
    out.code.drain(..start);
    if let Some(colon) = out.code.find(':') {
        out.code.truncate(colon);
    }
    out
}

fn short_code(code: &str) -> &str {
    code.rsplit('#').next().unwrap_or(code)
}

fn xml_element<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find('<')? + start;
    Some(&text[start..end])
}

/// Error codes that mean the caller was throttled, whatever the status.
pub(crate) fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestThrottledException"
            | "TooManyRequestsException"
            | "ProvisionedThroughputExceededException"
            | "TransactionInProgressException"
            | "RequestLimitExceeded"
            | "BandwidthLimitExceeded"
            | "LimitExceededException"
            | "RequestThrottled"
            | "SlowDown"
            | "PriorRequestNotComplete"
            | "EC2ThrottledException"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_error_code_is_shortened() {
        let e = service_error(
            None,
            br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#,
        );
        assert_eq!(e.code, "ResourceNotFoundException");
        assert_eq!(e.message, "Requested resource not found");
    }

    #[test]
    fn xml_error_and_header_fallback() {
        let e = service_error(
            None,
            b"<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>",
        );
        assert_eq!((e.code.as_str(), e.message.as_str()), ("NoSuchKey", "gone"));
        let e = service_error(Some("ThrottlingException:http://internal"), b"");
        assert_eq!(e.code, "ThrottlingException");
        assert!(is_throttling(&e.code));
    }

    #[test]
    fn form_and_path_parameters() {
        let arn = "arn%3Aaws%3Asns%3Aus-east-1%3A123%3Atopic";
        let body = format!("Action=Publish&TopicArn={arn}&Message=secret");
        assert_eq!(
            form_field(body.as_bytes(), b"TopicArn").as_deref(),
            Some("arn:aws:sns:us-east-1:123:topic")
        );
        assert_eq!(
            lambda_function("http://h/2015-03-31/functions/my-fn/invocations?Qualifier=1")
                .as_deref(),
            Some("my-fn")
        );
        assert_eq!(percent_decode(b"100%", true).as_ref(), "100%");
        assert_eq!(percent_decode_path(b"a+b%2Fc").as_ref(), "a+b/c");
    }
}
