//! `maxResults` / `nextToken` paging over a sorted list, as EKS list operations page. The
//! token is opaque to clients: the base64 of the last item returned.

use base64::Engine;

use crate::error::EksError;

const ENGINE: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The item a `nextToken` says the previous page ended with.
pub fn after(token: Option<&str>) -> Result<Option<String>, EksError> {
    token
        .map(|t| {
            ENGINE
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| EksError::invalid_parameter("The nextToken is not valid."))
        })
        .transpose()
}

/// The `nextToken` of a page that ended with `last`.
pub fn token(last: &str) -> String {
    ENGINE.encode(last)
}

/// One page of `items` (sorted) after `token`, at most `max` (default 100); the token of
/// the next page when more remain.
pub fn page<T: Clone>(
    items: &[T],
    key: impl Fn(&T) -> String,
    max: Option<i64>,
    token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), EksError> {
    let max = max.unwrap_or(100).clamp(1, 100) as usize;
    let start = match token {
        None => 0,
        Some(t) => {
            let after = ENGINE
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| EksError::invalid_parameter("The nextToken is not valid."))?;
            items.partition_point(|i| key(i) <= after)
        }
    };
    let page: Vec<T> = items.iter().skip(start).take(max).cloned().collect();
    let next = (start + page.len() < items.len())
        .then(|| page.last().map(|last| ENGINE.encode(key(last))))
        .flatten();
    Ok((page, next))
}

/// A list operation's answer: one page of `items` (after the request's `nextToken`, at
/// most its `maxResults`) as `member`, and `nextToken` when more remain.
pub fn answer<T: Clone + serde::Serialize>(
    member: &str,
    items: &[T],
    key: impl Fn(&T) -> String,
    input: &serde_json::Value,
) -> Result<serde_json::Value, EksError> {
    use serde_json::Value;
    let (page, next) = page(
        items,
        key,
        input.get("maxResults").and_then(Value::as_i64),
        input.get("nextToken").and_then(Value::as_str),
    )?;
    let mut out = serde_json::Map::new();
    out.insert(
        member.to_string(),
        serde_json::to_value(page).unwrap_or_default(),
    );
    if let Some(next) = next {
        out.insert("nextToken".into(), Value::String(next));
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_through_everything_once() {
        let items: Vec<String> = (0..7).map(|i| format!("c{i}")).collect();
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let (p, next) = page(&items, |s| s.clone(), Some(3), token.as_deref()).unwrap();
            seen.extend(p);
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, items);
        assert!(page(&items, |s| s.clone(), None, Some("%%%")).is_err());
    }
}
