//! Writing a header: into a caller's buffer, a stack value, or a formatter.

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;

use super::TraceHeader;
use super::fields::{OVER_BUDGET, REFUSED_OUTGOING, fields, is_valid_extra_field, reserved};

impl<'a> TraceHeader<'a> {
    /// The extra fields as written: `Lineage` first (it stops loops between services, so it
    /// is the last thing to lose), then the others in order; with whether each may travel.
    fn extras_in_write_order(&self) -> impl Iterator<Item = (&'a str, &'a str, bool)> + use<'a> {
        let src: &'a str = self.extras_source;
        let is_lineage = |k: &str| k.eq_ignore_ascii_case("Lineage");
        let pass = move |lineage: bool| {
            fields(src)
                .filter(move |(k, _)| reserved(k).is_none() && is_lineage(k) == lineage)
                .map(|(k, v)| (k, v, is_valid_extra_field(k, v)))
        };
        pass(true).chain(pass(false))
    }

    /// Writes the header into `out`, returning the number of bytes written.
    ///
    /// Reserved fields come first, then `Lineage`, then the other extra fields in order. An
    /// extra field that does not fit, or may not travel ([`is_valid_extra_field`]), is left
    /// out and counted ([`trace_header_stats`](super::trace_header_stats)); a header is
    /// bounded and the extras are advisory. Returns 0 if not even `Root` fits.
    pub fn encode_into(&self, out: &mut [u8]) -> usize {
        let mut w = SliceWriter { out, len: 0 };
        let sep = |w: &mut SliceWriter<'_>| w.len == 0 || w.push(b";");
        if let Some(root) = self.root
            && !(sep(&mut w) && w.push(b"Root=") && w.push(&root.to_text()))
        {
            return 0;
        }
        if let Some(parent) = self.parent {
            let mark = w.len;
            if !(sep(&mut w) && w.push(b"Parent=") && w.push(&parent.to_hex())) {
                return mark;
            }
        }
        if let Some(v) = self.sampled.as_field() {
            let mark = w.len;
            if !(sep(&mut w) && w.push(b"Sampled=") && w.push(v.as_bytes())) {
                return mark;
            }
        }
        for (key, val, may_travel) in self.extras_in_write_order() {
            if !may_travel {
                REFUSED_OUTGOING.fetch_add(1, Relaxed);
                continue;
            }
            let mark = w.len;
            if !(sep(&mut w) && w.push(key.as_bytes()) && w.push(b"=") && w.push(val.as_bytes())) {
                w.len = mark;
                OVER_BUDGET.fetch_add(1, Relaxed);
            }
        }
        w.len
    }

    /// The header as a stack value, ready to be used as `&str`.
    pub fn encode(&self) -> EncodedHeader {
        let mut buf = [0u8; ENCODED_CAPACITY];
        let len = self.encode_into(&mut buf);
        EncodedHeader { buf, len }
    }
}

impl fmt::Display for TraceHeader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(root) = self.root {
            write!(f, "Root={root}")?;
            sep = ";";
        }
        if let Some(parent) = self.parent {
            write!(f, "{sep}Parent={parent}")?;
            sep = ";";
        }
        if let Some(v) = self.sampled.as_field() {
            write!(f, "{sep}Sampled={v}")?;
            sep = ";";
        }
        for (key, val, _) in self.extras_in_write_order().filter(|e| e.2) {
            write!(f, "{sep}{key}={val}")?;
            sep = ";";
        }
        Ok(())
    }
}

/// Room for the reserved fields (at most 70 bytes) plus 442 bytes of extra fields.
pub const ENCODED_CAPACITY: usize = 512;

/// A header written into a fixed buffer on the stack (see [`TraceHeader::encode`]).
#[derive(Clone, Copy)]
pub struct EncodedHeader {
    buf: [u8; ENCODED_CAPACITY],
    len: usize,
}

impl EncodedHeader {
    /// The header text.
    pub fn as_str(&self) -> &str {
        // Everything written comes from `&str` pieces and ASCII, cut only at piece boundaries.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl fmt::Debug for EncodedHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::ops::Deref for EncodedHeader {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

struct SliceWriter<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl SliceWriter<'_> {
    fn push(&mut self, bytes: &[u8]) -> bool {
        let end = self.len + bytes.len();
        if end > self.out.len() {
            return false;
        }
        self.out[self.len..end].copy_from_slice(bytes);
        self.len = end;
        true
    }
}
