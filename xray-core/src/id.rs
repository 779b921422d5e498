//! Trace ids and segment ids: generation, parsing and display.
//!
//! Ids are fixed-size values kept as integers and bytes, never as `String`s, so generating,
//! comparing and writing them allocates nothing. Randomness comes from the thread-local,
//! OS-seeded ChaCha generator of `rand` (reseeded periodically), because X-Ray ids travel in
//! response headers and must not be guessable.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;

use crate::ascii::parse_hex8_at;

/// A 64-bit segment or subsegment id, written as 16 lowercase hex digits.
///
/// The all-zero id is reserved for entities that are not recorded (see
/// [`SegmentId::NOOP`]); [`SegmentId::random`] never returns it.
///
/// ```
/// use xray_core::SegmentId;
/// let id: SegmentId = "53995c3f42cd8ad8".parse().unwrap();
/// assert_eq!(id.to_string(), "53995c3f42cd8ad8");
/// assert!(SegmentId::random() != SegmentId::NOOP);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegmentId(u64);

impl SegmentId {
    /// The id written for entities that are not sampled, as the official SDKs do.
    pub const NOOP: SegmentId = SegmentId(0);

    /// A fresh unpredictable id; never [`SegmentId::NOOP`].
    #[inline]
    pub fn random() -> SegmentId {
        let mut rng = rand::rng();
        loop {
            let v: u64 = rng.random();
            if v != 0 {
                return SegmentId(v);
            }
        }
    }

    /// Builds an id from its integer value.
    pub const fn from_u64(v: u64) -> SegmentId {
        SegmentId(v)
    }

    /// The integer value.
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// The 16 lowercase hex digits, on the stack.
    #[inline]
    pub fn to_hex(self) -> [u8; 16] {
        crate::ascii::hex16(self.0).to_le_bytes()
    }

    /// Parses exactly 16 hex digits (either case).
    pub fn parse_hex(s: &str) -> Result<SegmentId, IdError> {
        SegmentId::parse_hex_bytes(s.as_bytes())
    }

    /// [`SegmentId::parse_hex`] on bytes.
    pub fn parse_hex_bytes(b: &[u8]) -> Result<SegmentId, IdError> {
        if b.len() != 16 {
            return Err(IdError::Length);
        }
        let hi = parse_hex8_at(b).ok_or(IdError::NotHex)?;
        let lo = parse_hex8_at(&b[8..]).ok_or(IdError::NotHex)?;
        Ok(SegmentId((u64::from(hi) << 32) | u64::from(lo)))
    }
}

impl std::str::FromStr for SegmentId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SegmentId::parse_hex(s)
    }
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_hex();
        f.write_str(ascii(&hex))
    }
}

impl fmt::Debug for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SegmentId({self})")
    }
}

/// An X-Ray trace id: `1-<8 hex digits of epoch seconds>-<24 hex digits>`.
///
/// ```
/// use xray_core::TraceId;
/// let id: TraceId = "1-5759e988-bd862e3fe1be46a994272793".parse().unwrap();
/// assert_eq!(id.epoch_seconds(), 0x5759e988);
/// assert_eq!(id.to_string(), "1-5759e988-bd862e3fe1be46a994272793");
/// let fresh = TraceId::random();
/// assert_eq!(fresh.to_string().len(), 35);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId {
    epoch: u32,
    random: [u8; 12],
}

/// Length of a trace id in its text form.
pub const TRACE_ID_LEN: usize = 35;

impl TraceId {
    /// The trace id the official SDKs write for unsampled work.
    pub const NOOP: TraceId = TraceId {
        epoch: 0,
        random: [0; 12],
    };

    /// A fresh trace id stamped with the current time.
    #[inline]
    pub fn random() -> TraceId {
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as u32);
        TraceId::random_at(epoch)
    }

    /// A fresh trace id stamped with the given epoch seconds.
    #[inline]
    pub fn random_at(epoch_seconds: u32) -> TraceId {
        let mut random = [0u8; 12];
        rand::rng().fill(&mut random);
        TraceId {
            epoch: epoch_seconds,
            random,
        }
    }

    /// Builds a trace id from its parts.
    pub const fn from_parts(epoch_seconds: u32, random: [u8; 12]) -> TraceId {
        TraceId {
            epoch: epoch_seconds,
            random,
        }
    }

    /// The epoch seconds stamped into the id.
    pub const fn epoch_seconds(&self) -> u32 {
        self.epoch
    }

    /// The 96 random bits.
    pub const fn random_part(&self) -> [u8; 12] {
        self.random
    }

    /// The 35-character text form, on the stack.
    #[inline]
    pub fn to_text(&self) -> [u8; TRACE_ID_LEN] {
        let (epoch, hi, lo) = self.hex_parts();
        let mut out = [0u8; TRACE_ID_LEN];
        out[..2].copy_from_slice(b"1-");
        out[2..10].copy_from_slice(&epoch);
        out[10] = b'-';
        out[11..27].copy_from_slice(&hi);
        out[27..].copy_from_slice(&lo);
        out
    }

    /// The hex digits of the epoch and of the two parts of the random id.
    #[inline]
    pub(crate) fn hex_parts(&self) -> ([u8; 8], [u8; 16], [u8; 8]) {
        let r = self.random;
        let hi = u64::from_be_bytes([r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]]);
        let lo = u32::from_be_bytes([r[8], r[9], r[10], r[11]]);
        (
            crate::ascii::hex8(self.epoch).to_le_bytes(),
            crate::ascii::hex16(hi).to_le_bytes(),
            crate::ascii::hex8(lo).to_le_bytes(),
        )
    }

    /// Parses the text form: version `1`, 8 hex digits, 24 hex digits (either case).
    pub fn parse(s: &str) -> Result<TraceId, IdError> {
        TraceId::parse_bytes(s.as_bytes())
    }

    /// [`TraceId::parse`] on bytes.
    pub fn parse_bytes(b: &[u8]) -> Result<TraceId, IdError> {
        if b.len() != TRACE_ID_LEN {
            return Err(IdError::Length);
        }
        if b[0] != b'1' || b[1] != b'-' || b[10] != b'-' {
            return Err(IdError::Shape);
        }
        let epoch = parse_hex8_at(&b[2..]).ok_or(IdError::NotHex)?;
        let mut random = [0u8; 12];
        for (i, word) in random.chunks_exact_mut(4).enumerate() {
            let v = parse_hex8_at(&b[11 + 8 * i..]).ok_or(IdError::NotHex)?;
            word.copy_from_slice(&v.to_be_bytes());
        }
        Ok(TraceId { epoch, random })
    }
}

impl std::str::FromStr for TraceId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TraceId::parse(s)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.to_text();
        f.write_str(ascii(&text))
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

/// Why an id did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdError {
    /// Wrong number of characters.
    Length,
    /// A trace id without the `1-XXXXXXXX-` frame.
    Shape,
    /// A character that is not a hex digit.
    NotHex,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdError::Length => "wrong length for an X-Ray id",
            IdError::Shape => "trace id must look like `1-<8 hex>-<24 hex>`",
            IdError::NotHex => "id contains a character that is not a hex digit",
        })
    }
}

impl std::error::Error for IdError {}

/// Views hex output as text; the input is always ASCII built from `HEX`.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_id_round_trip_and_case() {
        let id = SegmentId::parse_hex("53995C3F42CD8AD8").unwrap();
        assert_eq!(id.to_string(), "53995c3f42cd8ad8");
        assert_eq!(id.as_u64(), 0x5399_5c3f_42cd_8ad8);
        assert_eq!(SegmentId::NOOP.to_string(), "0000000000000000");
    }

    #[test]
    fn segment_id_rejects_bad_input() {
        assert_eq!(SegmentId::parse_hex(""), Err(IdError::Length));
        assert_eq!(
            SegmentId::parse_hex("53995c3f42cd8ad"),
            Err(IdError::Length)
        );
        assert_eq!(
            SegmentId::parse_hex("53995c3f42cd8adg"),
            Err(IdError::NotHex)
        );
        assert_eq!(
            SegmentId::parse_hex("é3995c3f42cd8ad"),
            Err(IdError::NotHex)
        );
    }

    #[test]
    fn trace_id_round_trip() {
        let s = "1-5759e988-bd862e3fe1be46a994272793";
        let id = TraceId::parse(s).unwrap();
        assert_eq!(id.to_string(), s);
        assert_eq!(id.epoch_seconds(), 0x5759_e988);
        assert_eq!(
            TraceId::NOOP.to_string(),
            "1-00000000-000000000000000000000000"
        );
    }

    #[test]
    fn trace_id_rejects_bad_shapes() {
        assert_eq!(TraceId::parse("1-bogus-bad"), Err(IdError::Length));
        assert_eq!(
            TraceId::parse("2-5759e988-bd862e3fe1be46a994272793"),
            Err(IdError::Shape)
        );
        assert_eq!(
            TraceId::parse("1-5759e988xbd862e3fe1be46a994272793"),
            Err(IdError::Shape)
        );
        assert_eq!(
            TraceId::parse("1-5759e98z-bd862e3fe1be46a994272793"),
            Err(IdError::NotHex)
        );
    }

    #[test]
    fn random_ids_differ_and_carry_the_clock() {
        let a = TraceId::random();
        let b = TraceId::random();
        assert_ne!(a, b);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(u64::from(a.epoch_seconds()).abs_diff(now) <= 2);
        let ids: std::collections::HashSet<u64> =
            (0..1000).map(|_| SegmentId::random().as_u64()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(!ids.contains(&0));
    }
}
