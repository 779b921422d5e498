//! Just enough HTTP/1.1 to POST JSON to the daemon's sampling proxy over a `TcpStream`.
//!
//! One connection per call with `Connection: close`: the calls come minutes (rules) or
//! seconds (targets) apart, so keeping a connection alive would buy nothing and would add
//! stale-connection handling. Every step runs against one deadline, so a call never takes
//! longer than the configured timeout however slowly the peer answers.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Responses larger than this are refused; a rules list is a few kilobytes.
const MAX_RESPONSE: usize = 4 << 20;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallError {
    /// No connection (refused, unreachable).
    Connect(io::ErrorKind),
    /// The deadline passed while connecting, writing or reading.
    Timeout,
    /// The connection broke after it was made.
    Io(io::ErrorKind),
    /// The proxy answered with a non-2xx status.
    Status(u16),
    /// The answer is not HTTP we understand, or its body is not the JSON expected.
    BadResponse(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Connect(k) => write!(f, "cannot connect: {k}"),
            CallError::Timeout => f.write_str("timed out"),
            CallError::Io(k) => write!(f, "connection error: {k}"),
            CallError::Status(s) => write!(f, "HTTP status {s}"),
            CallError::BadResponse(why) => write!(f, "bad response: {why}"),
        }
    }
}

fn bad(why: &str) -> CallError {
    CallError::BadResponse(why.to_owned())
}

/// Posts to one proxy address.
#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    addr: SocketAddr,
    timeout: Duration,
}

impl HttpClient {
    pub(crate) fn new(addr: SocketAddr, timeout: Duration) -> HttpClient {
        // A zero timeout would make every socket option call fail; a millisecond keeps the
        // meaning ("as short as possible") without the error.
        HttpClient {
            addr,
            timeout: timeout.max(Duration::from_millis(1)),
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// POSTs `body` as JSON to `path` and returns the body of a 2xx answer.
    pub(crate) fn post(&self, path: &str, body: &[u8]) -> Result<Vec<u8>, CallError> {
        let deadline = Instant::now() + self.timeout;
        let mut stream =
            TcpStream::connect_timeout(&self.addr, self.timeout).map_err(|e| match e.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => CallError::Timeout,
                k => CallError::Connect(k),
            })?;
        // Small request, small answer: do not let Nagle hold the request back.
        let _ = stream.set_nodelay(true);

        let mut request = Vec::with_capacity(200 + body.len());
        let _ = write!(
            request,
            "POST {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: xray-core/{}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            env!("CARGO_PKG_VERSION"),
            body.len()
        );
        request.extend_from_slice(body);
        stream
            .set_write_timeout(Some(time_left(deadline)?))
            .map_err(|e| io_error(&e))?;
        stream.write_all(&request).map_err(|e| io_error(&e))?;

        let mut received = Vec::with_capacity(4096);
        let mut chunk = [0u8; 8192];
        loop {
            if let Some((status, body)) = parse_response(&received, false)? {
                return finish(status, body);
            }
            stream
                .set_read_timeout(Some(time_left(deadline)?))
                .map_err(|e| io_error(&e))?;
            match stream.read(&mut chunk) {
                Ok(0) => {
                    return match parse_response(&received, true)? {
                        Some((status, body)) => finish(status, body),
                        None => Err(bad("connection closed before the response ended")),
                    };
                }
                Ok(n) => {
                    received.extend_from_slice(&chunk[..n]);
                    if received.len() > MAX_RESPONSE {
                        return Err(bad("response larger than 4 MiB"));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(&e)),
            }
        }
    }
}

fn finish(status: u16, body: Vec<u8>) -> Result<Vec<u8>, CallError> {
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        Err(CallError::Status(status))
    }
}

fn time_left(deadline: Instant) -> Result<Duration, CallError> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => Ok(left),
        _ => Err(CallError::Timeout),
    }
}

fn io_error(e: &io::Error) -> CallError {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => CallError::Timeout,
        k => CallError::Io(k),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `Ok(None)` while more bytes are needed; `eof` says no more will come.
fn parse_response(buf: &[u8], eof: bool) -> Result<Option<(u16, Vec<u8>)>, CallError> {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        return if eof {
            Err(bad("connection closed before the response headers ended"))
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("headers are not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = parse_status_line(lines.next().unwrap_or_default())?;

    let (mut length, mut chunked) = (None, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad("header line without a colon"));
        };
        let value = value.trim();
        if name.trim().eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| bad("Content-Length is not a number"))?,
            );
        } else if name.trim().eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("chunked"));
        }
    }

    let body = &buf[head_end + 4..];
    if chunked {
        return match dechunk(body)? {
            Some(b) => Ok(Some((status, b))),
            None if eof => Err(bad("chunked body cut short")),
            None => Ok(None),
        };
    }
    match (length, eof) {
        (Some(n), _) if body.len() >= n => Ok(Some((status, body[..n].to_vec()))),
        (Some(_), true) => Err(bad("body shorter than Content-Length")),
        (None, true) => Ok(Some((status, body.to_vec()))),
        (_, false) => Ok(None),
    }
}

fn parse_status_line(line: &str) -> Result<u16, CallError> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(bad("not an HTTP/1.x status line"));
    }
    parts
        .next()
        .filter(|code| code.len() == 3)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| bad("status code is not three digits"))
}

/// Decodes a chunked body; `Ok(None)` if it is not complete yet. Trailers are ignored.
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>, CallError> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = find(rest, b"\r\n") else {
            return Ok(None);
        };
        let size_line =
            std::str::from_utf8(&rest[..line_end]).map_err(|_| bad("chunk size is not text"))?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| bad("chunk size is not hex"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(Some(out));
        }
        let Some(end) = size.checked_add(2) else {
            return Err(bad("chunk size too large"));
        };
        if rest.len() < end {
            return Ok(None);
        }
        if &rest[size..end] != b"\r\n" {
            return Err(bad("chunk not followed by CRLF"));
        }
        out.extend_from_slice(&rest[..size]);
        if out.len() > MAX_RESPONSE {
            return Err(bad("response larger than 4 MiB"));
        }
        rest = &rest[end..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str, eof: bool) -> Result<Option<(u16, Vec<u8>)>, CallError> {
        parse_response(raw.as_bytes(), eof)
    }

    #[test]
    fn reads_content_length_chunked_and_close_delimited_bodies() {
        let r = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra", false);
        assert_eq!(r, Ok(Some((200, b"{}".to_vec()))));
        assert_eq!(
            parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}", false),
            Ok(None)
        );
        let chunked = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(
            parse(chunked, false),
            Ok(Some((200, b"{\"a\":1}".to_vec())))
        );
        assert_eq!(parse(&chunked[..60], false), Ok(None));
        assert_eq!(
            parse("HTTP/1.0 500 Oops\r\nX: y\r\n\r\nbody", true),
            Ok(Some((500, b"body".to_vec())))
        );
        assert_eq!(parse("HTTP/1.0 200 OK\r\n\r\nbody", false), Ok(None));
    }

    #[test]
    fn rejects_what_is_not_http() {
        for (raw, eof) in [
            ("garbage\r\n\r\n", false),
            ("HTTP/1.1 2000 OK\r\n\r\n", false),
            ("HTTP/1.1 abc OK\r\n\r\n", false),
            ("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", false),
            ("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false),
            ("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}", true),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                false,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
                false,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
                false,
            ),
            ("HTTP/1.1 200", true),
        ] {
            assert!(
                matches!(parse(raw, eof), Err(CallError::BadResponse(_))),
                "{raw:?}"
            );
        }
        assert_eq!(finish(404, Vec::new()), Err(CallError::Status(404)));
    }

    #[test]
    fn refused_connection_is_a_connect_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let c = HttpClient::new(port, Duration::from_millis(500));
        assert!(matches!(c.post("/x", b"{}"), Err(CallError::Connect(_))));
    }
}
