//! `/openapi/v3`: the index of the per-group-version documents, each with a URL carrying
//! its hash (`{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}}}`).
//!
//! The URLs start with `/openapi/v3` on purpose: client-go then joins them to the
//! kubeconfig server URL's path (our `/clusters/<name>` prefix); a URL rooted anywhere else
//! would be taken as relative to the host.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::cache::{self, Doc};
use super::document::{self, DocKey};
use super::error::OpenApiError;
use crate::registry::ResourceDescriptor;

/// The document of `key`, built once per distinct registry content.
pub fn document(
    all: &[Arc<ResourceDescriptor>],
    key: &DocKey,
) -> Result<Option<Arc<Doc>>, OpenApiError> {
    let Some(fingerprint) = document::fingerprint(key, all) else {
        return Ok(None);
    };
    cache::get_or_build(&fingerprint, || {
        document::build(key, all).map(|v| Doc::json(&v)).transpose()
    })
}

/// The `/openapi/v3` index.
pub fn index(all: &[Arc<ResourceDescriptor>]) -> Result<Value, OpenApiError> {
    let mut paths = Map::new();
    for key in document::keys(all) {
        if let Some(doc) = document(all, &key)? {
            let path = key.path();
            paths.insert(
                path.clone(),
                json!({"serverRelativeURL": server_relative_url(&path, &doc.etag)}),
            );
        }
    }
    Ok(json!({"paths": paths}))
}

/// `/openapi/v3/apis/apps/v1?hash=<etag>`.
pub fn server_relative_url(path: &str, etag: &str) -> String {
    format!("/openapi/v3/{path}?hash={etag}")
}
