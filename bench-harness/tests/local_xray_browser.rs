//! `xray-local` end to end in a real browser: the command is started as a user would, traces
//! go to it over UDP (errors, nested subsegments, a split document, a downstream service, a
//! rejected datagram, HTML in names and annotations), and headless Chromium loads the page
//! filtered by an annotation with one trace and one entity open. The DOM it leaves is checked
//! for the list, the waterfall's rows, the details, the service map and the rejection, and
//! for markup that must not be there.
//!
//! Needs `chromium` (Debian's package; `.ci/run` installs it). Set `XRAY_LOCAL_SCREENSHOT` to
//! a path to also save a screenshot of the same view.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_xray-local");
const CHROMIUM: &str = "/usr/bin/chromium";
/// Generous: a loaded 2-core machine starts Chromium slowly.
const TIMEOUT: Duration = Duration::from_mins(1);
const ATTEMPTS: usize = 3;

const HEADER: &str = r#"{"format":"json","version":1}"#;
const TRACE_A: &str = "1-5759e988-00000000000000000000000a";
const TRACE_B: &str = "1-5759e988-00000000000000000000000b";
const HOSTILE_NAME: &str = "<img src=x onerror=alert(1)>";
const HOSTILE_ANNOTATION: &str = "<script>alert(2)</script>";

/// Kills a child's whole process group and reaps it, also when the test panics.
struct GroupGuard {
    child: Child,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        // `kill` from procps: no `unsafe` needed to signal a group. A group already gone is fine.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("xray-local-{tag}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&path).expect("creating a temp dir for Chromium's profile");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Starts `xray-local` on free ports and returns the guard, the UDP address and the page URL.
fn start_xray_local() -> (GroupGuard, SocketAddr, String) {
    let mut child = Command::new(BIN)
        .args([
            "--addr",
            "127.0.0.1:0",
            "--web",
            "127.0.0.1:0",
            "--duration",
            "300",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("starting the xray-local binary built for this test");
    let stdout = child.stdout.take().expect("xray-local's stdout is piped");
    let guard = GroupGuard { child };
    // Lines are read on a thread so that waiting for them is bounded.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut udp = None;
    let mut url = None;
    let deadline = Instant::now() + TIMEOUT;
    while udp.is_none() || url.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("xray-local printed its addresses within 60 s");
        if let Some(rest) = line.strip_prefix("xray-local: segments to udp://") {
            let addr = rest.split_whitespace().next().unwrap_or_default();
            udp = Some(addr.parse().expect("xray-local prints a UDP address"));
        } else if let Some(rest) = line.strip_prefix("xray-local: open ") {
            url = Some(rest.trim().to_owned());
        }
    }
    (guard, udp.unwrap(), url.unwrap())
}

fn send(socket: &UdpSocket, to: SocketAddr, doc: &serde_json::Value) {
    let datagram = format!("{HEADER}\n{doc}");
    socket
        .send_to(datagram.as_bytes(), to)
        .expect("sending a datagram on loopback");
}

/// The traces: A is the one the page shows, B is filtered out, plus a rejected datagram.
fn send_traces(to: SocketAddr) -> usize {
    use serde_json::json;
    let socket = UdpSocket::bind("127.0.0.1:0").expect("binding a client socket");
    let t = 1_700_000_000.0;
    let docs = [
        // A's segment, with its subsegments embedded and a remote call downstream.
        json!({
            "name": "checkout", "id": "a000000000000001", "trace_id": TRACE_A,
            "start_time": t, "end_time": t + 0.120, "fault": true,
            "origin": "AWS::Lambda::Function",
            "annotations": {"user_id": "u-1", "note": HOSTILE_ANNOTATION},
            "subsegments": [
                {"name": "validate", "id": "a000000000000002", "start_time": t + 0.001, "end_time": t + 0.010,
                 "subsegments": [{"name": "sanitize", "id": "a000000000000003", "start_time": t + 0.002, "end_time": t + 0.004,
                                  "metadata": {"default": {"input": HOSTILE_NAME}}}]},
                {"name": "inventory-api", "id": "a000000000000004", "namespace": "remote",
                 "start_time": t + 0.011, "end_time": t + 0.060,
                 "http": {"request": {"method": "GET", "url": "http://inventory.local/items"}, "response": {"status": 200}}},
                {"name": "DynamoDB", "id": "a000000000000005", "namespace": "aws", "fault": true,
                 "start_time": t + 0.061, "end_time": t + 0.110,
                 "aws": {"operation": "PutItem", "table_name": "users"},
                 "cause": {"working_directory": "/var/task", "exceptions": [
                     {"id": "e000000000000001", "type": "ProvisionedThroughputExceeded", "message": "slow down <now>",
                      "stack": [{"label": "submit_user", "path": "src/register_user.rs", "line": 42}]}]}}
            ]
        }),
        // The split document: a subsegment sent on its own under `validate`.
        json!({
            "type": "subsegment", "name": "hash-password", "id": "a000000000000006", "trace_id": TRACE_A,
            "parent_id": "a000000000000002", "start_time": t + 0.005, "end_time": t + 0.009,
            "metadata": {"default": {"rounds": 12}}
        }),
        // The downstream service, called through `inventory-api`.
        json!({
            "name": "inventory", "id": "a000000000000007", "trace_id": TRACE_A,
            "parent_id": "a000000000000004", "start_time": t + 0.015, "end_time": t + 0.055
        }),
        json!({
            "name": "checkout", "id": "b000000000000001", "trace_id": TRACE_B,
            "start_time": t + 1.0, "end_time": t + 1.030, "error": true,
            "annotations": {"user_id": "u-2"}
        }),
        // Rejected: a name the schema refuses, shown in the rejected list.
        json!({
            "name": HOSTILE_NAME, "id": "c000000000000001", "trace_id": TRACE_B,
            "start_time": t, "end_time": t + 1.0
        }),
        // Rejected: an uppercase id.
        json!({
            "name": "bad-ids", "id": "ABCDEF0123456789", "trace_id": TRACE_B,
            "start_time": t, "end_time": t + 1.0
        }),
    ];
    for doc in &docs {
        send(&socket, to, doc);
    }
    docs.len()
}

/// One GET on the page's server, read to the end.
fn get(url: &str, path: &str) -> String {
    let authority = url.trim_start_matches("http://").trim_end_matches('/');
    let mut conn = TcpStream::connect(authority).expect("connecting to xray-local's page");
    conn.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer)
        .expect("reading xray-local's answer");
    answer
}

/// Waits until the daemon has counted `n` datagrams (UDP on loopback: they arrive, but the
/// receive thread may lag on a loaded machine).
fn wait_for_datagrams(url: &str, n: usize) {
    let deadline = Instant::now() + TIMEOUT;
    let wanted = format!("\"datagrams\":{n},");
    loop {
        let answer = get(url, "/api/traces");
        if answer.contains(&wanted) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "xray-local did not count {n} datagrams within 60 s: {answer}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs headless Chromium on `url` with `extra` flags; returns its stdout, or why it failed.
fn chromium(url: &str, extra: &[&str]) -> Result<String, String> {
    let dir = TempDir::new("chromium");
    let out_path = dir.0.join("stdout");
    let err_path = dir.0.join("stderr");
    let profile = dir.0.join("profile");
    let child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1200",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).map_err(|e| e.to_string())?)
        .stderr(File::create(&err_path).map_err(|e| e.to_string())?)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {CHROMIUM} (install Debian's `chromium`): {e}"))?;
    let mut guard = GroupGuard { child };
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        match guard.child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(None) => return Err("Chromium did not finish within 60 s".to_owned()),
            Err(e) => return Err(format!("cannot wait for Chromium: {e}")),
        }
    };
    drop(guard);
    let stdout = fs::read_to_string(&out_path).unwrap_or_default();
    if !status.success() {
        let stderr = fs::read_to_string(&err_path).unwrap_or_default();
        let tail: String = stderr.lines().rev().take(15).collect::<Vec<_>>().join("\n");
        return Err(format!(
            "Chromium exited with {status}; stderr ends:\n{tail}"
        ));
    }
    Ok(stdout)
}

fn view_url(url: &str) -> String {
    // The page keeps its state in the fragment: the filter, the open trace, the open entity.
    format!("{url}#q=annotation.user_id+%3D+%22u-1%22&trace={TRACE_A}&entity=a000000000000005")
}

/// The page's DOM once its scripts have fetched and rendered everything.
fn rendered_dom(url: &str) -> String {
    let mut failures = Vec::new();
    for _ in 0..ATTEMPTS {
        match chromium(url, &["--dump-dom", "--virtual-time-budget=10000"]) {
            Ok(dom) if dom.contains("data-ready=\"1\"") => return dom,
            Ok(dom) => failures.push(format!(
                "the page never became ready: {}",
                dom.chars().take(2000).collect::<String>()
            )),
            Err(e) => failures.push(e),
        }
    }
    panic!(
        "no rendered page after {ATTEMPTS} attempts:\n{}",
        failures.join("\n---\n")
    );
}

fn position(dom: &str, needle: &str) -> usize {
    dom.find(needle)
        .unwrap_or_else(|| panic!("the page has no {needle:?}"))
}

#[test]
fn the_page_lists_filters_opens_and_maps_traces() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "this test drives Debian's chromium at {CHROMIUM}: apt-get install chromium"
    );
    let started = Instant::now();
    let (_xray, udp, url) = start_xray_local();
    let sent = send_traces(udp);
    wait_for_datagrams(&url, sent);

    let dom = rendered_dom(&view_url(&url));
    eprintln!("rendered in {:.1} s", started.elapsed().as_secs_f64());
    // Kept for reading when an assertion below fails.
    let saved = Path::new(env!("CARGO_TARGET_TMPDIR")).join("local_xray_dom.html");
    let _ = fs::write(&saved, &dom);
    eprintln!("the DOM is in {}", saved.display());

    // The list: the filter keeps A, drops B, and shows A's status and annotations.
    assert!(dom.contains(&format!("data-trace=\"{TRACE_A}\"")));
    assert!(
        !dom.contains(&format!("data-trace=\"{TRACE_B}\"")),
        "the filter lets u-2 through"
    );
    assert!(dom.contains("(1 shown)"));
    assert!(dom.contains("user_id = \"u-1\""));

    // The waterfall: every entity of A, nested in start order, the split subsegment under
    // `validate`, the downstream segment under the remote call.
    let rows = [
        ("a000000000000001", 0),
        ("a000000000000002", 1),
        ("a000000000000003", 2),
        ("a000000000000006", 2),
        ("a000000000000004", 1),
        ("a000000000000007", 2),
        ("a000000000000005", 1),
    ];
    let mut last = 0;
    for (id, depth) in rows {
        let at = position(
            &dom,
            &format!("data-entity=\"{id}\" data-depth=\"{depth}\""),
        );
        assert!(at > last, "row {id} out of order");
        last = at;
    }
    assert!(dom.contains("wf-bar status-fault"));

    // The details of the open entity: its aws fields and its exception, escaped.
    assert!(dom.contains("ProvisionedThroughputExceeded: slow down &lt;now&gt;"));
    assert!(dom.contains("at submit_user (src/register_user.rs:42)"));
    assert!(dom.contains("\"table_name\": \"users\""));

    // The service map: the function, the service it calls, and DynamoDB; the remote call is
    // represented by the downstream segment, not a node of its own.
    for node in ["checkout", "inventory", "DynamoDB"] {
        assert!(
            dom.contains(&format!("data-name=\"{node}\"")),
            "no map node {node}"
        );
    }
    assert!(!dom.contains("data-name=\"inventory-api\""));
    assert!(
        dom.contains("1 calls, 100% err"),
        "the DynamoDB edge's error ratio"
    );

    // The rejected datagrams with their reasons.
    assert_eq!(dom.matches("rejected-row").count(), 2);
    assert!(dom.contains("`id` must be 16 lowercase hex digits, got \"ABCDEF0123456789\""));
    assert!(dom.contains("`name` contains '&lt;'"));

    // Hostile strings are text: escaped in the DOM, never elements.
    assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!dom.contains("<img"), "a name became an element");
    assert!(
        !dom.contains("<script>alert"),
        "an annotation became an element"
    );

    if let Some(path) = std::env::var_os("XRAY_LOCAL_SCREENSHOT") {
        let arg = format!("--screenshot={}", Path::new(&path).display());
        chromium(
            &view_url(&url),
            &[&arg, "--virtual-time-budget=10000", "--hide-scrollbars"],
        )
        .expect("taking the screenshot");
    }
}

#[test]
fn the_command_refuses_bad_flags_and_stops_when_told() {
    let out = Command::new(BIN)
        .arg("--max-traces=none")
        .output()
        .expect("running xray-local");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid `--max-traces` value `none`"),
        "{stderr}"
    );
    assert!(stderr.contains("usage: xray-local"), "{stderr}");

    let started = Instant::now();
    let out = Command::new(BIN)
        .args([
            "--addr",
            "127.0.0.1:0",
            "--web",
            "127.0.0.1:0",
            "--duration",
            "0.3",
        ])
        .output()
        .expect("running xray-local");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("xray-local: open http://127.0.0.1:"),
        "{stdout}"
    );
    assert!(stdout.contains("received 0 datagrams"), "{stdout}");
    assert!(
        String::from_utf8_lossy(&out.stderr).is_empty(),
        "loopback needs no warning"
    );
    assert!(started.elapsed() < TIMEOUT);
}
