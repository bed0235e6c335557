//! The namespace lifecycle, as kube-controller-manager's namespace controller: a namespace
//! being deleted is emptied (every namespaced resource deleted), then its `kubernetes`
//! finalizer is removed through `/finalize`, which lets the API delete it.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use keks_core::ClockExt;
use serde_json::{json, Value};

use crate::rest::{
    ClusterApi, DeleteOptions, ListOptions, Propagation, Subresource, UpdateOptions,
    WatchEventType, WatchOptions,
};
use crate::status::ApiError;

const FINALIZER: &str = "kubernetes";
/// How long to wait before looking at a namespace again while content is still going.
const RETRY: Duration = Duration::from_secs(1);

/// Watches one cluster's namespaces and finalizes the terminating ones.
pub struct NamespaceFinalizer {
    api: Arc<ClusterApi>,
}

impl NamespaceFinalizer {
    pub fn spawn(api: Arc<ClusterApi>) {
        api.clone().spawn(Self { api }.run());
    }

    async fn run(self) {
        let Some(namespaces) = self.api.registry.get("", "v1", "namespaces") else {
            return;
        };
        loop {
            let events = match self
                .api
                .watch(&namespaces, None, WatchOptions::default())
                .await
            {
                Ok(events) => events,
                Err(_) => return, // the store is closed
            };
            let mut events = events;
            while let Some(event) = events.next().await {
                if event.type_ == WatchEventType::Error {
                    break;
                }
                let terminating = event
                    .object
                    .pointer("/metadata/deletionTimestamp")
                    .is_some();
                if terminating
                    && matches!(
                        event.type_,
                        WatchEventType::Added | WatchEventType::Modified
                    )
                {
                    let name = event
                        .object
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    let api = self.api.clone();
                    self.api.spawn(async move { finalize(api, name).await });
                }
            }
            self.api.clock.sleep(RETRY).await;
        }
    }
}

/// Empties the namespace, then removes its finalizer; retries while content remains.
async fn finalize(api: Arc<ClusterApi>, namespace: String) {
    loop {
        match empty(&api, &namespace).await {
            Ok(true) => break,
            Ok(false) => api.clock.sleep(RETRY).await,
            Err(ApiError::NotFound { .. }) => return,
            Err(e) => {
                tracing::warn!(cluster = %api.cluster, %namespace, error = %e, "emptying a terminating namespace");
                api.clock.sleep(RETRY).await;
            }
        }
    }
    let Some(d) = api.registry.get("", "v1", "namespaces") else {
        return;
    };
    let opts = UpdateOptions {
        subresource: Subresource::Finalize,
        ..Default::default()
    };
    let result = api
        .guaranteed_update(&d, "", &namespace, &opts, 0, |current| {
            let mut next = current.clone();
            let remaining: Vec<Value> = current
                .pointer("/spec/finalizers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|f| *f != FINALIZER)
                .cloned()
                .collect();
            next["spec"]["finalizers"] = json!(remaining);
            Ok(next)
        })
        .await;
    if let Err(e) = result.map(|_| ()).or_else(|e| {
        if matches!(e, ApiError::NotFound { .. }) {
            Ok(())
        } else {
            Err(e)
        }
    }) {
        tracing::warn!(cluster = %api.cluster, %namespace, error = %e, "finalizing a namespace");
    }
}

/// Deletes everything in the namespace; true once nothing is left.
async fn empty(api: &ClusterApi, namespace: &str) -> Result<bool, ApiError> {
    let mut left = 0;
    let delete = DeleteOptions {
        propagation: Some(Propagation::Background),
        ..Default::default()
    };
    for d in api
        .registry
        .all_for(&api.cluster)
        .into_iter()
        .filter(|d| d.namespaced() && d.verbs.contains(&"deletecollection"))
    {
        api.delete_collection(&d, Some(namespace), &ListOptions::default(), &delete)
            .await?;
        let remaining = api
            .list(
                &d,
                Some(namespace),
                &ListOptions {
                    limit: 1,
                    ..Default::default()
                },
            )
            .await?;
        left += remaining["items"].as_array().map_or(0, Vec::len);
    }
    Ok(left == 0)
}
