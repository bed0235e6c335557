//! The event recorder: core/v1 Events about an object, written as client-go's recorder does,
//! with its correlation: a repeat of the same event (same source, object, type, reason and
//! message) bumps `count` and `lastTimestamp` on the existing Event instead of adding one.
//! Failures to record are logged and dropped; events never hold up a controller.

use std::collections::HashMap;
use std::sync::Arc;

use keks_apiserver::rest::meta::timestamp;
use keks_apiserver::rest::{UpdateOptions, WriteOptions};
use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use parking_lot::Mutex;
use serde_json::{json, Value};

/// Correlation entries kept before the oldest half is dropped.
const MAX_REMEMBERED: usize = 4096;

pub struct Recorder {
    api: Arc<ClusterApi>,
    component: &'static str,
    /// correlation key → (namespace, event name).
    seen: Mutex<HashMap<String, (String, String)>>,
}

impl Recorder {
    pub fn new(api: Arc<ClusterApi>, component: &'static str) -> Arc<Self> {
        Arc::new(Self {
            api,
            component,
            seen: Mutex::default(),
        })
    }

    /// Records an event about `object` (of `kind`, `apiVersion`) in the background.
    pub fn event(
        self: &Arc<Self>,
        object: &Value,
        api_version: &str,
        kind: &str,
        type_: &str,
        reason: &str,
        message: String,
    ) {
        let me = self.clone();
        let meta = &object["metadata"];
        let involved = json!({
            "kind": kind,
            "apiVersion": api_version,
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
        });
        let type_ = type_.to_string();
        let reason = reason.to_string();
        self.api.spawn(async move {
            if let Err(e) = me.write(involved, &type_, &reason, message).await {
                tracing::debug!(component = me.component, error = %e, "could not record an event");
            }
        });
    }

    async fn write(
        &self,
        involved: Value,
        type_: &str,
        reason: &str,
        message: String,
    ) -> Result<(), ApiError> {
        let d = self
            .api
            .registry
            .get("", "v1", "events")
            .expect("events are built in");
        let namespace = involved["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or("default")
            .to_string();
        let now = timestamp(self.api.clock.wall());
        let correlation = format!(
            "{}/{}/{}/{}/{}/{}",
            involved["uid"].as_str().unwrap_or_default(),
            involved["name"].as_str().unwrap_or_default(),
            self.component,
            type_,
            reason,
            message
        );
        let known = self.seen.lock().get(&correlation).cloned();
        if let Some((ns, name)) = known {
            let bumped = self
                .api
                .guaranteed_update(&d, &ns, &name, &UpdateOptions::default(), 0, |current| {
                    let mut e = current.clone();
                    e["count"] = json!(e["count"].as_i64().unwrap_or(1) + 1);
                    e["lastTimestamp"] = json!(now);
                    Ok(e)
                })
                .await;
            match bumped {
                Ok(_) => return Ok(()),
                Err(ApiError::NotFound { .. }) => {} // expired or deleted: write it anew
                Err(e) => return Err(e),
            }
        }
        let nanos = self
            .api
            .clock
            .wall()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let name = format!(
            "{}.{:x}",
            involved["name"].as_str().unwrap_or("object"),
            nanos
        );
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": type_,
            "source": {"component": self.component},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "eventTime": null,
            "reportingComponent": self.component,
            "reportingInstance": "",
        });
        match self
            .api
            .create(&d, &namespace, event, &WriteOptions::default())
            .await
        {
            Ok(_) | Err(ApiError::AlreadyExists { .. }) => {}
            // The namespace is going away; nobody will read the event.
            Err(ApiError::Forbidden { .. } | ApiError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut seen = self.seen.lock();
        if seen.len() >= MAX_REMEMBERED {
            let drop: Vec<String> = seen.keys().take(MAX_REMEMBERED / 2).cloned().collect();
            for k in drop {
                seen.remove(&k);
            }
        }
        seen.insert(correlation, (namespace, name));
        Ok(())
    }
}
