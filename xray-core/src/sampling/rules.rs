//! The local sampling rules file (versions 1 and 2): parsing and validation.
//!
//! ```json
//! {
//!   "version": 2,
//!   "rules": [
//!     {"description": "checkout", "host": "*", "http_method": "POST", "url_path": "/checkout",
//!      "fixed_target": 10, "rate": 0.5}
//!   ],
//!   "default": {"fixed_target": 1, "rate": 0.05}
//! }
//! ```
//!
//! Version 1 names the host field `service_name`; otherwise the versions are the same. The
//! file is read into a `serde_json::Value` and checked by hand rather than derived, so that
//! every error names the exact field (`rules[2].rate`) and the value found. Unknown fields
//! are refused rather than ignored, so a misspelt key (`url-path`) is reported instead of
//! silently widening a rule.

use std::fmt;
use std::path::PathBuf;

use serde_json::{Map, Value};

use super::pattern::Wildcard;
use super::reservoir::Reservoir;

/// Why a rules file was refused.
///
/// ```
/// use xray_core::sampling::LocalSampler;
/// let err = LocalSampler::from_json(r#"{"version":2,"default":{"fixed_target":1,"rate":0.05},
///   "rules":[{"host":"*","http_method":"*","url_path":"/a","fixed_target":1,"rate":1.5}]}"#)
///     .unwrap_err();
/// assert_eq!(err.to_string(), "rules[0].rate: must be between 0 and 1, got 1.5");
/// assert_eq!(err.field(), Some("rules[0].rate"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RulesError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The text is not JSON.
    Json {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// The parser's description.
        message: String,
    },
    /// The JSON is well formed but a field is missing, has the wrong type or is out of range.
    Invalid {
        /// Where, as a path: `version`, `default.rate`, `rules[2].url_path`; `$` is the
        /// whole document.
        field: String,
        /// What is wrong and what was expected.
        message: String,
    },
}

impl RulesError {
    /// The offending field, for [`RulesError::Invalid`].
    pub fn field(&self) -> Option<&str> {
        match self {
            RulesError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }

    fn invalid(field: impl Into<String>, message: impl Into<String>) -> RulesError {
        RulesError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RulesError::Io { path, source } => {
                write!(
                    f,
                    "cannot read sampling rules file {}: {source}",
                    path.display()
                )
            }
            RulesError::Json {
                line,
                column,
                message,
            } => write!(
                f,
                "sampling rules are not valid JSON (line {line}, column {column}): {message}"
            ),
            RulesError::Invalid { field, message } => write!(f, "{field}: {message}"),
        }
    }
}

impl std::error::Error for RulesError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RulesError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A validated rules file.
#[derive(Debug)]
pub(crate) struct LocalRules {
    pub(crate) version: u8,
    pub(crate) rules: Vec<LocalRule>,
    pub(crate) default: LocalRule,
}

/// One rule; the default rule has `*` for every pattern.
#[derive(Debug)]
pub(crate) struct LocalRule {
    pub(crate) host: Wildcard,
    pub(crate) http_method: Wildcard,
    pub(crate) url_path: Wildcard,
    pub(crate) rate: f64,
    pub(crate) reservoir: Reservoir,
}

const RULE_FIELDS_V2: &[&str] = &[
    "description",
    "id",
    "host",
    "http_method",
    "url_path",
    "fixed_target",
    "rate",
];
const RULE_FIELDS_V1: &[&str] = &[
    "description",
    "id",
    "service_name",
    "http_method",
    "url_path",
    "fixed_target",
    "rate",
];
const DEFAULT_FIELDS: &[&str] = &["description", "id", "fixed_target", "rate"];
const MATCH_FIELDS: &[&str] = &["host", "service_name", "http_method", "url_path"];

impl LocalRules {
    pub(crate) fn parse(json: &str) -> Result<LocalRules, RulesError> {
        let doc: Value = serde_json::from_str(json).map_err(|e| RulesError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let Value::Object(doc) = doc else {
            return Err(RulesError::invalid(
                "$",
                format!("must be a JSON object, got {}", shown(&doc)),
            ));
        };
        for key in doc.keys() {
            if !["version", "default", "rules"].contains(&key.as_str()) {
                return Err(RulesError::invalid(
                    key.as_str(),
                    "unknown field; expected version, default and rules",
                ));
            }
        }

        let version = match doc.get("version") {
            None => {
                return Err(RulesError::invalid(
                    "version",
                    "is required; expected 1 or 2",
                ));
            }
            Some(v) => match v.as_u64() {
                Some(1) => 1,
                Some(2) => 2,
                _ => {
                    return Err(RulesError::invalid(
                        "version",
                        format!("must be 1 or 2, got {}", shown(v)),
                    ));
                }
            },
        };

        let default = match doc.get("default") {
            None => {
                return Err(RulesError::invalid(
                    "default",
                    "is required: the rule for requests no other rule matches",
                ));
            }
            Some(v) => parse_default(object(v, "default")?)?,
        };

        let rules = match doc.get("rules") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let path = format!("rules[{i}]");
                    parse_rule(object(item, &path)?, &path, version)
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(RulesError::invalid(
                    "rules",
                    format!("must be an array, got {}", shown(other)),
                ));
            }
        };

        Ok(LocalRules {
            version,
            rules,
            default,
        })
    }
}

fn parse_default(obj: &Map<String, Value>) -> Result<LocalRule, RulesError> {
    for key in obj.keys() {
        if MATCH_FIELDS.contains(&key.as_str()) {
            return Err(RulesError::invalid(
                format!("default.{key}"),
                "not allowed in the default rule, which matches every request",
            ));
        }
        if !DEFAULT_FIELDS.contains(&key.as_str()) {
            return Err(unknown_field("default", key, DEFAULT_FIELDS));
        }
    }
    optional_label(obj, "default")?;
    let star = Wildcard::new("*");
    Ok(LocalRule {
        host: star.clone(),
        http_method: star.clone(),
        url_path: star,
        reservoir: Reservoir::new(fixed_target(obj, "default")?),
        rate: rate(obj, "default")?,
    })
}

fn parse_rule(obj: &Map<String, Value>, path: &str, version: u8) -> Result<LocalRule, RulesError> {
    let (fields, host_key) = if version == 1 {
        (RULE_FIELDS_V1, "service_name")
    } else {
        (RULE_FIELDS_V2, "host")
    };
    for key in obj.keys() {
        match (key.as_str(), version) {
            ("host", 1) => {
                return Err(RulesError::invalid(
                    format!("{path}.host"),
                    "not a version 1 field; version 1 calls it `service_name`",
                ));
            }
            ("service_name", 2) => {
                return Err(RulesError::invalid(
                    format!("{path}.service_name"),
                    "not a version 2 field; version 2 calls it `host`",
                ));
            }
            (k, _) if !fields.contains(&k) => return Err(unknown_field(path, key, fields)),
            _ => {}
        }
    }
    optional_label(obj, path)?;
    Ok(LocalRule {
        host: pattern(obj, path, host_key)?,
        http_method: pattern(obj, path, "http_method")?,
        url_path: pattern(obj, path, "url_path")?,
        reservoir: Reservoir::new(fixed_target(obj, path)?),
        rate: rate(obj, path)?,
    })
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, RulesError> {
    v.as_object()
        .ok_or_else(|| RulesError::invalid(path, format!("must be an object, got {}", shown(v))))
}

fn unknown_field(path: &str, key: &str, expected: &[&str]) -> RulesError {
    RulesError::invalid(
        format!("{path}.{key}"),
        format!("unknown field; expected one of {}", expected.join(", ")),
    )
}

/// `description` and `id` are free text kept only for the author; they are checked for type
/// so a misplaced value is not silently ignored.
fn optional_label(obj: &Map<String, Value>, path: &str) -> Result<(), RulesError> {
    if let Some(v) = obj.get("description")
        && !v.is_string()
    {
        return Err(RulesError::invalid(
            format!("{path}.description"),
            format!("must be a string, got {}", shown(v)),
        ));
    }
    if let Some(v) = obj.get("id")
        && !(v.is_string() || v.is_u64() || v.is_i64())
    {
        return Err(RulesError::invalid(
            format!("{path}.id"),
            format!("must be a string or an integer, got {}", shown(v)),
        ));
    }
    Ok(())
}

fn pattern(obj: &Map<String, Value>, path: &str, key: &str) -> Result<Wildcard, RulesError> {
    match obj.get(key) {
        None => Err(RulesError::invalid(
            format!("{path}.{key}"),
            "is required; use \"*\" to match anything",
        )),
        Some(Value::String(s)) if s.is_empty() => Err(RulesError::invalid(
            format!("{path}.{key}"),
            "must not be empty (an empty pattern matches only empty values); use \"*\" to match anything",
        )),
        Some(Value::String(s)) => Ok(Wildcard::new(s)),
        Some(other) => Err(RulesError::invalid(
            format!("{path}.{key}"),
            format!("must be a string, got {}", shown(other)),
        )),
    }
}

fn fixed_target(obj: &Map<String, Value>, path: &str) -> Result<u64, RulesError> {
    match obj.get("fixed_target") {
        None => Err(RulesError::invalid(
            format!("{path}.fixed_target"),
            "is required: the number of requests sampled each second before `rate` applies",
        )),
        Some(v) => v.as_u64().ok_or_else(|| {
            RulesError::invalid(
                format!("{path}.fixed_target"),
                format!("must be a whole number >= 0, got {}", shown(v)),
            )
        }),
    }
}

fn rate(obj: &Map<String, Value>, path: &str) -> Result<f64, RulesError> {
    match obj.get("rate") {
        None => Err(RulesError::invalid(
            format!("{path}.rate"),
            "is required: the fraction of requests sampled beyond `fixed_target`, 0 to 1",
        )),
        Some(v) => match v.as_f64() {
            Some(r) if (0.0..=1.0).contains(&r) => Ok(r),
            _ => Err(RulesError::invalid(
                format!("{path}.rate"),
                format!("must be between 0 and 1, got {}", shown(v)),
            )),
        },
    }
}

/// A value as JSON, cut short so an error message stays one readable line.
fn shown(v: &Value) -> String {
    const MAX: usize = 40;
    let text = v.to_string();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests;
