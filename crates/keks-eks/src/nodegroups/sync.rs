//! The node task of one cluster: keeps one Node object per running instance of each of the
//! cluster's managed node groups — created (with the status its kubelet would report) when
//! the instance runs, kept carrying the group's current labels and taints, and deleted when
//! the instance stops running or its group goes (its pods deleted with it, so their
//! controllers replace them at once). During a version update, nodes of instances older
//! than the update keep the old image and kubelet version. The node of a spot instance
//! under its interruption notice is cordoned and drained. Woken by the fleet's instance
//! events and on the clock; errors are logged and retried on the next pass.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use keks_apiserver::rest::{DeleteOptions, Subresource, UpdateOptions, WriteOptions};
use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use keks_cloud::{Instance, InstanceState};
use keks_core::ClockExt;
use serde_json::{json, Value};

use super::model::Taint;
use super::node::{system_labels, taints, GroupNode, GROUP_LABELS_ANNOTATION};
use crate::control_plane::ControlPlane;
use crate::error::EksError;

/// How often the task looks even when no event woke it.
const RESYNC: Duration = Duration::from_secs(1);

pub struct NodeSync {
    api: Arc<ClusterApi>,
    control: Arc<ControlPlane>,
    /// What the last complete pass saw (a hash of the nodes it wanted) and how many passes
    /// have been skipped since: listing a thousand nodes every second to find nothing to do
    /// would cost more than everything else an idle cluster does.
    last: parking_lot::Mutex<(Option<u64>, u32)>,
}

/// After how many skipped passes (one a second) the nodes are listed anyway, to repair
/// what others changed (a node deleted with kubectl).
const FULL_RESYNC_EVERY: u32 = 30;

/// A fingerprint of the wanted nodes: everything a pass would write from.
fn fingerprint(wanted: &BTreeMap<String, Wanted>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (name, w) in wanted {
        name.hash(&mut h);
        w.instance.id.hash(&mut h);
        w.instance.interruption_at.map(f64::to_bits).hash(&mut h);
        w.image_id.hash(&mut h);
        w.patch.hash(&mut h);
        w.labels.hash(&mut h);
        w.taints.hash(&mut h);
    }
    h.finish()
}

/// What a node of a group must look like.
struct Wanted {
    instance: Instance,
    zone_id: String,
    nodegroup: String,
    image_id: String,
    labels: BTreeMap<String, String>,
    taints: Vec<Taint>,
    disk_gib: u32,
    patch: String,
    al2023: bool,
}

impl Wanted {
    fn node(&self) -> GroupNode<'_> {
        GroupNode {
            instance: &self.instance,
            zone_id: &self.zone_id,
            nodegroup: &self.nodegroup,
            image_id: &self.image_id,
            labels: &self.labels,
            taints: &self.taints,
            disk_gib: self.disk_gib,
            kubernetes_version: &self.patch,
            al2023: self.al2023,
        }
    }
}

/// Taints other parties own (the node lifecycle controller's), kept as they are.
fn foreign_taint(t: &Value) -> bool {
    t["key"].as_str().is_some_and(|k| {
        k.starts_with("node.kubernetes.io/") || k.starts_with("node.cloudprovider.kubernetes.io/")
    })
}

/// The node's metadata and spec with the group's current labels and taints, if that
/// changes anything.
pub(crate) fn refreshed(current: &Value, node: &GroupNode<'_>) -> Option<Value> {
    let mut next = current.clone();
    let previous: Vec<String> = current["metadata"]["annotations"][GROUP_LABELS_ANNOTATION]
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let mut labels: serde_json::Map<String, Value> = current["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for k in &previous {
        labels.remove(k);
    }
    for (k, v) in system_labels(node).into_iter().chain(node.labels.clone()) {
        labels.insert(k, Value::String(v));
    }
    next["metadata"]["labels"] = Value::Object(labels);
    if !next["metadata"]["annotations"].is_object() {
        next["metadata"]["annotations"] = json!({});
    }
    let own: Vec<&String> = node.labels.keys().collect();
    next["metadata"]["annotations"][GROUP_LABELS_ANNOTATION] =
        json!(serde_json::to_string(&own).unwrap_or_default());
    let mut t: Vec<Value> = current["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| foreign_taint(t))
        .cloned()
        .collect();
    t.extend(taints(node.taints));
    next["spec"]["taints"] = Value::Array(t);
    let same = next["metadata"] == current["metadata"]
        && (next["spec"]["taints"] == current["spec"]["taints"]
            || (current["spec"]["taints"].is_null()
                && next["spec"]["taints"].as_array().is_some_and(Vec::is_empty)));
    (!same).then_some(next)
}

impl NodeSync {
    /// Starts the node task of one cluster.
    pub fn start(api: Arc<ClusterApi>, control: Weak<ControlPlane>) {
        let Some(control) = control.upgrade() else {
            return;
        };
        let me = Arc::new(Self {
            api: api.clone(),
            control,
            last: parking_lot::Mutex::new((None, 0)),
        });
        api.spawn(async move { me.run().await });
    }

    fn cluster(&self) -> &str {
        &self.api.cluster
    }

    async fn run(self: Arc<Self>) {
        // The fleet may be connected just after the control plane.
        let autoscaling = loop {
            if let Some(a) = self.control.autoscaling() {
                break a;
            }
            self.api.clock.sleep(Duration::from_millis(50)).await;
        };
        let mut events = autoscaling.fleet().subscribe();
        let mut had_nodes = true;
        loop {
            match self.pass(had_nodes).await {
                Ok(h) => had_nodes = h,
                Err(e) => {
                    tracing::warn!(cluster = %self.cluster(), error = %e, "keeping node group nodes in step; retrying")
                }
            }
            let groups: BTreeSet<String> = self
                .control
                .with(self.cluster(), |d| {
                    d.nodegroups.values().map(|n| n.asg_name.clone()).collect()
                })
                .unwrap_or_default();
            let wait = self.api.clock.sleep(RESYNC);
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    _ = &mut wait => break,
                    event = events.recv() => match event {
                        Ok(e) if e.group.as_ref().is_some_and(|g| groups.contains(g)) => break,
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                            (&mut wait).await;
                            break;
                        }
                    },
                }
            }
        }
    }

    /// A spot instance under its two-minute interruption notice: its node is cordoned and
    /// drained through the Eviction API, pass after pass until the instance goes (EKS
    /// drains on a best-effort basis; pods a budget keeps are deleted with the node).
    async fn drain_interrupted(&self, node: &Value, name: &str) -> Result<(), EksError> {
        if node["spec"]["unschedulable"] != true {
            super::drain::cordon(&self.api, name, true)
                .await
                .map_err(|e| EksError::Server(e.to_string()))?;
        }
        super::drain::drain_pass(&self.api, name, super::drain::Mode::Honour)
            .await
            .map_err(|e| EksError::Server(e.to_string()))?;
        Ok(())
    }

    /// One pass; answers whether the cluster has (or should have) any group nodes.
    async fn pass(&self, had_nodes: bool) -> Result<bool, EksError> {
        let Some(autoscaling) = self.control.autoscaling() else {
            return Ok(had_nodes);
        };
        let groups = self
            .control
            .with(self.cluster(), |d| {
                d.nodegroups.values().cloned().collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if groups.is_empty() && !had_nodes {
            return Ok(false);
        }
        let mut wanted: BTreeMap<String, Wanted> = BTreeMap::new();
        for g in &groups {
            let n = &g.nodegroup;
            for i in autoscaling.instances(&g.asg_name) {
                if i.state != InstanceState::Running {
                    continue;
                }
                // During a version update, instances launched before it run the old
                // image and the others the new one.
                let (version, image_id) = match &g.rollout {
                    Some(r) if r.old_instances.contains(&i.id) => {
                        (&r.from.version, &r.from.image_id)
                    }
                    Some(r) => (&r.to.version, &r.to.image_id),
                    None => (&n.version, &g.image_id),
                };
                let patch = super::version::patch_version(version);
                let zone_id = autoscaling.fleet().zone_id(&i).unwrap_or_default();
                wanted.insert(
                    i.private_dns_name(),
                    Wanted {
                        instance: i,
                        zone_id,
                        nodegroup: n.nodegroup_name.clone(),
                        image_id: image_id.clone(),
                        labels: n.labels.clone(),
                        taints: n.taints.clone(),
                        disk_gib: n.disk_size,
                        patch,
                        al2023: n.ami_type.starts_with("AL2023"),
                    },
                );
            }
        }
        self.control
            .refresh_nodegroup_health(self.cluster())
            .await?;
        // Nothing to write since the last complete pass (and no spot node to drain): skip
        // the listing, but not for ever.
        let print = fingerprint(&wanted);
        let draining = wanted
            .values()
            .any(|w| w.instance.interruption_at.is_some());
        {
            let mut last = self.last.lock();
            if !draining && last.0 == Some(print) && last.1 < FULL_RESYNC_EVERY {
                last.1 += 1;
                return Ok(!wanted.is_empty());
            }
            // Forgotten until this pass completes, so that a failed pass is repeated.
            *last = (None, 0);
        }
        let have = self.control.nodegroup_nodes(self.cluster()).await?;
        let nodes = self
            .api
            .registry
            .get("", "v1", "nodes")
            .ok_or_else(|| EksError::Server("nodes are not served".into()))?;
        let mut present = BTreeSet::new();
        for node in &have {
            let name = node["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            match wanted.get(&name) {
                None => {
                    match self
                        .api
                        .delete(&nodes, "", &name, &DeleteOptions::default())
                        .await
                    {
                        Ok(_) | Err(ApiError::NotFound { .. }) => {}
                        Err(e) => return Err(EksError::Server(e.to_string())),
                    }
                    // The instance is gone, and its pods with it: deleted now so that
                    // their controllers replace them at once.
                    super::drain::delete_pods_on(&self.api, &name)
                        .await
                        .map_err(|e| EksError::Server(e.to_string()))?;
                }
                Some(w) => {
                    present.insert(name.clone());
                    if refreshed(node, &w.node()).is_some() {
                        let g = w.node();
                        self.api
                            .guaranteed_update(
                                &nodes,
                                "",
                                &name,
                                &UpdateOptions::default(),
                                0,
                                |cur| Ok(refreshed(cur, &g).unwrap_or_else(|| cur.clone())),
                            )
                            .await
                            .map_err(|e| EksError::Server(e.to_string()))?;
                    }
                    if w.instance.interruption_at.is_some() {
                        self.drain_interrupted(node, &name).await?;
                    }
                }
            }
        }
        for (name, w) in &wanted {
            if present.contains(name) {
                continue;
            }
            let g = w.node();
            match self
                .api
                .create(&nodes, "", g.object(), &WriteOptions::default())
                .await
            {
                Ok(_) | Err(ApiError::AlreadyExists { .. }) => {}
                Err(e) => return Err(EksError::Server(e.to_string())),
            }
            let status = g.status();
            let opts = UpdateOptions {
                subresource: Subresource::Status,
                ..Default::default()
            };
            self.api
                .guaranteed_update(&nodes, "", name, &opts, 0, |current| {
                    let mut next = current.clone();
                    let conditions = current["status"]["conditions"].clone();
                    next["status"] = status.clone();
                    if conditions.is_array() {
                        next["status"]["conditions"] = conditions;
                    }
                    Ok(next)
                })
                .await
                .map_err(|e| EksError::Server(e.to_string()))?;
        }
        *self.last.lock() = (Some(print), 0);
        Ok(!wanted.is_empty() || !have.is_empty())
    }
}
