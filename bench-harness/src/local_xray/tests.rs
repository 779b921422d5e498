use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;

pub(super) const WAIT: Duration = Duration::from_secs(20);
const TRACE: &str = "1-5759e988-bd862e3fe1be46a994272793";

pub(super) fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        conn,
        "{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

pub(super) fn send(xray: &LocalXray, datagrams: &[Vec<u8>]) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let before = xray.daemon().stats().datagrams_received;
    for d in datagrams {
        socket.send_to(d, xray.udp_addr()).unwrap();
    }
    assert!(
        xray.daemon()
            .wait_for_received(before + datagrams.len() as u64, WAIT)
    );
}

pub(super) fn doc(value: &Value) -> Vec<u8> {
    format!("{{\"format\":\"json\",\"version\":1}}\n{value}").into_bytes()
}

#[test]
fn rejected_datagrams_are_kept_up_to_a_bound_and_the_rest_counted() {
    let xray = LocalXray::start(LocalXrayOptions::ephemeral()).unwrap();
    let garbage: Vec<Vec<u8>> = (0..REJECTED_KEPT + 5)
        .map(|i| format!("not json {i} <b>").into_bytes())
        .collect();
    send(&xray, &garbage);
    let deadline = Instant::now() + WAIT;
    // The collector moves them on its next wake-up.
    while xray.rejected().0.len() + (xray.rejected().1 as usize) < garbage.len() {
        assert!(Instant::now() < deadline, "the collector never caught up");
        std::thread::sleep(Duration::from_millis(10));
    }
    let (kept, dropped) = xray.rejected();
    assert_eq!((kept.len(), dropped), (REJECTED_KEPT, 5));
    assert!(
        kept.last().unwrap().head.contains("<b>"),
        "kept raw; the page escapes"
    );
    let (status, body) = request(xray.web_addr(), "GET", "/api/rejected", "");
    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["dropped"], 5);
    assert_eq!(
        body["rejected"][0]["seq"],
        (REJECTED_KEPT + 4) as u64,
        "newest first"
    );
}

#[test]
fn the_sampling_proxy_serves_the_default_rule() {
    let xray = LocalXray::start(LocalXrayOptions::ephemeral()).unwrap();
    let (status, body) = request(xray.sampling_addr(), "POST", "/GetSamplingRules", "{}");
    assert_eq!(status, 200);
    let rules: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        rules["SamplingRuleRecords"][0]["SamplingRule"]["RuleName"],
        "Default"
    );
    let (status, body) = request(xray.sampling_addr(), "POST", "/SamplingTargets", "nope");
    assert_eq!(status, 400, "{body}");
    let (status, _) = request(xray.sampling_addr(), "GET", "/", "");
    assert_eq!(status, 404);
}

#[test]
fn the_api_lists_filters_and_lays_out_traces() {
    let xray = LocalXray::start(LocalXrayOptions {
        max_traces: 2,
        ..LocalXrayOptions::ephemeral()
    })
    .unwrap();
    let mut nested =
        json!({"name": "leaf", "id": "00000000000000ff", "start_time": 1.1, "end_time": 1.2});
    // Deeper than the validator allows is rejected; 30 levels are shown, in order.
    for depth in (0..30).rev() {
        nested = json!({"name": format!("level-{depth}"), "id": format!("{:016x}", depth + 16),
                        "start_time": 1.0, "end_time": 1.9, "subsegments": [nested]});
    }
    let root = json!({"name": "fn", "id": "0000000000000001", "trace_id": TRACE,
        "start_time": 1.0, "end_time": 2.0, "annotations": {"user_id": "u-1"},
        "subsegments": [nested]});
    send(&xray, &[doc(&root)]);
    for i in 0..2 {
        let other = json!({"name": "other", "id": format!("{:016x}", 0x100 + i),
            "trace_id": format!("1-5759e988-{i:024x}"), "start_time": 1.0, "end_time": 1.5, "error": true});
        send(&xray, &[doc(&other)]);
    }
    // Two traces kept: the first was evicted.
    let (_, body) = request(xray.web_addr(), "GET", "/api/traces", "");
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["traces"].as_array().unwrap().len(), 2);
    assert_eq!(list["stats"]["traces_evicted"], 1);
    send(&xray, &[doc(&root)]);
    let (_, body) = request(
        xray.web_addr(),
        "GET",
        "/api/traces?q=annotation.user_id+%3D+%22u-1%22",
        "",
    );
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["traces"][0]["trace_id"], TRACE);
    assert_eq!(list["traces"].as_array().unwrap().len(), 1);
    let (_, body) = request(xray.web_addr(), "GET", "/api/traces?q=status+%3D+nope", "");
    let list: Value = serde_json::from_str(&body).unwrap();
    assert!(
        list["filter_error"]
            .as_str()
            .unwrap()
            .contains("unknown status")
    );

    let (status, body) = request(
        xray.web_addr(),
        "GET",
        &format!("/api/trace?id={TRACE}"),
        "",
    );
    assert_eq!(status, 200);
    let waterfall: Value = serde_json::from_str(&body).unwrap();
    let depths: Vec<u64> = waterfall["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["depth"].as_u64().unwrap())
        .collect();
    assert_eq!(depths, (0..32).collect::<Vec<u64>>());
    let (status, _) = request(xray.web_addr(), "GET", "/api/trace?id=nope", "");
    assert_eq!(status, 404);
    let (status, _) = request(xray.web_addr(), "POST", "/api/traces", "");
    assert_eq!(status, 405);
}

#[test]
fn parent_cycles_and_the_map_survive_hostile_traces() {
    let xray = LocalXray::start(LocalXrayOptions::ephemeral()).unwrap();
    // Two segments naming each other as parent: no root, yet both are shown.
    let a = json!({"name": "a", "id": "00000000000000a1", "trace_id": TRACE, "parent_id": "00000000000000b1",
        "start_time": 1.0, "end_time": 2.0,
        "subsegments": [{"name": "s3", "id": "00000000000000a2", "namespace": "aws",
                         "start_time": 1.1, "end_time": 1.2, "throttle": true, "error": true}]});
    let b = json!({"name": "b", "id": "00000000000000b1", "trace_id": TRACE, "parent_id": "00000000000000a2",
        "start_time": 1.0, "end_time": 2.0});
    send(&xray, &[doc(&a), doc(&b)]);
    let (_, body) = request(
        xray.web_addr(),
        "GET",
        &format!("/api/trace?id={TRACE}"),
        "",
    );
    let waterfall: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(waterfall["rows"].as_array().unwrap().len(), 3);
    assert_eq!(waterfall["summary"]["status"], "throttle");
    let (_, body) = request(xray.web_addr(), "GET", "/api/map", "");
    let map: Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = map["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    // `s3` is represented by the segment `b` it calls, so it is no node of its own.
    assert_eq!(names, ["a", "b"]);
    let edges = map["edges"].as_array().unwrap();
    assert!(
        edges
            .iter()
            .any(|e| e["calls"] == 1 && e["from"] == 0 && e["to"] == 1)
    );
}
