//! Reading an HTTP/1.1 response as it arrives: status, framing (length, chunked, close), body.

use super::client::{CallError, bad};

/// Responses larger than this are refused; a rules list is a few kilobytes.
const MAX_RESPONSE: usize = 4 << 20;

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads a response as its bytes arrive, looking at each byte a bounded number of times: a
/// proxy that answers a byte at a time (or never ends its headers) costs time linear in what
/// it sent, not quadratic.
#[derive(Debug, Default)]
pub(crate) struct ResponseReader {
    buf: Vec<u8>,
    state: ReadState,
    /// Bytes examined so far (the tests hold this linear in the bytes received).
    pub(crate) examined: usize,
}

#[derive(Debug, Default)]
enum ReadState {
    /// Looking for the blank line; the bytes already examined hold none.
    #[default]
    Head,
    Body {
        status: u16,
        start: usize,
        framing: Framing,
    },
}

#[derive(Debug)]
enum Framing {
    Length(usize),
    Close,
    /// `pos`: where the next size line (or, with `size`, the next chunk's data) starts.
    Chunked {
        pos: usize,
        size: Option<usize>,
        out: Vec<u8>,
    },
}

impl ResponseReader {
    /// Takes the next bytes received.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<(), CallError> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() > MAX_RESPONSE {
            return Err(bad("response larger than 4 MiB"));
        }
        Ok(())
    }

    /// `Ok(None)` while more bytes are needed; `eof` says no more will come.
    pub(crate) fn poll(&mut self, eof: bool) -> Result<Option<(u16, Vec<u8>)>, CallError> {
        if let ReadState::Head = self.state {
            // The blank line may straddle the previous read: look back 3 bytes, no more.
            let from = self.examined.saturating_sub(3);
            let found = find(&self.buf[from..], b"\r\n\r\n").map(|i| from + i);
            self.examined = self.buf.len();
            let Some(head_end) = found else {
                return if eof {
                    Err(bad("connection closed before the response headers ended"))
                } else {
                    Ok(None)
                };
            };
            let (status, framing) = parse_head(&self.buf[..head_end])?;
            self.state = ReadState::Body {
                status,
                start: head_end + 4,
                framing,
            };
        }
        let ReadState::Body {
            status,
            start,
            framing,
        } = &mut self.state
        else {
            return Ok(None);
        };
        let body = &self.buf[*start..];
        match framing {
            Framing::Length(n) if body.len() >= *n => Ok(Some((*status, body[..*n].to_vec()))),
            Framing::Length(_) if eof => Err(bad("body shorter than Content-Length")),
            Framing::Close if eof => Ok(Some((*status, body.to_vec()))),
            Framing::Length(_) | Framing::Close => Ok(None),
            Framing::Chunked { pos, size, out } => {
                match dechunk(body, pos, size, out, &mut self.examined)? {
                    true => Ok(Some((*status, std::mem::take(out)))),
                    false if eof => Err(bad("chunked body cut short")),
                    false => Ok(None),
                }
            }
        }
    }
}

/// The status and how the body is framed, from the head (without its blank line).
fn parse_head(head: &[u8]) -> Result<(u16, Framing), CallError> {
    let head = std::str::from_utf8(head).map_err(|_| bad("headers are not UTF-8"))?;
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
    let framing = match (chunked, length) {
        (true, _) => Framing::Chunked {
            pos: 0,
            size: None,
            out: Vec::new(),
        },
        (false, Some(n)) => Framing::Length(n),
        (false, None) => Framing::Close,
    };
    Ok((status, framing))
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

/// Decodes what has arrived of a chunked body into `out`, resuming at `pos` (with `size` set
/// when a size line was read and its data is awaited); true once the last chunk is read.
/// Trailers are ignored. A size line is searched once: an unfinished one longer than any
/// valid line is refused instead of searched again.
fn dechunk(
    body: &[u8],
    pos: &mut usize,
    size: &mut Option<usize>,
    out: &mut Vec<u8>,
    examined: &mut usize,
) -> Result<bool, CallError> {
    /// A hex size and any chunk extension fit in this; longer is a hostile peer.
    const MAX_SIZE_LINE: usize = 1024;
    loop {
        let rest = &body[*pos..];
        let Some(n) = *size else {
            let window = &rest[..rest.len().min(MAX_SIZE_LINE)];
            *examined += window.len();
            let Some(line_end) = find(window, b"\r\n") else {
                if rest.len() >= MAX_SIZE_LINE {
                    return Err(bad("chunk size line too long"));
                }
                return Ok(false);
            };
            let size_line = std::str::from_utf8(&rest[..line_end])
                .map_err(|_| bad("chunk size is not text"))?;
            let size_hex = size_line.split(';').next().unwrap_or_default().trim();
            let n =
                usize::from_str_radix(size_hex, 16).map_err(|_| bad("chunk size is not hex"))?;
            *pos += line_end + 2;
            if n == 0 {
                return Ok(true);
            }
            if n.checked_add(2).is_none_or(|end| end > MAX_RESPONSE) {
                return Err(bad("chunk size too large"));
            }
            *size = Some(n);
            continue;
        };
        // Only the length is checked until the whole chunk is here: no byte is read twice.
        if rest.len() < n + 2 {
            return Ok(false);
        }
        *examined += n + 2;
        if &rest[n..n + 2] != b"\r\n" {
            return Err(bad("chunk not followed by CRLF"));
        }
        out.extend_from_slice(&rest[..n]);
        if out.len() > MAX_RESPONSE {
            return Err(bad("response larger than 4 MiB"));
        }
        *pos += n + 2;
        *size = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = Result<Option<(u16, Vec<u8>)>, CallError>;

    fn parse(raw: &str, eof: bool) -> Parsed {
        let mut r = ResponseReader::default();
        r.feed(raw.as_bytes())?;
        r.poll(eof)
    }

    /// Feeds `raw` a byte at a time, polling after each, as a slow peer would.
    fn trickle(raw: &[u8]) -> (Parsed, usize) {
        let mut r = ResponseReader::default();
        for (i, b) in raw.iter().enumerate() {
            r.feed(std::slice::from_ref(b)).unwrap();
            let got = r.poll(false);
            if !matches!(got, Ok(None)) || i + 1 == raw.len() {
                return (got, r.examined);
            }
        }
        (r.poll(true), r.examined)
    }

    #[test]
    fn a_byte_at_a_time_costs_linear_work() {
        // A header block that never ends, then a chunked body of many tiny chunks.
        let endless = "HTTP/1.1 200 OK\r\nX: ".to_owned() + &"a".repeat(20_000);
        let (got, examined) = trickle(endless.as_bytes());
        assert_eq!(got, Ok(None));
        assert!(
            examined <= 4 * endless.len(),
            "{examined} for {}",
            endless.len()
        );

        let mut chunked = String::from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        let mut expected = Vec::new();
        for _ in 0..2_000 {
            chunked.push_str("3\r\nabc\r\n");
            expected.extend_from_slice(b"abc");
        }
        chunked.push_str("0\r\n\r\n");
        let (got, examined) = trickle(chunked.as_bytes());
        assert_eq!(got, Ok(Some((200, expected))));
        // Each poll examines at most the unfinished size line: bounded by a few bytes per
        // byte received, never the whole buffer again.
        assert!(
            examined <= 8 * chunked.len(),
            "{examined} for {}",
            chunked.len()
        );
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
    }
}
