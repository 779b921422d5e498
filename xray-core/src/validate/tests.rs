use serde_json::{Value, json};

use super::*;

const TRACE: &str = "1-5759e988-bd862e3fe1be46a994272793";

fn segment() -> Value {
    json!({
        "name": "orders-api",
        "id": "70de5b6f19ff9a0a",
        "trace_id": TRACE,
        "start_time": 1_461_096_053.375_18,
        "end_time": 1_461_096_053.404_2,
    })
}

fn subsegment(id: &str) -> Value {
    json!({ "name": "db", "id": id, "start_time": 1_461_096_053.38, "end_time": 1_461_096_053.39 })
}

fn rules_of(doc: &Value) -> Vec<String> {
    Validator::shared().check_document(doc).rule_errors
}

/// Asserts exactly one rule error, starting with `path: ` and containing `needle`.
#[track_caller]
fn assert_one_rule(doc: &Value, path: &str, needle: &str) {
    let errors = rules_of(doc);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].starts_with(&format!("{path}: ")), "{errors:#?}");
    assert!(errors[0].contains(needle), "{errors:#?}");
}

#[test]
fn embedded_schema_compiles() {
    let v = Validator::new();
    assert_eq!(v.segment.error(), None);
    assert_eq!(v.subsegment.error(), None);
}

#[test]
fn validator_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Validator>();
}

#[test]
fn a_complete_segment_is_valid() {
    let report = Validator::shared().check_document(&segment());
    assert!(report.is_valid(), "{report}");
    assert_eq!(report.to_string(), "valid");
}

#[test]
fn exactly_one_of_end_time_and_in_progress() {
    let mut doc = segment();
    doc["in_progress"] = json!(true);
    assert_one_rule(&doc, ROOT, "both `end_time` and `in_progress: true`");

    doc.as_object_mut().unwrap().remove("end_time");
    assert!(rules_of(&doc).is_empty());

    doc["in_progress"] = json!(false);
    assert_one_rule(&doc, ROOT, "neither `end_time` nor `in_progress: true`");

    doc["end_time"] = json!(1_461_096_053.5);
    assert!(
        rules_of(&doc).is_empty(),
        "in_progress false with end_time is fine"
    );
}

#[test]
fn ids_are_lowercase_hex() {
    let mut doc = segment();
    doc["id"] = json!("70DE5B6F19FF9A0A");
    assert_one_rule(&doc, ROOT, "`id` must be 16 lowercase hex digits");
    // Sixteen characters, so the schema's length check passes; only the rule catches it.
    doc["id"] = json!("70de5b6f19ff9a0g");
    assert!(
        Validator::shared()
            .check_document(&doc)
            .schema_errors
            .is_empty()
    );
    assert_one_rule(&doc, ROOT, "\"70de5b6f19ff9a0g\"");
    doc["id"] = json!(7);
    assert_one_rule(&doc, ROOT, "`id` must be");
    doc.as_object_mut().unwrap().remove("id");
    assert_one_rule(&doc, ROOT, "`id` is missing");
}

#[test]
fn parent_id_is_lowercase_hex() {
    let mut doc = segment();
    doc["parent_id"] = json!("53995c3f42cd8ad8");
    assert!(rules_of(&doc).is_empty());
    doc["parent_id"] = json!("53995C3F42CD8AD8");
    assert_one_rule(&doc, ROOT, "`parent_id` must be 16 lowercase hex digits");
}

#[test]
fn trace_id_has_the_documented_shape() {
    let mut doc = segment();
    for bad in [
        "1-5759E988-bd862e3fe1be46a994272793",
        "2-5759e988-bd862e3fe1be46a994272793",
        "1-5759e988bbd862e3fe1be46a994272793",
        "1-5759e98-8bd862e3fe1be46a994272793",
        "1-5759e988-bd862e3fe1be46a99427279",
        "11-5759e988-bd862e3fe1be46a99427279",
    ] {
        doc["trace_id"] = json!(bad);
        assert_one_rule(&doc, ROOT, "`trace_id` must be `1-`");
    }
}

#[test]
fn a_document_needs_a_trace_id() {
    let mut doc = segment();
    doc.as_object_mut().unwrap().remove("trace_id");
    assert_one_rule(&doc, ROOT, "`trace_id` is missing");
    // An embedded subsegment does not.
    let report = Validator::shared().check_embedded_subsegment(&subsegment("24756640c0d0978a"));
    assert!(report.is_valid(), "{report}");
}

#[test]
fn an_independent_subsegment_needs_parent_and_trace() {
    let mut doc = subsegment("24756640c0d0978a");
    doc["type"] = json!("subsegment");
    doc["trace_id"] = json!(TRACE);
    assert_one_rule(&doc, ROOT, "`parent_id` is missing");
    doc["parent_id"] = json!("53995c3f42cd8ad8");
    assert!(rules_of(&doc).is_empty());
    doc.as_object_mut().unwrap().remove("trace_id");
    let errors = rules_of(&doc);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors.iter().all(|e| e.contains("`trace_id` is missing")));
}

#[test]
fn exception_ids_are_lowercase_hex() {
    let mut doc = segment();
    doc["cause"] = json!({ "exceptions": [
        { "id": "4cf6e4e3e6a0f29b" },
        { "id": "4CF6E4E3E6A0F29B" },
    ]});
    assert_one_rule(&doc, ROOT, "`cause.exceptions[1].id` must be");
    // A cause given as a reference is not checked: OTel's sample uses "abcdefghijklmnop".
    doc["cause"] = json!("abcdefghijklmnop");
    assert!(rules_of(&doc).is_empty());
}

#[test]
fn precursor_ids_are_lowercase_hex() {
    let mut doc = segment();
    let mut sub = subsegment("24756640c0d0978a");
    sub["precursor_ids"] = json!(["3fd8634e78ca9560", "nope"]);
    doc["subsegments"] = json!([sub]);
    assert_one_rule(&doc, "subsegments/0", "`precursor_ids[1]` must be");
}

#[test]
fn names_follow_the_top_level_pattern_everywhere() {
    let mut sub = subsegment("24756640c0d0978a");
    sub["name"] = json!("GET /users/{id}");
    // The schema's subsegment definition only asks for one character; the rule asks for more.
    let report = Validator::shared().check_embedded_subsegment(&sub);
    assert!(report.schema_errors.is_empty(), "{report}");
    assert_eq!(report.rule_errors.len(), 1, "{report}");
    assert!(report.rule_errors[0].contains("U+007B"), "{report}");

    let mut doc = segment();
    sub["name"] = json!("");
    doc["subsegments"] = json!([sub.clone()]);
    assert_one_rule(&doc, "subsegments/0", "`name` is empty");
    sub["name"] = json!("é".repeat(201));
    doc["subsegments"] = json!([sub.clone()]);
    assert_one_rule(&doc, "subsegments/0", "201 characters");
    sub["name"] = json!(42);
    doc["subsegments"] = json!([sub.clone()]);
    assert_one_rule(&doc, "subsegments/0", "`name` must be a string");
    sub.as_object_mut().unwrap().remove("name");
    doc["subsegments"] = json!([sub]);
    assert_one_rule(&doc, "subsegments/0", "`name` is missing");

    let mut doc = segment();
    doc["name"] = json!("é".repeat(200));
    assert!(rules_of(&doc).is_empty(), "200 characters are allowed");
}

#[test]
fn end_time_is_not_before_start_time() {
    let mut doc = segment();
    doc["end_time"] = json!(1_461_096_053.0);
    assert_one_rule(&doc, ROOT, "`end_time` 1461096053 is before `start_time`");
    doc["end_time"] = doc["start_time"].clone();
    assert!(rules_of(&doc).is_empty(), "a zero-length entity is fine");
}

#[test]
fn rules_reach_every_embedded_subsegment_with_its_path() {
    let mut inner: Vec<Value> = (0..3)
        .map(|i| subsegment(&format!("00000000000000a{i}")))
        .collect();
    inner[2]["in_progress"] = json!(true);
    let mut middle = subsegment("0000000000000001");
    middle["subsegments"] = json!(inner);
    let mut doc = segment();
    doc["subsegments"] = json!([middle, 5]);
    let errors = rules_of(&doc);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].starts_with("subsegments/0/subsegments/2: both"),
        "{errors:#?}"
    );
    assert!(errors[1].starts_with("subsegments/1: a subsegment must be a JSON object"));
}

#[test]
fn non_finite_numbers_never_parse() {
    // `serde_json` refuses these, so the finite-number rule cannot be reached from bytes; a
    // `Value` cannot hold them either (see `Rules::finite_numbers`).
    for body in [
        &br#"{"start_time":NaN}"#[..],
        br#"{"start_time":Infinity}"#,
        br#"{"start_time":-Infinity}"#,
        br#"{"start_time":1e999}"#,
    ] {
        let err = Validator::shared().check_document_bytes(body).unwrap_err();
        assert!(matches!(err, DocumentError::Json(_)), "{err}");
    }
}

#[test]
fn document_bytes_are_strict() {
    let v = Validator::shared();
    let err = v.check_document_bytes(b"{\"name\":\"\xff\"}").unwrap_err();
    assert_eq!(err, DocumentError::NotUtf8 { valid_up_to: 9 });
    let err = v.check_document_bytes(b"[1]").unwrap_err();
    assert_eq!(err, DocumentError::NotObject("an array"));
    let two = format!("{}{}", segment(), segment());
    assert!(matches!(
        v.check_document_bytes(two.as_bytes()),
        Err(DocumentError::Json(_))
    ));
    let (doc, report) = v
        .check_document_bytes(format!(" {}\n", segment()).as_bytes())
        .unwrap();
    assert!(report.is_valid(), "{report}");
    assert_eq!(doc, segment());
}

fn datagram(header: &str, body: &str) -> Vec<u8> {
    format!("{header}\n{body}").into_bytes()
}

#[test]
fn headers_the_daemon_accepts() {
    let body = segment().to_string();
    for header in [
        r#"{"format":"json","version":1}"#,
        r#"{"format": "json", "version": 1}"#,
        r#"{"version":1,"format":"json"}"#,
        r#" { "format" : "JSON" , "version" : 1 , "extra" : [] } "#,
        r#"{"Format":"Json","VERSION":1}"#,
        "{\"format\":\"json\",\"version\":1}\r",
    ] {
        let result = Validator::shared().check_datagram(&datagram(header, &body));
        let (_, report) = result.unwrap_or_else(|e| panic!("{header}: {e}"));
        assert!(report.is_valid(), "{report}");
    }
    assert_eq!(r#"{"format":"json","version":1}"#.len() + 1, 30);
    assert_eq!(r#"{"format": "json", "version": 1}"#.len() + 1, 33);
}

#[test]
fn headers_the_daemon_rejects() {
    let body = segment().to_string();
    for (header, needle) in [
        (r#"{"format":"json","version":"1"}"#, "`version` is \"1\""),
        (r#"{"format":"json","version":1.0}"#, "`version` is 1.0"),
        (r#"{"format":"json","version":2}"#, "`version` is 2"),
        (r#"{"format":"json"}"#, "`version` is missing"),
        (r#"{"format":"xml","version":1}"#, "`format` is \"xml\""),
        (r#"{"version":1}"#, "`format` is missing"),
        ("[1]", "expected a JSON object"),
        (r#"{"format":"json","version":1"#, "not JSON"),
        ("", "not JSON"),
    ] {
        match Validator::shared().check_datagram(&datagram(header, &body)) {
            Err(DatagramError::InvalidHeader(why)) => assert!(why.contains(needle), "{why}"),
            other => panic!("{header}: {other:?}"),
        }
    }
}

#[test]
fn datagram_envelope() {
    let v = Validator::shared();
    let header = r#"{"format":"json","version":1}"#;
    assert_eq!(
        v.check_datagram(header.as_bytes()).unwrap_err(),
        DatagramError::MissingNewline
    );
    assert_eq!(
        v.check_datagram(b"").unwrap_err(),
        DatagramError::MissingNewline
    );
    assert_eq!(
        v.check_datagram(&datagram(header, "")).unwrap_err(),
        DatagramError::EmptyBody
    );
    assert!(matches!(
        v.check_datagram(&datagram(header, " ")).unwrap_err(),
        DatagramError::Body(DocumentError::Json(_))
    ));
    let two = format!("{}\n{}", segment(), segment());
    assert!(matches!(
        v.check_datagram(&datagram(header, &two)).unwrap_err(),
        DatagramError::Body(DocumentError::Json(_))
    ));
    // Only the first newline splits: a pretty-printed document keeps its own newlines.
    let pretty = serde_json::to_string_pretty(&segment()).unwrap();
    let (doc, report) = v.check_datagram(&datagram(header, &pretty)).unwrap();
    assert!(report.is_valid(), "{report}");
    assert_eq!(doc, segment());
}

#[test]
fn datagram_size_limits() {
    let v = Validator::shared();
    let header = r#"{"format":"json","version":1}"#;
    let sized = |total: usize| {
        let mut doc = segment();
        let base = datagram(header, &doc.to_string()).len();
        doc["metadata"] = json!({ "default": { "pad": "" } });
        let with_pad = datagram(header, &doc.to_string()).len();
        doc["metadata"]["default"]["pad"] = json!("x".repeat(total - with_pad));
        let d = datagram(header, &doc.to_string());
        assert!(base < with_pad);
        assert_eq!(d.len(), total);
        d
    };
    let (_, report) = v.check_datagram(&sized(MAX_UDP_PAYLOAD)).unwrap();
    assert!(report.is_valid(), "{report}");
    let (_, report) = v.check_datagram(&sized(MAX_UDP_PAYLOAD + 1)).unwrap();
    assert_eq!(report.rule_errors.len(), 1, "{report}");
    assert!(report.rule_errors[0].contains("IPv4 UDP payload limit"));
    let (_, report) = v.check_datagram(&sized(MAX_DATAGRAM_BYTES)).unwrap();
    assert_eq!(report.rule_errors.len(), 1, "{report}");
    assert_eq!(
        v.check_datagram(&sized(MAX_DATAGRAM_BYTES + 1))
            .unwrap_err(),
        DatagramError::TooLarge(MAX_DATAGRAM_BYTES + 1)
    );
}

#[test]
fn schema_and_rule_errors_stay_apart() {
    let mut doc = segment();
    doc["http"] = json!({ "response": { "content_length": "861" } });
    doc["id"] = json!("70DE5B6F19FF9A0A");
    let report = Validator::shared().check_document(&doc);
    assert_eq!(report.schema_errors.len(), 1, "{report}");
    assert!(report.schema_errors[0].starts_with("http/response/content_length: "));
    assert_eq!(report.rule_errors.len(), 1, "{report}");
    let text = report.to_string();
    assert!(
        text.starts_with("schema: http/response/content_length: "),
        "{text}"
    );
    assert!(text.contains("\nrule: <root>: `id`"), "{text}");
}

#[test]
fn hostile_documents_give_bounded_reports() {
    let subs: Vec<Value> = (0..1000).map(|_| json!({})).collect();
    let mut doc = segment();
    doc["subsegments"] = json!(subs);
    let report = Validator::shared().check_document(&doc);
    assert_eq!(report.rule_errors.len(), MAX_MESSAGES);
    assert_eq!(report.schema_errors.len(), MAX_MESSAGES);
    assert!(report.rule_errors[MAX_MESSAGES - 1].starts_with("... and "));

    // Deeper than any parser would allow, built in code: the walk must not recurse.
    let mut deep = subsegment("0000000000000001");
    for _ in 0..10_000 {
        let mut parent = subsegment("0000000000000001");
        // Moved, not `json!`: that macro serialises its arguments, recursively.
        parent["subsegments"] = Value::Array(vec![deep]);
        deep = parent;
    }
    let mut errors = Vec::new();
    Rules::new(&mut errors).check(&deep, Level::Embedded);
    assert!(errors.is_empty(), "{errors:#?}");
    // Dropping a deeply nested `Value` recurses inside serde_json; leak it instead.
    std::mem::forget(deep);
}

#[test]
fn schema_messages_name_the_rule_and_stay_short() {
    let mut doc = segment();
    doc["name"] = json!("GET /users/{id}");
    doc["annotations"] = json!({ "a.b": 1 });
    let report = Validator::shared().check_document(&doc);
    assert_eq!(report.schema_errors.len(), 2, "{report}");
    let annotations = &report.schema_errors[0];
    assert!(annotations.starts_with("annotations: "), "{annotations}");
    assert!(annotations.contains("'a.b'"), "{annotations}");
    assert!(
        annotations.contains("'^[a-zA-Z0-9_]{1,500}$'"),
        "{annotations}"
    );
    let name = &report.schema_errors[1];
    assert!(
        name.starts_with("name: \"GET /users/{id}\" does not match"),
        "{name}"
    );
    assert!(
        name.ends_with("(see the schema at /properties/name/pattern)"),
        "{name}"
    );
    assert!(name.chars().count() < 260, "{name}");
}
