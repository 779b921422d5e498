//! Just enough HTTP/1.1 to POST JSON to the daemon's sampling proxy over a `TcpStream`.
//!
//! One connection per call with `Connection: close`: the calls come minutes (rules) or
//! seconds (targets) apart, so keeping a connection alive would buy nothing and would add
//! stale-connection handling. Every step runs against one deadline, so a call never takes
//! longer than the configured timeout however slowly the peer answers.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::response::ResponseReader;

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

pub(crate) fn bad(why: &str) -> CallError {
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

        let mut reader = ResponseReader::default();
        let mut chunk = [0u8; 8192];
        loop {
            if let Some((status, body)) = reader.poll(false)? {
                return finish(status, body);
            }
            stream
                .set_read_timeout(Some(time_left(deadline)?))
                .map_err(|e| io_error(&e))?;
            match stream.read(&mut chunk) {
                Ok(0) => {
                    return match reader.poll(true)? {
                        Some((status, body)) => finish(status, body),
                        None => Err(bad("connection closed before the response ended")),
                    };
                }
                Ok(n) => reader.feed(&chunk[..n])?,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_2xx_is_a_status_error() {
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
