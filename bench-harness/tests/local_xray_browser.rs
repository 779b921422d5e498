//! `xray-local` end to end in a real browser: the command is started as a user would, traces
//! go to it over UDP (errors, nested subsegments, a split document, a downstream service, a
//! rejected datagram, HTML in names and annotations, a trace over the entity cap, and OTLP
//! spans from xray-core's `otlp-udp` output), and headless Chromium is driven over the
//! DevTools protocol as a person would: the filter typed into its box and submitted with
//! Enter, the trace row, an entity row and the service map clicked. What each step shows is
//! checked, then the DOM it leaves: the list, the waterfall's rows, the details, the service
//! map and the rejections, and no markup that must not be there.
//!
//! Needs `chromium` (Debian's package; `scripts/test-all` installs it). Set `XRAY_LOCAL_SCREENSHOT` to
//! a path to also save a screenshot of the final view (`docs/xray-local.png`).

mod cdp;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cdp::{Browser, CHROMIUM, Failure, GroupGuard};
use xray_core::{
    Config, Output, OutputConfig, TraceId,
    model::{EntityTree, Namespace, Timestamp},
    wire::{EmitBuffer, Emitter},
};

const BIN: &str = env!("CARGO_BIN_EXE_xray-local");
/// Generous: a loaded 2-core machine starts Chromium slowly.
const TIMEOUT: Duration = Duration::from_mins(1);
const ATTEMPTS: usize = 3;
/// The entity cap the command is started with; trace C goes over it.
const MAX_ENTITIES: usize = 20;

const HEADER: &str = r#"{"format":"json","version":1}"#;
const TRACE_A: &str = "1-5759e988-00000000000000000000000a";
const TRACE_B: &str = "1-5759e988-00000000000000000000000b";
const TRACE_C: &str = "1-5759e988-00000000000000000000000c";
const HOSTILE_NAME: &str = "<img src=x onerror=alert(1)>";
const HOSTILE_ANNOTATION: &str = "<script>alert(2)</script>";
const FILTER: &str = r#"annotation.user_id = "u-1""#;

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
            "--max-entities",
            &MAX_ENTITIES.to_string(),
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
    // C: a runaway trace, five entities over the cap.
    let calls: Vec<serde_json::Value> = (0..MAX_ENTITIES + 4)
        .map(|i| {
            json!({"name": format!("retry-{i}"), "id": format!("c1{i:014x}"),
                        "start_time": t + 2.0, "end_time": t + 2.001})
        })
        .collect();
    send(
        &socket,
        to,
        &json!({"name": "runaway", "id": "c000000000000002", "trace_id": TRACE_C,
                "start_time": t + 2.0, "end_time": t + 2.1, "subsegments": calls}),
    );
    docs.len() + 1
}

/// A handler traced by xray-core with the `otlp-udp` output: its spans go to `to` as `T1S`
/// datagrams. Returns the trace id and the datagrams sent.
fn send_otlp_trace(to: SocketAddr) -> (String, u64) {
    let mut config = Config::default();
    config.output = OutputConfig::new(Output::OtlpUdp);
    config.daemon.udp = to;
    let emitter = Emitter::for_config(&config);
    let mut tree = EntityTree::new(TraceId::random());
    let root = tree.begin_segment("otlp-handler", None, Timestamp::now());
    tree.entity_mut(root)
        .put_annotation("user_id", "u-3")
        .expect("a valid annotation");
    let s3 = tree.begin_subsegment(root, "S3", Timestamp::now());
    tree.entity_mut(s3)
        .set_namespace(Namespace::Aws)
        .aws_operation("GetObject");
    tree.end(s3, Timestamp::now());
    tree.end(root, Timestamp::now());
    let trace_id = tree.trace_id().to_string();
    emitter.emit(&mut tree, root, &mut EmitBuffer::new());
    (trace_id, emitter.stats().datagrams_handed_to_kernel)
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

/// A check on the page: a JavaScript expression that must become true.
fn js_text_is(selector: &str, text: &str) -> String {
    format!(
        "document.querySelector({})?.textContent === {}",
        serde_json::to_string(selector).unwrap(),
        serde_json::to_string(text).unwrap()
    )
}

/// Drives the page as a person would and returns the DOM it leaves; the browser is retried
/// when it fails to start or answer (a loaded machine), not when the page is wrong.
fn drive(url: &str, otlp_trace: &str) -> String {
    let mut failures = Vec::new();
    for _ in 0..ATTEMPTS {
        let mut browser = match Browser::open(url, 1400, 1200, TIMEOUT) {
            Ok(b) => b,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        // Each step waits up to a minute: a step that fails then is the page's fault.
        match steps(&mut browser, otlp_trace) {
            Ok(dom) => {
                browser.close();
                return dom;
            }
            Err(e @ Failure::Page(_)) => {
                panic!("{e}\nChromium's stderr ends:\n{}", browser.stderr_tail())
            }
            Err(e) => failures.push(format!(
                "{e}\nChromium's stderr ends:\n{}",
                browser.stderr_tail()
            )),
        }
    }
    panic!(
        "the page could not be driven after {ATTEMPTS} attempts:\n{}",
        failures.join("\n---\n")
    );
}

fn steps(browser: &mut Browser, otlp_trace: &str) -> Result<String, Failure> {
    let rows = "document.querySelectorAll('#trace-list tbody tr')";
    // The list before filtering: A, B, C and the OTLP trace, with the OTLP root's name.
    browser.wait_for(
        &format!("document.body.dataset.ready === '1' && {rows}.length === 4"),
        "the four traces in the list",
    )?;
    browser.wait_for(
        &js_text_is(
            &format!("tr[data-trace=\"{otlp_trace}\"] .trace-name"),
            "otlp-handler",
        ),
        "the OTLP trace's row",
    )?;
    browser.wait_for(
        "document.getElementById('stats').textContent.includes('5 entities over the per-trace cap dropped')",
        "the entity cap's count in the stats",
    )?;

    // The filter, typed and submitted with Enter.
    browser.click("#filter")?;
    browser.type_and_enter(FILTER)?;
    browser.wait_for(
        &format!(
            "{rows}.length === 1 && {rows}[0].dataset.trace === '{TRACE_A}' \
             && decodeURIComponent(location.hash).includes('u-1')"
        ),
        "the filtered list (A only)",
    )?;

    // The trace, opened by clicking its row.
    browser.click_until(
        &format!("tr[data-trace=\"{TRACE_A}\"]"),
        "!document.getElementById('trace-section').hidden \
         && document.querySelectorAll('#waterfall .wf-row').length === 7",
        "the waterfall of A after clicking its row",
    )?;
    // An entity, opened by clicking its row in the waterfall.
    browser.click_until(
        "[data-entity=\"a000000000000005\"]",
        &js_text_is("#details-name", "DynamoDB"),
        "DynamoDB's details after clicking its row",
    )?;
    let details = browser.eval("document.getElementById('details').innerText")?;
    let details = details.as_str().unwrap_or_default();
    for shown in [
        "ProvisionedThroughputExceeded: slow down <now>",
        "at submit_user (src/register_user.rs:42)",
        "\"operation\": \"PutItem\"",
    ] {
        if !details.contains(shown) {
            return Err(Failure::Page(format!(
                "the details do not show {shown:?}: {details}"
            )));
        }
    }

    // The service map, opened by clicking its heading.
    // Clicked once: a second click would close it (the heading is not redrawn by polls).
    browser.click("#map-section > summary")?;
    browser.wait_for(
        // The toggle is written to the URL by an event that runs after the click.
        "document.getElementById('map-section').open && location.hash.includes('map=1') \
         && document.querySelector('#map [data-name=\"DynamoDB\"]').getBoundingClientRect().height > 0",
        "the service map after clicking its heading",
    )?;
    browser.wait_for(
        "document.querySelector('#map [data-name=\"S3\"]')?.classList.contains('kind-aws')",
        "the OTLP trace's AWS call on the map",
    )?;
    let hash = browser.eval("decodeURIComponent(location.hash)")?;
    let hash = hash.as_str().unwrap_or_default();
    if !(hash.contains("entity=a000000000000005") && hash.contains("map=1")) {
        return Err(Failure::Page(format!(
            "the clicks are not in the URL: {hash}"
        )));
    }

    if let Some(path) = std::env::var_os("XRAY_LOCAL_SCREENSHOT") {
        let png = browser.screenshot()?;
        fs::write(&path, png).map_err(|e| Failure::Page(format!("writing the screenshot: {e}")))?;
    }
    let dom = browser.eval("document.documentElement.outerHTML")?;
    Ok(dom.as_str().unwrap_or_default().to_owned())
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
    let (otlp_trace, otlp_datagrams) = send_otlp_trace(udp);
    wait_for_datagrams(&url, sent + usize::try_from(otlp_datagrams).unwrap());

    let dom = drive(&url, &otlp_trace);
    eprintln!("driven in {:.1} s", started.elapsed().as_secs_f64());
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
    // represented by the downstream segment, not a node of its own. The OTLP trace's service
    // and its AWS call are there too.
    for node in ["checkout", "inventory", "DynamoDB", "otlp-handler", "S3"] {
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
