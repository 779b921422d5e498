//! The official segment-document schema, compiled once as draft-04.

use serde_json::Value;

/// The official schema (v1.0.0), vendored verbatim.
pub(crate) const SEGMENT_SCHEMA: &str = include_str!("../../schema/segment-schema.json");

/// Messages longer than this (the name pattern alone is 3 000 characters) are cut.
const MAX_MESSAGE_CHARS: usize = 240;

/// One compiled schema, or why it did not compile.
///
/// The schema is a constant, so compiling it fails only if the vendored file is broken, which a
/// unit test rules out. Keeping the error instead of panicking means a broken build still never
/// panics: every document then carries the compile error as a schema error.
pub(crate) struct Compiled {
    /// The schema as compiled, to look up what a failing keyword sits next to.
    schema: Value,
    validator: Result<jsonschema::Validator, String>,
}

impl Compiled {
    /// The schema for top-level documents: segments and independent subsegments.
    pub(crate) fn segment() -> Compiled {
        match parse() {
            Ok(schema) => Compiled::new(schema),
            Err(e) => Compiled::broken(e),
        }
    }

    /// The schema's `definitions/subsegment`, for subsegments embedded in a parent.
    ///
    /// The definition refers to its siblings (`#/definitions/exception`, itself), so it is
    /// wrapped in a document that keeps every definition and points at the one wanted.
    pub(crate) fn embedded_subsegment() -> Compiled {
        let definitions = match parse() {
            Ok(mut schema) => match schema.get_mut("definitions") {
                Some(d) => d.take(),
                None => return Compiled::broken("the schema has no `definitions`".to_owned()),
            },
            Err(e) => return Compiled::broken(e),
        };
        Compiled::new(serde_json::json!({
            "$schema": "http://json-schema.org/draft-04/schema#",
            "definitions": definitions,
            "allOf": [{ "$ref": "#/definitions/subsegment" }],
        }))
    }

    fn new(schema: Value) -> Compiled {
        let validator = jsonschema::draft4::new(&schema)
            .map_err(|e| format!("the vendored schema does not compile: {e}"));
        Compiled { schema, validator }
    }

    fn broken(error: String) -> Compiled {
        Compiled {
            schema: Value::Null,
            validator: Err(error),
        }
    }

    /// Why the schema did not compile, if it did not.
    pub(crate) fn error(&self) -> Option<&str> {
        self.validator.as_ref().err().map(String::as_str)
    }

    /// Appends one message per schema violation in `doc`, each prefixed with its path.
    pub(crate) fn check(&self, doc: &Value, out: &mut Vec<String>) {
        match &self.validator {
            Ok(validator) => {
                for error in validator.iter_errors(doc) {
                    let path = error.instance_path().as_str().trim_start_matches('/');
                    let path = if path.is_empty() { super::ROOT } else { path };
                    out.push(format!("{path}: {}", self.describe(&error)));
                }
            }
            Err(e) => out.push(format!("{}: schema unavailable: {e}", super::ROOT)),
        }
    }

    /// The crate's message, completed where it leaves out the rule that failed, and cut
    /// where it quotes a huge pattern.
    fn describe(&self, error: &jsonschema::ValidationError<'_>) -> String {
        let mut message = error.to_string();
        let keyword = error.schema_path().as_str();
        // "Additional properties are not allowed" does not say what keys are allowed; for
        // annotations that is the whole point.
        if let Some(parent) = keyword.strip_suffix("/additionalProperties") {
            let patterns = self
                .schema
                .pointer(parent)
                .and_then(|s| s.get("patternProperties"))
                .and_then(Value::as_object);
            if let Some(patterns) = patterns.filter(|p| !p.is_empty()) {
                let list: Vec<String> = patterns.keys().map(|k| format!("'{k}'")).collect();
                message.push_str("; keys must match ");
                message.push_str(&list.join(" or "));
            }
        }
        if message.chars().count() > MAX_MESSAGE_CHARS {
            message = message.chars().take(MAX_MESSAGE_CHARS - 40).collect();
            message.push_str("… (see the schema at ");
            message.push_str(keyword);
            message.push(')');
        }
        message
    }
}

fn parse() -> Result<Value, String> {
    serde_json::from_str(SEGMENT_SCHEMA)
        .map_err(|e| format!("the vendored schema is not JSON: {e}"))
}
