//! `pods/<name>/log` (`kubectl logs`): no container runs in keks, so the log is a short
//! synthetic one — the container's start with its image and node, and for finished
//! containers their end — with kubelet's answers when there is nothing to show yet (waiting
//! containers, unknown or unnamed containers). `tailLines`, `timestamps` and `previous`
//! behave as kubelet's; `follow` returns what there is and ends the stream.

use http::{header, HeaderValue, Response, StatusCode};
use serde_json::Value;

use super::body::Body;
use super::route::Context;
use crate::status::ApiError;

fn bad(message: String) -> ApiError {
    ApiError::BadRequest(message)
}

fn names(spec: &Value, key: &str) -> Vec<String> {
    spec.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

/// What a log request asks for.
#[derive(Default)]
pub struct LogOptions<'a> {
    pub container: Option<&'a str>,
    pub tail_lines: Option<usize>,
    pub timestamps: bool,
    pub previous: bool,
}

/// The log of one container of `pod`, as kubelet would serve it.
pub fn render(pod: &Value, opts: &LogOptions<'_>) -> Result<String, ApiError> {
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let spec = &pod["spec"];
    let regular = names(spec, "containers");
    let init = names(spec, "initContainers");
    let container = match opts.container {
        Some(c) => c.to_string(),
        None if regular.len() == 1 => regular[0].clone(),
        None => {
            return Err(bad(format!(
                "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                regular.join(" ")
            )))
        }
    };
    if !regular.contains(&container) && !init.contains(&container) {
        return Err(bad(format!(
            "container {container} is not valid for pod {pod_name}"
        )));
    }
    let status = ["containerStatuses", "initContainerStatuses"]
        .into_iter()
        .flat_map(|k| {
            pod["status"]
                .get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .find(|s| s["name"] == container.as_str());
    if opts.previous && status.and_then(|s| s["restartCount"].as_i64()).unwrap_or(0) == 0 {
        return Err(bad(format!(
            "previous terminated container \"{container}\" in pod \"{pod_name}\" not found"
        )));
    }
    let state = status.map(|s| &s["state"]);
    let started = state
        .and_then(|s| {
            s.pointer("/running/startedAt")
                .or_else(|| s.pointer("/terminated/startedAt"))
        })
        .and_then(Value::as_str);
    let Some(started) = started else {
        let reason = state
            .and_then(|s| s.pointer("/waiting/reason"))
            .and_then(Value::as_str)
            .unwrap_or("ContainerCreating");
        return Err(bad(format!(
            "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {reason}"
        )));
    };
    let image = ["containers", "initContainers"]
        .into_iter()
        .flat_map(|k| spec.get(k).and_then(Value::as_array).into_iter().flatten())
        .find(|c| c["name"] == container.as_str())
        .and_then(|c| c["image"].as_str())
        .unwrap_or_default();
    let node = spec["nodeName"].as_str().unwrap_or_default();
    let mut lines = vec![
        (
            started.to_string(),
            format!(
                "keks: simulated container {container} started from image {image} on node {node}"
            ),
        ),
        (
            started.to_string(),
            "keks: no process runs in a simulated container; this log is synthetic".to_string(),
        ),
    ];
    if let Some(t) = state.and_then(|s| s.get("terminated")) {
        let at = t["finishedAt"].as_str().unwrap_or(started).to_string();
        let code = t["exitCode"].as_i64().unwrap_or(0);
        let reason = t["reason"].as_str().unwrap_or("Completed");
        lines.push((
            at,
            format!("keks: simulated container {container} exited with code {code} ({reason})"),
        ));
    }
    let skip = opts.tail_lines.map_or(0, |n| lines.len().saturating_sub(n));
    let mut out = String::new();
    for (at, line) in lines.into_iter().skip(skip) {
        if opts.timestamps {
            out.push_str(&at.replace('Z', ".000000000Z"));
            out.push(' ');
        }
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

pub async fn handle(ctx: &Context<'_>) -> Result<Response<Body>, ApiError> {
    let d = ctx
        .api
        .registry
        .get("", "v1", "pods")
        .ok_or(ApiError::NoSuchResource)?;
    let pod = ctx.api.get(&d, &ctx.info.namespace, &ctx.info.name).await?;
    let q = &ctx.query;
    let tail_lines = match q.get("tailLines") {
        Some(t) => Some(
            t.parse::<usize>()
                .map_err(|_| bad(format!("invalid tailLines: {t:?}")))?,
        ),
        None => None,
    };
    let opts = LogOptions {
        container: q.get("container"),
        tail_lines,
        timestamps: q.flag("timestamps"),
        previous: q.flag("previous"),
    };
    let text = render(&pod, &opts)?;
    let mut response = Response::new(super::body::bytes_body(text.into_bytes()));
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(state: Value) -> Value {
        json!({"metadata": {"name": "web"},
               "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "nginx:1"}]},
               "status": {"containerStatuses": [{"name": "app", "restartCount": 0, "state": state}]}})
    }

    #[test]
    fn running_containers_have_a_synthetic_log() {
        let p = pod(json!({"running": {"startedAt": "2026-11-23T10:00:00Z"}}));
        let log = render(&p, &LogOptions::default()).unwrap();
        assert!(log
            .starts_with("keks: simulated container app started from image nginx:1 on node n1\n"));
        let tail = LogOptions {
            tail_lines: Some(1),
            ..Default::default()
        };
        assert_eq!(render(&p, &tail).unwrap().lines().count(), 1);
        let stamped = LogOptions {
            timestamps: true,
            ..Default::default()
        };
        assert!(render(&p, &stamped)
            .unwrap()
            .starts_with("2026-11-23T10:00:00.000000000Z keks:"));
    }

    #[test]
    fn kubelets_answers_when_there_is_nothing_to_show() {
        let waiting = pod(json!({"waiting": {"reason": "ContainerCreating"}}));
        assert_eq!(
            render(&waiting, &LogOptions::default())
                .unwrap_err()
                .to_string(),
            "container \"app\" in pod \"web\" is waiting to start: ContainerCreating"
        );
        let p = pod(json!({"running": {"startedAt": "2026-11-23T10:00:00Z"}}));
        let other = LogOptions {
            container: Some("db"),
            ..Default::default()
        };
        assert_eq!(
            render(&p, &other).unwrap_err().to_string(),
            "container db is not valid for pod web"
        );
        let previous = LogOptions {
            previous: true,
            ..Default::default()
        };
        assert!(render(&p, &previous)
            .unwrap_err()
            .to_string()
            .contains("previous terminated container"));
    }
}
