//! A stand-in for the daemon's sampling proxy, for tests: one thread on 127.0.0.1 that
//! answers each request with whatever the test's handler says.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What to send back.
pub(crate) enum Reply {
    /// A status and a JSON (or any) body, with `Content-Length`.
    Body(u16, String),
    /// Bytes as they are, then close.
    Raw(&'static [u8]),
    /// Wait, then reply.
    Late(Duration, Box<Reply>),
    /// Close without a word.
    Hang,
}

/// A request the stand-in received.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) path: String,
    pub(crate) body: String,
}

pub(crate) struct StandIn {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
    thread: Option<JoinHandle<()>>,
}

type Handler = Box<dyn Fn(&Seen, usize) -> Reply + Send>;

impl StandIn {
    /// Serves until dropped; `handler` gets each request and how many requests for the same
    /// path came before it.
    pub(crate) fn start(handler: impl Fn(&Seen, usize) -> Reply + Send + 'static) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Box::new(handler);
        let thread = {
            let (stop, seen) = (Arc::clone(&stop), Arc::clone(&seen));
            std::thread::spawn(move || serve(&listener, &stop, &seen, &handler))
        };
        StandIn {
            addr,
            stop,
            seen,
            thread: Some(thread),
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn seen(&self, path: &str) -> Vec<Seen> {
        let seen = self.seen.lock().unwrap();
        seen.iter().filter(|s| s.path == path).cloned().collect()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(listener: &TcpListener, stop: &AtomicBool, seen: &Mutex<Vec<Seen>>, handler: &Handler) {
    while !stop.load(Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = answer(stream, stop, seen, handler);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

fn answer(
    mut stream: TcpStream,
    stop: &AtomicBool,
    seen: &Mutex<Vec<Seen>>,
    handler: &Handler,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, length) = loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let request = Seen {
        path: head.split(' ').nth(1).unwrap_or_default().to_owned(),
        body: String::from_utf8_lossy(&buf[head_end..]).into_owned(),
    };
    let before = {
        let mut all = seen.lock().unwrap();
        let before = all.iter().filter(|s| s.path == request.path).count();
        all.push(request.clone());
        before
    };
    let mut reply = handler(&request, before);
    loop {
        match reply {
            Reply::Body(status, body) => {
                let text = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                return stream.write_all(text.as_bytes());
            }
            Reply::Raw(bytes) => return stream.write_all(bytes),
            Reply::Hang => return Ok(()),
            Reply::Late(delay, then) => {
                let until = Instant::now() + delay;
                while Instant::now() < until && !stop.load(Relaxed) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                reply = *then;
            }
        }
    }
}
