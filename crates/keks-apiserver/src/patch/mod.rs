//! PATCH: JSON Patch (RFC 6902), JSON Merge Patch (RFC 7386) and strategic merge patch
//! (built-in kinds only, see `strategic.rs`), applied to the latest object under optimistic
//! concurrency. A `resourceVersion` in the patched result acts as a precondition, as in
//! kube-apiserver.

mod go;
#[rustfmt::skip]
mod merge_keys;
mod schema;
mod strategic;
mod strategic_list;
#[cfg(test)]
mod strategic_tests;

use serde_json::Value;

pub use go::SmpError;
pub use schema::{patch_strategies, supports};
pub use strategic::apply as strategic_merge;

use crate::registry::ResourceDescriptor;
use crate::rest::{resource_version, ClusterApi, UpdateOptions};
use crate::status::ApiError;

/// The patch formats Kubernetes defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    StrategicMerge,
    Apply,
}

const ACCEPTED: &str =
    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml";

impl PatchType {
    pub fn from_content_type(content_type: Option<&str>) -> Result<Self, ApiError> {
        let media = content_type
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim();
        match media {
            "application/json-patch+json" => Ok(Self::Json),
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/strategic-merge-patch+json" => Ok(Self::StrategicMerge),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(Self::Apply),
            other => Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: {ACCEPTED} (got {other:?})"
            ))),
        }
    }
}

/// Applies a patch to an object and stores the result.
pub async fn apply(
    api: &ClusterApi,
    d: &ResourceDescriptor,
    namespace: &str,
    name: &str,
    content_type: Option<&str>,
    patch: &[u8],
    opts: &UpdateOptions,
) -> Result<Value, ApiError> {
    let patch_type = PatchType::from_content_type(content_type)?;
    let patch: Value = serde_json::from_slice(patch)
        .map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
    match patch_type {
        PatchType::Json | PatchType::Merge => {}
        // Custom resources have no Go type to read patch strategies from: kube-apiserver does
        // not offer strategic merge patch for them.
        PatchType::StrategicMerge if !supports(&d.group, &d.version, &d.kind) => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: {ACCEPTED}"
            )))
        }
        PatchType::StrategicMerge => {}
        PatchType::Apply => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - this server does not implement {} patches yet; accepted media types include: application/json-patch+json, application/merge-patch+json",
                if patch_type == PatchType::Apply { "server-side apply" } else { "strategic merge" }
            )))
        }
    }
    let precondition = 0;
    api.guaranteed_update(d, namespace, name, opts, precondition, |current| {
        let mut patched = current.clone();
        match patch_type {
            PatchType::Json => {
                let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                    .map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
                json_patch::patch(&mut patched, &ops).map_err(|e| ApiError::Invalid {
                    group: d.group.clone(),
                    kind: d.kind.clone(),
                    name: name.to_string(),
                    errors: vec![crate::field::FieldError::invalid(
                        crate::field::FieldPath::default(),
                        Value::Null,
                        e.to_string(),
                    )],
                })?;
            }
            PatchType::Merge => {
                if !patch.is_object() {
                    return Err(ApiError::BadRequest(
                        "a merge patch must be a JSON object".into(),
                    ));
                }
                json_patch::merge(&mut patched, &patch);
            }
            PatchType::StrategicMerge => {
                patched = strategic_merge(current, &patch, &d.group, &d.version, &d.kind)
                    .map_err(|e| ApiError::BadRequest(e.0))?;
            }
            PatchType::Apply => unreachable!("refused above"),
        }
        // A resourceVersion the patch sets must match the stored one.
        let current_rv = resource_version(current)?;
        let patched_rv = resource_version(&patched)?;
        if patched_rv != 0 && patched_rv != current_rv {
            return Err(ApiError::stale(d.group_resource(), name));
        }
        Ok(patched)
    })
    .await
}
