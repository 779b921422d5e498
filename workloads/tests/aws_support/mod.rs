//! Test support for the AWS SDK tests: moto in server mode on 127.0.0.1, and a recording
//! proxy in front of it that notes each request's `X-Amzn-Trace-Id` and can answer the next
//! requests itself (a 5xx, a throttle, a permission error) instead of forwarding them. S3
//! answers are given the request-id headers real S3 sends (`x-amz-request-id`, `x-amz-id-2`),
//! which moto does not.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// `moto_server` bound to 127.0.0.1 on a free port, killed when dropped.
pub struct Moto {
    child: Child,
    pub addr: SocketAddr,
}

impl Moto {
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Through the module, so it does not matter where pip put the `moto_server` script.
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not listen (pip install 'moto[server]')"
            );
            thread::sleep(Duration::from_millis(50));
        }
        Moto { child, addr }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request seen by the proxy.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `X-Amz-Target` (JSON protocols) or the request line.
    pub target: String,
    pub trace_header: Option<String>,
    /// The `Authorization` header's credential-scope service (`s3`, `sns`, `lambda`, …).
    pub service: String,
    /// The request id the answer carried (`x-amzn-RequestId` or S3's `x-amz-request-id`).
    pub answer_id: Option<String>,
    /// S3's `x-amz-id-2` in the answer.
    pub id_2: Option<String>,
}

/// A canned answer the proxy gives instead of forwarding.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub body: &'static str,
}

#[derive(Default)]
struct Shared {
    seen: Vec<Seen>,
    canned: VecDeque<Canned>,
    answered: u32,
}

/// An HTTP/1.1 proxy on 127.0.0.1 in front of `upstream`, one request per connection.
pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl Proxy {
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let s = shared.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let s = s.clone();
                thread::spawn(move || {
                    let _ = serve(conn, upstream, &s);
                });
            }
        });
        Proxy { addr, shared }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next requests get these answers, in order.
    pub fn answer_next(&self, canned: &[Canned]) {
        self.shared
            .lock()
            .unwrap()
            .canned
            .extend(canned.iter().cloned());
    }

    pub fn take_seen(&self) -> Vec<Seen> {
        std::mem::take(&mut self.shared.lock().unwrap().seen)
    }
}

fn serve(conn: TcpStream, upstream: SocketAddr, shared: &Mutex<Shared>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut head = Vec::new();
    let mut target = String::new();
    let mut trace_header = None;
    let mut service = String::new();
    let mut len = 0usize;
    let mut first = true;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" {
            break;
        }
        if first {
            line.trim().clone_into(&mut target);
            first = false;
        } else if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "x-amzn-trace-id" => trace_header = Some(value.to_owned()),
                "x-amz-target" => value.clone_into(&mut target),
                "content-length" => len = value.parse().unwrap_or(0),
                // `… Credential=AKID/20260101/us-east-1/s3/aws4_request, …`
                "authorization" => {
                    if let Some(scope) = value.split("Credential=").nth(1) {
                        scope
                            .split('/')
                            .nth(3)
                            .unwrap_or_default()
                            .clone_into(&mut service);
                    }
                }
                "connection" => continue,
                _ => {}
            }
        }
        head.extend_from_slice(line.as_bytes());
    }
    head.extend_from_slice(b"Connection: close\r\n\r\n");
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let (canned, n) = {
        let mut s = shared.lock().unwrap();
        s.answered += 1;
        (s.canned.pop_front(), s.answered)
    };
    let mut out = conn;
    let (answer, answer_id, id_2) = match canned {
        Some(c) => {
            let id = format!("canned-{n}");
            (canned_answer(&c, &id), Some(id), None)
        }
        None => {
            let mut up = TcpStream::connect(upstream)?;
            up.write_all(&head)?;
            up.write_all(&body)?;
            let mut answer = Vec::new();
            up.read_to_end(&mut answer)?;
            if service == "s3" {
                as_s3_answers(answer, n)
            } else {
                let id = header_value(&answer, "x-amzn-requestid");
                (answer, id, None)
            }
        }
    };
    shared.lock().unwrap().seen.push(Seen {
        target,
        trace_header,
        service,
        answer_id,
        id_2,
    });
    out.write_all(&answer)?;
    out.flush()
}

fn canned_answer(c: &Canned, request_id: &str) -> Vec<u8> {
    let reason = match c.status {
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        s if s >= 500 => "Internal Server Error",
        _ => "Bad Request",
    };
    // The query and REST-XML protocols (SNS, S3) answer XML, the JSON ones JSON.
    let content_type = if c.body.starts_with('<') {
        "text/xml"
    } else {
        "application/x-amz-json-1.0"
    };
    format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {content_type}\r\nx-amzn-RequestId: {request_id}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        c.status,
        c.body.len(),
        c.body
    )
    .into_bytes()
}

/// moto's S3 answers carry `x-amzn-requestid`; S3's carry `x-amz-request-id` and `x-amz-id-2`.
fn as_s3_answers(answer: Vec<u8>, n: u32) -> (Vec<u8>, Option<String>, Option<String>) {
    let Some(head_end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return (answer, None, None);
    };
    let head = String::from_utf8_lossy(&answer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut out = String::from(lines.next().unwrap_or_default());
    let mut request_id = None;
    for line in lines {
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("x-amzn-requestid") => {
                request_id = Some(value.trim().to_owned());
            }
            _ => {
                out.push_str("\r\n");
                out.push_str(line);
            }
        }
    }
    let id_2 = format!("s3-id-2/{n}+proxy=");
    if let Some(id) = &request_id {
        out.push_str("\r\nx-amz-request-id: ");
        out.push_str(id);
    }
    out.push_str("\r\nx-amz-id-2: ");
    out.push_str(&id_2);
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&answer[head_end..]);
    (bytes, request_id, Some(id_2))
}

fn header_value(answer: &[u8], name: &str) -> Option<String> {
    let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    String::from_utf8_lossy(&answer[..head_end])
        .split("\r\n")
        .find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
}

/// An in-process HTTP client that answers every request with `200 {}` after recording its
/// `X-Amzn-Trace-Id`: the whole SDK stack runs, no network.
pub mod canned {
    use std::sync::{Arc, Mutex};

    use aws_smithy_runtime_api::client::http::{
        HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector, http_client_fn,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_types::body::SdkBody;

    #[derive(Debug, Clone, Default)]
    pub struct Canned {
        pub last_header: Arc<Mutex<Option<String>>>,
    }

    impl HttpConnector for Canned {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let header = request.headers().get("x-amzn-trace-id");
            let mut last = self.last_header.lock().unwrap();
            // The buffer is reused, so that counting allocations counts none here once it
            // is big enough.
            match (header, last.as_mut()) {
                (Some(h), Some(l)) => {
                    l.clear();
                    l.push_str(h);
                }
                (h, _) => *last = h.map(str::to_owned),
            }
            let mut response = HttpResponse::new(200.try_into().unwrap(), SdkBody::from("{}"));
            response
                .headers_mut()
                .insert("x-amzn-requestid", "canned-request");
            HttpConnectorFuture::ready(Ok(response))
        }
    }

    pub fn client(c: &Canned) -> SharedHttpClient {
        let c = c.clone();
        http_client_fn(move |_, _| SharedHttpConnector::new(c.clone()))
    }
}
