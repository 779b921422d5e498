//! OTLP datagrams from xray-core's own `otlp-udp` output, shown like segments; and the
//! per-trace entity cap.

use serde_json::{Value, json};
use xray_core::{
    Config, Output, OutputConfig, TraceId,
    model::{EntityTree, Namespace, Timestamp},
    wire::{EmitBuffer, Emitter},
};

use super::tests::{WAIT, doc, request, send};
use super::*;

fn get_json(xray: &LocalXray, path: &str) -> Value {
    let (status, body) = request(xray.web_addr(), "GET", path, "");
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// A handler's tree as xray-core records it: the function's segment with an annotation, a
/// DynamoDB call that failed with an exception, and an HTTP call to another service.
fn recorded_tree() -> (EntityTree, xray_core::model::EntityIndex) {
    let mut tree = EntityTree::new(TraceId::random());
    let t0 = Timestamp::now();
    let root = tree.begin_segment("checkout", None, t0);
    tree.entity_mut(root)
        .put_annotation("user_id", "u-1")
        .unwrap()
        .put_metadata("debug", "cart", &json!({"items": 3}))
        .unwrap();
    let dynamo = tree.begin_subsegment(root, "DynamoDB", t0);
    {
        let mut e = tree.entity_mut(dynamo);
        e.set_namespace(Namespace::Aws)
            .aws_operation("PutItem")
            .aws_table_name("users")
            .set_fault(true);
        let ex = e.add_exception("ProvisionedThroughputExceeded", "slow down <now>", true);
        e.add_stack_frame(ex, "src/register_user.rs", Some(42), "submit_user");
    }
    tree.end(dynamo, Timestamp::now());
    let http = tree.begin_subsegment(root, "inventory.local", Timestamp::now());
    tree.entity_mut(http)
        .set_namespace(Namespace::Remote)
        .http_method("GET")
        .http_url("http://inventory.local/items")
        .apply_http_status(404);
    tree.end(http, Timestamp::now());
    tree.end(root, Timestamp::now());
    (tree, root)
}

#[test]
fn otlp_spans_from_xray_core_show_as_a_trace() {
    let xray = LocalXray::start(LocalXrayOptions::ephemeral()).unwrap();
    let mut config = Config::default();
    config.output = OutputConfig::new(Output::OtlpUdp);
    config.daemon.udp = xray.udp_addr();
    let emitter = Emitter::for_config(&config);
    let (mut tree, root) = recorded_tree();
    let trace_id = tree.trace_id().to_string();
    emitter.emit(&mut tree, root, &mut EmitBuffer::new());
    assert!(
        xray.daemon().wait_for_otlp_spans(3, WAIT),
        "{}",
        xray.daemon().stats()
    );

    let list = get_json(&xray, "/api/traces?q=annotation.user_id+%3D+%22u-1%22");
    let row = &list["traces"][0];
    assert_eq!(row["trace_id"], trace_id.as_str(), "{list}");
    assert_eq!(
        (&row["name"], &row["status"], &row["entities"]),
        (&json!("checkout"), &json!("fault"), &json!(3))
    );
    assert_eq!(list["stats"]["otlp_spans"], 3);
    assert_eq!(list["stats"]["rejected"], 0);

    let trace = get_json(&xray, &format!("/api/trace?id={trace_id}"));
    let rows = trace["rows"].as_array().unwrap();
    let names: Vec<(&str, u64)> = rows
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["depth"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        names,
        [("checkout", 0), ("DynamoDB", 1), ("inventory.local", 1)]
    );
    assert!(rows[0]["segment"].as_bool().unwrap());
    assert_eq!(rows[0]["fields"]["annotations"]["user_id"], "u-1");
    assert_eq!(rows[0]["fields"]["metadata"]["debug"]["cart"]["items"], 3);
    let dynamo = &rows[1]["fields"];
    assert_eq!(
        (&dynamo["namespace"], &dynamo["fault"]),
        (&json!("aws"), &json!(true))
    );
    assert_eq!(dynamo["aws"]["operation"], "PutItem");
    assert_eq!(dynamo["aws"]["table_name"], "users");
    let exception = &dynamo["cause"]["exceptions"][0];
    assert_eq!(exception["type"], "ProvisionedThroughputExceeded");
    assert_eq!(exception["message"], "slow down <now>");
    assert!(
        exception["stack"][0]["label"]
            .as_str()
            .unwrap()
            .contains("submit_user"),
        "{exception}"
    );
    let http = &rows[2]["fields"];
    assert_eq!(
        (&http["namespace"], &http["error"], &http["fault"]),
        (&json!("remote"), &json!(true), &Value::Null),
        "a 404 is an error, not a fault: {http}"
    );
    assert_eq!(http["http"]["response"]["status"], 404);
    assert_eq!(http["http"]["request"]["method"], "GET");

    let map = get_json(&xray, "/api/map");
    let nodes: Vec<(&str, &str)> = map["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["name"].as_str().unwrap(), n["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        nodes,
        [
            ("DynamoDB", "aws"),
            ("checkout", "service"),
            ("inventory.local", "remote")
        ]
    );
    assert_eq!(map["edges"].as_array().unwrap().len(), 2, "{map}");
}

#[test]
fn a_trace_over_the_entity_cap_keeps_the_first_and_counts_the_rest() {
    let xray = LocalXray::start(LocalXrayOptions {
        max_entities_per_trace: 5,
        ..LocalXrayOptions::ephemeral()
    })
    .unwrap();
    let trace = "1-5759e988-bd862e3fe1be46a994272793";
    let subsegments: Vec<Value> = (0..7)
        .map(|i| {
            json!({"name": format!("call-{i}"), "id": format!("{:016x}", 0x10 + i),
                        "start_time": 1.0, "end_time": 1.5})
        })
        .collect();
    let root = json!({"name": "loop", "id": "0000000000000001", "trace_id": trace,
        "start_time": 1.0, "end_time": 2.0, "subsegments": subsegments});
    let other = json!({"name": "small", "id": "0000000000000002",
        "trace_id": "1-5759e988-000000000000000000000001", "start_time": 1.0, "end_time": 2.0});
    // A resend of the root updates it in place; it is no new entity.
    send(&xray, &[doc(&root), doc(&other), doc(&root)]);

    let list = get_json(&xray, "/api/traces");
    let summary = |id: &str| {
        list["traces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["trace_id"] == id)
            .cloned()
            .unwrap()
    };
    // The second copy's three extra subsegments were dropped again: drops count arrivals.
    let capped = summary(trace);
    assert_eq!(
        (&capped["entities"], &capped["entities_dropped"]),
        (&json!(5), &json!(6))
    );
    assert_eq!(
        summary("1-5759e988-000000000000000000000001")["entities_dropped"],
        0
    );
    assert_eq!(list["stats"]["entities_over_cap"], 6);
    assert!(
        xray.daemon()
            .stats()
            .to_string()
            .contains("6 entities over the per-trace cap")
    );
    let waterfall = get_json(&xray, &format!("/api/trace?id={trace}"));
    assert_eq!(waterfall["rows"].as_array().unwrap().len(), 5);
    assert_eq!(waterfall["summary"]["entities_dropped"], 6);
}
