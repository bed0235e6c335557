//! Server-side apply over HTTP (`PATCH` with `application/apply-patch+yaml`): the checks
//! kube-apiserver makes of the request and the configuration, then the apply itself
//! (`managed_fields::apply`) against the stored object, or a create when there is none.

use serde_json::Value;

use crate::field::{FieldError, FieldPath};
use crate::managed_fields::{self, Conflict};
use crate::registry::ResourceDescriptor;
use crate::rest::{resource_version, ClusterApi, FieldsRecord, Subresource, UpdateOptions};
use crate::status::ApiError;

/// The PATCH query parameters server-side apply reads.
#[derive(Clone, Debug, Default)]
pub struct PatchParams {
    /// `fieldManager` as sent (no User-Agent fallback: apply requires it).
    pub field_manager: Option<String>,
    /// `force`.
    pub force: Option<String>,
}

/// The 422 kube-apiserver gives for invalid PatchOptions.
fn invalid_options(error: FieldError) -> ApiError {
    ApiError::invalid("meta.k8s.io", "PatchOptions", "", vec![error])
}

/// Refuses `force` on patches other than apply, as `ValidatePatchOptions` does.
pub fn check_not_apply_options(params: &PatchParams) -> Result<(), ApiError> {
    if params.force.is_some() {
        return Err(invalid_options(FieldError::forbidden(
            FieldPath::root("force"),
            "may not be specified for non-apply patch",
        )));
    }
    Ok(())
}

/// Applies the configuration in `body` (YAML or JSON) as `params.field_manager`; `true`
/// with the object when the apply created it.
pub async fn server_side_apply(
    api: &ClusterApi,
    d: &ResourceDescriptor,
    namespace: &str,
    name: &str,
    body: &[u8],
    opts: &UpdateOptions,
    params: &PatchParams,
) -> Result<(Value, bool), ApiError> {
    let manager = match params.field_manager.as_deref() {
        Some(m) if !m.is_empty() => m,
        _ => {
            return Err(invalid_options(FieldError::required(
                FieldPath::root("fieldManager"),
                "is required for apply patch",
            )))
        }
    };
    // Query booleans parse as Go's strconv.ParseBool (the Python client sends `True`).
    let force = matches!(
        params.force.as_deref(),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True")
    );
    let mut config: Value = serde_yaml::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}")))?;
    if !config.is_object() {
        return Err(ApiError::BadRequest(format!(
            "error decoding YAML: cannot unmarshal {} into an object",
            kind_of(&config)
        )));
    }
    check_configuration(d, namespace, name, &mut config)?;
    let sub = match opts.subresource {
        Subresource::Status => "status",
        _ => "",
    };
    let mut opts = opts.clone();
    opts.write.record = FieldsRecord::Applied;
    // A stored object is applied to; a missing one is created from the configuration. A
    // create that loses a race applies to the winner.
    for _ in 0..2 {
        let updated = api
            .guaranteed_update(d, namespace, name, &opts, 0, |current| {
                let w = managed_fields::writer(d, manager, sub, api.clock.wall());
                let merged = managed_fields::apply(&w, Some(current), &config, force)
                    .map_err(|e| conflict_error(d, &config, e))?;
                let rv = resource_version(&merged)?;
                if rv != 0 && rv != resource_version(current)? {
                    return Err(ApiError::stale(d.group_resource(), name));
                }
                Ok(merged)
            })
            .await;
        match updated {
            Err(ApiError::NotFound { .. }) if opts.subresource == Subresource::Main => {}
            other => return other.map(|v| (v, false)),
        }
        let w = managed_fields::writer(d, manager, sub, api.clock.wall());
        let obj = managed_fields::apply(&w, None, &config, force)
            .map_err(|e| conflict_error(d, &config, e))?;
        match api.create(d, namespace, obj, &opts.write).await {
            Err(ApiError::AlreadyExists { .. }) => continue,
            other => return other.map(|v| (v, true)),
        }
    }
    Err(ApiError::Conflict {
        resource: d.group_resource(),
        name: name.to_string(),
        detail: "too many concurrent updates; try again".into(),
    })
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Null => "null",
        Value::Object(_) => "object",
    }
}

/// What kube-apiserver checks of an applied configuration before merging it: its
/// apiVersion and kind, no managedFields, its name against the URL's, and fields the kind
/// declares (server-side apply refuses unknown fields whatever `fieldValidation` says).
fn check_configuration(
    d: &ResourceDescriptor,
    namespace: &str,
    name: &str,
    config: &mut Value,
) -> Result<(), ApiError> {
    let expected = d.api_version();
    let version = config
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if version != expected {
        return Err(ApiError::BadRequest(format!(
            "Incorrect version specified in apply patch. Specified patch version: {version}, expected: {expected}"
        )));
    }
    crate::rest::meta::check_type_and_namespace(d, namespace, config)?;
    if config
        .pointer("/metadata/managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApiError::BadRequest(
            "metadata.managedFields must be nil".into(),
        ));
    }
    match config.pointer("/metadata/name").and_then(Value::as_str) {
        None | Some("") => {
            config["metadata"]["name"] = Value::String(name.to_string());
        }
        Some(n) if n != name => {
            return Err(ApiError::BadRequest(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )))
        }
        Some(_) => {}
    }
    let unknown = crate::openapi::unknown_fields(&d.group, &d.version, &d.kind, config);
    if !unknown.is_empty() {
        let errors: Vec<String> = unknown
            .iter()
            .map(|p| format!(".{p}: field not declared in schema"))
            .collect();
        let text = match errors.as_slice() {
            [one] => one.clone(),
            many => format!("errors:\n  {}", many.join("\n  ")),
        };
        return Err(ApiError::Unclassified(format!(
            "failed to create typed patch object ({}): {text}",
            gvknn(d, config)
        )));
    }
    Ok(())
}

/// `ns/name; apps/v1, Kind=Deployment`, as kube-apiserver names the object in apply errors.
fn gvknn(d: &ResourceDescriptor, config: &Value) -> String {
    let meta = |k: &str| {
        config
            .pointer(&format!("/metadata/{k}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    format!(
        "{}/{}; {}/{}, Kind={}",
        meta("namespace"),
        meta("name"),
        d.group,
        d.version,
        d.kind
    )
}

fn conflict_error(d: &ResourceDescriptor, config: &Value, e: Conflict) -> ApiError {
    match e {
        Conflict::Fields { message, causes } => ApiError::ApplyConflict { message, causes },
        Conflict::Invalid(e) => ApiError::Unclassified(format!(
            "failed to create typed patch object ({}): {e}",
            gvknn(d, config)
        )),
    }
}
