//! Every document in `conformance/samples` against the validator: the schema verdicts must
//! match the manifest's, and every sample the schema accepts must also pass the rules, but one.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use xray_core::validate::{Report, Validator};

/// The one schema-valid sample that breaks a rule: OTel's `segmentWithParentId` test data has
/// neither `end_time` nor `in_progress: true`, which the developer guide requires and the
/// schema does not check.
const RULE_BREAKER: &str = "otel/segmentWithParentId.json";

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/samples")
}

#[derive(Debug)]
struct Sample {
    file: String,
    kind: String,
    is_datagram: bool,
    schema_valid: bool,
    schema_errors: Vec<String>,
}

fn manifest() -> Vec<Sample> {
    let text = fs::read_to_string(samples_dir().join("manifest.json")).expect("read manifest");
    let manifest: Value = serde_json::from_str(&text).expect("manifest is JSON");
    let files = manifest["files"].as_array().expect("`files` array");
    files
        .iter()
        .map(|f| Sample {
            file: f["file"].as_str().expect("file").to_owned(),
            kind: f["kind"].as_str().expect("kind").to_owned(),
            is_datagram: f["is_datagram"].as_bool().expect("is_datagram"),
            schema_valid: f["schema_valid"].as_bool().expect("schema_valid"),
            schema_errors: f["schema_errors"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// Validates a sample the way the manifest says it was validated: datagrams through the
/// datagram check, embedded subsegments against `definitions/subsegment`.
fn check(validator: &Validator, sample: &Sample) -> Report {
    let bytes = fs::read(samples_dir().join(&sample.file)).expect("read sample");
    let (doc, report) = if sample.is_datagram {
        validator
            .check_datagram(&bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", sample.file))
    } else {
        validator
            .check_document_bytes(&bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", sample.file))
    };
    match sample.kind.as_str() {
        "embedded-subsegment" => validator.check_embedded_subsegment(&doc),
        "segment" | "independent-subsegment" => report,
        other => panic!("{}: unknown kind {other}", sample.file),
    }
}

#[test]
fn the_manifest_lists_every_sample() {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        for entry in fs::read_dir(dir).expect("read samples dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.file_name().is_some_and(|n| n != "manifest.json") {
                let rel = path.strip_prefix(root).expect("under root");
                out.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let dir = samples_dir();
    let mut on_disk = BTreeSet::new();
    walk(&dir, &dir, &mut on_disk);
    let listed: BTreeSet<String> = manifest().into_iter().map(|s| s.file).collect();
    assert_eq!(on_disk, listed);
    assert!(listed.len() >= 27, "{} samples", listed.len());
}

#[test]
fn schema_valid_samples_pass_the_schema() {
    let validator = Validator::new();
    for sample in manifest().iter().filter(|s| s.schema_valid) {
        let report = check(&validator, sample);
        assert!(
            report.schema_errors.is_empty(),
            "{}:\n{report}",
            sample.file
        );
    }
}

#[test]
fn schema_invalid_samples_fail_for_the_manifests_reason() {
    let validator = Validator::new();
    let invalid: Vec<Sample> = manifest().into_iter().filter(|s| !s.schema_valid).collect();
    assert!(invalid.len() >= 4, "{invalid:#?}");
    for sample in &invalid {
        let report = check(&validator, sample);
        assert!(!report.schema_errors.is_empty(), "{}", sample.file);
        assert!(
            !sample.schema_errors.is_empty(),
            "{}: no reason",
            sample.file
        );
        for expected in &sample.schema_errors {
            assert!(
                report
                    .schema_errors
                    .iter()
                    .any(|e| same_reason(expected, e)),
                "{}: expected {expected:?}, got:\n{report}",
                sample.file
            );
        }
    }
}

/// The manifest's reasons come from Python's `jsonschema`; ours from the Rust crate, which words
/// them differently. They agree when the path is the same and every quoted term of the
/// manifest's message (the offending value, the property, the pattern) appears in ours.
fn same_reason(expected: &str, actual: &str) -> bool {
    let Some((path, message)) = expected.split_once(": ") else {
        return false;
    };
    if !actual.starts_with(&format!("{path}: ")) {
        return false;
    }
    let quoted: Vec<&str> = message.split('\'').skip(1).step_by(2).collect();
    if quoted.is_empty() {
        // The cause sample quotes nothing: compare the offending value and the verdict.
        let value = message.split(' ').next().unwrap_or(message);
        return actual.contains(value) && actual.contains("not valid");
    }
    quoted.iter().all(|t| actual.contains(t))
}

#[test]
fn schema_valid_samples_pass_the_rules_but_one() {
    let validator = Validator::new();
    let mut saw_breaker = false;
    for sample in manifest().iter().filter(|s| s.schema_valid) {
        let report = check(&validator, sample);
        if sample.file == RULE_BREAKER {
            saw_breaker = true;
            assert_eq!(report.rule_errors.len(), 1, "{report}");
            assert_eq!(
                report.rule_errors[0],
                "<root>: neither `end_time` nor `in_progress: true` is set; send exactly one"
            );
        } else {
            assert!(report.rule_errors.is_empty(), "{}:\n{report}", sample.file);
        }
    }
    assert!(saw_breaker, "{RULE_BREAKER} is no longer in the manifest");
}

#[test]
fn embedded_samples_are_not_documents_on_their_own() {
    // Checked as top-level documents they lack `trace_id`: the reason the manifest validates
    // them against `definitions/subsegment`.
    let validator = Validator::new();
    let embedded: Vec<Sample> = manifest()
        .into_iter()
        .filter(|s| s.kind == "embedded-subsegment")
        .collect();
    assert!(!embedded.is_empty());
    for sample in &embedded {
        let bytes = fs::read(samples_dir().join(&sample.file)).expect("read sample");
        let (_, report) = validator.check_document_bytes(&bytes).expect("JSON object");
        assert!(
            report
                .schema_errors
                .iter()
                .any(|e| e.starts_with("<root>: ") && e.contains("trace_id")),
            "{}:\n{report}",
            sample.file
        );
    }
}

#[test]
fn datagram_samples_keep_their_headers() {
    // Both header spellings the SDKs use occur in the samples, and both are accepted.
    let mut headers = BTreeSet::new();
    for sample in manifest().iter().filter(|s| s.is_datagram) {
        let bytes = fs::read(samples_dir().join(&sample.file)).expect("read sample");
        let newline = bytes.iter().position(|&b| b == b'\n').expect("newline");
        headers.insert(String::from_utf8(bytes[..newline].to_vec()).expect("UTF-8"));
    }
    let expected: BTreeSet<String> = [
        r#"{"format":"json","version":1}"#,
        r#"{"format": "json", "version": 1}"#,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(headers, expected);
}
