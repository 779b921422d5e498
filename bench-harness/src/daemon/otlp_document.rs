//! OTLP spans in X-Ray's segment form, so the local X-Ray lists, lays out and maps them like
//! the segments it receives: the reverse of xray-core's mapping (see `xray_core::otlp`), for
//! spans from any sender.

use serde_json::{Map, Value, json};

use super::otlp::{OtlpSpan, hex};

/// OTLP `SPAN_KIND_SERVER`.
const SERVER: u64 = 2;
/// OTLP `SPAN_KIND_CLIENT`.
const CLIENT: u64 = 3;

/// Attributes that become fields of the `http`, `aws` and `sql` objects: (attribute, object,
/// path inside it).
const FIELDS: &[(&str, &str, &[&str])] = &[
    ("http.request.method", "http", &["request", "method"]),
    ("url.full", "http", &["request", "url"]),
    ("user_agent.original", "http", &["request", "user_agent"]),
    ("client.address", "http", &["request", "client_ip"]),
    ("http.response.status_code", "http", &["response", "status"]),
    (
        "http.response.body.size",
        "http",
        &["response", "content_length"],
    ),
    ("rpc.method", "aws", &["operation"]),
    ("aws.request_id", "aws", &["request_id"]),
    ("cloud.region", "aws", &["region"]),
    ("cloud.account.id", "aws", &["account_id"]),
    ("aws.sqs.queue_url", "aws", &["queue_url"]),
    ("aws.dynamodb.table_names", "aws", &["table_name"]),
    ("db.system", "sql", &["database_type"]),
    ("db.query.text", "sql", &["sanitized_query"]),
    ("db.user", "sql", &["user"]),
];

/// The metadata namespace for attributes with no X-Ray field of their own.
const OTEL_NAMESPACE: &str = "otel";

impl OtlpSpan {
    /// The X-Ray trace id (`1-5759e988-bd862e3fe1be46a994272793`) of this span's trace.
    pub fn xray_trace_id(&self) -> String {
        let hex = hex(&self.trace_id);
        format!("1-{}-{}", &hex[..8], &hex[8..])
    }

    /// The span as an X-Ray document: a segment for `SERVER` spans and spans without a parent,
    /// otherwise an independent subsegment under its parent span; `CLIENT` spans get the
    /// namespace `aws` (`rpc.system = "aws-api"`) or `remote`; status `ERROR` becomes `fault`
    /// (`error` for a 4xx, `throttle` for a 429); `exception` events become the `cause`;
    /// annotations listed in `aws.xray.annotations` stay annotations, `aws.xray.metadata.*`
    /// goes back to metadata, known attributes fill `http`, `aws` and `sql`, and the rest is
    /// metadata under `otel`.
    ///
    /// ```
    /// use bench_harness::daemon::FakeDaemon;
    /// use xray_core::{Config, Output, OutputConfig, TraceId, model::{EntityTree, Timestamp}, wire::{EmitBuffer, Emitter}};
    ///
    /// let daemon = FakeDaemon::start().unwrap();
    /// let mut config = Config::default();
    /// config.output = OutputConfig::new(Output::OtlpUdp);
    /// config.daemon.udp = daemon.addr();
    /// let mut tree = EntityTree::new(TraceId::random());
    /// let root = tree.begin_segment("checkout", None, Timestamp::now());
    /// tree.entity_mut(root).put_annotation("user_id", "u-1").unwrap();
    /// tree.end(root, Timestamp::now());
    /// let trace_id = tree.trace_id().to_string();
    /// Emitter::for_config(&config).emit(&mut tree, root, &mut EmitBuffer::new());
    ///
    /// assert!(daemon.wait_for_otlp_spans(1, std::time::Duration::from_secs(10)));
    /// let span = &daemon.otlp_trace(&trace_id).unwrap()[0];
    /// let doc = span.to_xray_document();
    /// assert_eq!((doc["trace_id"].as_str(), doc["name"].as_str()), (Some(&*trace_id), Some("checkout")));
    /// assert_eq!(doc["annotations"]["user_id"], "u-1");
    /// assert!(doc.get("type").is_none(), "the handler's span is a segment");
    /// ```
    pub fn to_xray_document(&self) -> Value {
        let attr = |key: &str| {
            self.attributes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
        };
        let mut doc = Map::new();
        doc.insert("trace_id".into(), json!(self.xray_trace_id()));
        doc.insert("id".into(), json!(hex(&self.span_id)));
        doc.insert("name".into(), json!(self.name));
        #[allow(clippy::cast_precision_loss)]
        let seconds = |nanos: u64| nanos as f64 / 1e9;
        doc.insert("start_time".into(), json!(seconds(self.start_unix_nano)));
        if attr("aws.xray.in_progress") == Some(&Value::Bool(true)) {
            doc.insert("in_progress".into(), json!(true));
        } else {
            doc.insert("end_time".into(), json!(seconds(self.end_unix_nano)));
        }
        if let Some(parent) = self.parent_span_id {
            doc.insert("parent_id".into(), json!(hex(&parent)));
            if self.kind != SERVER {
                doc.insert("type".into(), json!("subsegment"));
            }
        }
        if self.kind == CLIENT {
            let aws = attr("rpc.system").and_then(Value::as_str) == Some("aws-api");
            doc.insert(
                "namespace".into(),
                json!(if aws { "aws" } else { "remote" }),
            );
        }
        if let Some(origin) = attr("aws.xray.origin") {
            doc.insert("origin".into(), origin.clone());
        }
        self.status_into(&mut doc, attr("http.response.status_code"));
        if attr("aws.xray.throttle") == Some(&Value::Bool(true)) {
            doc.insert("throttle".into(), json!(true));
        }
        self.cause_into(&mut doc);
        self.attributes_into(&mut doc);
        Value::Object(doc)
    }

    fn status_into(&self, doc: &mut Map<String, Value>, http_status: Option<&Value>) {
        if !self.error {
            return;
        }
        match http_status.and_then(Value::as_u64) {
            Some(429) => {
                doc.insert("error".into(), json!(true));
                doc.insert("throttle".into(), json!(true));
            }
            Some(400..=499) => {
                doc.insert("error".into(), json!(true));
            }
            _ => {
                doc.insert("fault".into(), json!(true));
            }
        }
    }

    fn cause_into(&self, doc: &mut Map<String, Value>) {
        let exceptions: Vec<Value> = self
            .events
            .iter()
            .filter(|e| e.name == "exception")
            .enumerate()
            .map(|(i, e)| {
                let attr = |key: &str| {
                    e.attributes
                        .iter()
                        .find(|(k, _)| k == key)
                        .and_then(|(_, v)| v.as_str())
                        .unwrap_or_default()
                };
                // OTLP carries the stack as text; each line becomes a frame's label.
                let stack: Vec<Value> = attr("exception.stacktrace")
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| json!({"label": l.trim()}))
                    .collect();
                json!({
                    "id": format!("{}{i:04x}", &hex(&self.span_id)[..12]),
                    "type": attr("exception.type"),
                    "message": attr("exception.message"),
                    "stack": stack,
                })
            })
            .collect();
        if !exceptions.is_empty() {
            doc.insert("cause".into(), json!({ "exceptions": exceptions }));
        }
    }

    fn attributes_into(&self, doc: &mut Map<String, Value>) {
        let indexed: Vec<&str> = self
            .attributes
            .iter()
            .find(|(k, _)| k == "aws.xray.annotations")
            .and_then(|(_, v)| v.as_array())
            .map(|keys| keys.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let (mut annotations, mut metadata) = (Map::new(), Map::new());
        for (key, value) in &self.attributes {
            if indexed.contains(&key.as_str()) {
                annotations.insert(key.clone(), value.clone());
            } else if let Some((object, path)) = FIELDS
                .iter()
                .find(|(k, _, _)| k == key)
                .map(|(_, o, p)| (*o, *p))
            {
                let value = match (key.as_str(), value) {
                    // X-Ray has one table name; OTLP a list.
                    ("aws.dynamodb.table_names", Value::Array(names)) if names.len() == 1 => {
                        names[0].clone()
                    }
                    _ => value.clone(),
                };
                insert_path(doc, object, path, value);
            } else if let Some(rest) = key.strip_prefix("aws.xray.metadata.") {
                let (namespace, name) = rest.split_once('.').unwrap_or(("default", rest));
                // Written as JSON text; shown as the value it was.
                let value = value
                    .as_str()
                    .and_then(|text| serde_json::from_str(text).ok())
                    .unwrap_or_else(|| value.clone());
                insert_path(&mut metadata, namespace, &[name], value);
            } else if !key.starts_with("aws.xray.") {
                insert_path(&mut metadata, OTEL_NAMESPACE, &[key], value.clone());
            }
        }
        if !annotations.is_empty() {
            doc.insert("annotations".into(), Value::Object(annotations));
        }
        if !metadata.is_empty() {
            doc.insert("metadata".into(), Value::Object(metadata));
        }
    }
}

/// Sets `map[object][path...] = value`, creating objects on the way (and replacing non-objects).
fn insert_path(map: &mut Map<String, Value>, object: &str, path: &[&str], value: Value) {
    let mut current = map
        .entry(object.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    for (i, key) in path.iter().enumerate() {
        if !current.is_object() {
            *current = Value::Object(Map::new());
        }
        let Value::Object(m) = current else { return };
        if i + 1 == path.len() {
            m.insert((*key).to_owned(), value);
            return;
        }
        current = m
            .entry((*key).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}
