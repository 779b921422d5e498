//! The `xray-fake-daemon` binary, run as a user would: bad flags, then a short live session.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_xray-fake-daemon");

#[test]
fn bad_flags_exit_with_usage() {
    let out = Command::new(BIN).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("xray-fake-daemon: unknown argument `--bogus`"),
        "{stderr}"
    );
    assert!(stderr.contains("usage: xray-fake-daemon"), "{stderr}");

    let out = Command::new(BIN)
        .args(["--duration", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("usage:"));
}

#[test]
fn prints_traces_rejections_and_counts() {
    let mut child = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0", "--duration", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr: SocketAddr = first
        .trim()
        .strip_prefix("xray-fake-daemon listening on ")
        .unwrap_or_else(|| panic!("{first:?}"))
        .parse()
        .unwrap();

    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let doc = r#"{"name":"cli-test","id":"70de5b6f19ff9a0a","trace_id":"1-5759e988-bd862e3fe1be46a994272793","start_time":1461096053.375,"end_time":1461096053.404,"subsegments":[{"name":"child","id":"24756640c0d0978a","start_time":1461096053.38,"end_time":1461096053.39}]}"#;
    client
        .send_to(
            format!("{{\"format\":\"json\",\"version\":1}}\n{doc}").as_bytes(),
            addr,
        )
        .unwrap();
    client.send_to(b"garbage", addr).unwrap();

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("the daemon did not stop after --duration");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(
        rest.contains("rejected datagram #1 from 127.0.0.1:"),
        "{rest}"
    );
    assert!(rest.contains("missing_segment"), "{rest}");
    assert!(
        rest.contains("trace 1-5759e988-bd862e3fe1be46a994272793 (2 entities)"),
        "{rest}"
    );
    assert!(
        rest.contains("\n  cli-test [segment 70de5b6f19ff9a0a]"),
        "{rest}"
    );
    assert!(
        rest.contains("\n    child [subsegment 24756640c0d0978a]"),
        "{rest}"
    );
    let last = rest.lines().last().unwrap_or_default();
    assert!(
        last.contains("accepted 1, rejected 1 (missing_segment 1)"),
        "{rest}"
    );
}
