//! The `eviction` subresource of pods (policy/v1 `Eviction`), as kube-apiserver's
//! EvictionREST: a pod that is not running, or that no PodDisruptionBudget covers, is simply
//! deleted; otherwise its one budget must allow a disruption (`status.disruptionsAllowed`),
//! which the eviction spends (recording the pod in `status.disruptedPods`) before deleting
//! the pod. A budget that allows none answers 429 TooManyRequests, as kubectl drain expects.

use serde_json::{json, Value};

use super::meta::timestamp;
use super::object::meta_str;
use super::read::ListOptions;
use super::update::{Subresource, UpdateOptions};
use super::{ClusterApi, DeleteOptions};
use crate::selector::LabelSelector;
use crate::status::ApiError;

const VIOLATION: &str = "Cannot evict pod as it would violate the pod's disruption budget.";
/// kube-apiserver refuses to let unconfirmed evictions pile up past this.
const MAX_DISRUPTED_PODS: usize = 2000;

impl ClusterApi {
    /// Evicts pod `namespace/name` as `eviction` (a policy/v1 Eviction) asks.
    pub async fn evict_pod(
        &self,
        namespace: &str,
        name: &str,
        eviction: &Value,
        dry_run: bool,
    ) -> Result<(), ApiError> {
        if let Some(n) = meta_str(eviction, "name").filter(|n| !n.is_empty()) {
            if n != name {
                return Err(ApiError::BadRequest(
                    "name in URL does not match name in Eviction object".into(),
                ));
            }
        }
        let options = &eviction["deleteOptions"];
        let delete = DeleteOptions {
            grace_period_seconds: options["gracePeriodSeconds"].as_i64(),
            precondition_uid: options["preconditions"]["uid"].as_str().map(str::to_string),
            precondition_resource_version: options["preconditions"]["resourceVersion"]
                .as_str()
                .map(str::to_string),
            dry_run: dry_run
                || options["dryRun"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|v| v == "All")),
            ..Default::default()
        };
        let pods = self.registry.get("", "v1", "pods").expect("built in");
        let pdbs = self
            .registry
            .get("policy", "v1", "poddisruptionbudgets")
            .expect("built in");
        loop {
            let pod = self.get(&pods, namespace, name).await?;
            let phase = pod.pointer("/status/phase").and_then(Value::as_str);
            // A pod that is not running disrupts nothing by going.
            let ignore_budget = matches!(phase, Some("Succeeded" | "Failed" | "Pending"))
                || pod.pointer("/metadata/deletionTimestamp").is_some();
            let budget = if ignore_budget {
                None
            } else {
                let list = self
                    .list(&pdbs, Some(namespace), &ListOptions::default())
                    .await?;
                let labels = pod.pointer("/metadata/labels");
                let mut matching: Vec<Value> = list["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|pdb| {
                        pdb.pointer("/spec/selector")
                            .filter(|s| !s.is_null())
                            .and_then(|s| LabelSelector::from_object(s).ok())
                            .is_some_and(|s| s.matches(labels))
                    })
                    .cloned()
                    .collect();
                if matching.len() > 1 {
                    return Err(ApiError::Internal("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.".into()));
                }
                matching.pop()
            };
            if let Some(pdb) = budget {
                let ready = pod
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True");
                let status = &pdb["status"];
                let n = |f: &str| status[f].as_i64().unwrap_or(0);
                // The default unhealthyPodEvictionPolicy (IfHealthyBudget): an unready pod
                // may go while the budget is met, without spending a disruption.
                let free = !ready && n("currentHealthy") >= n("desiredHealthy");
                if !free && !self.spend_disruption(&pdb, name, delete.dry_run).await? {
                    continue; // the budget changed under us: decide again
                }
            }
            return match self.delete(&pods, namespace, name, &delete).await {
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            };
        }
    }

    /// Takes one disruption from `pdb` for pod `pod`; `false` when the budget changed
    /// meanwhile (the caller looks again).
    async fn spend_disruption(
        &self,
        pdb: &Value,
        pod: &str,
        dry_run: bool,
    ) -> Result<bool, ApiError> {
        let name = meta_str(pdb, "name").unwrap_or_default().to_string();
        let status = &pdb["status"];
        let n = |f: &str| status[f].as_i64().unwrap_or(0);
        let generation = pdb
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let too_many = |detail: String| ApiError::TooManyRequests {
            message: VIOLATION.into(),
            causes: vec![json!({"reason": "DisruptionBudget", "message": detail})],
        };
        if n("observedGeneration") < generation {
            return Err(too_many(format!(
                "The disruption budget {name} is still being processed by the server."
            )));
        }
        let forbidden = |message: &str| ApiError::Forbidden {
            resource: crate::status::GroupResource::new("policy", "poddisruptionbudgets"),
            name: name.clone(),
            message: message.into(),
        };
        if n("disruptionsAllowed") < 0 {
            return Err(forbidden("pdb disruptions allowed is negative"));
        }
        if status["disruptedPods"]
            .as_object()
            .is_some_and(|m| m.len() > MAX_DISRUPTED_PODS)
        {
            return Err(forbidden(
                "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
            ));
        }
        if n("disruptionsAllowed") == 0 {
            return Err(too_many(format!(
                "The disruption budget {name} needs {} healthy pods and has {} currently",
                n("desiredHealthy"),
                n("currentHealthy")
            )));
        }
        if dry_run {
            return Ok(true);
        }
        let d = self
            .registry
            .get("policy", "v1", "poddisruptionbudgets")
            .expect("built in");
        let now = timestamp(self.clock.wall());
        let precondition = super::resource_version(pdb)?;
        let opts = UpdateOptions {
            subresource: Subresource::Status,
            ..Default::default()
        };
        let namespace = meta_str(pdb, "namespace").unwrap_or_default().to_string();
        let result = self
            .guaranteed_update(&d, &namespace, &name, &opts, precondition, |current| {
                let mut next = current.clone();
                let allowed = next["status"]["disruptionsAllowed"].as_i64().unwrap_or(0) - 1;
                next["status"]["disruptionsAllowed"] = json!(allowed);
                if !next["status"]["disruptedPods"].is_object() {
                    next["status"]["disruptedPods"] = json!({});
                }
                next["status"]["disruptedPods"][pod] = json!(now);
                if allowed == 0 {
                    if let Some(conditions) = next["status"]["conditions"].as_array_mut() {
                        for c in conditions
                            .iter_mut()
                            .filter(|c| c["type"] == "DisruptionAllowed")
                        {
                            c["status"] = json!("False");
                            c["reason"] = json!("InsufficientPods");
                            c["lastTransitionTime"] = json!(now);
                        }
                    }
                }
                Ok(next)
            })
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(ApiError::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
