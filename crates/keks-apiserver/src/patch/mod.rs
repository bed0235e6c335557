//! PATCH: JSON Patch (RFC 6902), JSON Merge Patch (RFC 7386), strategic merge patch
//! (built-in kinds only, see `strategic.rs`) and server-side apply (`apply.rs`), applied to
//! the latest object under optimistic concurrency. A `resourceVersion` in the patched result
//! acts as a precondition, as in kube-apiserver.

mod apply;
mod go;
#[rustfmt::skip]
mod merge_keys;
mod schema;
mod strategic;
mod strategic_list;
#[cfg(test)]
mod strategic_tests;

use serde_json::Value;

pub use apply::PatchParams;
pub use go::SmpError;
pub use schema::{patch_strategies, supports};
pub(crate) use schema::{root as type_of_kind, Field as TypeField, Ty};
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
            "application/apply-patch+yaml" => Ok(Self::Apply),
            other => Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: {ACCEPTED} (got {other:?})"
            ))),
        }
    }
}

/// A decoded patch of a known type, checked against the kind it will apply to.
pub struct Patch {
    pub patch_type: PatchType,
    pub body: Value,
}

impl Patch {
    /// Decodes a PATCH body; refuses what kube-apiserver refuses for this kind.
    pub fn decode(
        content_type: Option<&str>,
        body: &[u8],
        group: &str,
        version: &str,
        kind: &str,
    ) -> Result<Self, ApiError> {
        let patch_type = PatchType::from_content_type(content_type)?;
        let body: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
        match patch_type {
            PatchType::Json | PatchType::Merge => {}
            // Custom resources have no Go type to read patch strategies from: kube-apiserver
            // does not offer strategic merge patch for them.
            PatchType::StrategicMerge if !supports(group, version, kind) => {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "the body of the request was in an unknown format - accepted media types include: {ACCEPTED}"
                )))
            }
            PatchType::StrategicMerge => {}
            // Apply goes through `apply_with`; the scale subresource does not take it.
            PatchType::Apply => {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "the body of the request was in an unknown format - accepted media types include: {ACCEPTED}"
                )))
            }
        }
        Ok(Self { patch_type, body })
    }

    /// The object `current` with this patch applied (nothing is stored). A resourceVersion
    /// the patch sets must match the current one.
    pub fn apply_to(
        &self,
        current: &Value,
        group: &str,
        version: &str,
        kind: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        let mut patched = current.clone();
        match self.patch_type {
            PatchType::Json => {
                let ops: json_patch::Patch = serde_json::from_value(self.body.clone())
                    .map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
                json_patch::patch(&mut patched, &ops).map_err(|e| {
                    ApiError::invalid(
                        group,
                        kind,
                        name,
                        vec![crate::field::FieldError::invalid(
                            crate::field::FieldPath::default(),
                            Value::Null,
                            e.to_string(),
                        )],
                    )
                })?;
            }
            PatchType::Merge => {
                if !self.body.is_object() {
                    return Err(ApiError::BadRequest(
                        "a merge patch must be a JSON object".into(),
                    ));
                }
                json_patch::merge(&mut patched, &self.body);
            }
            PatchType::StrategicMerge => {
                patched = strategic_merge(current, &self.body, group, version, kind)
                    .map_err(|e| ApiError::BadRequest(e.0))?;
            }
            PatchType::Apply => unreachable!("refused by decode"),
        }
        let current_rv = resource_version(current)?;
        let patched_rv = resource_version(&patched)?;
        if patched_rv != 0 && patched_rv != current_rv {
            return Err(ApiError::Conflict {
                resource: crate::status::GroupResource::default(),
                name: name.to_string(),
                detail: "the object has been modified; please apply your changes to the latest version and try again".into(),
            });
        }
        Ok(patched)
    }
}

/// Applies a patch of any type, server-side apply included, to an object and stores the
/// result; `params` are the query parameters only apply takes. `true` when an apply
/// created the object.
#[allow(clippy::too_many_arguments)]
pub async fn apply_with(
    api: &ClusterApi,
    d: &ResourceDescriptor,
    namespace: &str,
    name: &str,
    content_type: Option<&str>,
    patch: &[u8],
    opts: &UpdateOptions,
    params: &PatchParams,
) -> Result<(Value, bool), ApiError> {
    if PatchType::from_content_type(content_type)? == PatchType::Apply {
        return apply::server_side_apply(api, d, namespace, name, patch, opts, params).await;
    }
    apply::check_not_apply_options(params)?;
    let patched = self::apply(api, d, namespace, name, content_type, patch, opts).await?;
    Ok((patched, false))
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
    let patch = Patch::decode(content_type, patch, &d.group, &d.version, &d.kind)?;
    api.guaranteed_update(d, namespace, name, opts, 0, |current| {
        patch
            .apply_to(current, &d.group, &d.version, &d.kind, name)
            .map_err(|e| match e {
                ApiError::Conflict { .. } => ApiError::stale(d.group_resource(), name),
                other => other,
            })
    })
    .await
}
