//! `AWS_XRAY_DAEMON_ADDRESS`: `host:port`, or `tcp:host:port udp:host:port` in either order.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The default daemon endpoint, for both UDP (segments) and TCP (sampling proxy).
pub const DEFAULT_DAEMON: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2000);

/// Where the X-Ray daemon listens.
///
/// ```
/// use xray_core::DaemonAddress;
/// let a: DaemonAddress = "tcp:127.0.0.1:2000 udp:127.0.0.2:3000".parse().unwrap();
/// assert_eq!(a.udp.to_string(), "127.0.0.2:3000");
/// assert_eq!(a.tcp.to_string(), "127.0.0.1:2000");
/// assert!("127.0.0.1".parse::<DaemonAddress>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DaemonAddress {
    /// Segment documents go here.
    pub udp: SocketAddr,
    /// The daemon's HTTP proxy for the sampling APIs.
    pub tcp: SocketAddr,
}

impl Default for DaemonAddress {
    fn default() -> Self {
        DaemonAddress {
            udp: DEFAULT_DAEMON,
            tcp: DEFAULT_DAEMON,
        }
    }
}

/// Why a daemon address did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonAddressError {
    /// Empty, or more than two space-separated parts.
    Form,
    /// A `host:port` part without a port, or with a port that is not a number from 1 to 65535
    /// written in digits only.
    Port(String),
    /// A two-part form without both `tcp:` and `udp:`.
    Protocols,
    /// The host name did not resolve.
    Resolve(String),
}

impl fmt::Display for DaemonAddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaemonAddressError::Form => f.write_str(
                "expected `host:port` or `tcp:host:port udp:host:port` (one space between)",
            ),
            DaemonAddressError::Port(p) => {
                write!(f, "`{p}` is not `host:port` with a port from 1 to 65535")
            }
            DaemonAddressError::Protocols => {
                f.write_str("the two-part form needs one `tcp:host:port` and one `udp:host:port`")
            }
            DaemonAddressError::Resolve(h) => write!(f, "`{h}` does not resolve to an address"),
        }
    }
}

impl std::error::Error for DaemonAddressError {}

impl std::str::FromStr for DaemonAddress {
    type Err = DaemonAddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split_whitespace().collect();
        match parts.as_slice() {
            [one] => {
                let addr = host_port(one)?;
                Ok(DaemonAddress {
                    udp: addr,
                    tcp: addr,
                })
            }
            [a, b] => {
                let (mut udp, mut tcp) = (None, None);
                for part in [a, b] {
                    if let Some(rest) = strip_prefix_ci(part, "udp:") {
                        if udp.replace(host_port(rest)?).is_some() {
                            return Err(DaemonAddressError::Protocols);
                        }
                    } else if let Some(rest) = strip_prefix_ci(part, "tcp:") {
                        if tcp.replace(host_port(rest)?).is_some() {
                            return Err(DaemonAddressError::Protocols);
                        }
                    } else {
                        return Err(DaemonAddressError::Protocols);
                    }
                }
                match (udp, tcp) {
                    (Some(udp), Some(tcp)) => Ok(DaemonAddress { udp, tcp }),
                    _ => Err(DaemonAddressError::Protocols),
                }
            }
            _ => Err(DaemonAddressError::Form),
        }
    }
}

/// The UDP `host:port` of an address text (the single part, or the `udp:` one), unparsed.
pub(crate) fn udp_text(s: &str) -> Option<&str> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    match parts.as_slice() {
        [one] => Some(one),
        [a, b] => [a, b].into_iter().find_map(|p| strip_prefix_ci(p, "udp:")),
        _ => None,
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn host_port(s: &str) -> Result<SocketAddr, DaemonAddressError> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| DaemonAddressError::Port(s.to_owned()))?;
    // Digits only (`u16::from_str` takes a `+`), and not 0: nothing listens on port 0.
    let port: u16 = port
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| port.parse().ok())
        .flatten()
        .filter(|&p| p != 0)
        .ok_or_else(|| DaemonAddressError::Port(s.to_owned()))?;
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    // A leftover `:` means a protocol prefix or an IPv6 literal without brackets.
    if host.is_empty() || host.contains(':') {
        return Err(DaemonAddressError::Port(s.to_owned()));
    }
    crate::emit::resolve((host, port)).map_err(|_| DaemonAddressError::Resolve(host.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<DaemonAddress, DaemonAddressError> {
        s.parse()
    }

    #[test]
    fn accepts_the_documented_forms() {
        let a = parse("192.168.0.1:3000").unwrap();
        assert_eq!(a.udp, "192.168.0.1:3000".parse().unwrap());
        assert_eq!(a.udp, a.tcp);
        for s in [
            "tcp:192.168.0.1:3000 udp:127.0.0.2:8080",
            "udp:127.0.0.2:8080 tcp:192.168.0.1:3000",
            "  udp:127.0.0.2:8080   tcp:192.168.0.1:3000 ",
        ] {
            let a = parse(s).unwrap();
            assert_eq!(a.udp.to_string(), "127.0.0.2:8080", "{s}");
            assert_eq!(a.tcp.to_string(), "192.168.0.1:3000", "{s}");
        }
        assert_eq!(parse("[::1]:2000").unwrap().udp.to_string(), "[::1]:2000");
        assert_eq!(parse("localhost:2000").unwrap().udp.port(), 2000);
        assert_eq!(
            parse("169.254.79.129:2000").unwrap().udp.to_string(),
            "169.254.79.129:2000"
        );
    }

    #[test]
    fn rejects_what_the_sdks_reject() {
        assert!(matches!(
            parse("192.168.0.1"),
            Err(DaemonAddressError::Port(_))
        ));
        assert!(matches!(
            parse("tcp:192.168.0.1:3000"),
            Err(DaemonAddressError::Port(_))
        ));
        assert_eq!(
            parse("127.0.0.2:8080 192.168.0.1:3000"),
            Err(DaemonAddressError::Protocols)
        );
        assert_eq!(
            parse("udp:127.0.0.2:8080 192.168.0.1:3000"),
            Err(DaemonAddressError::Protocols)
        );
        assert_eq!(
            parse("udp:127.0.0.2:8080 udp:192.168.0.1:3000"),
            Err(DaemonAddressError::Protocols)
        );
        assert_eq!(parse(""), Err(DaemonAddressError::Form));
        assert_eq!(parse("a:1 b:2 c:3"), Err(DaemonAddressError::Form));
        assert!(matches!(
            parse("127.0.0.1:99999"),
            Err(DaemonAddressError::Port(_))
        ));
        for bad in ["127.0.0.1:0", "localhost:+2000", "[::1]:0", "localhost:-1"] {
            assert!(
                matches!(parse(bad), Err(DaemonAddressError::Port(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse("127.0.0.1:port"),
            Err(DaemonAddressError::Port(_))
        ));
        assert!(matches!(
            parse("no-such-host.invalid:2000"),
            Err(DaemonAddressError::Resolve(_))
        ));
    }
}
