//! The AWS-side listener's catch-all: every request that is not one of keks' own
//! `/_keks/...` endpoints goes to the AWS front door (SigV4, then the service).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use keks_aws::{AwsFront, HttpRequest};
use keks_core::SharedClock;

/// AWS requests are small; EKS and STS bodies are a few KiB at most.
const MAX_BODY: usize = 6 * 1024 * 1024;

#[derive(Clone)]
pub struct AwsState {
    pub front: Arc<AwsFront>,
    pub clock: SharedClock,
}

pub async fn handle(State(state): State<AwsState>, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(n, v)| {
            v.to_str()
                .ok()
                .map(|v| (n.as_str().to_ascii_lowercase(), v.to_string()))
        })
        .collect();
    let http = HttpRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or_default(),
        headers,
        body: &body,
    };
    let answer = state.front.handle(&http, state.clock.wall()).await;
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in answer.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(n, v);
        }
    }
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = status;
    r
}
