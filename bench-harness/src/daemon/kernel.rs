//! Datagrams the kernel dropped before the daemon could read them.
//!
//! std offers no way to read a socket's drop counter (or to set `SO_RCVBUF`), and this crate
//! uses no `unsafe`. On Linux the counter is public anyway: `/proc/self/fd/<fd>` links to
//! `socket:[<inode>]`, and the line of `/proc/net/udp` (or `udp6`) with that inode ends with a
//! `drops` column. Elsewhere the count is unknown.

use std::net::UdpSocket;

/// Identifies the socket in `/proc/net/udp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SocketInode(u64);

impl SocketInode {
    /// The socket's inode, when the platform exposes it.
    pub(crate) fn of(socket: &UdpSocket) -> Option<SocketInode> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).ok()?;
            parse_socket_link(link.to_str()?).map(SocketInode)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = socket;
            None
        }
    }

    /// The socket's drop counter now, if its line can be found.
    pub(crate) fn drops(self) -> Option<u64> {
        ["/proc/net/udp", "/proc/net/udp6"]
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .find_map(|table| drops_in_table(&table, self.0))
    }
}

/// `socket:[12345]` → 12345.
fn parse_socket_link(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Finds the row for `inode` in a `/proc/net/udp` table and reads its `drops` column.
///
/// Columns: `sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid
/// timeout inode ref pointer drops`.
fn drops_in_table(table: &str, inode: u64) -> Option<u64> {
    const INODE: usize = 9;
    const DROPS: usize = 12;
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let row_inode: u64 = cols.get(INODE)?.parse().ok()?;
        if row_inode != inode {
            return None;
        }
        cols.get(DROPS)?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  110: 0100007F:07D0 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 17
  111: 0100007F:8A3B 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5151 2 0000000000000000 0
";

    #[test]
    fn reads_the_drops_column_of_the_right_row() {
        assert_eq!(drops_in_table(TABLE, 4242), Some(17));
        assert_eq!(drops_in_table(TABLE, 5151), Some(0));
        assert_eq!(drops_in_table(TABLE, 1), None);
        assert_eq!(drops_in_table("", 1), None);
        assert_eq!(drops_in_table("header\n 1: short row\n", 1), None);
    }

    #[test]
    fn parses_socket_links() {
        assert_eq!(parse_socket_link("socket:[4242]"), Some(4242));
        assert_eq!(parse_socket_link("pipe:[4242]"), None);
        assert_eq!(parse_socket_link("socket:[x]"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn finds_a_live_socket() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let inode = SocketInode::of(&socket).expect("inode on Linux");
        assert_eq!(inode.drops(), Some(0));
    }
}
