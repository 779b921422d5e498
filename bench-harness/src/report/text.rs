//! Text for the HTML report: escaping, numbers and dates, written without extra crates.

/// What a figure shows when it is not a finite number.
pub const MISSING: &str = "–";

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `v` with `decimals` decimals and a comma between groups of three digits.
pub fn thousands(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return MISSING.to_owned();
    }
    let text = format!("{:.decimals$}", v.abs());
    let (int, frac) = text
        .split_once('.')
        .map_or((text.as_str(), ""), |(i, f)| (i, f));
    let mut out = String::with_capacity(text.len() + text.len() / 3 + 1);
    // Rounding can turn a tiny negative into zero; "-0" would read as a real negative.
    if v < 0.0 && text.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
        out.push('-');
    }
    group_digits(int, &mut out);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// A count with thousands separators.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    group_digits(&digits, &mut out);
    out
}

/// Appends ASCII `digits` with a comma before each group of three from the right.
fn group_digits(digits: &str, out: &mut String) {
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
}

/// A duration in nanoseconds: in ns with separators below 10 µs, then µs, ms or s.
pub fn ns(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        MISSING.to_owned()
    } else if a == 0.0 {
        "0 ns".to_owned()
    } else if a < 10.0 {
        format!("{} ns", thousands(v, 1))
    } else if a < 10_000.0 {
        format!("{} ns", thousands(v, 0))
    } else if a < 1e6 {
        format!("{} µs", thousands(v / 1e3, 1))
    } else if a < 1e9 {
        format!("{} ms", thousands(v / 1e6, 2))
    } else {
        format!("{} s", thousands(v / 1e9, 2))
    }
}

/// A duration in seconds: in ms below one second.
pub fn seconds(v: f64) -> String {
    if !v.is_finite() {
        MISSING.to_owned()
    } else if v.abs() < 1.0 {
        format!("{} ms", thousands(v * 1e3, 1))
    } else {
        format!("{} s", thousands(v, 1))
    }
}

/// A fraction as a percentage.
pub fn percent(fraction: f64, decimals: usize) -> String {
    if fraction.is_finite() {
        format!("{} %", thousands(fraction * 100.0, decimals))
    } else {
        MISSING.to_owned()
    }
}

/// A size in bytes, in KiB or MiB from 10 KiB up (whole ones without a decimal).
pub fn bytes(n: u64) -> String {
    let (v, unit) = if n < 10 * 1024 {
        return format!("{} B", count(n));
    } else if n < 1024 * 1024 {
        (n as f64 / 1024.0, "KiB")
    } else {
        (n as f64 / (1024.0 * 1024.0), "MiB")
    };
    let text = thousands(v, 1);
    format!("{} {unit}", text.strip_suffix(".0").unwrap_or(&text))
}

/// The fewest decimals (at most 3) that show `v` exactly, for tick labels like 2.5 or 0.25.
pub fn decimals_needed(v: f64) -> usize {
    let mut scaled = v.abs();
    for d in 0..3 {
        if (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0) {
            return d;
        }
        scaled *= 10.0;
    }
    3
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(epoch_seconds: u64) -> String {
    let days = (epoch_seconds / 86_400) as i64;
    let rest = epoch_seconds % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`): counting in 400-year eras keeps the leap-year rules exact.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as u32, d as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(thousands(1_234_567.0, 0), "1,234,567");
        assert_eq!(thousands(-1_234.5, 1), "-1,234.5");
        assert_eq!(thousands(999.96, 1), "1,000.0");
        assert_eq!(thousands(-0.01, 0), "0");
        assert_eq!(thousands(12.0, 0), "12");
        assert_eq!(thousands(f64::NAN, 0), MISSING);
        assert_eq!(count(0), "0");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(123_456), "123,456");
        assert_eq!(ns(1.79), "1.8 ns");
        assert_eq!(ns(2395.2), "2,395 ns");
        assert_eq!(ns(17_511.0), "17.5 µs");
        assert_eq!(ns(1_887_016.0), "1.89 ms");
        assert_eq!(ns(f64::INFINITY), MISSING);
        assert_eq!(seconds(0.0133), "13.3 ms");
        assert_eq!(seconds(36.83), "36.8 s");
        assert_eq!(percent(0.069, 1), "6.9 %");
        assert_eq!(bytes(666), "666 B");
        assert_eq!(bytes(63_164), "61.7 KiB");
        assert_eq!(bytes(2048), "2,048 B");
        assert_eq!(bytes(102_400), "100 KiB");
        assert_eq!(bytes(1 << 20), "1 MiB");
        assert_eq!(bytes(24_000_000), "22.9 MiB");
        assert_eq!(decimals_needed(2.5), 1);
        assert_eq!(decimals_needed(20.0), 0);
        assert_eq!(decimals_needed(0.25), 2);
    }

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_795_238_337), "2026-11-21 05:18:57 UTC");
        assert_eq!(utc(4_102_444_799), "2099-12-31 23:59:59 UTC");
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
