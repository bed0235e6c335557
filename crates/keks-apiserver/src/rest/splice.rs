//! Serving stored objects without parsing them: the store keeps each object's JSON without
//! its resourceVersion (the revision is the store's), so a read only has to put
//! `"resourceVersion":"N"` back at the start of the top-level `metadata` object. Finding it
//! takes one scan that tracks strings and nesting depth — a key `metadata` deeper in the
//! object, or the text `"metadata":{` inside a string, is never mistaken for it.

/// The stored object with its resourceVersion, or `None` when the bytes have no top-level
/// `metadata` object (the caller then decodes the object instead).
pub fn with_resource_version(stored: &[u8], revision: i64) -> Option<Vec<u8>> {
    let at = metadata_object_start(stored)?;
    let rv = revision.to_string();
    let mut out = Vec::with_capacity(stored.len() + rv.len() + 22);
    out.extend_from_slice(&stored[..=at]);
    out.extend_from_slice(b"\"resourceVersion\":\"");
    out.extend_from_slice(rv.as_bytes());
    out.push(b'"');
    if next_significant(stored, at + 1) != Some(b'}') {
        out.push(b',');
    }
    out.extend_from_slice(&stored[at + 1..]);
    Some(out)
}

fn next_significant(bytes: &[u8], from: usize) -> Option<u8> {
    bytes[from..]
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace())
}

/// The index of the `{` that opens the value of the top-level key `metadata`.
fn metadata_object_start(bytes: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0;
    // The last string seen at depth 1 in key position, awaiting its `:`.
    let mut pending_key: Option<(usize, usize)> = None;
    let mut expecting_key = false;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if depth == 1 && expecting_key {
                    pending_key = Some((start, i));
                }
                expecting_key = false;
            }
            b'{' => {
                depth += 1;
                expecting_key = depth == 1;
            }
            b'[' => depth += 1,
            b'}' | b']' => depth = depth.checked_sub(1)?,
            b',' if depth == 1 => expecting_key = true,
            b':' if depth == 1 => {
                if let Some((s, e)) = pending_key.take() {
                    if &bytes[s..e] == b"metadata" {
                        let j = i
                            + 1
                            + bytes[i + 1..]
                                .iter()
                                .position(|b| !b.is_ascii_whitespace())?;
                        return (bytes[j] == b'{').then_some(j);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn splice(v: &Value, rv: i64) -> Value {
        let bytes = serde_json::to_vec(v).unwrap();
        serde_json::from_slice(&with_resource_version(&bytes, rv).unwrap()).unwrap()
    }

    #[test]
    fn puts_the_resource_version_into_top_level_metadata_only() {
        let obj = json!({"apiVersion": "v1", "config": {"metadata": {"x": 1}},
                         "data": {"k": "\"metadata\":{"}, "kind": "ConfigMap",
                         "metadata": {"name": "a", "labels": {"metadata": "y"}}, "spec": [{"metadata": {}}]});
        let out = splice(&obj, 42);
        let mut expected = obj.clone();
        expected["metadata"]["resourceVersion"] = json!("42");
        assert_eq!(out, expected);
        assert_eq!(
            splice(&json!({"metadata": {}}), 7),
            json!({"metadata": {"resourceVersion": "7"}})
        );
    }

    #[test]
    fn no_metadata_object_means_no_splice() {
        for text in [
            &b"{\"kind\":\"X\"}"[..],
            b"{\"metadata\":null}",
            b"[1,2]",
            b"{\"a\":{\"metadata\":{}}}",
        ] {
            assert_eq!(with_resource_version(text, 1), None);
        }
    }

    #[test]
    fn escaped_quotes_do_not_end_strings() {
        let obj = json!({"a": "x\\\"metadata\\\":{", "metadata": {"name": "n"}});
        assert_eq!(
            splice(&obj, 3)["metadata"],
            json!({"name": "n", "resourceVersion": "3"})
        );
    }
}
