//! Reviews: access reviews (`authorization.k8s.io/v1`: SelfSubjectAccessReview for `kubectl
//! auth can-i`, SubjectAccessReview, LocalSubjectAccessReview) answered by the authorizer,
//! and identity reviews (`authentication.k8s.io/v1`: TokenReview, SelfSubjectReview for
//! `kubectl auth whoami`) answered by the authenticators. They are not stored: a create
//! returns the review with its `status`.

use http::{Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::body::{self, Body};
use super::route::Context;
use crate::authn::UserInfo;
use crate::authz::Decision;
use crate::field::{FieldError, FieldPath};
use crate::request::RequestInfo;
use crate::status::ApiError;

pub async fn handle(ctx: Context<'_>, body: Incoming) -> Result<Response<Body>, ApiError> {
    if ctx.info.verb != "create" || !ctx.info.subresource.is_empty() {
        return Err(ApiError::MethodNotAllowed);
    }
    let bytes = body::read(body).await?;
    let mut review = body::parse_object(&bytes, ctx.content_type.as_deref())?;
    let kind = match ctx.info.resource.as_str() {
        "selfsubjectreviews" => {
            review["apiVersion"] = json!("authentication.k8s.io/v1");
            review["kind"] = json!("SelfSubjectReview");
            review["status"] = json!({ "userInfo": user_info(&ctx.user) });
            if review.get("metadata").is_none() {
                review["metadata"] = json!({});
            }
            return Ok(body::json(StatusCode::CREATED, &review));
        }
        "tokenreviews" => {
            let token = review
                .pointer("/spec/token")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    invalid(
                        "TokenReview",
                        FieldError::required(FieldPath::root("spec").child("token"), ""),
                    )
                })?
                .to_string();
            let audiences = review
                .pointer("/spec/audiences")
                .cloned()
                .unwrap_or(json!([]));
            review["apiVersion"] = json!("authentication.k8s.io/v1");
            review["kind"] = json!("TokenReview");
            review["status"] = match ctx
                .server
                .authn
                .authenticate(&ctx.api.cluster, &token)
                .await
            {
                Some(user) => {
                    json!({"authenticated": true, "user": user_info(&user), "audiences": audiences})
                }
                None => json!({"authenticated": false, "error": "invalid bearer token"}),
            };
            if review.get("metadata").is_none() {
                review["metadata"] = json!({});
            }
            return Ok(body::json(StatusCode::CREATED, &review));
        }
        "selfsubjectrulesreviews" => {
            let namespace = review
                .pointer("/spec/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let rules = ctx
                .server
                .authorizer
                .rules_for(&ctx.api.cluster, &ctx.user, &namespace);
            let (resource, non_resource): (Vec<_>, Vec<_>) = rules
                .into_iter()
                .partition(|r| r.non_resource_urls.is_empty());
            review["apiVersion"] = json!("authorization.k8s.io/v1");
            review["kind"] = json!("SelfSubjectRulesReview");
            review["status"] = json!({
                "resourceRules": resource.iter().map(|r| {
                    let mut v = json!({"verbs": r.verbs, "apiGroups": r.api_groups, "resources": r.resources});
                    if !r.resource_names.is_empty() {
                        v["resourceNames"] = json!(r.resource_names);
                    }
                    v
                }).collect::<Vec<_>>(),
                "nonResourceRules": non_resource.iter().map(|r| json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls})).collect::<Vec<_>>(),
                "incomplete": false,
            });
            if review.get("metadata").is_none() {
                review["metadata"] = json!({});
            }
            return Ok(body::json(StatusCode::CREATED, &review));
        }
        "selfsubjectaccessreviews" => "SelfSubjectAccessReview",
        "subjectaccessreviews" => "SubjectAccessReview",
        "localsubjectaccessreviews" => "LocalSubjectAccessReview",
        _ => return Err(ApiError::NoSuchResource),
    };
    let spec = review.get("spec").cloned().unwrap_or(json!({}));
    let subject = match kind {
        "SelfSubjectAccessReview" => ctx.user.clone(),
        _ => subject_of(&spec, kind)?,
    };
    let info = attributes(&spec, kind)?;
    if kind == "LocalSubjectAccessReview" && info.namespace != ctx.info.namespace {
        return Err(ApiError::BadRequest(format!(
            "spec.resourceAttributes.namespace must match namespace: {}",
            ctx.info.namespace
        )));
    }
    let decision = ctx
        .server
        .authorizer
        .authorize(&ctx.api.cluster, &subject, &info)
        .await;
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!(kind);
    review["status"] = match decision {
        Decision::Allow(reason) => json!({"allowed": true, "reason": reason}),
        Decision::Deny => json!({"allowed": false}),
    };
    if review.get("metadata").is_none() {
        review["metadata"] = json!({});
    }
    Ok(body::json(StatusCode::CREATED, &review))
}

/// A user as `authentication.k8s.io/v1` UserInfo.
fn user_info(user: &UserInfo) -> Value {
    let mut info = json!({"username": user.username, "groups": user.groups});
    if !user.uid.is_empty() {
        info["uid"] = json!(user.uid);
    }
    if !user.extra.is_empty() {
        info["extra"] = json!(user.extra);
    }
    info
}

fn subject_of(spec: &Value, kind: &str) -> Result<UserInfo, ApiError> {
    let strings = |f: &str| {
        spec.get(f)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let user = UserInfo {
        username: spec
            .get("user")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        uid: spec
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        groups: strings("groups"),
        extra: Default::default(),
    };
    if user.username.is_empty() && user.groups.is_empty() {
        return Err(invalid(
            kind,
            FieldError::invalid(
                FieldPath::root("spec").child("user"),
                json!(""),
                "at least one of user or group must be specified",
            ),
        ));
    }
    Ok(user)
}

fn attributes(spec: &Value, kind: &str) -> Result<RequestInfo, ApiError> {
    let text = |v: &Value, f: &str| {
        v.get(f)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    match (
        spec.get("resourceAttributes"),
        spec.get("nonResourceAttributes"),
    ) {
        (Some(r), None) => Ok(RequestInfo {
            is_resource_request: true,
            verb: text(r, "verb"),
            api_group: text(r, "group"),
            api_version: text(r, "version"),
            namespace: text(r, "namespace"),
            resource: text(r, "resource"),
            subresource: text(r, "subresource"),
            name: text(r, "name"),
            ..Default::default()
        }),
        (None, Some(n)) => Ok(RequestInfo {
            verb: text(n, "verb"),
            path: text(n, "path"),
            ..Default::default()
        }),
        (Some(_), Some(_)) => Err(invalid(
            kind,
            FieldError::invalid(
                FieldPath::root("spec").child("nonResourceAttributes"),
                Value::Null,
                "cannot be specified in combination with resourceAttributes",
            ),
        )),
        (None, None) => Err(invalid(
            kind,
            FieldError::invalid(
                FieldPath::root("spec").child("resourceAttributes"),
                Value::Null,
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            ),
        )),
    }
}

fn invalid(kind: &str, e: FieldError) -> ApiError {
    ApiError::invalid("authorization.k8s.io", kind, "", vec![e])
}
