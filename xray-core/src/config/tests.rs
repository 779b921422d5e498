//! Reading the environment: every variable, and every bad value's warning and fallback.

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
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency"),
    ]);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.daemon.udp.port(), 3000);
    assert_eq!(c.daemon.tcp.port(), 3001);
    assert_eq!(c.context_missing, ContextMissing::RuntimeError);
    assert_eq!(c.service_name, "orders");
    assert!(!c.capture_response && !c.capture_error && !c.noop_ids);
    assert_eq!(c.tracing_name.as_deref(), Some("checkout"));
    assert!(c.provisioned_concurrency);
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

#[test]
fn reserved_service_name_warns_and_keeps_metadata_working() {
    let (c, w) = from(&[("POWERTOOLS_SERVICE_NAME", "AWS.orders")]);
    assert_eq!(c.service_name, SERVICE_UNDEFINED);
    assert!(crate::annotation::is_valid_metadata_namespace(
        &c.service_name
    ));
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].variable, "POWERTOOLS_SERVICE_NAME");
    assert!(w[0].message.contains("AWS."), "{}", w[0]);
}

#[test]
fn tracing_name_is_repaired_with_a_warning() {
    let (c, w) = from(&[("AWS_XRAY_TRACING_NAME", "check\u{7}out\nnow")]);
    assert_eq!(c.tracing_name.as_deref(), Some("check_out_now"));
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].variable, "AWS_XRAY_TRACING_NAME");
    let (c, w) = from(&[("AWS_XRAY_TRACING_NAME", "checkout")]);
    assert_eq!(c.tracing_name.as_deref(), Some("checkout"));
    assert!(w.is_empty());
}

#[test]
fn an_unresolved_daemon_name_is_kept_for_retrying() {
    let (c, w) = from(&[("AWS_XRAY_DAEMON_ADDRESS", "xray-daemon.invalid:2000")]);
    assert_eq!(c.daemon, DaemonAddress::default());
    assert_eq!(
        c.daemon_unresolved.as_deref(),
        Some("xray-daemon.invalid:2000")
    );
    assert!(w[0].message.contains("retrying"), "{}", w[0]);
    let (c, _) = from(&[(
        "AWS_XRAY_DAEMON_ADDRESS",
        "tcp:127.0.0.1:2000 udp:xray-daemon.invalid:2000",
    )]);
    assert_eq!(
        c.daemon_unresolved.as_deref(),
        Some("xray-daemon.invalid:2000")
    );
    // Only the TCP name fails: segments go where they were told, nothing to retry, and the
    // warning says so.
    let (c, w) = from(&[(
        "AWS_XRAY_DAEMON_ADDRESS",
        "tcp:xray-daemon.invalid:2000 udp:127.0.0.3:2001",
    )]);
    assert_eq!(c.daemon_unresolved, None);
    assert_eq!(c.daemon.udp.to_string(), "127.0.0.3:2001");
    assert_eq!(c.daemon.tcp, DEFAULT_DAEMON);
    assert!(
        w[0].message.contains("segments to 127.0.0.3:2001")
            && w[0]
                .message
                .contains(&format!("sampling rules from {DEFAULT_DAEMON}")),
        "{}",
        w[0]
    );
}

#[test]
fn daemon_port_zero_or_signed_falls_back() {
    for v in [
        "127.0.0.1:0",
        "localhost:+2000",
        "localhost:0",
        "udp:127.0.0.1:0 tcp:127.0.0.1:2000",
    ] {
        let (c, w) = from(&[("AWS_XRAY_DAEMON_ADDRESS", v)]);
        assert_eq!(c.daemon, DaemonAddress::default(), "{v}");
        assert_eq!(w.len(), 1, "{v}");
    }
}
