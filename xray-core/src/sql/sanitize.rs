//! Literals out of SQL text, so a query can be recorded without the values inlined in it.

/// Writes `sql` into `out` with every literal replaced by `?`: quoted strings (`'…'` with `''`
/// escapes, `E'…'` with backslash escapes, `$tag$…$tag$`), numbers, and comments dropped
/// (they may hold values too). Identifiers (`"quoted"` included), keywords and bind
/// parameters (`$1`, `?`, `:name`) are kept. Never fails: an unterminated literal is
/// replaced to the end.
///
/// ```
/// let mut out = String::new();
/// xray_core::sql::sanitize_query_into(
///     "SELECT * FROM users WHERE email = 'a@b.c' AND age > 41 AND id = $1",
///     &mut out,
/// );
/// assert_eq!(out, "SELECT * FROM users WHERE email = ? AND age > ? AND id = $1");
/// ```
pub fn sanitize_query_into(sql: &str, out: &mut String) {
    let b = sql.as_bytes();
    let mut i = 0;
    // Copied verbatim up to here; runs of unchanged text are pushed in one go.
    let mut copied = 0;
    let flush = |out: &mut String, from: usize, to: usize| out.push_str(&sql[from..to]);
    while i < b.len() {
        let c = b[i];
        let replaced_end = match c {
            b'\'' => {
                // `E'…'` takes backslash escapes; the `E` itself is dropped with the literal.
                let backslash = i > 0
                    && matches!(b[i - 1], b'e' | b'E')
                    && !ident_char_at(b, i.wrapping_sub(2));
                let start = if backslash { i - 1 } else { i };
                Some((start, quoted_end(b, i, backslash), true))
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p);
                Some((i, end, false))
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = find(b, i + 2, b"*/").map_or(b.len(), |p| p + 2);
                Some((i, end, false))
            }
            b'$' => dollar_tag(b, i).map(|tag_len| {
                let tag = &b[i..i + tag_len];
                let end = find(b, i + tag_len, tag).map_or(b.len(), |p| p + tag_len);
                (i, end, true)
            }),
            b'0'..=b'9' if !ident_char_at(b, i.wrapping_sub(1)) => {
                Some((i, number_end(b, i), true))
            }
            b'.' if b.get(i + 1).is_some_and(u8::is_ascii_digit)
                && !ident_char_at(b, i.wrapping_sub(1)) =>
            {
                Some((i, number_end(b, i), true))
            }
            b'"' | b'`' => {
                // A quoted identifier: kept, but skipped whole so quotes inside do not count.
                i = find(b, i + 1, &[c]).map_or(b.len(), |p| p + 1);
                continue;
            }
            _ => None,
        };
        match replaced_end {
            Some((start, end, placeholder)) => {
                flush(out, copied, start);
                out.push_str(if placeholder { "?" } else { " " });
                i = end;
                copied = end;
            }
            None => i += 1,
        }
    }
    flush(out, copied, b.len());
}

/// Like [`sanitize_query_into`], returning a new string.
pub fn sanitize_query(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    sanitize_query_into(sql, &mut out);
    out
}

fn ident_char_at(b: &[u8], i: usize) -> bool {
    b.get(i)
        .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80)
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if from > b.len() || needle.is_empty() {
        return None;
    }
    b[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// The end (exclusive) of the string literal opening at `open`.
fn quoted_end(b: &[u8], open: usize, backslash: bool) -> usize {
    let mut i = open + 1;
    while i < b.len() {
        match b[i] {
            b'\\' if backslash => i += 2,
            b'\'' if b.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// The length of a `$tag$` opening at `i` (`$$` included); `None` for `$1` and the like.
fn dollar_tag(b: &[u8], i: usize) -> Option<usize> {
    if ident_char_at(b, i.wrapping_sub(1)) {
        return None;
    }
    let mut j = i + 1;
    if b.get(j).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
        j += 1;
    }
    (b.get(j) == Some(&b'$')).then_some(j + 1 - i)
}

fn number_end(b: &[u8], start: usize) -> usize {
    let mut i = start;
    // Hex (`0x1F`) and plain digits with one dot and an exponent.
    if b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X')) {
        i += 2;
        while i < b.len() && b[i].is_ascii_hexdigit() {
            i += 1;
        }
        return i;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b'_') {
        i += 1;
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        let mut j = i + 1;
        if j < b.len() && matches!(b[j], b'+' | b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            i = j;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::sanitize_query;

    #[test]
    fn literals_go_identifiers_stay() {
        let cases = [
            ("SELECT 1", "SELECT ?"),
            (
                "select * from t where a='it''s' and b=2.5e-3",
                "select * from t where a=? and b=?",
            ),
            (
                "select col1, t2.x from t2 where y = $2",
                "select col1, t2.x from t2 where y = $2",
            ),
            ("select E'a\\'b' , 'c'", "select ? , ?"),
            ("select $$raw 'text'$$, $fn$x$fn$", "select ?, ?"),
            (
                "select \"we'ird\" from t -- 'secret'\nwhere a = .5",
                "select \"we'ird\" from t  \nwhere a = ?",
            ),
            (
                "/* 'x' */ insert into t values (0x1F, 'unterminated",
                "  insert into t values (?, ?",
            ),
            ("select :name, ?", "select :name, ?"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize_query(input), want, "{input}");
        }
    }
}
