//! Cuts JSON text nested too deep, so a document always parses with serde_json's defaults.
//!
//! Works on the text serde_json wrote (valid JSON), one pass to find the depth and, only when
//! too deep, one more to rewrite; no recursion, so any depth is safe.

/// Scan state over JSON text: tracks strings so brackets inside them are not counted.
#[derive(Default)]
struct Scan {
    in_string: bool,
    escaped: bool,
}

impl Scan {
    /// Steps over `b`; returns +1 when it opens a container, -1 when it closes one.
    fn step(&mut self, b: u8) -> i8 {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
            }
            return 0;
        }
        match b {
            b'"' => {
                self.in_string = true;
                0
            }
            b'{' | b'[' => 1,
            b'}' | b']' => -1,
            _ => 0,
        }
    }
}

fn deeper_than(text: &[u8], max: usize) -> bool {
    let mut scan = Scan::default();
    let mut depth = 0usize;
    for &b in text {
        match scan.step(b) {
            1 => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            -1 => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Replaces every array or object of `buf[start..]` that would open level `max + 1` by
/// `marker` (a JSON value) and returns how many were replaced.
pub(crate) fn cut_deep_values(buf: &mut Vec<u8>, start: usize, max: usize, marker: &[u8]) -> u64 {
    if !deeper_than(&buf[start..], max) {
        return 0;
    }
    // The rewrite is appended after the original, then moved over it: the arena's own spare
    // capacity serves as scratch space.
    let end = buf.len();
    let mut scan = Scan::default();
    let mut depth = 0usize;
    let mut cuts = 0;
    let mut i = start;
    while i < end {
        let b = buf[i];
        i += 1;
        match scan.step(b) {
            1 if depth == max => {
                buf.extend_from_slice(marker);
                cuts += 1;
                i = skip_container(buf, i, end);
            }
            1 => {
                depth += 1;
                buf.push(b);
            }
            -1 => {
                depth = depth.saturating_sub(1);
                buf.push(b);
            }
            _ => buf.push(b),
        }
    }
    let len = buf.len() - end;
    buf.copy_within(end.., start);
    buf.truncate(start + len);
    cuts
}

/// The index just past the container whose opening bracket ends at `i`.
fn skip_container(buf: &[u8], mut i: usize, end: usize) -> usize {
    let mut scan = Scan::default();
    let mut depth = 1usize;
    while i < end && depth > 0 {
        match scan.step(buf[i]) {
            1 => depth += 1,
            -1 => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(text: &str, max: usize) -> (String, u64) {
        let mut buf = b"prefix".to_vec();
        buf.extend_from_slice(text.as_bytes());
        let n = cut_deep_values(&mut buf, 6, max, b"\"M\"");
        assert_eq!(&buf[..6], b"prefix");
        (String::from_utf8(buf[6..].to_vec()).unwrap(), n)
    }

    #[test]
    fn shallow_values_are_left_alone() {
        assert_eq!(
            cut(r#"{"a":[1,{"b":"[[[["}]}"#, 3),
            (r#"{"a":[1,{"b":"[[[["}]}"#.into(), 0)
        );
        assert_eq!(cut("7", 0), ("7".into(), 0));
    }

    #[test]
    fn deep_containers_become_the_marker() {
        assert_eq!(cut("[[[1]],[[2]]]", 2), (r#"[["M"],["M"]]"#.into(), 2));
        assert_eq!(
            cut(r#"{"s":"\"]}","d":{"e":{"f":[]}},"g":1}"#, 2),
            (r#"{"s":"\"]}","d":{"e":"M"},"g":1}"#.into(), 1)
        );
        assert_eq!(cut("[[]]", 0), ("\"M\"".into(), 1));
    }

    #[test]
    fn very_deep_text_is_cut_without_recursion() {
        let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let (out, n) = cut(&text, 32);
        assert_eq!(n, 1);
        assert_eq!(out, format!("{}\"M\"{}", "[".repeat(32), "]".repeat(32)));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(v.is_array());
    }
}
