//! The `scale` subresource of deployments, replicasets and statefulsets: the object seen as
//! an `autoscaling/v1` Scale (`kubectl scale`, HorizontalPodAutoscalers). Reads present it;
//! writes change only the owner's `spec.replicas`.

use http::{Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::body::{self, Body};
use super::route::Context;
use crate::field::{FieldError, FieldPath};
use crate::patch::Patch;
use crate::registry::ResourceDescriptor;
use crate::rest::{resource_version, FieldsRecord, UpdateOptions, WriteOptions};
use crate::status::ApiError;

pub async fn handle(
    ctx: Context<'_>,
    d: &ResourceDescriptor,
    namespace: &str,
    body: Incoming,
) -> Result<Response<Body>, ApiError> {
    let api = ctx.api.clone();
    let name = ctx.info.name.clone();
    // Writes are recorded on the owner as the manager's `scale` subresource entry.
    let opts = UpdateOptions {
        write: WriteOptions {
            dry_run: ctx.query.dry_run()?,
            field_manager: Some(crate::managed_fields::manager_or_user_agent(
                ctx.query.get("fieldManager"),
                &ctx.user_agent,
            )),
            record: FieldsRecord::UpdateScale,
        },
        ..Default::default()
    };
    let obj = match ctx.info.verb.as_str() {
        "get" => api.get(d, namespace, &name).await?,
        "update" => {
            let bytes = body::read(body).await?;
            let scale = body::parse_object(&bytes, ctx.content_type.as_deref())?;
            let replicas = replicas_of(&scale, &name)?;
            let precondition = resource_version(&scale)?;
            api.guaranteed_update(d, namespace, &name, &opts, precondition, |current| {
                Ok(with_replicas(current, replicas))
            })
            .await?
        }
        "patch" => {
            let bytes = body::read(body).await?;
            let patch = Patch::decode(
                ctx.content_type.as_deref(),
                &bytes,
                "autoscaling",
                "v1",
                "Scale",
            )?;
            api.guaranteed_update(d, namespace, &name, &opts, 0, |current| {
                let patched = patch
                    .apply_to(&scale_of(current), "autoscaling", "v1", "Scale", &name)
                    .map_err(|e| match e {
                        ApiError::Conflict { .. } => ApiError::stale(d.group_resource(), &name),
                        other => other,
                    })?;
                Ok(with_replicas(current, replicas_of(&patched, &name)?))
            })
            .await?
        }
        _ => return Err(ApiError::MethodNotAllowed),
    };
    Ok(body::json(StatusCode::OK, &scale_of(&obj)))
}

/// The Scale view of a scalable object.
pub fn scale_of(obj: &Value) -> Value {
    let meta = obj.get("metadata").cloned().unwrap_or(json!({}));
    let pick = |f: &str| meta.get(f).cloned().unwrap_or(Value::Null);
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": pick("name"),
            "namespace": pick("namespace"),
            "uid": pick("uid"),
            "resourceVersion": pick("resourceVersion"),
            "creationTimestamp": pick("creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": {
            "replicas": obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector_string(obj.pointer("/spec/selector")),
        },
    })
}

fn with_replicas(current: &Value, replicas: i64) -> Value {
    let mut next = current.clone();
    next["spec"]["replicas"] = json!(replicas);
    next
}

fn replicas_of(scale: &Value, name: &str) -> Result<i64, ApiError> {
    let replicas = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if replicas < 0 {
        return Err(ApiError::invalid(
            "autoscaling",
            "Scale",
            name,
            vec![FieldError::invalid(
                FieldPath::root("spec").child("replicas"),
                json!(replicas),
                "must be greater than or equal to 0",
            )],
        ));
    }
    Ok(replicas)
}

/// A label selector object as its string form, keys sorted (`app=web,tier in (a,b)`).
fn selector_string(selector: Option<&Value>) -> String {
    let Some(sel) = selector else {
        return String::new();
    };
    let mut parts: Vec<(String, String)> = Vec::new();
    for (k, v) in sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        parts.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        values.sort_unstable();
        let text = match e
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.clone(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        };
        parts.push((key, text));
    }
    parts.sort();
    parts
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(",")
}
