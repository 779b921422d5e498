//! Configuration from the environment, with a documented default for every bad value.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `AWS_XRAY_DAEMON_ADDRESS` | `host:port`, or `tcp:host:port udp:host:port` | `127.0.0.1:2000` |
//! | `AWS_XRAY_CONTEXT_MISSING` | `LOG_ERROR`, `IGNORE_ERROR`, `RUNTIME_ERROR` (any case) | `LOG_ERROR` |
//! | `AWS_XRAY_SDK_DISABLED` | `true` / `false` (also `1`/`0`, `yes`/`no`, `on`/`off`) | `false` |
//! | `POWERTOOLS_TRACE_DISABLED` | as above | `false` |
//! | `AWS_XRAY_SDK_ENABLED` | as above (`false` disables) | `true` |
//! | `AWS_XRAY_TRACING_NAME` | a segment name for services | unset |
//! | `AWS_XRAY_NOOP_ID` | read for compatibility with the other SDKs (see [`Config::noop_ids`]) | `true` |
//! | `POWERTOOLS_SERVICE_NAME` | the `Service` annotation and metadata namespace | `service_undefined` |
//! | `POWERTOOLS_TRACER_CAPTURE_RESPONSE` | record handler / method results as metadata | `true` |
//! | `POWERTOOLS_TRACER_CAPTURE_ERROR` | record errors as metadata and `cause` | `true` |
//! | `XRAY_RS_OUTPUT` and `OTEL_EXPORTER_OTLP_*` | the output, see [`Output`] | `xray-udp` |
//!
//! A value that cannot be read never stops the program: it produces a [`ConfigWarning`] that
//! names the variable, the value, and the default used instead.

mod daemon_address;
mod output;

pub use daemon_address::{DEFAULT_DAEMON, DaemonAddress, DaemonAddressError};
pub use output::{DEFAULT_OTLP_HTTP_ENDPOINT, HttpEndpoint, OtlpOptions, Output, OutputConfig};

use std::fmt;

/// The service name used when `POWERTOOLS_SERVICE_NAME` is unset (Powertools' choice).
pub const SERVICE_UNDEFINED: &str = "service_undefined";

/// What happens when code records with no trace in scope (`AWS_XRAY_CONTEXT_MISSING`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContextMissing {
    /// Log once per kind of problem to stderr and carry on (the default in every SDK).
    #[default]
    LogError,
    /// Carry on silently.
    IgnoreError,
    /// Make the recording call return an error. The SDKs in other languages throw; in Rust a
    /// panic inside a user's handler is never acceptable, so the strictest mode is an `Err`
    /// from the explicit APIs plus an error log.
    RuntimeError,
}

/// A configuration value that could not be used, and what was used instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The environment variable.
    pub variable: &'static str,
    /// Its value.
    pub value: String,
    /// What was wrong and which default applies.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}: {}", self.variable, self.value, self.message)
    }
}

/// Everything the SDK reads from the environment.
///
/// ```
/// use xray_core::{Config, ContextMissing};
/// let env = [("AWS_XRAY_DAEMON_ADDRESS", "nonsense"), ("AWS_XRAY_CONTEXT_MISSING", "ignore_error")];
/// let (config, warnings) = Config::from_lookup(|k| {
///     env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
/// });
/// assert_eq!(config.daemon.udp.to_string(), "127.0.0.1:2000");
/// assert_eq!(config.context_missing, ContextMissing::IgnoreError);
/// assert_eq!(warnings.len(), 1);
/// assert!(warnings[0].to_string().contains("AWS_XRAY_DAEMON_ADDRESS"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The daemon's UDP and TCP endpoints.
    pub daemon: DaemonAddress,
    /// Behaviour when there is no trace in scope.
    pub context_missing: ContextMissing,
    /// The kill switch: nothing is recorded or sent.
    pub disabled: bool,
    /// `POWERTOOLS_SERVICE_NAME`, or `service_undefined`.
    pub service_name: String,
    /// Record results as metadata (`POWERTOOLS_TRACER_CAPTURE_RESPONSE`).
    pub capture_response: bool,
    /// Record errors (`POWERTOOLS_TRACER_CAPTURE_ERROR`).
    pub capture_error: bool,
    /// `AWS_XRAY_TRACING_NAME`: the segment name for services.
    pub tracing_name: Option<String>,
    /// `AWS_XRAY_NOOP_ID` (not `false`). Other SDKs give unsampled work all-zero ids unless it
    /// is `false`; here unsampled work creates no entities at all (it costs a branch), so there
    /// are no ids to choose, and its downstream headers carry `Root` and `Sampled=0` only. The
    /// value is read and validated so a bad one is reported, and kept for tools that want it.
    pub noop_ids: bool,
    /// The largest datagram sent, header included (see [`crate::DEFAULT_DATAGRAM_LIMIT`]).
    pub datagram_limit: usize,
    /// `LAMBDA_TASK_ROOT` is set: running in Lambda.
    pub in_lambda: bool,
    /// `AWS_LAMBDA_INITIALIZATION_TYPE` is `provisioned-concurrency` (never a cold start).
    pub provisioned_concurrency: bool,
    /// Where recordings go: X-Ray segments or OpenTelemetry spans (see [`Output`];
    /// `XRAY_RS_OUTPUT` and the `OTEL_EXPORTER_OTLP_*` variables).
    pub output: OutputConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            daemon: DaemonAddress::default(),
            context_missing: ContextMissing::default(),
            disabled: false,
            service_name: SERVICE_UNDEFINED.to_owned(),
            capture_response: true,
            capture_error: true,
            tracing_name: None,
            noop_ids: true,
            datagram_limit: crate::emit::DEFAULT_DATAGRAM_LIMIT,
            in_lambda: false,
            provisioned_concurrency: false,
            output: OutputConfig::default(),
        }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> (Config, Vec<ConfigWarning>) {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through `lookup` (an environment stand-in for tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> (Config, Vec<ConfigWarning>) {
        let mut c = Config::default();
        let mut warnings = Vec::new();
        let mut warn = |variable: &'static str, value: &str, message: String| {
            warnings.push(ConfigWarning {
                variable,
                value: value.to_owned(),
                message,
            });
        };

        if let Some(v) = lookup("AWS_XRAY_DAEMON_ADDRESS") {
            match v.parse::<DaemonAddress>() {
                Ok(a) => c.daemon = a,
                Err(e) => warn(
                    "AWS_XRAY_DAEMON_ADDRESS",
                    &v,
                    format!("{e}; using {DEFAULT_DAEMON}"),
                ),
            }
        }
        if let Some(v) = lookup("AWS_XRAY_CONTEXT_MISSING") {
            match v.trim().to_ascii_uppercase().as_str() {
                "LOG_ERROR" => c.context_missing = ContextMissing::LogError,
                "IGNORE_ERROR" => c.context_missing = ContextMissing::IgnoreError,
                "RUNTIME_ERROR" => c.context_missing = ContextMissing::RuntimeError,
                _ => warn(
                    "AWS_XRAY_CONTEXT_MISSING",
                    &v,
                    "expected LOG_ERROR, IGNORE_ERROR or RUNTIME_ERROR; using LOG_ERROR".into(),
                ),
            }
        }
        for (var, disables_when) in [
            ("AWS_XRAY_SDK_DISABLED", true),
            ("POWERTOOLS_TRACE_DISABLED", true),
            ("AWS_XRAY_SDK_ENABLED", false),
        ] {
            if let Some(v) = lookup(var) {
                match parse_bool(&v) {
                    Some(b) => c.disabled |= b == disables_when,
                    None => warn(
                        var,
                        &v,
                        "expected true or false; tracing stays enabled".into(),
                    ),
                }
            }
        }
        for (var, slot) in [
            (
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE",
                &mut c.capture_response,
            ),
            ("POWERTOOLS_TRACER_CAPTURE_ERROR", &mut c.capture_error),
        ] {
            if let Some(v) = lookup(var) {
                match parse_bool(&v) {
                    Some(b) => *slot = b,
                    None => warn(var, &v, "expected true or false; using true".into()),
                }
            }
        }
        if let Some(v) = lookup("AWS_XRAY_NOOP_ID") {
            match parse_bool(&v) {
                Some(b) => c.noop_ids = b,
                None => warn(
                    "AWS_XRAY_NOOP_ID",
                    &v,
                    "expected true or false; using true".into(),
                ),
            }
        }
        if let Some(v) = lookup("POWERTOOLS_SERVICE_NAME") {
            let v = v.trim();
            if v.is_empty() {
                warn(
                    "POWERTOOLS_SERVICE_NAME",
                    v,
                    format!("empty; using {SERVICE_UNDEFINED}"),
                );
            } else {
                v.clone_into(&mut c.service_name);
            }
        }
        if let Some(v) = lookup("AWS_XRAY_TRACING_NAME") {
            let v = v.trim();
            if !v.is_empty() {
                c.tracing_name = Some(v.to_owned());
            }
        }
        c.in_lambda = lookup("LAMBDA_TASK_ROOT").is_some_and(|v| !v.is_empty());
        c.provisioned_concurrency = lookup("AWS_LAMBDA_INITIALIZATION_TYPE")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("provisioned-concurrency"));
        c.output = output::read(&lookup, &mut warnings);
        (c, warnings)
    }
}

/// `true/1/yes/on` or `false/0/no/off`, any case, surrounding spaces ignored.
pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" | "on" => Some(true),
        "false" | "0" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> (Config, Vec<ConfigWarning>) {
        Config::from_lookup(|k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn empty_environment_gives_defaults() {
        let (c, w) = from(&[]);
        assert_eq!(c, Config::default());
        assert!(w.is_empty());
        assert_eq!(c.service_name, "service_undefined");
        assert!(!c.disabled);
    }

    #[test]
    fn reads_every_variable() {
        let (c, w) = from(&[
            (
                "AWS_XRAY_DAEMON_ADDRESS",
                "udp:127.0.0.1:3000 tcp:127.0.0.1:3001",
            ),
            ("AWS_XRAY_CONTEXT_MISSING", " runtime_error "),
            ("POWERTOOLS_SERVICE_NAME", "orders"),
            ("POWERTOOLS_TRACER_CAPTURE_RESPONSE", "FALSE"),
            ("POWERTOOLS_TRACER_CAPTURE_ERROR", "0"),
            ("AWS_XRAY_TRACING_NAME", "checkout"),
            ("AWS_XRAY_NOOP_ID", "false"),
            ("LAMBDA_TASK_ROOT", "/var/task"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency"),
        ]);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.daemon.udp.port(), 3000);
        assert_eq!(c.daemon.tcp.port(), 3001);
        assert_eq!(c.context_missing, ContextMissing::RuntimeError);
        assert_eq!(c.service_name, "orders");
        assert!(!c.capture_response && !c.capture_error && !c.noop_ids);
        assert_eq!(c.tracing_name.as_deref(), Some("checkout"));
        assert!(c.in_lambda && c.provisioned_concurrency);
    }

    #[test]
    fn kill_switches() {
        for pairs in [
            [("AWS_XRAY_SDK_DISABLED", "true")],
            [("POWERTOOLS_TRACE_DISABLED", "1")],
            [("AWS_XRAY_SDK_ENABLED", "off")],
        ] {
            assert!(from(&pairs).0.disabled, "{pairs:?}");
        }
        assert!(!from(&[("AWS_XRAY_SDK_DISABLED", "false")]).0.disabled);
    }

    #[test]
    fn bad_values_warn_and_fall_back() {
        let (c, w) = from(&[
            ("AWS_XRAY_DAEMON_ADDRESS", "tcp:1.2.3.4:5"),
            ("AWS_XRAY_CONTEXT_MISSING", "PANIC"),
            ("AWS_XRAY_SDK_DISABLED", "maybe"),
            ("POWERTOOLS_TRACER_CAPTURE_RESPONSE", "sometimes"),
            ("AWS_XRAY_NOOP_ID", "?"),
            ("POWERTOOLS_SERVICE_NAME", "  "),
        ]);
        let vars: Vec<_> = w.iter().map(|w| w.variable).collect();
        assert_eq!(
            vars,
            [
                "AWS_XRAY_DAEMON_ADDRESS",
                "AWS_XRAY_CONTEXT_MISSING",
                "AWS_XRAY_SDK_DISABLED",
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE",
                "AWS_XRAY_NOOP_ID",
                "POWERTOOLS_SERVICE_NAME",
            ]
        );
        assert_eq!(c.daemon, DaemonAddress::default());
        assert_eq!(c.context_missing, ContextMissing::LogError);
        assert!(!c.disabled && c.capture_response && c.noop_ids);
        assert!(w[0].message.contains("127.0.0.1:2000"), "{}", w[0]);
    }
}
