//! The disruption controller, as kube-controller-manager's: keeps every PodDisruptionBudget's
//! status current — expected pods (the owning controllers' scale for maxUnavailable and
//! percentages, the pod count for an absolute minAvailable), desired and current healthy
//! pods, `disruptionsAllowed`, the DisruptionAllowed condition — and drops evictions from
//! `disruptedPods` once their pods are gone or two minutes passed. The eviction subresource
//! spends what this controller allows.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use keks_apiserver::rest::meta::{parse, timestamp};
use keks_apiserver::rest::{Subresource, UpdateOptions};
use keks_apiserver::selector::LabelSelector;
use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use serde_json::{json, Value};

use crate::informer::{key_of, split_key, Change, Informer};
use crate::podutil;
use crate::queue::{cluster_spawner, run_workers, ReconcileResult, WorkQueue};
use crate::Informers;

/// How long an eviction stays in `disruptedPods` waiting for its pod to go.
const DELETION_TIMEOUT: Duration = Duration::from_secs(2 * 60);

pub struct DisruptionController {
    api: Arc<ClusterApi>,
    budgets: Arc<Informer>,
    pods: Arc<Informer>,
    sets: Arc<Informer>,
    deployments: Arc<Informer>,
    queue: Arc<WorkQueue>,
}

impl DisruptionController {
    pub fn start(api: &Arc<ClusterApi>, informers: &Informers) {
        let me = Arc::new(Self {
            api: api.clone(),
            budgets: informers.budgets.clone(),
            pods: informers.pods.clone(),
            sets: informers.replicasets.clone(),
            deployments: informers.deployments.clone(),
            queue: WorkQueue::new("disruption", api.clock.clone(), cluster_spawner(api)),
        });
        let c = me.clone();
        informers
            .budgets
            .on_change(move |change| c.queue.add(key_of(change.object())));
        let c = me.clone();
        informers.pods.on_change(move |change| c.on_pod(change));
        api.spawn(async move {
            me.budgets.wait_synced().await;
            me.pods.wait_synced().await;
            let c = me.clone();
            run_workers(&me.api, me.queue.clone(), 2, move |key| {
                let c = c.clone();
                async move { c.sync(&key).await }
            });
        });
    }

    fn on_pod(&self, change: &Change) {
        let pod = change.object();
        let labels = pod["metadata"].get("labels");
        for pdb in self.budgets.by_index("namespace", podutil::namespace(pod)) {
            if selector(&pdb).is_some_and(|s| s.matches(labels)) {
                self.queue.add(key_of(&pdb));
            }
        }
    }

    async fn sync(&self, key: &str) -> ReconcileResult {
        let Some(pdb) = self.budgets.get(key) else {
            return Ok(None);
        };
        let now = self.api.clock.wall();
        let pods: Vec<Arc<Value>> = match selector(&pdb) {
            Some(s) => self
                .pods
                .by_index("namespace", podutil::namespace(&pdb))
                .into_iter()
                .filter(|p| s.matches(p["metadata"].get("labels")))
                .collect(),
            None => Vec::new(),
        };
        let spec = &pdb["spec"];
        let (expected, desired) =
            if let Some(max) = spec.get("maxUnavailable").filter(|v| !v.is_null()) {
                let expected = self.expected_scale(&pods);
                let unavailable = scaled(max, expected);
                (expected, (expected - unavailable).max(0))
            } else {
                match spec.get("minAvailable") {
                    Some(Value::String(p)) if p.ends_with('%') => {
                        let expected = self.expected_scale(&pods);
                        (expected, scaled(&json!(p), expected))
                    }
                    Some(v) => (pods.len() as i64, v.as_i64().unwrap_or(0)),
                    None => (pods.len() as i64, 0),
                }
            };
        // Evictions not yet seen through: the pod still counts as disrupted for a while.
        let mut disrupted = serde_json::Map::new();
        let mut next_expiry: Option<Duration> = None;
        for (pod, at) in pdb["status"]["disruptedPods"]
            .as_object()
            .into_iter()
            .flatten()
        {
            let alive = pods
                .iter()
                .any(|p| podutil::name(p) == pod && !podutil::is_deleting(p));
            let Some(expires) = at.as_str().and_then(parse).map(|t| t + DELETION_TIMEOUT) else {
                continue;
            };
            if alive && expires > now {
                disrupted.insert(pod.clone(), at.clone());
                let left = expires.duration_since(now).unwrap_or_default();
                next_expiry = Some(next_expiry.map_or(left, |n| n.min(left)));
            }
        }
        let healthy = pods
            .iter()
            .filter(|p| {
                !podutil::is_deleting(p)
                    && podutil::is_ready(p)
                    && !disrupted.contains_key(podutil::name(p))
            })
            .count() as i64;
        let allowed = if expected <= 0 {
            0
        } else {
            (healthy - desired).max(0)
        };
        let stamp = timestamp(now);
        let generation = pdb["metadata"]["generation"].as_i64().unwrap_or(1);
        let (status, reason) = if allowed > 0 {
            ("True", "SufficientPods")
        } else {
            ("False", "InsufficientPods")
        };
        let mut next = json!({
            "observedGeneration": generation,
            "disruptionsAllowed": allowed,
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "expectedPods": expected,
            "disruptedPods": disrupted,
            "conditions": pdb["status"]["conditions"].as_array().cloned().unwrap_or_default(),
        });
        set_allowed_condition(&mut next, status, reason, generation, &stamp);
        let same = [
            "observedGeneration",
            "disruptionsAllowed",
            "currentHealthy",
            "desiredHealthy",
            "expectedPods",
            "disruptedPods",
            "conditions",
        ]
        .iter()
        .all(|f| pdb["status"].get(*f) == next.get(*f));
        if !same {
            let (ns, name) = split_key(key);
            let d = self.budgets.descriptor().clone();
            let opts = UpdateOptions {
                subresource: Subresource::Status,
                ..Default::default()
            };
            let uid = podutil::uid(&pdb).to_string();
            match self
                .api
                .guaranteed_update(&d, ns, name, &opts, 0, |current| {
                    let mut c = current.clone();
                    if podutil::uid(current) == uid {
                        c["status"] = next.clone();
                    }
                    Ok(c)
                })
                .await
            {
                Ok(_) | Err(ApiError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(next_expiry.map(|d| d + Duration::from_secs(1)))
    }

    /// The replicas the pods' controllers want, each controller counted once (a
    /// ReplicaSet of a Deployment counts as the Deployment); pods without one count as one.
    fn expected_scale(&self, pods: &[Arc<Value>]) -> i64 {
        let mut controllers: HashMap<String, i64> = HashMap::new();
        let mut loose = 0;
        for pod in pods {
            let Some(r) = podutil::controller_ref(pod) else {
                loose += 1;
                continue;
            };
            let ns = podutil::namespace(pod);
            let rs_key = format!("{ns}/{}", r["name"].as_str().unwrap_or_default());
            let scale = match (r["kind"].as_str(), self.sets.get(&rs_key)) {
                (Some("ReplicaSet"), Some(rs)) => match podutil::controller_ref(&rs)
                    .filter(|o| o["kind"] == "Deployment")
                    .and_then(|o| {
                        self.deployments
                            .get(&format!("{ns}/{}", o["name"].as_str().unwrap_or_default()))
                    }) {
                    Some(d) => (
                        format!("deployment/{}", podutil::uid(&d)),
                        d["spec"]["replicas"].as_i64().unwrap_or(1),
                    ),
                    None => (
                        format!("rs/{}", podutil::uid(&rs)),
                        rs["spec"]["replicas"].as_i64().unwrap_or(1),
                    ),
                },
                _ => (r["uid"].as_str().unwrap_or_default().to_string(), 1),
            };
            controllers.insert(scale.0, scale.1);
        }
        controllers.values().sum::<i64>() + loose
    }
}

fn selector(pdb: &Value) -> Option<LabelSelector> {
    let s = pdb["spec"].get("selector").filter(|s| !s.is_null())?;
    LabelSelector::from_object(s).ok()
}

/// An `IntOrString` against `total`, percentages rounded up.
fn scaled(value: &Value, total: i64) -> i64 {
    match value {
        Value::String(s) => match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
            Some(p) => (p * total + 99) / 100,
            None => s.parse().unwrap_or(0),
        },
        other => other.as_i64().unwrap_or(0),
    }
}

fn set_allowed_condition(status: &mut Value, st: &str, reason: &str, generation: i64, now: &str) {
    let list = status["conditions"]
        .as_array_mut()
        .expect("conditions is a list");
    let existing = list.iter().position(|c| c["type"] == "DisruptionAllowed");
    let transition = match existing {
        Some(i) if list[i]["status"] == st => list[i]["lastTransitionTime"].clone(),
        _ => json!(now),
    };
    let condition = json!({"type": "DisruptionAllowed", "status": st, "reason": reason, "message": "", "observedGeneration": generation, "lastTransitionTime": transition});
    match existing {
        Some(i) => list[i] = condition,
        None => list.push(condition),
    }
}
