//! Cold start and size: what the SDK adds to a function's start-up and to its binary.
//!
//! `register-user` (traced) and `register-user-bare` (the same handler with no `xray-core` in
//! it) are started alternately, each against a fresh local Runtime API with one invocation
//! already queued. Measured from just before `spawn` to the moment the Runtime API hands the
//! invocation out (the function's first `/next`), and to the first response (which includes
//! the SDK's lazy set-up on the first traced invocation). The SDK's share is the difference of
//! the medians. Sizes are of copies stripped with `strip` (or `objcopy --strip-all`).
//!
//! Init network check: where `strace` is installed, each binary is started once under it with
//! nothing queued, so the trace covers init and the first `/next`; sockets other than the TCP
//! connection to the Runtime API, and reads of the resolver's files, are listed. What the
//! traced binary does beyond the bare one is the SDK's.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Settings;
use crate::daemon::FakeDaemon;
use crate::driver::{self, ChildFunction};
use crate::runtime_api::{Invocation, RuntimeApi};

/// The scenario's figures (`scenarios.cold_start` in the report).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ColdStartReport {
    /// Starts of each binary.
    pub runs: u32,
    /// Median milliseconds from spawn to the first `/next`, traced.
    pub traced_to_next_ms: f64,
    /// The same without the SDK.
    pub bare_to_next_ms: f64,
    /// `traced_to_next_ms - bare_to_next_ms`.
    pub sdk_share_ms: f64,
    /// Median milliseconds from spawn to the first response, traced (sampled invocation).
    pub traced_to_response_ms: f64,
    /// The same without the SDK.
    pub bare_to_response_ms: f64,
    /// Stripped size of `register-user`.
    pub traced_stripped_bytes: u64,
    /// Stripped size of `register-user-bare`.
    pub bare_stripped_bytes: u64,
    /// `traced_stripped_bytes - bare_stripped_bytes`.
    pub sdk_stripped_bytes: i64,
    /// Init network activity of the traced binary beyond the bare one (empty: none), or why
    /// it was not checked.
    pub init_network: Vec<String>,
    /// Whether the network check ran (`strace` found).
    pub init_network_checked: bool,
    /// Why the scenario did not run.
    pub skipped: Option<String>,
}

const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
const TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the scenario.
pub fn run(settings: &Settings, daemon: &FakeDaemon) -> ColdStartReport {
    let skipped = |why: String| ColdStartReport {
        skipped: Some(why),
        ..ColdStartReport::default()
    };
    let (traced, bare) = match (
        driver::workload_binary("register-user"),
        driver::workload_binary("register-user-bare"),
    ) {
        (Ok(t), Ok(b)) => (t, b),
        (Err(e), _) | (_, Err(e)) => return skipped(e),
    };
    let runs: u32 = if settings.quick { 5 } else { 21 };
    let (mut t_next, mut t_resp, mut b_next, mut b_resp) = (vec![], vec![], vec![], vec![]);
    for i in 0..runs {
        // Alternate which goes first so drift in the machine's load hits both alike.
        let order = if i % 2 == 0 {
            [(&traced, true), (&bare, false)]
        } else {
            [(&bare, false), (&traced, true)]
        };
        for (binary, is_traced) in order {
            match start_once(binary, daemon) {
                Ok((next, resp)) if is_traced => {
                    t_next.push(next);
                    t_resp.push(resp);
                }
                Ok((next, resp)) => {
                    b_next.push(next);
                    b_resp.push(resp);
                }
                Err(e) => return skipped(format!("{}: {e}", binary.display())),
            }
        }
    }
    settings.progress(&format!("cold start: {runs} starts of each binary"));
    let (ts, bs) = (stripped_size(&traced), stripped_size(&bare));
    let (init_network, init_network_checked) = match (init_sockets(&traced), init_sockets(&bare)) {
        (Some(t), Some(b)) => (t.into_iter().filter(|l| !b.contains(l)).collect(), true),
        _ => (vec!["not checked: strace not found".to_owned()], false),
    };
    let (tn, bn) = (median(&mut t_next), median(&mut b_next));
    ColdStartReport {
        runs,
        traced_to_next_ms: tn,
        bare_to_next_ms: bn,
        sdk_share_ms: tn - bn,
        traced_to_response_ms: median(&mut t_resp),
        bare_to_response_ms: median(&mut b_resp),
        traced_stripped_bytes: ts,
        bare_stripped_bytes: bs,
        sdk_stripped_bytes: ts as i64 - bs as i64,
        init_network,
        init_network_checked,
        skipped: None,
    }
}

/// One start: milliseconds to the first `/next` and to the first response.
fn start_once(binary: &Path, daemon: &FakeDaemon) -> Result<(f64, f64), String> {
    let mut api = RuntimeApi::start().map_err(|e| format!("cannot start a Runtime API: {e}"))?;
    let request_id = "cold-start-1".to_owned();
    api.enqueue(Invocation {
        request_id: request_id.clone(),
        trace_header: Some(HEADER.to_owned()),
        payload: br#"{"user_id":"u-1","email":"a@example.com"}"#.to_vec(),
        timeout: None,
    });
    let start = Instant::now();
    let child = ChildFunction::start(binary, &api, daemon.addr(), &xray_core::Output::XrayUdp, 1)
        .map_err(|e| format!("cannot start: {e}"))?;
    // The invocation is handed out as the function's first `/next` arrives.
    while api.stats().dispatched == 0 {
        if start.elapsed() > TIMEOUT {
            return Err("no /next within 10 s".to_owned());
        }
        std::thread::yield_now();
    }
    let next = start.elapsed();
    let done = api.wait_outcome(&request_id, TIMEOUT);
    let response = start.elapsed();
    drop(child);
    api.shutdown();
    if done.is_none() {
        return Err("no response within 10 s".to_owned());
    }
    Ok((ms(next), ms(response)))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Size of a stripped copy; the unstripped size if neither `strip` nor `objcopy` runs.
fn stripped_size(binary: &Path) -> u64 {
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let copy = std::env::temp_dir().join(format!(
        "xray-cold-start-{}-{}",
        std::process::id(),
        binary.file_name().and_then(|n| n.to_str()).unwrap_or("bin")
    ));
    if std::fs::copy(binary, &copy).is_err() {
        return size(binary);
    }
    let stripped = [("strip", "--strip-all"), ("objcopy", "--strip-all")]
        .iter()
        .any(|(tool, flag)| {
            Command::new(tool)
                .arg(flag)
                .arg(&copy)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
    let n = if stripped { size(&copy) } else { size(binary) };
    let _ = std::fs::remove_file(&copy);
    n
}

/// Network activity from start to the first `/next`, one line per finding, under `strace`;
/// `None` without `strace`.
fn init_sockets(binary: &Path) -> Option<Vec<String>> {
    let log = std::env::temp_dir().join(format!(
        "xray-cold-start-{}-{}.strace",
        std::process::id(),
        binary.file_name().and_then(|n| n.to_str()).unwrap_or("bin")
    ));
    // Nothing queued: the function initialises, sends `/next` and waits in the long poll.
    let mut api = RuntimeApi::start().ok()?;
    let mut cmd = Command::new("strace");
    cmd.args([
        "-f",
        "-qq",
        "-e",
        "trace=socket,connect,sendto,sendmsg,openat",
        "-o",
    ])
    .arg(&log)
    .arg(binary);
    for (k, v) in driver::lambda_env(&api, 1) {
        cmd.env(k, v);
    }
    // An address that is never listened on: any datagram at init would show as a `sendto`.
    let mut child = cmd
        .env("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:9")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    std::thread::sleep(Duration::from_millis(500));
    let _ = child.kill();
    let _ = child.wait();
    let port = api.addr().port().to_string();
    api.shutdown();
    let text = std::fs::read_to_string(&log).ok()?;
    let _ = std::fs::remove_file(&log);
    Some(findings(&text, &port))
}

/// The lines of an strace log that are network activity other than the Runtime API
/// connection, or resolver configuration being read.
fn findings(log: &str, api_port: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in log.lines() {
        // Drop the pid and any fd numbers so the two binaries' lines compare.
        let call = line.split_once(' ').map_or(line, |(_, rest)| rest.trim());
        let name = call.split('(').next().unwrap_or("");
        let interesting = match name {
            "socket" => !call.contains("AF_UNIX") && !call.contains("SOCK_STREAM"),
            "connect" => call.contains("sin_port") && !call.contains(&format!("htons({api_port})")),
            "sendto" | "sendmsg" => call.contains("sin_port"),
            "openat" => ["resolv.conf", "/etc/hosts", "nsswitch", "gai.conf"]
                .iter()
                .any(|f| call.contains(f)),
            _ => false,
        };
        if interesting {
            let short: String = call
                .split(" = ")
                .next()
                .unwrap_or(call)
                .chars()
                .take(120)
                .collect();
            let normalized = short.replace(|c: char| c.is_ascii_digit(), "#");
            if !out.contains(&normalized) {
                out.push(normalized);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_keep_foreign_sockets_and_resolver_reads_only() {
        let log = "\
12 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP) = 3
12 connect(3, {sa_family=AF_INET, sin_port=htons(41234), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = -1 EINPROGRESS
12 openat(AT_FDCWD, \"/etc/ld.so.cache\", O_RDONLY|O_CLOEXEC) = 3
13 openat(AT_FDCWD, \"/etc/resolv.conf\", O_RDONLY|O_CLOEXEC) = 4
13 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 5
13 connect(5, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr(\"10.0.0.2\")}, 16) = 0
";
        let f = findings(log, "41234");
        assert_eq!(f.len(), 3, "{f:?}");
        assert!(f[0].contains("resolv.conf"));
        assert!(f[1].starts_with("socket(AF_INET, SOCK_DGRAM"));
        assert!(f[2].contains("htons(##)"), "port 53, digits masked");
        assert!(findings(log, "41234").iter().all(|l| !l.contains("ld.so")));
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert!((median(&mut [3.0, 1.0, 2.0]) - 2.0).abs() < f64::EPSILON);
        assert!((median(&mut [4.0, 1.0, 3.0, 2.0]) - 3.0).abs() < f64::EPSILON);
        assert!(median(&mut []).is_nan());
    }
}
