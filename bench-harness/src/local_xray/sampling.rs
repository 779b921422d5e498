//! The daemon's TCP sampling proxy, answered locally with X-Ray's default rule (one request a
//! second, then 5 %), so SDKs polling for centralized rules get what a fresh account serves.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::serve::{Reply, Request};

/// Seconds between the SDK's statistics reports, as the service assigns them.
const INTERVAL_SECS: u64 = 10;

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Answers `POST /GetSamplingRules` and `POST /SamplingTargets`.
pub(super) fn handle(req: &Request) -> Reply {
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/GetSamplingRules") => Reply::json(200, rules().to_string()),
        ("POST", "/SamplingTargets") => match serde_json::from_slice::<Value>(&req.body) {
            Ok(body) => Reply::json(200, targets(&body).to_string()),
            Err(e) => Reply::json(
                400,
                json!({"Message": format!("the body is not JSON: {e}")}).to_string(),
            ),
        },
        _ => Reply::json(
            404,
            json!({"Message": "expected POST /GetSamplingRules or /SamplingTargets"}).to_string(),
        ),
    }
}

fn rules() -> Value {
    json!({
        "SamplingRuleRecords": [{
            "SamplingRule": {
                "RuleName": "Default",
                "RuleARN": "arn:aws:xray:us-east-1:000000000000:sampling-rule/Default",
                "ResourceARN": "*",
                "Priority": 10000,
                "FixedRate": 0.05,
                "ReservoirSize": 1,
                "ServiceName": "*",
                "ServiceType": "*",
                "Host": "*",
                "HTTPMethod": "*",
                "URLPath": "*",
                "Version": 1,
                "Attributes": {}
            },
            "CreatedAt": 0.0,
            "ModifiedAt": 0.0
        }],
        "NextToken": null
    })
}

/// One target per reported rule: the default rule's quota for a single client.
fn targets(body: &Value) -> Value {
    let now = now_secs();
    let documents: Vec<Value> = body
        .get("SamplingStatisticsDocuments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("RuleName").and_then(Value::as_str))
        .map(|rule| {
            json!({
                "RuleName": rule,
                "FixedRate": 0.05,
                "ReservoirQuota": 1,
                "ReservoirQuotaTTL": now + INTERVAL_SECS as f64,
                "Interval": INTERVAL_SECS
            })
        })
        .collect();
    json!({
        "SamplingTargetDocuments": documents,
        "LastRuleModification": 0.0,
        "UnprocessedStatistics": []
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_answer_every_reported_rule() {
        let body = json!({"SamplingStatisticsDocuments": [
            {"RuleName": "Default", "ClientID": "c", "Timestamp": 1, "RequestCount": 3,
             "SampledCount": 1, "BorrowCount": 0}
        ]});
        let answer = targets(&body);
        let docs = answer["SamplingTargetDocuments"].as_array().unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0]["RuleName"], "Default");
        assert!(docs[0]["ReservoirQuotaTTL"].as_f64().unwrap() > now_secs());
        assert_eq!(
            rules()["SamplingRuleRecords"][0]["SamplingRule"]["FixedRate"],
            0.05
        );
    }
}
