//! The Deployment controller, as kube-controller-manager's: claims its ReplicaSets, finds
//! or creates the new one (named `<deployment>-<pod-template-hash>`, revision annotation one
//! above the old ones), and then either scales proportionally (a replica change, or paused),
//! rolls (RollingUpdate with maxSurge/maxUnavailable) or recreates, cleans up old
//! ReplicaSets past `revisionHistoryLimit`, and reports status with the Progressing and
//! Available conditions `kubectl rollout status` reads.

mod rollout;
mod status;
pub mod util;

use std::sync::Arc;

use keks_apiserver::rest::{DeleteOptions, UpdateOptions, WriteOptions};
use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use serde_json::{json, Value};

use crate::events::Recorder;
use crate::informer::{key_of, Change, Informer};
use crate::podutil;
use crate::queue::{cluster_spawner, run_workers, ReconcileResult, WorkQueue};
use crate::replicaset::selector_of;
use crate::{Config, ControllerError, Informers};
use util::*;

const KIND: &str = "Deployment";
const API_VERSION: &str = "apps/v1";

pub struct DeploymentController {
    api: Arc<ClusterApi>,
    deployments: Arc<Informer>,
    sets: Arc<Informer>,
    pods: Arc<Informer>,
    queue: Arc<WorkQueue>,
    recorder: Arc<Recorder>,
}

type Sets = Vec<Arc<Value>>;

impl DeploymentController {
    pub fn start(api: &Arc<ClusterApi>, informers: &Informers, config: &Config) {
        let me = Arc::new(Self {
            api: api.clone(),
            deployments: informers.deployments.clone(),
            sets: informers.replicasets.clone(),
            pods: informers.pods.clone(),
            queue: WorkQueue::new("deployment", api.clock.clone(), cluster_spawner(api)),
            recorder: Recorder::new(api.clone(), "deployment-controller"),
        });
        let c = me.clone();
        informers
            .deployments
            .on_change(move |change| c.queue.add(key_of(change.object())));
        let c = me.clone();
        informers
            .replicasets
            .on_change(move |change| c.on_replicaset(change));
        let c = me.clone();
        informers.pods.on_change(move |change| {
            // Recreate waits for old pods to be gone.
            if let Change::Deleted(pod) = change {
                if let Some(rs) = c.owner_rs(pod) {
                    if let Some(d) = c.owner_key(&rs) {
                        c.queue.add(d);
                    }
                }
            }
        });
        let workers = config.workers;
        api.spawn(async move {
            me.deployments.wait_synced().await;
            me.sets.wait_synced().await;
            me.pods.wait_synced().await;
            let c = me.clone();
            run_workers(&me.api, me.queue.clone(), workers, move |key| {
                let c = c.clone();
                async move { c.sync(&key).await }
            });
        });
    }

    fn owner_key(&self, rs: &Value) -> Option<String> {
        let r = podutil::controller_ref(rs)?;
        (r["kind"] == KIND).then(|| {
            format!(
                "{}/{}",
                podutil::namespace(rs),
                r["name"].as_str().unwrap_or_default()
            )
        })
    }

    fn owner_rs(&self, pod: &Value) -> Option<Arc<Value>> {
        let r = podutil::controller_ref(pod)?;
        self.sets.get(&format!(
            "{}/{}",
            podutil::namespace(pod),
            r["name"].as_str().unwrap_or_default()
        ))
    }

    fn on_replicaset(&self, change: &Change) {
        let rs = change.object();
        if let Change::Updated { old, .. } = change {
            if let Some(o) = self.owner_key(old) {
                self.queue.add(o);
            }
        }
        match self.owner_key(rs) {
            Some(d) => self.queue.add(d),
            None => {
                for d in self
                    .deployments
                    .by_index("namespace", podutil::namespace(rs))
                {
                    if selector_of(&d).is_some_and(|s| s.matches(rs["metadata"].get("labels"))) {
                        self.queue.add(key_of(&d));
                    }
                }
            }
        }
    }

    async fn sync(&self, key: &str) -> ReconcileResult {
        let Some(d) = self.deployments.get(key) else {
            return Ok(None);
        };
        let d: &Value = &d;
        let Some(selector) = selector_of(d) else {
            return Err(ControllerError::Invalid(format!(
                "deployment {key} has an invalid selector"
            )));
        };
        if selector.is_empty() {
            return Ok(None); // selects everything: kube refuses to act on it
        }
        let sets = self.claim_replicasets(d, &selector).await?;
        if podutil::is_deleting(d) {
            return self.sync_status_only(d, sets).await;
        }
        if d["spec"]["paused"] == true {
            return self.sync_scale(d, sets).await;
        }
        if self.is_scaling_event(d, &sets) {
            return self.sync_scale(d, sets).await;
        }
        if is_rolling(d) {
            self.rollout_rolling(d, sets).await
        } else {
            self.rollout_recreate(d, sets).await
        }
    }

    /// The ReplicaSets this Deployment controls, after adoption and release.
    async fn claim_replicasets(
        &self,
        d: &Value,
        selector: &keks_apiserver::selector::LabelSelector,
    ) -> Result<Sets, ControllerError> {
        let uid = podutil::uid(d);
        let mut owned = Vec::new();
        for rs in self.sets.by_index("namespace", podutil::namespace(d)) {
            let matches = selector.matches(rs["metadata"].get("labels"));
            match podutil::controller_ref(&rs) {
                Some(r) if r["uid"] == uid => {
                    if matches {
                        owned.push(rs);
                    } else if let Some(released) = self.set_owner(&rs, d, false).await? {
                        let _ = released;
                    }
                }
                Some(_) => {}
                None if matches && !podutil::is_deleting(d) && !podutil::is_deleting(&rs) => {
                    if let Some(adopted) = self.set_owner(&rs, d, true).await? {
                        owned.push(Arc::new(adopted));
                    }
                }
                None => {}
            }
        }
        Ok(owned)
    }

    async fn set_owner(
        &self,
        rs: &Value,
        d: &Value,
        adopt: bool,
    ) -> Result<Option<Value>, ControllerError> {
        let uid = podutil::uid(d).to_string();
        let owner = podutil::owner_ref(d, API_VERSION, KIND);
        let result = self
            .update_rs(rs, |current| {
                let mut next = current.clone();
                let mut refs: Vec<Value> = current["metadata"]["ownerReferences"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if adopt {
                    if podutil::controller_ref(current).is_some() {
                        return next;
                    }
                    refs.push(owner.clone());
                } else {
                    refs.retain(|r| r["uid"] != uid.as_str());
                }
                next["metadata"]["ownerReferences"] = json!(refs);
                next
            })
            .await?;
        Ok(result.filter(|rs| {
            !adopt || podutil::controller_ref(rs).is_some_and(|r| r["uid"] == uid.as_str())
        }))
    }

    /// Updates a ReplicaSet through the API; `None` if it is gone.
    async fn update_rs(
        &self,
        rs: &Value,
        mutate: impl Fn(&Value) -> Value,
    ) -> Result<Option<Value>, ControllerError> {
        let d = self.sets.descriptor().clone();
        match self
            .api
            .guaranteed_update(
                &d,
                podutil::namespace(rs),
                podutil::name(rs),
                &UpdateOptions::default(),
                0,
                |current| Ok(mutate(current)),
            )
            .await
        {
            Ok(v) => Ok(Some(v)),
            // Still cached means our cache is ahead of the read: retry rather than lose it.
            Err(e @ ApiError::NotFound { .. }) if self.sets.get(&key_of(rs)).is_some() => {
                Err(e.into())
            }
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// `isScalingEvent`: an active ReplicaSet was sized for another replica count.
    fn is_scaling_event(&self, d: &Value, sets: &Sets) -> bool {
        let want = replicas(d);
        active(sets)
            .iter()
            .filter_map(|rs| annotation_i64(rs, DESIRED_REPLICAS))
            .any(|desired| desired != want)
    }

    /// `FindNewReplicaSet`: the oldest ReplicaSet whose template is the Deployment's.
    fn find_new(&self, d: &Value, sets: &Sets) -> Option<Arc<Value>> {
        let mut sorted = sets.clone();
        sort_oldest_first(&mut sorted);
        sorted
            .into_iter()
            .find(|rs| equal_ignore_hash(&rs["spec"]["template"], &d["spec"]["template"]))
    }

    /// `getAllReplicaSetsAndSyncRevision`: the new ReplicaSet (created if asked and missing,
    /// its revision raised above the old ones) and the old ones.
    async fn new_and_old(
        &self,
        d: &Value,
        sets: &Sets,
        create: bool,
    ) -> Result<(Option<Arc<Value>>, Sets), ControllerError> {
        let existing = self.find_new(d, sets);
        let old: Sets = sets
            .iter()
            .filter(|rs| {
                existing
                    .as_ref()
                    .is_none_or(|n| podutil::uid(n) != podutil::uid(rs))
            })
            .cloned()
            .collect();
        let max_old = old.iter().map(|rs| revision(rs)).max().unwrap_or(0);
        let new_revision = (max_old + 1).to_string();
        let new_rs = match existing {
            Some(rs) => {
                // Rolling back to an old template makes its ReplicaSet the newest revision;
                // minReadySeconds follows the Deployment.
                let min_ready = &d["spec"]["minReadySeconds"];
                let stale_min_ready =
                    !min_ready.is_null() && rs["spec"]["minReadySeconds"] != *min_ready;
                if revision(&rs) <= max_old || stale_min_ready {
                    let rev = if revision(&rs) <= max_old {
                        new_revision.clone()
                    } else {
                        revision(&rs).to_string()
                    };
                    let min_ready = min_ready.clone();
                    self.update_rs(&rs, |current| {
                        let mut next = current.clone();
                        if !next["metadata"]["annotations"].is_object() {
                            next["metadata"]["annotations"] = json!({});
                        }
                        next["metadata"]["annotations"][REVISION] = json!(rev);
                        if !min_ready.is_null() {
                            next["spec"]["minReadySeconds"] = min_ready.clone();
                        }
                        next
                    })
                    .await?
                    .map(Arc::new)
                } else {
                    Some(rs)
                }
            }
            None if create => Some(Arc::new(self.create_new_rs(d, sets, &new_revision).await?)),
            None => None,
        };
        if let Some(rs) = &new_rs {
            self.sync_deployment_revision(d, &revision(rs).to_string())
                .await?;
        }
        Ok((new_rs, old))
    }

    async fn sync_deployment_revision(&self, d: &Value, rev: &str) -> Result<(), ControllerError> {
        if d["metadata"]["annotations"][REVISION] == rev {
            return Ok(());
        }
        let desc = self.deployments.descriptor().clone();
        let (ns, name) = (podutil::namespace(d), podutil::name(d));
        let result = self
            .api
            .guaranteed_update(&desc, ns, name, &UpdateOptions::default(), 0, |current| {
                let mut next = current.clone();
                if !next["metadata"]["annotations"].is_object() {
                    next["metadata"]["annotations"] = json!({});
                }
                next["metadata"]["annotations"][REVISION] = json!(rev);
                Ok(next)
            })
            .await;
        match result {
            Ok(_) | Err(ApiError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn create_new_rs(
        &self,
        d: &Value,
        sets: &Sets,
        rev: &str,
    ) -> Result<Value, ControllerError> {
        let mut collisions = d["status"]["collisionCount"].as_i64();
        let desc = self.sets.descriptor().clone();
        for _ in 0..8 {
            let hash = template_hash(&d["spec"]["template"], collisions);
            let mut template = d["spec"]["template"].clone();
            if !template["metadata"].is_object() {
                template["metadata"] = json!({});
            }
            if !template["metadata"]["labels"].is_object() {
                template["metadata"]["labels"] = json!({});
            }
            template["metadata"]["labels"][HASH_LABEL] = json!(hash);
            let mut selector = d["spec"]["selector"].clone();
            if !selector["matchLabels"].is_object() {
                selector["matchLabels"] = json!({});
            }
            selector["matchLabels"][HASH_LABEL] = json!(hash);
            let mut annotations = serde_json::Map::new();
            for (k, v) in d["metadata"]["annotations"]
                .as_object()
                .into_iter()
                .flatten()
            {
                if !skipped_annotation(k) {
                    annotations.insert(k.clone(), v.clone());
                }
            }
            annotations.insert(REVISION.into(), json!(rev));
            annotations.insert(DESIRED_REPLICAS.into(), json!(replicas(d).to_string()));
            annotations.insert(
                MAX_REPLICAS.into(),
                json!((replicas(d) + max_surge(d)).to_string()),
            );
            let all: Sets = sets.clone();
            let new_replicas = rollout::new_rs_replicas(d, &all, None);
            let name = format!("{}-{hash}", podutil::name(d));
            let rs = json!({
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": name,
                    "namespace": podutil::namespace(d),
                    "labels": template["metadata"]["labels"],
                    "annotations": annotations,
                    "ownerReferences": [podutil::owner_ref(d, API_VERSION, KIND)],
                },
                "spec": {
                    "replicas": new_replicas,
                    "minReadySeconds": d["spec"]["minReadySeconds"].as_i64().unwrap_or(0),
                    "selector": selector,
                    "template": template,
                },
            });
            match self
                .api
                .create(&desc, podutil::namespace(d), rs, &WriteOptions::default())
                .await
            {
                Ok(created) => {
                    if new_replicas > 0 {
                        self.scaled_event(d, &name, "up", 0, new_replicas);
                    }
                    return Ok(created);
                }
                Err(ApiError::AlreadyExists { .. }) => {
                    let existing = self.api.get(&desc, podutil::namespace(d), &name).await?;
                    let ours = podutil::controller_ref(&existing)
                        .is_some_and(|r| r["uid"] == podutil::uid(d));
                    if ours
                        && equal_ignore_hash(&existing["spec"]["template"], &d["spec"]["template"])
                    {
                        return Ok(existing);
                    }
                    collisions = Some(collisions.unwrap_or(0) + 1);
                    self.record_collisions(d, collisions.unwrap_or(0)).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ControllerError::Invalid(
            "too many pod-template-hash collisions".into(),
        ))
    }

    async fn record_collisions(&self, d: &Value, count: i64) -> Result<(), ControllerError> {
        let desc = self.deployments.descriptor().clone();
        let opts = UpdateOptions {
            subresource: keks_apiserver::rest::Subresource::Status,
            ..Default::default()
        };
        self.api
            .guaranteed_update(
                &desc,
                podutil::namespace(d),
                podutil::name(d),
                &opts,
                0,
                |c| {
                    let mut next = c.clone();
                    next["status"]["collisionCount"] = json!(count);
                    Ok(next)
                },
            )
            .await?;
        Ok(())
    }

    fn scaled_event(&self, d: &Value, rs: &str, how: &str, from: i64, to: i64) {
        self.recorder.event(
            d,
            API_VERSION,
            KIND,
            "Normal",
            "ScalingReplicaSet",
            format!("Scaled {how} replica set {rs} from {from} to {to}"),
        );
    }

    /// Sets a ReplicaSet's replicas (and the desired/max annotations); returns it as written.
    async fn scale_rs(
        &self,
        d: &Value,
        rs: &Arc<Value>,
        to: i64,
    ) -> Result<Arc<Value>, ControllerError> {
        let from = replicas(rs);
        let desired = replicas(d).to_string();
        let max = (replicas(d) + max_surge(d)).to_string();
        let annotations_ok = rs["metadata"]["annotations"][DESIRED_REPLICAS] == desired.as_str()
            && rs["metadata"]["annotations"][MAX_REPLICAS] == max.as_str();
        if from == to && annotations_ok {
            return Ok(rs.clone());
        }
        let updated = self
            .update_rs(rs, |current| {
                let mut next = current.clone();
                next["spec"]["replicas"] = json!(to);
                if !next["metadata"]["annotations"].is_object() {
                    next["metadata"]["annotations"] = json!({});
                }
                next["metadata"]["annotations"][DESIRED_REPLICAS] = json!(desired);
                next["metadata"]["annotations"][MAX_REPLICAS] = json!(max);
                next
            })
            .await?;
        if from != to {
            let how = if to > from { "up" } else { "down" };
            self.scaled_event(d, podutil::name(rs), how, from, to);
        }
        Ok(updated.map(Arc::new).unwrap_or_else(|| rs.clone()))
    }

    /// `cleanupDeployment`: deletes the oldest idle ReplicaSets past revisionHistoryLimit.
    async fn cleanup(&self, d: &Value, old: &Sets) -> Result<(), ControllerError> {
        let limit = d["spec"]["revisionHistoryLimit"].as_i64().unwrap_or(10);
        let mut cleanable: Sets = old
            .iter()
            .filter(|rs| !podutil::is_deleting(rs))
            .cloned()
            .collect();
        let excess = cleanable.len() as i64 - limit;
        if excess <= 0 {
            return Ok(());
        }
        cleanable.sort_by_key(|rs| revision(rs));
        let desc = self.sets.descriptor().clone();
        for rs in cleanable.iter().take(excess as usize) {
            let idle = rs["status"]["replicas"].as_i64().unwrap_or(0) == 0
                && replicas(rs) == 0
                && rs["status"]["observedGeneration"].as_i64().unwrap_or(0)
                    >= rs["metadata"]["generation"].as_i64().unwrap_or(0);
            if !idle {
                continue;
            }
            let opts = DeleteOptions {
                precondition_uid: Some(podutil::uid(rs).to_string()),
                ..Default::default()
            };
            match self
                .api
                .delete(&desc, podutil::namespace(rs), podutil::name(rs), &opts)
                .await
            {
                Ok(_) | Err(ApiError::NotFound { .. }) | Err(ApiError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn pods_of(&self, rs: &Value) -> Vec<Arc<Value>> {
        self.pods.by_index("owner", podutil::uid(rs))
    }
}
