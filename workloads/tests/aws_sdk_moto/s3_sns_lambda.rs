//! S3, SNS and Lambda: S3's bucket and key from the URI (path-style against moto,
//! virtual-hosted against an in-process HTTP client), its request ids, no object bytes, and
//! a missing key;
//! SNS's topic and no message, and a permission error; Lambda's function name on a 404.

use std::sync::{Arc, Mutex};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_types::body::SdkBody;
use aws_types::SdkConfig;
use aws_types::region::Region;
use xray_core::aws_sdk::XRayInterceptor;

use crate::aws_support::Canned;
use crate::{Clients, World, assert_headers_name, aws};

const OBJECT: &[u8] = b"object-bytes-never-recorded";
const KEY: &str = "notes/a b+c.txt";

/// S3 clients whose requests never leave the process, so that their virtual-hosted names
/// need no DNS: one on AWS's endpoint, one on a custom endpoint.
pub(crate) struct VirtualHosted {
    aws: aws_sdk_s3::Client,
    custom: aws_sdk_s3::Client,
    uris: Arc<Mutex<Vec<String>>>,
}

/// Answers `200` with no body, noting each request's URI.
#[derive(Debug, Clone)]
struct NoteUris(Arc<Mutex<Vec<String>>>);

impl HttpConnector for NoteUris {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.0.lock().unwrap().push(request.uri().to_owned());
        let mut response = HttpResponse::new(200.try_into().unwrap(), SdkBody::empty());
        response
            .headers_mut()
            .insert("x-amz-request-id", "in-process");
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl VirtualHosted {
    pub(crate) fn new() -> VirtualHosted {
        let uris = Arc::new(Mutex::new(Vec::new()));
        let note = NoteUris(uris.clone());
        let sdk = SdkConfig::builder()
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            )))
            .http_client(http_client_fn(move |_, _| {
                SharedHttpConnector::new(note.clone())
            }))
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .build();
        let client = |endpoint: Option<&str>| {
            let mut b = aws_sdk_s3::config::Builder::from(&sdk).interceptor(XRayInterceptor::new());
            if let Some(e) = endpoint {
                b = b.endpoint_url(e);
            }
            aws_sdk_s3::Client::from_conf(b.build())
        };
        VirtualHosted {
            aws: client(None),
            custom: client(Some("http://localhost:4566")),
            uris,
        }
    }
}

/// This module's scenarios; `None` for another module's.
pub(crate) async fn call(
    c: &Clients,
    scenario: &str,
) -> Result<Option<String>, lambda_runtime::Error> {
    let out = match scenario {
        "s3" => {
            c.s3.create_bucket().bucket("photos").send().await?;
            c.s3.put_object()
                .bucket("photos")
                .key(KEY)
                .body(ByteStream::from_static(OBJECT))
                .send()
                .await?;
            let got = c.s3.get_object().bucket("photos").key(KEY).send().await?;
            let bytes = got.body.collect().await?.into_bytes();
            assert_eq!(&bytes[..], OBJECT);
            "ok".to_owned()
        }
        "s3 missing" => match c.s3.get_object().bucket("photos").key("gone").send().await {
            Ok(_) => "unexpected".to_owned(),
            Err(e) => format!("err {}", aws_sdk_s3::error::DisplayErrorContext(&e)),
        },
        "s3 virtual-hosted" => {
            for client in [&c.s3_virtual.aws, &c.s3_virtual.custom] {
                client
                    .put_object()
                    .bucket("photos")
                    .key(KEY)
                    .body(ByteStream::from_static(OBJECT))
                    .send()
                    .await?;
            }
            c.s3_virtual.uris.lock().unwrap().join(" ")
        }
        "sns" => {
            let topic = c.sns.create_topic().name("signups").send().await?;
            let arn = topic.topic_arn().unwrap_or_default();
            c.sns
                .publish()
                .topic_arn(arn)
                .message("message-never-recorded")
                .send()
                .await?;
            arn.to_owned()
        }
        p if p.starts_with("sns denied ") => {
            let arn = &p["sns denied ".len()..];
            match c.sns.publish().topic_arn(arn).message("m").send().await {
                Ok(_) => "unexpected".to_owned(),
                Err(e) => format!("err {}", aws_sdk_sns::error::DisplayErrorContext(&e)),
            }
        }
        "lambda missing" => {
            match c
                .lambda
                .get_function()
                .function_name("no-such-fn")
                .send()
                .await
            {
                Ok(_) => "unexpected".to_owned(),
                Err(e) => format!("err {}", aws_sdk_lambda::error::DisplayErrorContext(&e)),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(out))
}

fn never_holds(e: &bench_harness::daemon::Entity, secret: &str) {
    let doc = serde_json::to_string(&e.fields).unwrap();
    assert!(!doc.contains(secret), "{doc}");
}

pub(crate) fn check(world: &World) {
    // S3, path-style: bucket and key from the path (the key percent-decoded), S3's own
    // request-id headers, the object's length but never its bytes.
    let (out, subs, _) = world.invoke("s3");
    assert_eq!(out, "ok");
    let ops: Vec<_> = subs.iter().map(|e| aws(e, "operation").clone()).collect();
    assert_eq!(ops, ["CreateBucket", "PutObject", "GetObject"]);
    let seen = assert_headers_name(world, &subs, 3);
    for (e, s) in subs.iter().zip(&seen) {
        assert_eq!((e.name.as_str(), s.service.as_str()), ("S3", "s3"));
        assert_eq!(e.fields["namespace"], "aws");
        assert_eq!(e.fields["http"]["response"]["status"], 200);
        assert_eq!(aws(e, "bucket_name"), "photos");
        assert_eq!(
            aws(e, "request_id").as_str(),
            s.answer_id.as_deref(),
            "{e:?}"
        );
        assert_eq!(aws(e, "id_2").as_str(), s.id_2.as_deref(), "{e:?}");
        assert!(s.id_2.is_some());
        assert!(e.fields.get("error").is_none() && e.fields.get("fault").is_none());
        never_holds(e, "object-bytes");
    }
    assert!(aws(&subs[0], "key").is_null(), "CreateBucket has no key");
    assert_eq!(aws(&subs[1], "key"), KEY);
    assert_eq!(aws(&subs[2], "key"), KEY);
    assert_eq!(
        subs[2].fields["http"]["response"]["content_length"],
        OBJECT.len()
    );

    // S3, a missing key: a 404 is an error, S3's XML error code the remote cause.
    let (out, subs, _) = world.invoke("s3 missing");
    assert!(out.contains("NoSuchKey"), "{out}");
    let e = &subs[0];
    assert_eq!(e.fields["error"], true);
    assert!(e.fields.get("fault").is_none());
    assert_eq!(e.fields["http"]["response"]["status"], 404);
    assert_eq!(
        (aws(e, "bucket_name"), aws(e, "key")),
        (&"photos".into(), &"gone".into())
    );
    let ex = &e.fields["cause"]["exceptions"][0];
    assert_eq!(
        (ex["type"].as_str(), ex["remote"].as_bool()),
        (Some("NoSuchKey"), Some(true))
    );
    assert_headers_name(world, &subs, 1);

    // S3, virtual-hosted: the bucket from the host, on AWS's endpoint and on a custom one.
    let (uris, subs, _) = world.invoke("s3 virtual-hosted");
    let uris: Vec<&str> = uris.split(' ').collect();
    assert!(
        uris[0].starts_with("https://photos.s3.us-east-1.amazonaws.com/notes/")
            && uris[1].starts_with("http://photos.localhost:4566/notes/"),
        "{uris:?}"
    );
    assert_eq!(subs.len(), 2);
    for e in &subs {
        assert_eq!(aws(e, "bucket_name"), "photos", "{e:?}");
        assert_eq!(aws(e, "key"), KEY, "{e:?}");
        assert_eq!(aws(e, "request_id"), "in-process");
        never_holds(e, "object-bytes");
    }

    // SNS: the topic, never the message.
    let (arn, subs, _) = world.invoke("sns");
    assert!(arn.starts_with("arn:aws:sns:us-east-1:"), "{arn}");
    let ops: Vec<_> = subs.iter().map(|e| aws(e, "operation").clone()).collect();
    assert_eq!(ops, ["CreateTopic", "Publish"]);
    assert_eq!(subs[1].name, "SNS");
    assert_eq!(aws(&subs[1], "topic_arn"), arn.as_str());
    assert!(
        aws(&subs[1], "request_id")
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    never_holds(&subs[1], "message-never-recorded");
    assert_headers_name(world, &subs, 2);

    // SNS, a permission error (what IAM answers): error, not fault, with the code as a
    // remote cause.
    world.proxy.answer_next(&[Canned {
        status: 403,
        body: "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error>\
               <Type>Sender</Type><Code>AuthorizationError</Code><Message>User is not \
               authorized to perform: SNS:Publish</Message></Error><RequestId>denied</RequestId>\
               </ErrorResponse>",
    }]);
    let (out, subs, _) = world.invoke(&format!("sns denied {arn}"));
    assert!(out.contains("AuthorizationError"), "{out}");
    let e = &subs[0];
    assert_eq!(e.fields["error"], true);
    assert!(e.fields.get("fault").is_none() && e.fields.get("throttle").is_none());
    assert_eq!(e.fields["http"]["response"]["status"], 403);
    assert_eq!(aws(e, "topic_arn"), arn.as_str());
    assert_eq!(aws(e, "retries"), 0);
    let ex = &e.fields["cause"]["exceptions"][0];
    assert_eq!(ex["type"], "AuthorizationError");
    assert_eq!(ex["remote"], true);
    assert!(
        ex["message"]
            .as_str()
            .is_some_and(|m| m.contains("not authorized")),
        "{ex}"
    );
    assert_headers_name(world, &subs, 1);

    // Lambda, a missing function: a 404 is an error; the function's name is recorded.
    let (out, subs, _) = world.invoke("lambda missing");
    assert!(out.contains("ResourceNotFoundException"), "{out}");
    let e = &subs[0];
    assert_eq!(e.name, "Lambda");
    assert_eq!(aws(e, "operation"), "GetFunction");
    assert_eq!(aws(e, "function_name"), "no-such-fn");
    assert_eq!(e.fields["error"], true);
    assert!(e.fields.get("fault").is_none());
    assert_eq!(e.fields["http"]["response"]["status"], 404);
    assert_eq!(
        e.fields["cause"]["exceptions"][0]["type"],
        "ResourceNotFoundException"
    );
    assert_headers_name(world, &subs, 1);
}
