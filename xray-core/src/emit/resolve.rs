//! A daemon host name that did not resolve at configuration time (`xray-daemon:2000` before
//! the sidecar's DNS entry exists) is retried off the hot path, a bounded number of times.
//!
//! Meanwhile the socket stays connected to the documented fallback (`127.0.0.1:2000`); once the
//! name resolves, the same socket is connected to it, so sends never wait on DNS.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::{Emitter, Inner, Sink};

/// Waits between attempts: about five minutes in all, then the fallback stays.
pub(crate) const RETRY_DELAYS: [Duration; 10] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(16),
    Duration::from_secs(32),
    Duration::from_secs(60),
    Duration::from_secs(60),
    Duration::from_secs(60),
    Duration::from_secs(60),
];

/// Resolves `target` (`"host:port"`, `(host, port)`), preferring IPv4: the daemon socket is
/// bound for the IPv4 fallback, and `localhost` may list `::1` first while a collector listens
/// on 127.0.0.1.
pub(crate) fn resolve(target: impl ToSocketAddrs) -> io::Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = target.to_socket_addrs()?.collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))
}

impl Emitter {
    /// Like [`Emitter::udp`] to `fallback`, while resolving `host_port` in a background
    /// thread (at most 10 attempts over about five minutes); once it resolves, datagrams go
    /// there. Failed attempts are counted in `daemon_resolve_failures`.
    pub fn udp_resolving(fallback: SocketAddr, host_port: &str, limit: usize) -> Emitter {
        Emitter::udp(fallback, limit).resolving(host_port)
    }

    /// This UDP emitter, with `host_port` resolved in a background thread as
    /// [`Emitter::udp_resolving`] does; whatever it sends (X-Ray documents or OTLP datagrams)
    /// follows the name once it resolves. Called last: the emitter must be fully built.
    pub(crate) fn resolving(self, host_port: &str) -> Emitter {
        self.resolving_with(host_port.to_owned(), &RETRY_DELAYS, |h| resolve(h))
    }

    pub(crate) fn resolving_with(
        self,
        host_port: String,
        delays: &'static [Duration],
        mut resolver: impl FnMut(&str) -> io::Result<SocketAddr> + Send + 'static,
    ) -> Emitter {
        let emitter = self;
        let Sink::Udp(socket) = &emitter.inner.sink else {
            return emitter;
        };
        let Ok(socket) = socket.try_clone() else {
            emitter
                .inner
                .counters
                .daemon_resolve_failures
                .fetch_add(1, Relaxed);
            return emitter;
        };
        let weak = Arc::downgrade(&emitter.inner);
        let spawned = std::thread::Builder::new()
            .name("xray-resolve".into())
            .spawn(move || retry(&weak, &socket, &host_port, delays, &mut resolver));
        if spawned.is_err() {
            emitter
                .inner
                .counters
                .daemon_resolve_failures
                .fetch_add(1, Relaxed);
        }
        emitter
    }
}

fn retry(
    emitter: &Weak<Inner>,
    socket: &UdpSocket,
    host_port: &str,
    delays: &[Duration],
    resolver: &mut dyn FnMut(&str) -> io::Result<SocketAddr>,
) {
    for delay in delays {
        std::thread::sleep(*delay);
        // The emitter is gone: nobody would send there.
        let Some(inner) = emitter.upgrade() else {
            return;
        };
        match resolver(host_port).and_then(|addr| socket.connect(addr).map(|()| addr)) {
            Ok(addr) => {
                eprintln!("[xray] daemon address {host_port} resolved to {addr}; sending there");
                return;
            }
            Err(_) => {
                inner.counters.daemon_resolve_failures.fetch_add(1, Relaxed);
            }
        }
    }
    eprintln!(
        "[xray] daemon address {host_port} still does not resolve; segments keep going to the \
         fallback address"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::EmitBuffer;

    #[test]
    fn a_name_that_resolves_late_is_used_once_it_does() {
        static DELAYS: [Duration; 5] = [Duration::from_millis(5); 5];
        let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
        daemon
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let target = daemon.local_addr().unwrap();
        // The fallback: a port nobody listens on.
        let fallback = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut calls = 0;
        let emitter = Emitter::udp(fallback, 64_000).resolving_with(
            "xray-daemon:2000".into(),
            &DELAYS,
            move |name| {
                assert_eq!(name, "xray-daemon:2000");
                calls += 1;
                if calls <= 2 {
                    Err(io::Error::new(io::ErrorKind::NotFound, "not yet"))
                } else {
                    Ok(target)
                }
            },
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while emitter.stats().daemon_resolve_failures < 2 {
            assert!(std::time::Instant::now() < deadline, "no retries");
            std::thread::sleep(Duration::from_millis(5));
        }
        // The third attempt connects: from then on, datagrams reach the daemon.
        daemon
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = loop {
            assert!(
                std::time::Instant::now() < deadline,
                "never reached the daemon"
            );
            emitter.send_raw_document(b"{\"name\":\"late\"}", &mut EmitBuffer::new());
            if let Ok(n) = daemon.recv(&mut buf) {
                break n;
            }
        };
        assert!(buf[..n].ends_with(b"{\"name\":\"late\"}"));
        assert_eq!(emitter.stats().daemon_resolve_failures, 2);
    }

    #[test]
    fn an_unresolved_daemon_name_keeps_the_otlp_output() {
        // The fallback is where datagrams go until the name resolves; it must still get OTLP.
        let fallback = UdpSocket::bind("127.0.0.1:0").unwrap();
        fallback
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut config = crate::Config::default();
        config.daemon.udp = fallback.local_addr().unwrap();
        config.daemon_unresolved = Some("nowhere.invalid:2000".to_owned());
        config.output = crate::OutputConfig::new(crate::Output::OtlpUdp);
        let tracer = crate::Tracer::new(config);
        let emitter = tracer.emitter();
        let mut tree = crate::model::EntityTree::new(crate::TraceId::random());
        let root = tree.begin_segment("api", None, crate::model::Timestamp::now());
        tree.end(root, crate::model::Timestamp::now());
        emitter.emit(&mut tree, root, &mut EmitBuffer::new());
        let mut buf = [0u8; 4096];
        let n = fallback.recv(&mut buf).unwrap();
        let body = &buf[..n];
        assert!(
            body.windows(3).any(|w| w == b"T1S"),
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }

    #[test]
    fn attempts_are_bounded() {
        static DELAYS: [Duration; 3] = [Duration::from_millis(1); 3];
        let fallback = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let emitter = Emitter::udp(fallback, 64_000).resolving_with(
            "nowhere.invalid:2000".into(),
            &DELAYS,
            |_| Err(io::Error::new(io::ErrorKind::NotFound, "never")),
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while emitter.stats().daemon_resolve_failures < 3 {
            assert!(std::time::Instant::now() < deadline, "no retries");
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(emitter.stats().daemon_resolve_failures, 3);
    }
}
