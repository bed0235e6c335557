//! Kubernetes resource quantities (`100m`, `1.5`, `2Gi`, `500M`, `1e3`) read as integers:
//! CPU in millicores, everything else in whole units (bytes), rounded up as the scheduler's
//! `MilliValue`/`Value` do.

use serde_json::Value;

/// The quantity as a number of base units, or `None` if it does not parse.
pub fn parse(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exp if exp.starts_with(['e', 'E']) => 10f64.powi(exp[1..].parse().ok()?),
        _ => return None,
    };
    Some(number * factor)
}

/// A JSON quantity (string or number) in thousandths, rounded up.
pub fn milli(value: &Value) -> Option<i64> {
    let v = match value {
        Value::String(s) => parse(s)?,
        Value::Number(n) => n.as_f64()?,
        _ => return None,
    };
    Some((v * 1000.0 - 1e-6).ceil() as i64)
}

/// A JSON quantity in whole units, rounded up.
pub fn units(value: &Value) -> Option<i64> {
    let v = match value {
        Value::String(s) => parse(s)?,
        Value::Number(n) => n.as_f64()?,
        _ => return None,
    };
    Some((v - 1e-9).ceil() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_usual_forms() {
        assert_eq!(milli(&json!("100m")), Some(100));
        assert_eq!(milli(&json!("1.5")), Some(1500));
        assert_eq!(milli(&json!(2)), Some(2000));
        assert_eq!(units(&json!("2Gi")), Some(2 * 1024 * 1024 * 1024));
        assert_eq!(units(&json!("500M")), Some(500_000_000));
        assert_eq!(units(&json!("1e3")), Some(1000));
        assert_eq!(units(&json!("128974848")), Some(128974848));
        assert_eq!(units(&json!("15896988Ki")), Some(15896988 * 1024));
        assert_eq!(milli(&json!("bogus")), None);
    }
}
