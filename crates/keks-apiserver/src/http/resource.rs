//! Resource requests: get, list, watch, create, update, patch, delete and deletecollection
//! of any registered resource and its status subresource, with JSON or Table responses.

use futures::StreamExt;
use http::{Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::body::{self, Body};
use super::route::Context;
use crate::openapi::{self, FieldValidation};
use crate::registry::ResourceDescriptor;
use crate::rest::{
    DeleteOptions, DeleteOutcome, Propagation, Subresource, UpdateOptions, WatchEventType,
    WriteOptions,
};
use crate::status::{success_status, ApiError};
use crate::table::{self, IncludeObject};

pub async fn handle(ctx: Context<'_>, body: Incoming) -> Result<Response<Body>, ApiError> {
    if matches!(
        ctx.info.api_group.as_str(),
        "authorization.k8s.io" | "authentication.k8s.io"
    ) {
        return super::reviews::handle(ctx, body).await;
    }
    let info = &ctx.info;
    let d = ctx
        .api
        .registry
        .get_for(
            &ctx.api.cluster,
            &info.api_group,
            &info.api_version,
            &info.resource,
        )
        .ok_or(ApiError::NoSuchResource)?;
    if !info.subresource.is_empty() && !d.has_subresource(&info.subresource) {
        return Err(ApiError::NoSuchResource);
    }
    let namespaced_verb = matches!(
        info.verb.as_str(),
        "create" | "get" | "update" | "patch" | "delete" | "deletecollection"
    );
    if d.namespaced() && info.namespace.is_empty() && namespaced_verb {
        return Err(ApiError::NoSuchResource);
    }
    if !d.namespaced() && !info.namespace.is_empty() && d.plural != "namespaces" {
        return Err(ApiError::NoSuchResource);
    }
    let ns = if d.namespaced() {
        info.namespace.clone()
    } else {
        String::new()
    };
    if info.subresource == "scale" {
        return super::scale::handle(ctx, &d, &ns, body).await;
    }
    let list_ns = (!ns.is_empty()).then_some(ns.as_str());
    let api = ctx.api.clone();
    let write = WriteOptions {
        dry_run: ctx.query.dry_run()?,
        field_manager: Some(crate::managed_fields::manager_or_user_agent(
            ctx.query.get("fieldManager"),
            &ctx.user_agent,
        )),
        ..Default::default()
    };
    match (info.verb.as_str(), info.subresource.as_str()) {
        ("get", "log") if d.group.is_empty() && d.plural == "pods" => {
            super::logs::handle(&ctx).await
        }
        ("get", "" | "status") if !wants_table(&ctx.accept) => {
            // The stored bytes, as they are: no parse, no serialization.
            let bytes = api.get_json(&d, &ns, &info.name).await?;
            Ok(body::json_bytes(StatusCode::OK, bytes))
        }
        ("get", "" | "status") => {
            let obj = api.get(&d, &ns, &info.name).await?;
            Ok(respond_object(&ctx, &d, StatusCode::OK, obj))
        }
        ("list", "") if !wants_table(&ctx.accept) => {
            let bytes = api
                .list_json(&d, list_ns, &ctx.query.list_options()?)
                .await?;
            Ok(body::json_bytes(StatusCode::OK, bytes))
        }
        ("list", "") => {
            let list = api.list(&d, list_ns, &ctx.query.list_options()?).await?;
            let items = list["items"].as_array().cloned().unwrap_or_default();
            let t = table::render(
                &d,
                &items,
                list["metadata"]["resourceVersion"].as_str(),
                list["metadata"]["continue"].as_str(),
                include(&ctx),
                ctx.server.clock.wall(),
            );
            Ok(body::json(StatusCode::OK, &t))
        }
        ("watch", "") => {
            let mut opts = ctx.query.watch_options()?;
            if !info.name.is_empty() {
                // A watch of one object: kube-apiserver turns the name into a field selector.
                opts.list
                    .field_selector
                    .requirements
                    .push(crate::selector::FieldRequirement {
                        field: "metadata.name".into(),
                        value: info.name.clone(),
                        negated: false,
                    });
            }
            let events = api.watch(&d, list_ns, opts).await?;
            let as_table = wants_table(&ctx.accept);
            let include = include(&ctx);
            let clock = ctx.server.clock.clone();
            let d2 = d.clone();
            let values = events.map(move |e| {
                if as_table
                    && matches!(
                        e.type_,
                        WatchEventType::Added | WatchEventType::Modified | WatchEventType::Deleted
                    )
                {
                    let t = table::render(
                        &d2,
                        std::slice::from_ref(&e.object),
                        e.object["metadata"]["resourceVersion"].as_str(),
                        None,
                        include,
                        clock.wall(),
                    );
                    json!({"type": e.type_.as_str(), "object": t})
                } else {
                    e.to_json()
                }
            });
            Ok(body::json_stream(values))
        }
        ("create", "token") if d.group.is_empty() && d.plural == "serviceaccounts" => {
            let request = read_object(&ctx, body).await?;
            let sa = api.get(&d, &ns, &info.name).await?;
            let issuer = ctx
                .server
                .clusters
                .record(&api.cluster)
                .map(|r| r.issuer())
                .unwrap_or_default();
            let answer = ctx.server.sa_tokens.token_request(&sa, request, &issuer)?;
            Ok(body::json(StatusCode::CREATED, &answer))
        }
        ("create", "") => {
            let mut obj = read_object(&ctx, body).await?;
            let warnings = validate_fields(&ctx, &d, &mut obj, "CreateOptions")?;
            let created = api.create(&d, &ns, obj, &write).await?;
            Ok(with_warnings(
                respond_object(&ctx, &d, StatusCode::CREATED, created),
                &warnings,
            ))
        }
        ("update", sub @ ("" | "status" | "finalize")) => {
            let mut obj = read_object(&ctx, body).await?;
            let warnings = validate_fields(&ctx, &d, &mut obj, "UpdateOptions")?;
            let opts = UpdateOptions {
                write,
                subresource: subresource(sub),
            };
            let updated = api.update(&d, &ns, &info.name, obj, &opts).await?;
            Ok(with_warnings(
                respond_object(&ctx, &d, StatusCode::OK, updated),
                &warnings,
            ))
        }
        ("patch", sub @ ("" | "status")) => {
            let patch = body::read(body).await?;
            let opts = UpdateOptions {
                write,
                subresource: subresource(sub),
            };
            let params = crate::patch::PatchParams {
                field_manager: ctx.query.get("fieldManager").map(str::to_string),
                force: ctx.query.get("force").map(str::to_string),
            };
            let (patched, created) = crate::patch::apply_with(
                &api,
                &d,
                &ns,
                &info.name,
                ctx.content_type.as_deref(),
                &patch,
                &opts,
                &params,
            )
            .await?;
            let code = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(respond_object(&ctx, &d, code, patched))
        }
        ("create", "binding") => {
            let binding = read_object(&ctx, body).await?;
            api.bind_pod(&ns, &info.name, &binding, write.dry_run)
                .await?;
            Ok(body::json(StatusCode::CREATED, &success_status(None)))
        }
        ("create", "eviction") => {
            let eviction = read_object(&ctx, body).await?;
            api.evict_pod(&ns, &info.name, &eviction, write.dry_run)
                .await?;
            Ok(body::json(StatusCode::CREATED, &success_status(None)))
        }
        ("delete", "") => {
            let opts = delete_options(&ctx, body).await?;
            let outcome = api.delete(&d, &ns, &info.name, &opts).await?;
            Ok(match outcome {
                DeleteOutcome::Pending(obj) => respond_object(&ctx, &d, StatusCode::ACCEPTED, obj),
                DeleteOutcome::Deleted(obj) if d.strategy.returns_deleted_object() => {
                    respond_object(&ctx, &d, StatusCode::OK, obj)
                }
                DeleteOutcome::Deleted(obj) => {
                    let mut details =
                        json!({"name": info.name, "kind": d.plural, "uid": obj["metadata"]["uid"]});
                    if !d.group.is_empty() {
                        details["group"] = json!(d.group);
                    }
                    body::json(StatusCode::OK, &success_status(Some(details)))
                }
            })
        }
        ("deletecollection", "") => {
            let opts = delete_options(&ctx, body).await?;
            let list = ctx.query.list_options()?;
            let deleted = api.delete_collection(&d, list_ns, &list, &opts).await?;
            Ok(body::json(StatusCode::OK, &deleted))
        }
        _ => Err(ApiError::MethodNotAllowed),
    }
}

/// Server-side field validation of a request body (`fieldValidation`): Strict refuses fields
/// the kind does not have; Warn (the default) and Ignore drop them, Warn with a warning each.
/// Custom resources have no typed schema here and pass as they are.
fn validate_fields(
    ctx: &Context<'_>,
    d: &ResourceDescriptor,
    obj: &mut Value,
    options_kind: &str,
) -> Result<Vec<String>, ApiError> {
    let mode = FieldValidation::parse(ctx.query.get("fieldValidation"), options_kind)?;
    let unknown = openapi::unknown_fields(&d.group, &d.version, &d.kind, obj);
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    if mode == FieldValidation::Strict {
        return Err(openapi::strict_decoding_error(
            &d.kind, &d.version, &unknown,
        ));
    }
    openapi::prune_unknown_fields(&d.group, &d.version, &d.kind, obj);
    Ok(match mode {
        FieldValidation::Warn => unknown
            .iter()
            .map(|p| openapi::unknown_field_message(p))
            .collect(),
        _ => Vec::new(),
    })
}

/// Adds one `Warning` header per message, as kube-apiserver sends them.
fn with_warnings(mut response: Response<Body>, warnings: &[String]) -> Response<Body> {
    for w in warnings {
        if let Ok(value) = http::HeaderValue::from_str(&openapi::warning_header(w)) {
            response.headers_mut().append("warning", value);
        }
    }
    response
}

fn subresource(name: &str) -> Subresource {
    match name {
        "status" => Subresource::Status,
        "finalize" => Subresource::Finalize,
        _ => Subresource::Main,
    }
}

fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

fn include(ctx: &Context<'_>) -> IncludeObject {
    IncludeObject::parse(ctx.query.get("includeObject").unwrap_or("Metadata"))
}

fn respond_object(
    ctx: &Context<'_>,
    d: &ResourceDescriptor,
    status: StatusCode,
    obj: Value,
) -> Response<Body> {
    if wants_table(&ctx.accept) {
        let t = table::render(
            d,
            std::slice::from_ref(&obj),
            None,
            None,
            include(ctx),
            ctx.server.clock.wall(),
        );
        return body::json(status, &t);
    }
    body::json(status, &obj)
}

async fn read_object(ctx: &Context<'_>, body: Incoming) -> Result<Value, ApiError> {
    let bytes = body::read(body).await?;
    body::parse_object(&bytes, ctx.content_type.as_deref())
}

/// Delete options from the query and an optional `DeleteOptions` body.
async fn delete_options(ctx: &Context<'_>, body: Incoming) -> Result<DeleteOptions, ApiError> {
    let bytes = body::read(body).await?;
    let from_body: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        body::parse_object(&bytes, ctx.content_type.as_deref())?
    };
    let text = |name: &str| {
        ctx.query.get(name).map(str::to_string).or_else(|| {
            from_body
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
        })
    };
    let grace_period_seconds = match ctx.query.get("gracePeriodSeconds") {
        Some(g) => Some(
            g.parse()
                .map_err(|_| ApiError::BadRequest(format!("invalid gracePeriodSeconds: {g:?}")))?,
        ),
        None => from_body.get("gracePeriodSeconds").and_then(Value::as_i64),
    };
    let mut propagation = text("propagationPolicy")
        .map(|p| Propagation::parse(&p))
        .transpose()?;
    let orphan = ctx
        .query
        .get("orphanDependents")
        .map(|o| o == "true")
        .or_else(|| from_body.get("orphanDependents").and_then(Value::as_bool));
    if let Some(orphan) = orphan {
        if propagation.is_some() {
            return Err(ApiError::BadRequest(
                "orphanDependents and propagationPolicy cannot both be set".into(),
            ));
        }
        propagation = Some(if orphan {
            Propagation::Orphan
        } else {
            Propagation::Background
        });
    }
    let dry_run = ctx.query.dry_run()?
        || from_body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        grace_period_seconds,
        propagation,
        precondition_uid: from_body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string),
        precondition_resource_version: from_body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
        dry_run,
    })
}
