//! Where recordings go: X-Ray segments over UDP (the default), OTLP over the same UDP
//! endpoint, or OTLP/HTTP to a collector.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `XRAY_RS_OUTPUT` | `xray-udp`, `otlp-udp`, `otlp-http` (any case) | `xray-udp` |
//! | `XRAY_RS_OTLP_UNSAMPLED` | `true` / `false`: also send unsampled invocations as `T1U` (`otlp-udp`) | `false` |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | `http://host[:port][/path]`, used as it is | unset |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | `http://host[:port]`; `/v1/traces` is appended | `http://localhost:4318` |
//! | `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, `OTEL_EXPORTER_OTLP_HEADERS` | `key=value,key2=value2` (values percent-decoded) | none |
//! | `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL` | only `http/protobuf` is supported | `http/protobuf` |
//! | `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION`, `OTEL_EXPORTER_OTLP_COMPRESSION` | `gzip` or `none` (the first one set wins) | `none` |
//! | `AWS_REGION`, `AWS_LAMBDA_FUNCTION_NAME` | the resource's `cloud.region` and `faas.name` | unset |

use super::{ConfigWarning, parse_bool};

/// The default OTLP/HTTP traces endpoint (a collector or Lambda extension on this host).
pub const DEFAULT_OTLP_HTTP_ENDPOINT: &str = "http://localhost:4318/v1/traces";

/// Which wire format and transport the emitter uses.
///
/// ```
/// use xray_core::{Config, Output};
/// let env = [("XRAY_RS_OUTPUT", "otlp-udp")];
/// let (config, warnings) = Config::from_lookup(|k| {
///     env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
/// });
/// assert!(warnings.is_empty());
/// assert!(matches!(config.output.kind, Output::OtlpUdp));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Output {
    /// X-Ray segment documents to the daemon address (the default).
    #[default]
    XrayUdp,
    /// OTLP spans to the daemon address: `T1S` / `T1U` + base64 protobuf, as ADOT sends.
    OtlpUdp,
    /// OTLP/HTTP protobuf POSTed to a collector.
    OtlpHttp(HttpEndpoint),
}

/// An OTLP/HTTP endpoint (plain `http://` only).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpEndpoint {
    /// Host name or address.
    pub host: String,
    /// Port (80 when the URL has none).
    pub port: u16,
    /// Request path, `/v1/traces` by convention.
    pub path: String,
    /// Extra request headers (`OTEL_EXPORTER_OTLP_HEADERS`).
    pub headers: Vec<(String, String)>,
    /// How request bodies are compressed (`OTEL_EXPORTER_OTLP_COMPRESSION`).
    pub compression: Compression,
}

/// OTLP/HTTP body compression.
///
/// ```
/// use xray_core::{Compression, Config, Output};
/// let env = [("XRAY_RS_OUTPUT", "otlp-http"), ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")];
/// let (config, warnings) = Config::from_lookup(|k| {
///     env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
/// });
/// assert!(warnings.is_empty());
/// let Output::OtlpHttp(endpoint) = &config.output.kind else { unreachable!() };
/// assert_eq!(endpoint.compression, Compression::Gzip);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compression {
    /// Sent as written.
    #[default]
    None,
    /// `Content-Encoding: gzip`.
    Gzip,
}

impl HttpEndpoint {
    /// Parses `http://host[:port][/path]`.
    ///
    /// ```
    /// let e = xray_core::HttpEndpoint::parse("http://127.0.0.1:4318/v1/traces").unwrap();
    /// assert_eq!((e.host.as_str(), e.port, e.path.as_str()), ("127.0.0.1", 4318, "/v1/traces"));
    /// assert!(xray_core::HttpEndpoint::parse("https://collector/v1/traces").is_err());
    /// ```
    pub fn parse(url: &str) -> Result<HttpEndpoint, String> {
        let url = url.trim();
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(if url.starts_with("https://") {
                "https is not supported (no TLS client is built in); use a local collector over http".into()
            } else {
                "expected http://host[:port][/path]".into()
            });
        };
        let (authority, path) = match rest.find('/') {
            Some(p) => (&rest[..p], &rest[p..]),
            None => (rest, "/"),
        };
        let port = |p: &str| p.parse::<u16>().map_err(|_| format!("bad port {p:?}"));
        // `[v6]` or `[v6]:port`; otherwise `host` or `host:port`.
        let (host, port) = match authority.strip_prefix('[') {
            Some(bracketed) => {
                let (host, after) = bracketed
                    .split_once(']')
                    .ok_or_else(|| format!("unclosed `[` in {authority:?}"))?;
                match after {
                    "" => (host, 80),
                    _ => match after.strip_prefix(':') {
                        Some(p) => (host, port(p)?),
                        None => return Err(format!("text after `]` in {authority:?}")),
                    },
                }
            }
            None => match authority.rsplit_once(':') {
                Some((h, p)) => (h, port(p)?),
                None => (authority, 80),
            },
        };
        if host.is_empty() {
            return Err("no host".into());
        }
        Ok(HttpEndpoint {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
            headers: Vec::new(),
            compression: Compression::None,
        })
    }
}

/// The output and its settings: [`crate::Config::output`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct OutputConfig {
    /// Which output (`XRAY_RS_OUTPUT`).
    pub kind: Output,
    /// The OTLP settings.
    pub otlp: OtlpOptions,
}

impl OutputConfig {
    /// `kind` with default OTLP settings.
    pub fn new(kind: Output) -> OutputConfig {
        OutputConfig {
            kind,
            otlp: OtlpOptions::default(),
        }
    }
}

/// The OTLP settings besides the output itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct OtlpOptions {
    /// Send unsampled invocations as `T1U` (`XRAY_RS_OTLP_UNSAMPLED`, `otlp-udp` only).
    pub unsampled: bool,
    /// `AWS_REGION`, the resource's `cloud.region`.
    pub region: Option<String>,
    /// `AWS_LAMBDA_FUNCTION_NAME`, the resource's `faas.name`.
    pub function_name: Option<String>,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_headers(v: &str) -> Option<Vec<(String, String)>> {
    v.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (percent_decode(k), percent_decode(v.trim())))
        })
        .collect()
}

/// Reads the output settings; bad values become warnings and the documented default.
pub(crate) fn read(
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<ConfigWarning>,
) -> OutputConfig {
    let mut warn = |variable: &'static str, value: &str, message: String| {
        warnings.push(ConfigWarning {
            variable,
            value: value.to_owned(),
            message,
        });
    };
    let mut options = OtlpOptions {
        region: lookup("AWS_REGION").filter(|v| !v.trim().is_empty()),
        function_name: lookup("AWS_LAMBDA_FUNCTION_NAME").filter(|v| !v.trim().is_empty()),
        ..OtlpOptions::default()
    };
    if let Some(v) = lookup("XRAY_RS_OTLP_UNSAMPLED") {
        match parse_bool(&v) {
            Some(b) => options.unsampled = b,
            None => warn(
                "XRAY_RS_OTLP_UNSAMPLED",
                &v,
                "expected true or false; using false".into(),
            ),
        }
    }
    let output = match lookup("XRAY_RS_OUTPUT") {
        None => Output::XrayUdp,
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "" | "xray-udp" | "xray" => Output::XrayUdp,
            "otlp-udp" => Output::OtlpUdp,
            "otlp-http" => Output::OtlpHttp(read_endpoint(lookup, &mut warn)),
            _ => {
                warn(
                    "XRAY_RS_OUTPUT",
                    &v,
                    "expected xray-udp, otlp-udp or otlp-http; using xray-udp".into(),
                );
                Output::XrayUdp
            }
        },
    };
    OutputConfig {
        kind: output,
        otlp: options,
    }
}

fn read_endpoint(
    lookup: &dyn Fn(&str) -> Option<String>,
    warn: &mut impl FnMut(&'static str, &str, String),
) -> HttpEndpoint {
    let default = || HttpEndpoint::parse(DEFAULT_OTLP_HTTP_ENDPOINT).expect("valid default");
    for var in [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        if let Some(v) = lookup(var)
            && v.trim() != "http/protobuf"
        {
            warn(var, &v, "only http/protobuf is supported; using it".into());
        }
    }
    let mut endpoint = if let Some(v) = lookup("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        HttpEndpoint::parse(&v).unwrap_or_else(|e| {
            warn(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                &v,
                format!("{e}; using {DEFAULT_OTLP_HTTP_ENDPOINT}"),
            );
            default()
        })
    } else if let Some(v) = lookup("OTEL_EXPORTER_OTLP_ENDPOINT") {
        let base = v.trim().trim_end_matches('/');
        HttpEndpoint::parse(&format!("{base}/v1/traces")).unwrap_or_else(|e| {
            warn(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                &v,
                format!("{e}; using {DEFAULT_OTLP_HTTP_ENDPOINT}"),
            );
            default()
        })
    } else {
        default()
    };
    let compression = [
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
    ]
    .into_iter()
    .find_map(|var| lookup(var).map(|v| (var, v)));
    if let Some((var, v)) = compression {
        match v.trim().to_ascii_lowercase().as_str() {
            "gzip" => endpoint.compression = Compression::Gzip,
            "" | "none" => {}
            _ => warn(var, &v, "expected gzip or none; using none".into()),
        }
    }
    for var in [
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    ] {
        if let Some(v) = lookup(var) {
            match parse_headers(&v) {
                // Traces-specific headers come second and win on the same key.
                Some(h) => {
                    for (k, val) in h {
                        endpoint
                            .headers
                            .retain(|(old, _)| !old.eq_ignore_ascii_case(&k));
                        endpoint.headers.push((k, val));
                    }
                }
                None => warn(var, &v, "expected key=value,key2=value2; ignored".into()),
            }
        }
    }
    endpoint
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_from(pairs: &[(&str, &str)]) -> (Output, OtlpOptions, Vec<ConfigWarning>) {
        let lookup = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        };
        let mut w = Vec::new();
        let c = read(&lookup, &mut w);
        (c.kind, c.otlp, w)
    }

    #[test]
    fn default_is_xray_udp() {
        let (o, opts, w) = read_from(&[]);
        assert_eq!(o, Output::XrayUdp);
        assert!(!opts.unsampled && w.is_empty());
    }

    #[test]
    fn otlp_http_follows_the_exporter_conventions() {
        let (o, _, w) = read_from(&[
            ("XRAY_RS_OUTPUT", " OTLP-HTTP "),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4319/"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b, x=1"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x=2"),
        ]);
        assert!(w.is_empty(), "{w:?}");
        let Output::OtlpHttp(e) = o else {
            panic!("{o:?}")
        };
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("127.0.0.1", 4319, "/v1/traces")
        );
        assert_eq!(
            e.headers,
            [("api-key".into(), "a b".into()), ("x".into(), "2".into())]
        );
        let (o, _, _) = read_from(&[
            ("XRAY_RS_OUTPUT", "otlp-http"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:1"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://[::1]:9000/traces",
            ),
        ]);
        let Output::OtlpHttp(e) = o else {
            panic!("{o:?}")
        };
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("::1", 9000, "/traces")
        );
        // A bracketed address without a port takes the default one.
        let e = HttpEndpoint::parse("http://[::1]/v1/traces").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 80));
        for bad in ["http://[::1/x", "http://[::1]x:9/x", "http://h:port/x"] {
            assert!(HttpEndpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_values_warn_and_fall_back() {
        let (o, opts, w) = read_from(&[
            ("XRAY_RS_OUTPUT", "zipkin"),
            ("XRAY_RS_OTLP_UNSAMPLED", "perhaps"),
        ]);
        assert_eq!(o, Output::XrayUdp);
        assert!(!opts.unsampled);
        let vars: Vec<_> = w.iter().map(|w| w.variable).collect();
        assert_eq!(vars, ["XRAY_RS_OTLP_UNSAMPLED", "XRAY_RS_OUTPUT"]);
        let (o, _, w) = read_from(&[
            ("XRAY_RS_OUTPUT", "otlp-http"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://xray.eu-west-1.amazonaws.com/v1/traces",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
        ]);
        assert_eq!(
            o,
            Output::OtlpHttp(HttpEndpoint::parse(DEFAULT_OTLP_HTTP_ENDPOINT).unwrap())
        );
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[1].message.contains("https"), "{}", w[1]);
    }

    #[test]
    fn compression_is_gzip_or_none_the_traces_variable_first() {
        let compression = |pairs: &[(&str, &str)]| {
            let mut all = vec![("XRAY_RS_OUTPUT", "otlp-http")];
            all.extend_from_slice(pairs);
            let (o, _, w) = read_from(&all);
            let Output::OtlpHttp(e) = o else {
                panic!("{o:?}")
            };
            (e.compression, w.len())
        };
        assert_eq!(compression(&[]), (Compression::None, 0));
        assert_eq!(
            compression(&[("OTEL_EXPORTER_OTLP_COMPRESSION", " GZIP ")]),
            (Compression::Gzip, 0)
        );
        assert_eq!(
            compression(&[
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
                ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none"),
            ]),
            (Compression::None, 0)
        );
        assert_eq!(
            compression(&[("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd")]),
            (Compression::None, 1)
        );
    }
}
