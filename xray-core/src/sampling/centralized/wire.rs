//! The JSON of `GetSamplingRules` and `SamplingTargets`, as the daemon's proxy relays it.
//!
//! Responses are read leniently: unknown fields are ignored and a rule record that is
//! malformed or not applicable is skipped (and counted) rather than failing the refresh.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The body of a `GetSamplingRules` call (the SDKs do not paginate; neither do we).
pub(crate) const GET_RULES_BODY: &[u8] = br#"{"NextToken":null}"#;

/// One rule as the service defines it, checked and ready to compile.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RuleDef {
    pub(crate) name: String,
    pub(crate) priority: i64,
    pub(crate) fixed_rate: f64,
    pub(crate) reservoir_size: u64,
    pub(crate) service_name: String,
    pub(crate) service_type: String,
    pub(crate) host: String,
    pub(crate) http_method: String,
    pub(crate) url_path: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RulesResponse {
    #[serde(default)]
    sampling_rule_records: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleRecord {
    sampling_rule: RuleDoc,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleDoc {
    rule_name: String,
    #[serde(rename = "ResourceARN")]
    resource_arn: String,
    priority: i64,
    fixed_rate: f64,
    reservoir_size: u64,
    service_name: String,
    service_type: String,
    host: String,
    #[serde(rename = "HTTPMethod")]
    http_method: String,
    #[serde(rename = "URLPath")]
    url_path: String,
    version: i64,
    #[serde(default)]
    attributes: Option<Map<String, Value>>,
}

/// Reads a `GetSamplingRules` answer: the usable rules sorted by priority then name, and
/// the number of records skipped.
///
/// A record is used only when it is version 1, applies to every resource (`ResourceARN`
/// `*`) and has no `Attributes`, as in the other SDKs: this SDK cannot see the resource ARN
/// or attributes of a request, so such rules could never be matched correctly.
pub(crate) fn parse_rules(body: &[u8]) -> Result<(Vec<RuleDef>, u64), String> {
    let response: RulesResponse = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut skipped = 0u64;
    let mut rules: Vec<RuleDef> = response
        .sampling_rule_records
        .into_iter()
        .filter_map(|record| {
            let usable = serde_json::from_value::<RuleRecord>(record)
                .ok()
                .map(|r| r.sampling_rule)
                .filter(|d| {
                    d.version == 1
                        && d.resource_arn == "*"
                        && d.attributes.as_ref().is_none_or(Map::is_empty)
                        && !d.rule_name.is_empty()
                        && (0.0..=1.0).contains(&d.fixed_rate)
                });
            if usable.is_none() {
                skipped += 1;
            }
            usable
        })
        .map(|d| RuleDef {
            name: d.rule_name,
            priority: d.priority,
            fixed_rate: d.fixed_rate,
            reservoir_size: d.reservoir_size,
            service_name: d.service_name,
            service_type: d.service_type,
            host: d.host,
            http_method: d.http_method,
            url_path: d.url_path,
        })
        .collect();
    rules.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then_with(|| a.name.cmp(&b.name))
    });
    // Names identify rules in statistics and targets; a repeated name (which the service
    // does not send) keeps only its first, highest-priority definition.
    let mut names = std::collections::HashSet::new();
    let before = rules.len();
    rules.retain(|r| names.insert(r.name.clone()));
    skipped += (before - rules.len()) as u64;
    Ok((rules, skipped))
}

/// One rule's counts since its last report.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StatisticsDocument<'a> {
    pub(crate) rule_name: &'a str,
    #[serde(rename = "ClientID")]
    pub(crate) client_id: &'a str,
    /// Epoch seconds.
    pub(crate) timestamp: u64,
    pub(crate) request_count: u64,
    pub(crate) sampled_count: u64,
    pub(crate) borrow_count: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TargetsRequest<'a> {
    sampling_statistics_documents: &'a [StatisticsDocument<'a>],
}

pub(crate) fn targets_body(documents: &[StatisticsDocument<'_>]) -> Vec<u8> {
    // Serialising plain strings and integers cannot fail; an empty body would be refused
    // by the proxy and counted, never a panic.
    serde_json::to_vec(&TargetsRequest {
        sampling_statistics_documents: documents,
    })
    .unwrap_or_default()
}

/// What the service assigns one rule.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TargetDocument {
    pub(crate) rule_name: String,
    #[serde(default)]
    pub(crate) fixed_rate: Option<f64>,
    #[serde(default)]
    pub(crate) reservoir_quota: Option<u64>,
    /// Epoch seconds.
    #[serde(default, rename = "ReservoirQuotaTTL")]
    pub(crate) reservoir_quota_ttl: Option<f64>,
    /// Seconds between reports for this rule.
    #[serde(default)]
    pub(crate) interval: Option<u64>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Unprocessed {
    #[serde(default)]
    pub(crate) rule_name: Option<String>,
    #[serde(default)]
    pub(crate) error_code: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TargetsResponse {
    #[serde(default)]
    pub(crate) sampling_target_documents: Vec<TargetDocument>,
    /// Epoch seconds of the latest change to any rule.
    #[serde(default)]
    pub(crate) last_rule_modification: Option<f64>,
    #[serde(default)]
    pub(crate) unprocessed_statistics: Vec<Unprocessed>,
}

pub(crate) fn parse_targets(body: &[u8]) -> Result<TargetsResponse, String> {
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

/// Epoch seconds as the service sends them (a JSON number) to microseconds; negative or
/// non-finite values become 0 ("long ago").
pub(crate) fn seconds_to_micros(seconds: f64) -> u64 {
    if seconds.is_finite() && seconds > 0.0 {
        (seconds * 1e6) as u64
    } else {
        0
    }
}

/// This process's `ClientID`: 24 random hex digits, the same for every sampler.
pub(crate) fn client_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bytes: [u8; 12] = rand::random();
        bytes
            .iter()
            .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])
            .map(char::from)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, priority: i64, extra: &str) -> String {
        format!(
            r#"{{"SamplingRule":{{"RuleName":"{name}","RuleARN":"arn:x","ResourceARN":"*",
            "Priority":{priority},"FixedRate":0.05,"ReservoirSize":1,"ServiceName":"*",
            "ServiceType":"*","Host":"*","HTTPMethod":"*","URLPath":"*","Version":1{extra}}},
            "CreatedAt":1.5e9,"ModifiedAt":1.5e9}}"#
        )
    }

    #[test]
    fn keeps_applicable_rules_in_priority_then_name_order() {
        let records = [
            record("Default", 10000, r#","Attributes":{}"#),
            record("b", 5, ""),
            record("a", 5, ""),
            record("a", 9, ""),
            record("v2", 1, "").replace(r#""Version":1"#, r#""Version":2"#),
            record("arn", 1, "").replace(r#""ResourceARN":"*""#, r#""ResourceARN":"arn:aws:x""#),
            record("attrs", 1, r#","Attributes":{"k":"v"}"#),
            record("rate", 1, "").replace(r#""FixedRate":0.05"#, r#""FixedRate":2"#),
            record("", 1, ""),
            r#"{"SamplingRule":{"RuleName":"incomplete"}}"#.to_owned(),
            "17".to_owned(),
        ];
        let body = format!(
            r#"{{"SamplingRuleRecords":[{}],"NextToken":null}}"#,
            records.join(",")
        );
        let (rules, skipped) = parse_rules(body.as_bytes()).unwrap();
        let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "Default"]);
        assert_eq!(skipped, 8);
        assert!(parse_rules(b"not json").is_err());
        assert_eq!(parse_rules(b"{}").unwrap().0, []);
    }

    #[test]
    fn statistics_request_shape() {
        let docs = [StatisticsDocument {
            rule_name: "r",
            client_id: "0123456789abcdef01234567",
            timestamp: 1_700_000_000,
            request_count: 3,
            sampled_count: 2,
            borrow_count: 1,
        }];
        let body: Value = serde_json::from_slice(&targets_body(&docs)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"SamplingStatisticsDocuments":[{"RuleName":"r",
                "ClientID":"0123456789abcdef01234567","Timestamp":1_700_000_000,
                "RequestCount":3,"SampledCount":2,"BorrowCount":1}]})
        );
    }

    #[test]
    fn targets_response_fields_are_optional() {
        let t = parse_targets(
            br#"{"SamplingTargetDocuments":[{"RuleName":"r","FixedRate":0.1,"ReservoirQuota":2,
            "ReservoirQuotaTTL":1530923107.0,"Interval":10},{"RuleName":"s"}],
            "LastRuleModification":1530920505.0,
            "UnprocessedStatistics":[{"RuleName":"x","ErrorCode":"400","Message":"m"}]}"#,
        )
        .unwrap();
        assert_eq!(t.sampling_target_documents[0].reservoir_quota, Some(2));
        assert_eq!(t.sampling_target_documents[1].fixed_rate, None);
        assert_eq!(
            seconds_to_micros(t.last_rule_modification.unwrap()),
            1_530_920_505_000_000
        );
        assert_eq!(
            t.unprocessed_statistics[0].error_code.as_deref(),
            Some("400")
        );
        assert!(
            parse_targets(b"{}")
                .unwrap()
                .sampling_target_documents
                .is_empty()
        );
        assert!(parse_targets(b"[").is_err());
        assert_eq!(seconds_to_micros(-1.0), 0);
        assert_eq!(seconds_to_micros(f64::NAN), 0);
    }

    #[test]
    fn client_id_is_24_hex_and_stable() {
        let id = client_id();
        assert_eq!(id.len(), 24);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(client_id(), id);
    }
}
