//! Configuration from the environment, with a documented default for every bad value.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `AWS_XRAY_DAEMON_ADDRESS` | `host:port`, or `tcp:host:port udp:host:port` | `127.0.0.1:2000` |
//! | `AWS_XRAY_CONTEXT_MISSING` | `LOG_ERROR`, `IGNORE_ERROR`, `RUNTIME_ERROR` (any case; see [`ContextMissing`]) | `LOG_ERROR` |
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

mod context_missing;
mod daemon_address;
mod output;

pub(crate) use context_missing::CONTEXT_MISSING_LOG;

pub use daemon_address::{DEFAULT_DAEMON, DaemonAddress, DaemonAddressError};
pub use output::{
    Compression, DEFAULT_OTLP_HTTP_ENDPOINT, HttpEndpoint, OtlpOptions, Output, OutputConfig,
};

use std::fmt;

/// The service name used when `POWERTOOLS_SERVICE_NAME` is unset (Powertools' choice).
pub const SERVICE_UNDEFINED: &str = "service_undefined";

/// What happens when code records with no trace in scope (`AWS_XRAY_CONTEXT_MISSING`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContextMissing {
    /// Log a line to stderr and carry on (the default in every SDK). At most 10 lines a minute
    /// are written; the others are counted (`TracerStats::context_missing`) and the next line
    /// written says how many were left out.
    #[default]
    LogError,
    /// Carry on silently (still counted).
    IgnoreError,
    /// Accepted for compatibility; behaves as [`ContextMissing::LogError`]. The SDKs in other
    /// languages throw; here a panic inside a user's handler is never acceptable, so nothing
    /// is raised. Code that must know uses the `try_*` functions
    /// ([`try_put_annotation`](crate::try_put_annotation),
    /// [`try_put_metadata`](crate::try_put_metadata)), which return
    /// `Err(RecordError::NoEntity)` outside a recorded invocation in every mode. Lines are
    /// rate-limited as in `LogError`.
    RuntimeError,
}

/// A configuration value that could not be used, and what was used instead.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
///
/// Non-exhaustive, so fields can be added: start from [`Config::default`] or
/// [`Config::from_env`] and assign fields, or use [`Tracer::builder`](crate::Tracer::builder).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The daemon's UDP and TCP endpoints.
    pub daemon: DaemonAddress,
    /// The UDP `host:port` of `AWS_XRAY_DAEMON_ADDRESS` when its name did not resolve at
    /// configuration time: [`Tracer::new`](crate::Tracer::new) sends to `daemon.udp` (the
    /// default) meanwhile and retries the name in the background (see
    /// [`Emitter::udp_resolving`](crate::wire::Emitter::udp_resolving)).
    pub daemon_unresolved: Option<String>,
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
    /// The largest datagram sent, header included (see [`crate::wire::DEFAULT_DATAGRAM_LIMIT`]).
    pub datagram_limit: usize,
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
            daemon_unresolved: None,
            context_missing: ContextMissing::default(),
            disabled: false,
            service_name: SERVICE_UNDEFINED.to_owned(),
            capture_response: true,
            capture_error: true,
            tracing_name: None,
            noop_ids: true,
            datagram_limit: crate::emit::DEFAULT_DATAGRAM_LIMIT,
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
                Err(e @ DaemonAddressError::Resolve(_)) => {
                    // A sidecar's name may not exist yet: the UDP endpoint's is retried by the
                    // emitter, off the hot path; segments go to the default meanwhile.
                    let udp = daemon_address::udp_text(&v);
                    let failed_host = match &e {
                        DaemonAddressError::Resolve(h) => h.as_str(),
                        _ => "",
                    };
                    if udp.and_then(|u| u.rsplit_once(':')).map(|(h, _)| h) == Some(failed_host) {
                        c.daemon_unresolved = udp.map(str::to_owned);
                    } else if let Some(Ok(a)) = udp.map(str::parse::<DaemonAddress>) {
                        // Only the TCP (sampling) name failed.
                        c.daemon.udp = a.udp;
                    }
                    let retry = if c.daemon_unresolved.is_some() {
                        "; retrying the UDP endpoint in the background"
                    } else {
                        ""
                    };
                    // Says what is used: the UDP endpoint kept when only the TCP name failed.
                    warn(
                        "AWS_XRAY_DAEMON_ADDRESS",
                        &v,
                        format!(
                            "{e}; segments to {}, sampling rules from {}{retry}",
                            c.daemon.udp, c.daemon.tcp
                        ),
                    );
                }
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
            } else if !crate::annotation::is_valid_metadata_namespace(v) {
                // The name is also the metadata namespace, and `AWS.` ones are refused: every
                // response, error and `put_metadata` would be lost.
                warn(
                    "POWERTOOLS_SERVICE_NAME",
                    v,
                    format!(
                        "names starting with `AWS.` are reserved for metadata namespaces; \
                         using {SERVICE_UNDEFINED}"
                    ),
                );
            } else {
                v.clone_into(&mut c.service_name);
            }
        }
        if let Some(v) = lookup("AWS_XRAY_TRACING_NAME") {
            let v = v.trim();
            if !v.is_empty() {
                let mut name = String::new();
                if crate::name::sanitize_name_into(v, &mut name) {
                    warn(
                        "AWS_XRAY_TRACING_NAME",
                        v,
                        format!(
                            "not a valid segment name (characters outside the allowed set, or \
                             over 200 characters); using `{name}`"
                        ),
                    );
                }
                c.tracing_name = Some(name);
            }
        }
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
mod tests;
