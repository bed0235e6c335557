//! The PersistentVolume binder, as kube-controller-manager's `persistentvolume-binder`
//! binds *existing* volumes: a claim naming a volume (`spec.volumeName`) gets it if the
//! volume is free or reserved for it; any other claim gets the smallest Available volume of
//! its storage class (no class: volumes without one) with every requested access mode, the
//! volume mode, enough capacity and matching selector labels. Both sides are written as
//! kube does: the volume's `claimRef` and phase Bound, the claim's `volumeName`, the
//! `pv.kubernetes.io/bind-completed` (and, when the binder chose, `bound-by-controller`)
//! annotations, phase, capacity and access modes. A volume whose claim is gone is Released.
//!
//! Not simulated: dynamic provisioning (no external provisioner runs — as on a new EKS
//! cluster without the EBS CSI driver add-on, such claims stay Pending) and the scheduler's
//! delayed binding, so claims of a `WaitForFirstConsumer` class are left Pending.

use std::sync::Arc;

use keks_apiserver::rest::{Subresource, UpdateOptions};
use keks_apiserver::selector::LabelSelector;
use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use serde_json::{json, Value};

use crate::informer::{key_of, Informer};
use crate::queue::{cluster_spawner, run_workers, ReconcileResult, WorkQueue};
use crate::{podutil, quantity, ControllerError};

/// Queue keys of volumes are prefixed so one queue serves both kinds.
const VOLUME: &str = "pv:";

pub struct VolumeBinder {
    api: Arc<ClusterApi>,
    claims: Arc<Informer>,
    volumes: Arc<Informer>,
    queue: Arc<WorkQueue>,
}

impl VolumeBinder {
    pub fn start(api: &Arc<ClusterApi>) {
        let claims = Informer::new(api.clone(), "", "v1", "persistentvolumeclaims", vec![]);
        let volumes = Informer::new(api.clone(), "", "v1", "persistentvolumes", vec![]);
        let (Some(claims), Some(volumes)) = (claims, volumes) else {
            return;
        };
        let me = Arc::new(Self {
            api: api.clone(),
            claims,
            volumes,
            queue: WorkQueue::new(
                "persistentvolume-binder",
                api.clock.clone(),
                cluster_spawner(api),
            ),
        });
        let c = me.clone();
        me.claims
            .on_change(move |change| c.queue.add(key_of(change.object())));
        let c = me.clone();
        me.volumes.on_change(move |change| {
            let pv = change.object();
            c.queue.add(format!("{VOLUME}{}", podutil::name(pv)));
            // A volume that appears or frees up may be what a waiting claim needs.
            for claim in c.claims.list() {
                if phase(&claim) != "Bound" {
                    c.queue.add(key_of(&claim));
                }
            }
        });
        me.claims.start();
        me.volumes.start();
        api.spawn(async move {
            me.claims.wait_synced().await;
            me.volumes.wait_synced().await;
            let c = me.clone();
            run_workers(&me.api, me.queue.clone(), 1, move |key| {
                let c = c.clone();
                async move {
                    match key.strip_prefix(VOLUME) {
                        Some(name) => c.sync_volume(name).await,
                        None => c.sync_claim(&key).await,
                    }
                }
            });
        });
    }

    /// Available when free; Released when its claim is gone.
    async fn sync_volume(&self, name: &str) -> ReconcileResult {
        let Some(pv) = self.volumes.get(name) else {
            return Ok(None);
        };
        if podutil::is_deleting(&pv) {
            return Ok(None);
        }
        let wanted = match pv["spec"].get("claimRef").filter(|r| !r.is_null()) {
            None => "Available",
            Some(r) => {
                let key = format!(
                    "{}/{}",
                    r["namespace"].as_str().unwrap_or_default(),
                    r["name"].as_str().unwrap_or_default()
                );
                let uid = r["uid"].as_str().unwrap_or_default();
                match self.claims.get(&key) {
                    Some(c) if uid.is_empty() || podutil::uid(&c) == uid => {
                        if phase(&pv) == "Bound" {
                            return Ok(None);
                        }
                        // Reserved (pre-bound) or half-bound: the claim's sync finishes it.
                        self.queue.add(key);
                        return Ok(None);
                    }
                    _ if uid.is_empty() => return Ok(None), // reserved for a claim to come
                    _ => "Released",
                }
            }
        };
        if phase(&pv) != wanted {
            self.set_volume_phase(name, wanted).await?;
        }
        Ok(None)
    }

    async fn sync_claim(&self, key: &str) -> ReconcileResult {
        let Some(claim) = self.claims.get(key) else {
            return Ok(None);
        };
        if podutil::is_deleting(&claim) || phase(&claim) == "Bound" {
            return Ok(None);
        }
        let named = claim["spec"]["volumeName"]
            .as_str()
            .filter(|n| !n.is_empty());
        let chosen = match named {
            Some(name) => self
                .volumes
                .get(name)
                .filter(|pv| claim_ref_allows(pv, &claim)),
            None => {
                if self.waits_for_consumer(&claim).await? {
                    return Ok(None);
                }
                self.best_match(&claim)
            }
        };
        let Some(pv) = chosen else {
            return Ok(None);
        };
        self.bind(&claim, &pv, named.is_none()).await
    }

    /// Whether the claim's storage class delays binding until a pod uses it.
    async fn waits_for_consumer(&self, claim: &Value) -> Result<bool, ControllerError> {
        let Some(class) = claim["spec"]["storageClassName"]
            .as_str()
            .filter(|c| !c.is_empty())
        else {
            return Ok(false);
        };
        let Some(d) = self
            .api
            .registry
            .get("storage.k8s.io", "v1", "storageclasses")
        else {
            return Ok(false);
        };
        let sc = self.api.try_get(&d, "", class).await?;
        Ok(sc.is_some_and(|sc| sc["volumeBindingMode"] == "WaitForFirstConsumer"))
    }

    /// The smallest Available volume that satisfies the claim.
    fn best_match(&self, claim: &Value) -> Option<Arc<Value>> {
        let spec = &claim["spec"];
        let class = spec["storageClassName"].as_str().unwrap_or_default();
        let wanted = quantity::units(&spec["resources"]["requests"]["storage"]).unwrap_or(0);
        let mode = spec["volumeMode"].as_str().unwrap_or("Filesystem");
        let selector = spec
            .get("selector")
            .filter(|s| !s.is_null())
            .and_then(|s| LabelSelector::from_object(s).ok());
        self.volumes
            .list()
            .into_iter()
            .filter(|pv| phase(pv) == "Available" || phase(pv).is_empty())
            .filter(|pv| pv["spec"].get("claimRef").is_none_or(Value::is_null))
            .filter(|pv| pv["spec"]["storageClassName"].as_str().unwrap_or_default() == class)
            .filter(|pv| pv["spec"]["volumeMode"].as_str().unwrap_or("Filesystem") == mode)
            .filter(|pv| has_access_modes(pv, claim))
            .filter(|pv| capacity(pv) >= wanted)
            .filter(|pv| {
                selector
                    .as_ref()
                    .is_none_or(|s| s.matches(pv["metadata"].get("labels")))
            })
            .min_by_key(|pv| capacity(pv))
    }

    /// Writes the volume side first (so a crash leaves the volume reserved for the claim,
    /// as kube's binder does), then the claim.
    async fn bind(&self, claim: &Value, pv: &Value, chosen_by_binder: bool) -> ReconcileResult {
        let pv_name = podutil::name(pv).to_string();
        let claim_ref = json!({
            "kind": "PersistentVolumeClaim", "apiVersion": "v1",
            "namespace": podutil::namespace(claim), "name": podutil::name(claim),
            "uid": podutil::uid(claim),
            "resourceVersion": claim["metadata"]["resourceVersion"],
        });
        let pvs = self.descriptor("persistentvolumes")?;
        let updated = self
            .api
            .guaranteed_update(
                &pvs,
                "",
                &pv_name,
                &UpdateOptions::default(),
                0,
                |current| {
                    let mut next = current.clone();
                    next["spec"]["claimRef"] = claim_ref.clone();
                    if chosen_by_binder {
                        annotate(&mut next, "pv.kubernetes.io/bound-by-controller");
                    }
                    Ok(next)
                },
            )
            .await;
        if let Err(e) = updated {
            return ignore_gone(e);
        }
        self.set_volume_phase(&pv_name, "Bound").await?;
        let pvcs = self.descriptor("persistentvolumeclaims")?;
        let (ns, name) = (
            podutil::namespace(claim).to_string(),
            podutil::name(claim).to_string(),
        );
        let updated = self
            .api
            .guaranteed_update(&pvcs, &ns, &name, &UpdateOptions::default(), 0, |current| {
                let mut next = current.clone();
                next["spec"]["volumeName"] = json!(pv_name);
                annotate(&mut next, "pv.kubernetes.io/bind-completed");
                if chosen_by_binder {
                    annotate(&mut next, "pv.kubernetes.io/bound-by-controller");
                }
                Ok(next)
            })
            .await;
        if let Err(e) = updated {
            return ignore_gone(e);
        }
        let status = UpdateOptions {
            subresource: Subresource::Status,
            ..Default::default()
        };
        let result = self
            .api
            .guaranteed_update(&pvcs, &ns, &name, &status, 0, |current| {
                let mut next = current.clone();
                next["status"]["phase"] = json!("Bound");
                next["status"]["accessModes"] = pv["spec"]["accessModes"].clone();
                next["status"]["capacity"] = pv["spec"]["capacity"].clone();
                Ok(next)
            })
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(e) => ignore_gone(e),
        }
    }

    async fn set_volume_phase(&self, name: &str, to: &str) -> Result<(), ControllerError> {
        let pvs = self.descriptor("persistentvolumes")?;
        let opts = UpdateOptions {
            subresource: Subresource::Status,
            ..Default::default()
        };
        let result = self
            .api
            .guaranteed_update(&pvs, "", name, &opts, 0, |current| {
                let mut next = current.clone();
                next["status"]["phase"] = json!(to);
                Ok(next)
            })
            .await;
        match result {
            Ok(_) | Err(ApiError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn descriptor(
        &self,
        plural: &str,
    ) -> Result<Arc<keks_apiserver::registry::ResourceDescriptor>, ControllerError> {
        self.api
            .registry
            .get("", "v1", plural)
            .ok_or_else(|| ControllerError::Invalid(format!("{plural} are not served")))
    }
}

fn phase(obj: &Value) -> &str {
    obj["status"]["phase"].as_str().unwrap_or_default()
}

fn capacity(pv: &Value) -> i64 {
    quantity::units(&pv["spec"]["capacity"]["storage"]).unwrap_or(0)
}

fn annotate(obj: &mut Value, key: &str) {
    if !obj["metadata"]["annotations"].is_object() {
        obj["metadata"]["annotations"] = json!({});
    }
    obj["metadata"]["annotations"][key] = json!("yes");
}

fn ignore_gone(e: ApiError) -> ReconcileResult {
    match e {
        ApiError::NotFound { .. } => Ok(None),
        other => Err(other.into()),
    }
}

/// Whether a volume's `claimRef` (if any) points at this claim.
fn claim_ref_allows(pv: &Value, claim: &Value) -> bool {
    let Some(r) = pv["spec"].get("claimRef").filter(|r| !r.is_null()) else {
        return phase(pv) != "Released";
    };
    r["namespace"] == podutil::namespace(claim)
        && r["name"] == podutil::name(claim)
        && r["uid"]
            .as_str()
            .is_none_or(|u| u.is_empty() || u == podutil::uid(claim))
}

/// Every access mode the claim asks for is one the volume offers.
fn has_access_modes(pv: &Value, claim: &Value) -> bool {
    let offered: Vec<&str> = pv["spec"]["accessModes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    claim["spec"]["accessModes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .all(|m| offered.contains(&m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pv(modes: &[&str], claim_ref: Value, phase: &str) -> Value {
        json!({"metadata": {"name": "pv1"}, "spec": {"accessModes": modes, "claimRef": claim_ref,
               "capacity": {"storage": "10Gi"}}, "status": {"phase": phase}})
    }

    fn claim(modes: &[&str]) -> Value {
        json!({"metadata": {"name": "data", "namespace": "ns", "uid": "u1"},
               "spec": {"accessModes": modes}})
    }

    #[test]
    fn access_modes_must_all_be_offered() {
        let v = pv(&["ReadWriteOnce", "ReadOnlyMany"], Value::Null, "Available");
        assert!(has_access_modes(&v, &claim(&["ReadWriteOnce"])));
        assert!(!has_access_modes(&v, &claim(&["ReadWriteMany"])));
    }

    #[test]
    fn a_reserved_volume_goes_only_to_its_claim() {
        let mine = pv(
            &["ReadWriteOnce"],
            json!({"namespace": "ns", "name": "data"}),
            "Available",
        );
        assert!(claim_ref_allows(&mine, &claim(&["ReadWriteOnce"])));
        let other = pv(
            &["ReadWriteOnce"],
            json!({"namespace": "ns", "name": "data", "uid": "u2"}),
            "Bound",
        );
        assert!(!claim_ref_allows(&other, &claim(&["ReadWriteOnce"])));
        let released = pv(&["ReadWriteOnce"], Value::Null, "Released");
        assert!(!claim_ref_allows(&released, &claim(&["ReadWriteOnce"])));
    }

    #[test]
    fn capacity_reads_quantities() {
        assert_eq!(capacity(&pv(&[], Value::Null, "")), 10 * 1024 * 1024 * 1024);
    }
}
