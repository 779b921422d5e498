//! gzip bodies for OTLP/HTTP (`OTEL_EXPORTER_OTLP_COMPRESSION=gzip`), written into a reused
//! buffer with one reused deflate state, so a warm request allocates nothing.
//!
//! flate2's `GzEncoder` would build a fresh deflate state (tens of kilobytes) per request; the
//! gzip framing around raw deflate is 18 fixed bytes (RFC 1952), written here instead.

use flate2::{Compress, Crc, FlushCompress, Status};

/// Magic, deflate, no flags, no mtime, no extra flags, OS unknown (RFC 1952, 2.3).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// A deflate state kept across requests.
#[derive(Debug)]
pub(crate) struct Gzip {
    deflate: Compress,
}

impl Gzip {
    /// Level 1: on a Lambda the CPU is the function's; the protobuf's repeated keys and ids
    /// still shrink most of what a higher level would.
    pub(crate) fn new() -> Gzip {
        Gzip {
            deflate: Compress::new(flate2::Compression::fast(), false),
        }
    }

    /// Writes `body` gzipped into `out` (cleared first); false when deflate failed, which
    /// only a misused state does (the caller then sends the plain body). `out` only grows
    /// while warming up.
    pub(crate) fn compress(&mut self, body: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        out.extend_from_slice(&HEADER);
        self.deflate.reset();
        loop {
            // Raw deflate grows incompressible input by a few bytes per 16 KiB block.
            if out.capacity() - out.len() < 64 {
                out.reserve(body.len() / 2 + 1024);
            }
            let read = usize::try_from(self.deflate.total_in()).unwrap_or(body.len());
            let rest = body.get(read..).unwrap_or_default();
            match self.deflate.compress_vec(rest, out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => break,
                Ok(Status::Ok | Status::BufError) => {}
                Err(_) => return false,
            }
        }
        let mut crc = Crc::new();
        crc.update(body);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        // ISIZE is the length modulo 2^32 (RFC 1952).
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn round_trips_through_a_standard_decoder_with_one_reused_state() {
        let mut gz = Gzip::new();
        let mut out = Vec::new();
        let text: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        // Incompressible bytes too, which deflate stores and so slightly grows.
        let mut noise = vec![0u8; 70_000];
        rand::fill(&mut noise[..]);
        for body in [&b""[..], b"hello", &text, &noise, b"again"] {
            assert!(gz.compress(body, &mut out));
            assert_eq!(gunzip(&out), body);
        }
    }
}
