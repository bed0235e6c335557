//! Request and response bodies: reading with Kubernetes' 3 MiB limit, JSON and Status
//! responses, and streaming bodies for watches.

use std::convert::Infallible;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::Value;

use crate::status::ApiError;

pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// kube-apiserver's request body limit.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Reads a request body, refusing one over the limit.
pub async fn read(body: Incoming) -> Result<Bytes, ApiError> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(
            ApiError::RequestEntityTooLarge(format!("limit is {MAX_BODY_BYTES}")),
        ),
        Err(e) => Err(ApiError::BadRequest(format!(
            "reading the request body: {e}"
        ))),
    }
}

/// Parses a JSON, YAML or Kubernetes protobuf request body into an object.
pub fn parse_object(bytes: &[u8], content_type: Option<&str>) -> Result<Value, ApiError> {
    if content_type.is_some_and(crate::protobuf::is_protobuf) {
        return parse_protobuf(bytes);
    }
    if content_type.is_some_and(|c| c.contains("protobuf")) {
        return Err(ApiError::UnsupportedMediaType("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf".into()));
    }
    let is_yaml = content_type.is_some_and(|c| c.contains("yaml"));
    let parsed: Result<Value, String> = if is_yaml {
        serde_yaml::from_slice(bytes).map_err(|e| e.to_string())
    } else {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    };
    let value = parsed.map_err(|e| {
        ApiError::BadRequest(format!(
            "Object 'Kind' is missing in '{}': {e}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        ))
    })?;
    if !value.is_object() {
        return Err(ApiError::BadRequest(
            "the request body must be a JSON object".into(),
        ));
    }
    Ok(value)
}

/// A Kubernetes protobuf request body (kubectl's typed commands, client-go and
/// controller-runtime for built-in kinds), decoded to the JSON object it stands for.
fn parse_protobuf(bytes: &[u8]) -> Result<Value, ApiError> {
    use crate::protobuf::{decode_object, ProtobufError};
    decode_object(bytes).map_err(|e| match e {
        // kube-apiserver has no protobuf form for custom resources either.
        ProtobufError::UnknownKind { .. } => ApiError::UnsupportedMediaType(format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml ({e})")),
        e => ApiError::BadRequest(format!("decoding the protobuf request body: {e}")),
    })
}

/// A body of bytes already in hand.
pub fn bytes_body(bytes: Vec<u8>) -> Body {
    full(bytes)
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A JSON response.
pub fn json(status: StatusCode, value: &Value) -> Response<Body> {
    json_with_type(status, value, "application/json")
}

pub fn json_with_type(status: StatusCode, value: &Value, content_type: &str) -> Response<Body> {
    let bytes = serde_json::to_vec(value).expect("JSON values serialize");
    json_bytes_with_type(status, bytes, content_type)
}

/// A JSON response whose body is already serialized.
pub fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> Response<Body> {
    json_bytes_with_type(status, bytes, "application/json")
}

fn json_bytes_with_type(status: StatusCode, bytes: Vec<u8>, content_type: &str) -> Response<Body> {
    let mut response = Response::new(full(bytes));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/json")),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    response
}

/// The `metav1.Status` of an error.
pub fn error(e: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(e.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json(status, &e.to_status());
    if matches!(e, ApiError::Unauthorized) {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"kubernetes\""),
        );
    }
    response
}

/// A plain-text response (health endpoints).
pub fn text(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(full(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A streaming response of newline-delimited JSON values (a watch).
pub fn json_stream(values: impl Stream<Item = Value> + Send + 'static) -> Response<Body> {
    let frames = values.map(|v| {
        let mut bytes = serde_json::to_vec(&v).expect("JSON values serialize");
        bytes.push(b'\n');
        Ok::<_, Infallible>(Frame::data(Bytes::from(bytes)))
    });
    let mut response = Response::new(BodyExt::boxed_unsync(StreamBody::new(frames)));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    response
}
