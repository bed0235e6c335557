//! `metav1.Time` and `metav1.MicroTime` as Kubernetes writes them in JSON: RFC 3339 in UTC,
//! to the second (`2024-01-01T00:00:00Z`) or to the microsecond (`...00:00:00.000000Z`).

use jiff::Timestamp;

use super::error::ProtobufError;

fn timestamp(seconds: i64, nanos: i32) -> Result<Timestamp, ProtobufError> {
    let total = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    Timestamp::from_nanosecond(total)
        .map_err(|e| ProtobufError::invalid(format!("time out of range: {e}")))
}

/// `metav1.Time`'s JSON: seconds precision (Go's `time.RFC3339`).
pub fn format_time(seconds: i64, nanos: i32) -> Result<String, ProtobufError> {
    Ok(timestamp(seconds, nanos)?
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string())
}

/// `metav1.MicroTime`'s JSON: six fractional digits (`2006-01-02T15:04:05.000000Z07:00`).
pub fn format_micro_time(seconds: i64, nanos: i32) -> Result<String, ProtobufError> {
    let t = timestamp(seconds, nanos)?;
    let micros = t.subsec_nanosecond().rem_euclid(1_000_000_000) / 1000;
    Ok(format!("{}.{micros:06}Z", t.strftime("%Y-%m-%dT%H:%M:%S")))
}

/// Seconds and nanoseconds of an RFC 3339 time (any offset, any fraction).
pub fn parse(text: &str) -> Result<(i64, i32), ProtobufError> {
    let t: Timestamp = text
        .parse()
        .map_err(|e| ProtobufError::invalid(format!("{text:?} is not an RFC 3339 time: {e}")))?;
    let nanos = t.as_nanosecond();
    let seconds = nanos.div_euclid(1_000_000_000);
    let subsec = nanos.rem_euclid(1_000_000_000);
    Ok((
        i64::try_from(seconds).unwrap_or_default(),
        i32::try_from(subsec).unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(
            format_time(1_704_067_200, 999_999_999).unwrap(),
            "2024-01-01T00:00:00Z"
        );
        assert_eq!(
            format_micro_time(1_704_067_200, 123_456_789).unwrap(),
            "2024-01-01T00:00:00.123456Z"
        );
        assert_eq!(
            format_micro_time(1_704_067_200, 0).unwrap(),
            "2024-01-01T00:00:00.000000Z"
        );
        assert_eq!(format_time(-1, 0).unwrap(), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn parses_offsets_and_fractions() {
        assert_eq!(parse("2024-01-01T00:00:00Z").unwrap(), (1_704_067_200, 0));
        assert_eq!(
            parse("2024-01-01T01:00:00.5+01:00").unwrap(),
            (1_704_067_200, 500_000_000)
        );
        assert_eq!(parse("1969-12-31T23:59:59.25Z").unwrap(), (-1, 250_000_000));
        assert!(parse("yesterday").is_err());
    }
}
