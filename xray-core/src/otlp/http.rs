//! OTLP/HTTP: a protobuf body POSTed to a collector over plain HTTP/1.1 on a kept-alive TCP
//! connection.
//!
//! Hand-written over `std::net::TcpStream` because the target is a collector or Lambda
//! extension on `localhost:4318`: an HTTP client crate (hyper, reqwest) would bring an async
//! runtime or a TLS stack into every build for one request per invocation. `https://` is not
//! supported (see [`crate::config::Output`]). With `OTEL_EXPORTER_OTLP_COMPRESSION=gzip` the
//! body is gzipped into a reused buffer (`Content-Encoding: gzip`).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::Duration;

use super::export::Deliver;
use super::gzip::Gzip;
use crate::config::{Compression, HttpEndpoint};
use crate::emit::EmitterCounters;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// A collector endpoint, resolved once, with its connection.
#[derive(Debug)]
pub(crate) struct HttpClient {
    addr: Option<SocketAddr>,
    host: String,
    path: String,
    headers: Vec<(String, String)>,
    gzip: bool,
    conn: Mutex<Conn>,
}

#[derive(Debug, Default)]
struct Conn {
    stream: Option<TcpStream>,
    head: Vec<u8>,
    /// The gzipped body, reused (`OTEL_EXPORTER_OTLP_COMPRESSION=gzip`).
    zipped: Vec<u8>,
    /// Made on the first gzipped request, then reset for each.
    deflate: Option<Gzip>,
}

impl HttpClient {
    pub(crate) fn new(endpoint: &HttpEndpoint) -> HttpClient {
        let addr = crate::emit::resolve((endpoint.host.as_str(), endpoint.port)).ok();
        HttpClient {
            addr,
            // The `Host` header: an IPv6 address goes in brackets.
            host: if endpoint.host.contains(':') {
                format!("[{}]:{}", endpoint.host, endpoint.port)
            } else {
                format!("{}:{}", endpoint.host, endpoint.port)
            },
            path: endpoint.path.clone(),
            headers: endpoint.headers.clone(),
            gzip: endpoint.compression == Compression::Gzip,
            conn: Mutex::new(Conn::default()),
        }
    }

    /// POSTs `body`; true on a 2xx answer.
    fn post(&self, body: &[u8], conn: &mut Conn) -> io::Result<bool> {
        let Some(addr) = self.addr else {
            return Err(io::Error::new(io::ErrorKind::NotFound, "unresolved host"));
        };
        let Conn {
            stream,
            head,
            zipped,
            deflate,
        } = conn;
        let zip = self.gzip && deflate.get_or_insert_with(Gzip::new).compress(body, zipped);
        let body = if zip { &zipped[..] } else { body };
        head.clear();
        head.extend_from_slice(b"POST ");
        head.extend_from_slice(self.path.as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        head.extend_from_slice(self.host.as_bytes());
        head.extend_from_slice(b"\r\nContent-Type: application/x-protobuf\r\nContent-Length: ");
        head.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        head.extend_from_slice(b"\r\n");
        if zip {
            head.extend_from_slice(b"Content-Encoding: gzip\r\n");
        }
        for (k, v) in &self.headers {
            head.extend_from_slice(k.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(v.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        // One retry on a fresh connection: a kept-alive one may have been closed by the peer.
        for attempt in 0..2 {
            if stream.is_none() {
                let s = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
                s.set_read_timeout(Some(IO_TIMEOUT))?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                s.set_nodelay(true)?;
                *stream = Some(s);
            }
            let Some(s) = stream.as_mut() else {
                continue;
            };
            let result = s
                .write_all(head)
                .and_then(|()| s.write_all(body))
                .and_then(|()| read_response(s));
            match result {
                Ok((ok, keep)) => {
                    if !keep {
                        *stream = None;
                    }
                    return Ok(ok);
                }
                Err(e) => {
                    *stream = None;
                    if attempt == 1 {
                        return Err(e);
                    }
                }
            }
        }
        Ok(false)
    }
}

/// Reads one response; returns (status is 2xx, connection may be reused).
fn read_response(stream: &mut TcpStream) -> io::Result<(bool, bool)> {
    let mut buf = [0u8; 4096];
    let mut filled = 0;
    let head_end = loop {
        let n = stream.read(&mut buf[filled..])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
        if let Some(p) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if filled == buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "response head too large",
            ));
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).unwrap_or("");
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0usize;
    let mut close = false;
    for line in head.split("\r\n").skip(1) {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        if k.eq_ignore_ascii_case("content-length") {
            length = v.trim().parse().unwrap_or(0);
        } else if k.eq_ignore_ascii_case("connection") && v.trim().eq_ignore_ascii_case("close") {
            close = true;
        }
    }
    // Drain the body (an ExportTraceServiceResponse, usually empty) so the connection can
    // carry the next request.
    let mut left = length.saturating_sub(filled - head_end);
    while left > 0 {
        let n = stream.read(&mut buf[..left.min(4096)])?;
        if n == 0 {
            break;
        }
        left -= n;
    }
    Ok(((200..300).contains(&status), !close))
}

impl Deliver for &HttpClient {
    fn deliver(&mut self, request: &[u8], counters: &EmitterCounters) {
        let Ok(mut conn) = self.conn.lock() else {
            EmitterCounters::bump(&counters.sends_failed);
            return;
        };
        match self.post(request, &mut conn) {
            Ok(true) => {
                EmitterCounters::bump(&counters.datagrams_handed_to_kernel);
                counters
                    .bytes_handed_to_kernel
                    .fetch_add(request.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
            // A non-2xx answer, a refused connection, any other failure: exactly this request
            // is lost. (`sends_refused` is UDP's: there a refusal also reports the datagram
            // before it, which `datagrams_known_lost` counts.)
            Ok(false) | Err(_) => EmitterCounters::bump(&counters.sends_failed),
        }
    }
}
