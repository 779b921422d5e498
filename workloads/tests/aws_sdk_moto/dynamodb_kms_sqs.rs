//! DynamoDB, KMS and SQS: the exact subsegments of successful calls, a 4xx with a remote
//! cause, 5xx and throttling answers retried, a refused connection, an unsampled invocation
//! and a call outside any invocation.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use lambda_runtime::{Context, LambdaEvent};
use xray_core::TraceId;

use crate::aws_support::Canned;
use crate::{CLIENTS, Clients, PARENT, World, assert_headers_name, aws, handler};

/// This module's scenarios; `None` for another module's.
pub(crate) async fn call(
    c: &Clients,
    scenario: &str,
) -> Result<Option<String>, lambda_runtime::Error> {
    let out = match scenario {
        "setup" => {
            c.ddb
                .create_table()
                .table_name("users")
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name("id")
                        .attribute_type(ScalarAttributeType::S)
                        .build()?,
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name("id")
                        .key_type(KeyType::Hash)
                        .build()?,
                )
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .await?;
            let key = c.kms.create_key().send().await?;
            let key_id = key
                .key_metadata()
                .map(|m| m.key_id().to_owned())
                .unwrap_or_default();
            let queue = c.sqs.create_queue().queue_name("signups").send().await?;
            format!("{key_id} {}", queue.queue_url().unwrap_or_default())
        }
        "put" => {
            c.ddb
                .put_item()
                .table_name("users")
                .item("id", AttributeValue::S("u-1".into()))
                .item("secret", AttributeValue::S("do-not-record".into()))
                .send()
                .await?;
            "ok".to_owned()
        }
        p if p.starts_with("encrypt ") => {
            let key_id = &p["encrypt ".len()..];
            c.kms
                .encrypt()
                .key_id(key_id)
                .plaintext(aws_sdk_kms::primitives::Blob::new(b"plain-secret".to_vec()))
                .send()
                .await?;
            "ok".to_owned()
        }
        p if p.starts_with("send ") => {
            c.sqs
                .send_message()
                .queue_url(&p["send ".len()..])
                .message_body("body-secret")
                .send()
                .await?;
            "ok".to_owned()
        }
        "missing" => match c
            .ddb
            .get_item()
            .table_name("nope")
            .key("id", AttributeValue::S("x".into()))
            .send()
            .await
        {
            Ok(_) => "unexpected".to_owned(),
            Err(e) => format!("err {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)),
        },
        "describe" => match c.ddb.describe_table().table_name("users").send().await {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("err {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)),
        },
        "refused" => match c.refused.describe_table().table_name("users").send().await {
            Ok(_) => "unexpected".to_owned(),
            Err(e) => format!("err {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)),
        },
        _ => return Ok(None),
    };
    Ok(Some(out))
}

pub(crate) fn check(world: &World) {
    // Setup: three services, one subsegment each, named for the service.
    let (out, subs, _) = world.invoke("setup");
    let (key_id, queue_url) = out.split_once(' ').unwrap();
    let names: Vec<&str> = subs.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["DynamoDB", "KMS", "SQS"]);
    for e in &subs {
        assert_eq!(e.fields["namespace"], "aws");
        assert_eq!(aws(e, "region"), "us-east-1");
        assert_eq!(aws(e, "retries"), 0);
        assert_eq!(e.fields["http"]["response"]["status"], 200);
        assert!(
            aws(e, "request_id").as_str().is_some_and(|s| !s.is_empty()),
            "{e:?}"
        );
        assert!(e.fields.get("error").is_none() && e.fields.get("fault").is_none());
    }
    assert_eq!(aws(&subs[0], "operation"), "CreateTable");
    assert_eq!(aws(&subs[0], "table_name"), "users");
    assert_eq!(aws(&subs[1], "operation"), "CreateKey");
    assert_eq!(aws(&subs[2], "operation"), "CreateQueue");
    assert_eq!(aws(&subs[2], "queue_name"), "signups");
    assert_headers_name(world, &subs, 3);

    // Parameters, never contents.
    let (_, subs, _) = world.invoke("put");
    assert_eq!(subs.len(), 1);
    assert_eq!(aws(&subs[0], "operation"), "PutItem");
    assert_eq!(aws(&subs[0], "table_name"), "users");
    assert!(
        !serde_json::to_string(&subs[0].fields)
            .unwrap()
            .contains("do-not-record")
    );
    assert_headers_name(world, &subs, 1);
    let (_, subs, _) = world.invoke(&format!("encrypt {key_id}"));
    assert_eq!(
        (subs[0].name.as_str(), aws(&subs[0], "operation")),
        ("KMS", &"Encrypt".into())
    );
    assert_eq!(aws(&subs[0], "key_id"), key_id);
    assert!(
        !serde_json::to_string(&subs[0].fields)
            .unwrap()
            .contains("plain")
    );
    assert_headers_name(world, &subs, 1);
    let (_, subs, _) = world.invoke(&format!("send {queue_url}"));
    assert_eq!(aws(&subs[0], "operation"), "SendMessage");
    assert_eq!(aws(&subs[0], "queue_url"), queue_url);
    assert!(
        !serde_json::to_string(&subs[0].fields)
            .unwrap()
            .contains("body-secret")
    );
    assert_headers_name(world, &subs, 1);

    // A 4xx: error with the service's code and message as a remote cause.
    let (out, subs, _) = world.invoke("missing");
    assert!(out.contains("ResourceNotFoundException"), "{out}");
    let e = &subs[0];
    assert_eq!(e.fields["error"], true);
    assert!(e.fields.get("fault").is_none() && e.fields.get("throttle").is_none());
    assert_eq!(e.fields["http"]["response"]["status"], 400);
    assert_eq!(aws(e, "table_name"), "nope");
    let ex = &e.fields["cause"]["exceptions"][0];
    assert_eq!(ex["type"], "ResourceNotFoundException");
    assert_eq!(ex["remote"], true);
    assert!(
        ex["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{ex}"
    );
    assert_headers_name(world, &subs, 1);

    // Two 5xx answers then success: one subsegment, two retries, no fault.
    let five = Canned {
        status: 500,
        body: r#"{"__type":"InternalServerError","message":"boom"}"#,
    };
    world.proxy.answer_next(&[five.clone(), five.clone()]);
    let (out, subs, _) = world.invoke("describe");
    assert_eq!(out, "ok");
    assert_eq!(subs.len(), 1);
    assert_eq!(aws(&subs[0], "retries"), 2);
    assert_eq!(subs[0].fields["http"]["response"]["status"], 200);
    assert!(subs[0].fields.get("fault").is_none());
    assert_headers_name(world, &subs, 3);

    // 5xx on every attempt: a fault with the remote cause.
    world.proxy.answer_next(&[five.clone(), five.clone(), five]);
    let (_, subs, _) = world.invoke("describe");
    assert_eq!(aws(&subs[0], "retries"), 2);
    assert_eq!(subs[0].fields["fault"], true);
    assert_eq!(subs[0].fields["http"]["response"]["status"], 500);
    assert_eq!(
        subs[0].fields["cause"]["exceptions"][0]["type"],
        "InternalServerError"
    );
    assert_headers_name(world, &subs, 3);

    // Throttled on every attempt: throttle and error.
    let slow = Canned {
        status: 400,
        body: r#"{"__type":"com.amazonaws.dynamodb#ThrottlingException","message":"Rate exceeded"}"#,
    };
    world.proxy.answer_next(&[slow.clone(), slow.clone(), slow]);
    let (_, subs, _) = world.invoke("describe");
    let e = &subs[0];
    assert_eq!(
        (e.fields["throttle"].clone(), e.fields["error"].clone()),
        (true.into(), true.into())
    );
    assert_eq!(aws(e, "retries"), 2);
    assert_eq!(
        e.fields["cause"]["exceptions"][0]["type"],
        "ThrottlingException"
    );
    assert_eq!(
        e.fields["cause"]["exceptions"][0]["message"],
        "Rate exceeded"
    );
    assert_headers_name(world, &subs, 3);

    // A refused connection: a local fault with the error chain, no status.
    let (out, subs, _) = world.invoke("refused");
    assert!(out.starts_with("err"), "{out}");
    let e = &subs[0];
    assert_eq!(e.fields["fault"], true);
    assert!(e.fields.get("http").is_none(), "{e:?}");
    let exceptions = e.fields["cause"]["exceptions"].as_array().unwrap();
    assert!(!exceptions.is_empty());
    assert!(
        exceptions
            .iter()
            .all(|x| x.get("remote").is_none_or(|r| r == false))
    );

    // Unsampled: the header says so, nothing is sent.
    let root = TraceId::random().to_string();
    let mut ctx = Context::default();
    ctx.xray_trace_id = Some(format!("Root={root};Parent={PARENT};Sampled=0"));
    world
        .rt
        .block_on(handler(LambdaEvent::new("put".to_owned(), ctx)))
        .unwrap();
    let seen = world.proxy.take_seen();
    assert_eq!(seen.len(), 1);
    let h = seen[0].trace_header.as_deref().unwrap();
    assert!(
        h.starts_with(&format!("Root={root};")) && h.contains("Sampled=0"),
        "{h}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(world.daemon.trace(&root).is_none());

    // Outside any invocation (a client used at init): the context-missing strategy, no
    // header, no panic.
    let before = xray_core::global().stats().context_missing;
    world
        .rt
        .block_on(async {
            let c = CLIENTS.get().unwrap();
            c.ddb.describe_table().table_name("users").send().await
        })
        .unwrap();
    let seen = world.proxy.take_seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].trace_header.is_none(), "{seen:?}");
    assert_eq!(xray_core::global().stats().context_missing, before + 1);
}
