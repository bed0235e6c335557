//! The process-wide cache of built documents: each is built once, serialised once and
//! hashed once (SHA-512, upper-case hex, as kube-openapi's ETag), keyed by the fingerprint
//! of what it was built from.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::Value;
use sha2::{Digest, Sha512};

use super::error::OpenApiError;

/// A serialised document and its hash.
#[derive(Debug)]
pub struct Doc {
    pub bytes: Bytes,
    /// Upper-case hex SHA-512 of `bytes`: the `hash` of the document's URL and its ETag.
    pub etag: String,
}

impl Doc {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self {
            etag: etag(&bytes),
            bytes: Bytes::from(bytes),
        }
    }

    /// The JSON document of a value.
    pub fn json(value: &Value) -> Result<Self, OpenApiError> {
        serde_json::to_vec(value)
            .map(Self::new)
            .map_err(OpenApiError::Serialize)
    }
}

/// kube-openapi's ETag of a document: `%X` of its SHA-512.
pub fn etag(bytes: &[u8]) -> String {
    Sha512::digest(bytes)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// Documents of fingerprints no registry has any more are dropped wholesale past this many.
const MAX_ENTRIES: usize = 1024;

static CACHE: LazyLock<Mutex<HashMap<String, Arc<Doc>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The cached document of `fingerprint`, building it on first use; `None` when `build`
/// finds nothing to serve.
pub fn get_or_build(
    fingerprint: &str,
    build: impl FnOnce() -> Result<Option<Doc>, OpenApiError>,
) -> Result<Option<Arc<Doc>>, OpenApiError> {
    if let Some(doc) = CACHE.lock().get(fingerprint) {
        return Ok(Some(doc.clone()));
    }
    // Built outside the lock: a few concurrent first requests may build the same document,
    // which is harmless (the result is identical).
    let Some(doc) = build()? else { return Ok(None) };
    let mut cache = CACHE.lock();
    if cache.len() >= MAX_ENTRIES {
        cache.clear();
    }
    Ok(Some(
        cache
            .entry(fingerprint.to_string())
            .or_insert_with(|| Arc::new(doc))
            .clone(),
    ))
}
