//! The HTTP side of `/openapi/...`, answered as kube-openapi's handlers do: the v3 index,
//! each v3 document in JSON (immutable caching when the URL's `hash` matches, a 301 to the
//! current URL when it does not), and the v2 document in JSON or gnostic protobuf.

use std::convert::Infallible;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use keks_core::{Clock, SharedClock};

use super::cache::Doc;
use super::document::DocKey;
use super::error::OpenApiError;
use super::{index, swagger};
use crate::registry::Registry;
use crate::status::ApiError;

/// The response body type of the HTTP front.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

const JSON: &str = "application/json";
const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
/// What client-go asks for; answered as [`V2_PROTOBUF`], as kube-openapi does.
const V2_PROTOBUF_DEPRECATED: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
const ONE_YEAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Answers a GET of `path` (`/openapi/v3`, `/openapi/v3/apis/apps/v1`, `/openapi/v2`,
/// relative to the cluster prefix). `prefix` is the cluster's path prefix (for redirects),
/// `hash` the `hash` query parameter, `accept` the Accept header.
pub fn handle(
    registry: &Registry,
    clock: &SharedClock,
    prefix: &str,
    path: &str,
    hash: Option<&str>,
    accept: &str,
) -> Result<Response<Body>, ApiError> {
    let all = registry.all();
    let rest = path
        .trim_matches('/')
        .strip_prefix("openapi")
        .ok_or(ApiError::NoSuchResource)?;
    match rest.trim_start_matches('/') {
        "v3" => {
            let value = index::index(&all)?;
            let doc = Doc::json(&value)?;
            Ok(respond(&doc, JSON, &[]))
        }
        "v2" => {
            let (doc, content_type) = match negotiate(
                accept,
                &[JSON, V2_PROTOBUF, V2_PROTOBUF_DEPRECATED],
            ) {
                Some(JSON) => (swagger::swagger(&all)?, JSON),
                Some(_) => (swagger::swagger_protobuf(&all)?, V2_PROTOBUF),
                None => return Err(OpenApiError::NotAcceptable(
                    "application/json, application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
                )
                .into()),
            };
            Ok(respond(
                &doc,
                content_type,
                &[(header::VARY, "Accept".into())],
            ))
        }
        other => {
            let key = other
                .strip_prefix("v3/")
                .and_then(DocKey::parse)
                .ok_or(ApiError::NoSuchResource)?;
            if negotiate(accept, &[JSON]).is_none() {
                return Err(OpenApiError::NotAcceptable("application/json").into());
            }
            let doc = index::document(&all, &key)?.ok_or(OpenApiError::NotFound)?;
            match hash.filter(|h| !h.is_empty()) {
                None => Ok(respond(&doc, JSON, &[(header::VARY, "Accept".into())])),
                Some(h) if h == doc.etag => {
                    let expires = http_date(clock.wall() + ONE_YEAR);
                    let headers = [
                        (header::VARY, "Accept".to_string()),
                        (header::CACHE_CONTROL, "public, immutable".to_string()),
                        (header::EXPIRES, expires),
                    ];
                    Ok(respond(&doc, JSON, &headers))
                }
                Some(_) => Ok(redirect(&format!(
                    "{prefix}{}",
                    index::server_relative_url(&key.path(), &doc.etag)
                ))),
            }
        }
    }
}

/// The first of `offered` the Accept header admits, clauses taken by descending quality
/// (an empty header admits anything).
fn negotiate(accept: &str, offered: &[&'static str]) -> Option<&'static str> {
    let accept = if accept.trim().is_empty() {
        "*/*"
    } else {
        accept
    };
    let mut clauses: Vec<(f32, &str)> = accept
        .split(',')
        .map(|clause| {
            let mut parts = clause.split(';');
            let media = parts.next().unwrap_or_default().trim();
            let q = parts
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            (q, media)
        })
        .filter(|(q, _)| *q > 0.0)
        .collect();
    clauses.sort_by(|a, b| b.0.total_cmp(&a.0));
    clauses.iter().find_map(|(_, media)| {
        let (kind, sub) = media.split_once('/')?;
        offered.iter().copied().find(|o| {
            let (ok, os) = o.split_once('/').unwrap_or_default();
            (kind == "*" || kind == ok) && (sub == "*" || sub == os)
        })
    })
}

fn respond(
    doc: &Doc,
    content_type: &str,
    extra: &[(header::HeaderName, String)],
) -> Response<Body> {
    let mut response = Response::new(Full::new(doc.bytes.clone()).boxed_unsync());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static(JSON)),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", doc.etag)) {
        headers.insert(header::ETAG, etag);
    }
    for (name, value) in extra {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name.clone(), v);
        }
    }
    response
}

/// Go's `http.Redirect` with 301.
fn redirect(location: &str) -> Response<Body> {
    let body = format!("<a href=\"{location}\">Moved Permanently</a>.\n\n");
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed_unsync());
    *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    if let Ok(l) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, l);
    }
    response
}

/// An HTTP date: `Tue, 10 Nov 2026 23:00:00 GMT`.
fn http_date(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .map(|ts| ts.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default()
}
