//! `metav1.Duration` as Kubernetes writes it in JSON: Go's `time.Duration` string (`1h0m0s`,
//! `1.5s`, `100ms`), and Go's `time.ParseDuration` for the way back.

use super::error::ProtobufError;

const SECOND: u64 = 1_000_000_000;

/// `.5` for 5 at precision 1; empty when the fraction is zero (Go's `fmtFrac`).
fn fraction(value: u64, precision: usize) -> String {
    if value == 0 {
        return String::new();
    }
    let digits = format!("{value:0precision$}");
    format!(".{}", digits.trim_end_matches('0'))
}

/// Go's `time.Duration.String()` of a count of nanoseconds.
pub fn format(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u == 0 {
        return "0s".into();
    }
    if u < SECOND {
        let (precision, unit) = match u {
            0..1_000 => (0, "ns"),
            1_000..1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        let scale = 10u64.pow(precision as u32);
        return format!(
            "{sign}{}{}{unit}",
            u / scale,
            fraction(u % scale, precision)
        );
    }
    let frac = fraction(u % SECOND, 9);
    let secs = u / SECOND;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{sign}{h}h{m}m{s}{frac}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}{frac}s")
    } else {
        format!("{sign}{s}{frac}s")
    }
}

/// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or `0`.
pub fn parse(text: &str) -> Result<i64, ProtobufError> {
    let bad = || ProtobufError::invalid(format!("{text:?} is not a Go duration"));
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(after) => after.split_at(
                after
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(after.len()),
            ),
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(bad()),
        };
        let whole: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| bad())?
        };
        let mut part = whole.checked_mul(scale).ok_or_else(bad)?;
        if !frac.is_empty() {
            let digits = &frac[..frac.len().min(30)];
            let value: u128 = digits.parse().map_err(|_| bad())?;
            part += value * scale / 10u128.pow(digits.len() as u32);
        }
        total = total.checked_add(part).ok_or_else(bad)?;
        rest = after;
    }
    let total = i64::try_from(total).map_err(|_| bad())?;
    Ok(if negative { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        for (nanos, text) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (100_000_000, "100ms"),
            (1_500_000_000, "1.5s"),
            (90 * SECOND as i64, "1m30s"),
            (3600 * SECOND as i64, "1h0m0s"),
            (-(3661 * SECOND as i64) - 1, "-1h1m1.000000001s"),
        ] {
            assert_eq!(format(nanos), text);
            assert_eq!(parse(text).unwrap(), nanos, "{text}");
        }
    }

    #[test]
    fn parses_go_forms() {
        assert_eq!(parse("1h30m").unwrap(), 5400 * SECOND as i64);
        assert_eq!(parse(".5s").unwrap(), 500_000_000);
        assert_eq!(parse("2us").unwrap(), 2_000);
        assert_eq!(parse("0").unwrap(), 0);
        for bad in ["", "1", "1x", "h", "-", "1.s.s"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
