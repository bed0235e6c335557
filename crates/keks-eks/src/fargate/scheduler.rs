//! fargate-scheduler: places every pod whose scheduler is `fargate-scheduler` on a micro-VM
//! node of its own, as EKS does. A pod Fargate cannot run stays Pending with a
//! `FailedScheduling` event and `PodScheduled=False` naming why; otherwise it is sized to the
//! Fargate menu, given an address in one of its profile's subnets (spread by pod), a node
//! with that address, the `CapacityProvisioned` annotation, and a binding. The simulated
//! kubelet then runs it with the node's address as its own. Billing starts at placement and
//! ends when the pod is deleted; then the node goes and its address returns to the subnet.
//!
//! Nodes carry the pod's uid in a label, so a restart finds what was placed before and
//! collects nodes whose pods went away while keks was down.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use keks_apiserver::rest::meta::timestamp;
use keks_apiserver::rest::{DeleteOptions, ListOptions, Subresource, UpdateOptions, WriteOptions};
use keks_apiserver::selector::LabelSelector;
use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use keks_controllers::events::Recorder;
use keks_controllers::informer::{key_of, split_key, Change, Informer};
use keks_controllers::queue::{cluster_spawner, run_workers, ReconcileResult, WorkQueue};
use keks_controllers::{podutil, quantity, ControllerError};
use keks_core::ClockExt;
use serde_json::{json, Value};

use super::admission::{PROFILE_LABEL, SCHEDULER};
use super::meter::Usage;
use super::node::FargateNode;
use super::sizing::{pod_requests, provision, Requests};
use super::support::{claim_problem, claim_volumes, unsupported_with_claims};
use crate::control_plane::ControlPlane;

/// The label that ties a Fargate node to its pod.
pub const POD_UID_LABEL: &str = "keks.dev/fargate-pod-uid";
/// The subnet a Fargate node's address came from (to give it back).
const SUBNET_ANNOTATION: &str = "keks.dev/fargate-subnet";
pub const CAPACITY_ANNOTATION: &str = "CapacityProvisioned";
/// Keys of pods that went away: `gone/<uid>`.
const GONE: &str = "gone/";

/// Pods placed at once. A placement is a few durable writes (address, node, annotation,
/// binding, meter) one after the other; many at once share the store's syncs (group
/// commit), which is what lets a large Deployment reach Fargate quickly.
const WORKERS: usize = 16;

/// How often a pod refused for its claims is looked at again.
const CLAIM_RETRY: Duration = Duration::from_secs(10);

pub struct FargateScheduler {
    api: Arc<ClusterApi>,
    control: Arc<ControlPlane>,
    pods: Arc<Informer>,
    queue: Arc<WorkQueue>,
    events: Arc<Recorder>,
}

fn milli_of(resources: &Value, name: &str) -> u64 {
    resources
        .get(name)
        .and_then(quantity::milli)
        .unwrap_or(0)
        .max(0) as u64
}

/// A container's requests, defaulted from its limits as the API defaults them.
fn container_requests(c: &Value) -> Requests {
    let get = |name: &str| {
        let r = milli_of(&c["resources"]["requests"], name);
        if r > 0 {
            r
        } else {
            milli_of(&c["resources"]["limits"], name)
        }
    };
    Requests {
        millicpu: get("cpu"),
        memory_bytes: get("memory") / 1000,
        ephemeral_bytes: get("ephemeral-storage") / 1000,
    }
}

fn requests_of(pod: &Value, key: &str) -> Vec<Requests> {
    pod["spec"][key]
        .as_array()
        .into_iter()
        .flatten()
        .map(container_requests)
        .collect()
}

fn spread(uid: &str, n: usize) -> usize {
    uid.bytes()
        .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b.into()))
        % n.max(1)
}

impl FargateScheduler {
    /// Starts the scheduler of one cluster once the control plane is there.
    pub fn start(api: Arc<ClusterApi>, control: Weak<ControlPlane>) {
        let Some(control) = control.upgrade() else {
            return;
        };
        let Some(pods) = Informer::new(api.clone(), "", "v1", "pods", vec![]) else {
            return;
        };
        let me = Arc::new(Self {
            queue: WorkQueue::new(
                "fargate-scheduler",
                api.clock.clone(),
                cluster_spawner(&api),
            ),
            events: Recorder::new(api.clone(), SCHEDULER),
            api: api.clone(),
            control,
            pods,
        });
        let s = me.clone();
        me.pods.on_change(move |change| s.on_pod(change));
        me.pods.start();
        let s = me.clone();
        api.spawn(async move {
            s.pods.wait_synced().await;
            s.collect_orphans().await;
            let worker = s.clone();
            run_workers(&s.api, s.queue.clone(), WORKERS, move |key| {
                let w = worker.clone();
                async move { w.reconcile(&key).await }
            });
        });
    }

    fn on_pod(&self, change: &Change) {
        match change {
            Change::Deleted(pod) => {
                if pod["spec"]["schedulerName"] == SCHEDULER {
                    self.queue.add(format!("{GONE}{}", podutil::uid(pod)));
                }
            }
            other => {
                let pod = other.object();
                if pod["spec"]["schedulerName"] == SCHEDULER {
                    self.queue.add(key_of(pod));
                }
            }
        }
    }

    fn cluster(&self) -> &str {
        &self.api.cluster
    }

    async fn reconcile(&self, key: &str) -> ReconcileResult {
        if let Some(uid) = key.strip_prefix(GONE) {
            self.release(uid).await?;
            return Ok(None);
        }
        let Some(pod) = self.pods.get(key) else {
            return Ok(None);
        };
        if podutil::is_deleting(&pod) {
            return Ok(None);
        }
        let bound = pod["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| !n.is_empty());
        if bound {
            return Ok(None);
        }
        self.place(&pod).await
    }

    /// Tells the pod (condition) and the user (event) why it cannot be placed.
    async fn refuse(&self, pod: &Value, message: String) -> ReconcileResult {
        let (ns, name) = split_key(&key_of(pod)).to_owned_pair();
        self.events.event(
            pod,
            "v1",
            "Pod",
            "Warning",
            "FailedScheduling",
            message.clone(),
        );
        let d = self.descriptor()?;
        let now = timestamp(self.api.clock.wall());
        let opts = UpdateOptions {
            subresource: Subresource::Status,
            ..Default::default()
        };
        let condition = json!({"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message});
        let result = self
            .api
            .guaranteed_update(&d, &ns, &name, &opts, 0, |current| {
                let mut next = current.clone();
                podutil::set_condition(&mut next, condition.clone(), &now);
                Ok(next)
            })
            .await;
        match result {
            Ok(_) | Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn descriptor(
        &self,
    ) -> Result<Arc<keks_apiserver::registry::ResourceDescriptor>, ControllerError> {
        self.api
            .registry
            .get("", "v1", "pods")
            .ok_or_else(|| ControllerError::Invalid("pods are not served".into()))
    }

    async fn place(&self, pod: &Value) -> ReconcileResult {
        let uid = podutil::uid(pod).to_string();
        let profile_name = pod["metadata"]["labels"][PROFILE_LABEL]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let profile = self
            .control
            .with(self.cluster(), |d| {
                d.fargate_profiles
                    .get(&profile_name)
                    .map(|p| p.profile.clone())
            })
            .flatten()
            .filter(|p| p.status == "ACTIVE");
        let Some(profile) = profile else {
            return self
                .refuse(pod, format!("Pod not supported on Fargate: Fargate profile {profile_name:?} is not ACTIVE in this cluster"))
                .await;
        };
        let claims = self.claim_problems(pod).await?;
        if let Some(message) = unsupported_with_claims(pod, &claims) {
            self.refuse(pod, message).await?;
            // A claim may yet be bound: look again later, as fargate-scheduler retries.
            return Ok((!claims.is_empty()).then_some(CLAIM_RETRY));
        }
        let requests = pod_requests(
            &requests_of(pod, "initContainers"),
            &requests_of(pod, "containers"),
        );
        let size = match provision(requests) {
            Ok(size) => size,
            Err(e) => {
                return self
                    .refuse(pod, format!("Pod not supported on Fargate: {e}"))
                    .await
            }
        };
        // An address from one of the profile's subnets; the pod's uid picks where to start,
        // so a Deployment's pods spread over the zones.
        let network = &self.control.network;
        let start = spread(&uid, profile.subnets.len());
        let mut placed: Option<(String, Ipv4Addr, String)> = None;
        for i in 0..profile.subnets.len() {
            let subnet_id = &profile.subnets[(start + i) % profile.subnets.len()];
            let Some(subnet) = network.subnet(subnet_id) else {
                continue;
            };
            let owner = format!("fargate:{}/{uid}", self.cluster());
            if let Ok(ip) = network.allocate_ip(subnet_id, &owner).await {
                placed = Some((subnet_id.clone(), ip, subnet.availability_zone));
                break;
            }
        }
        let Some((subnet_id, ip, zone)) = placed else {
            self.refuse(pod, "Fargate could not provision a node: the profile's subnets have no free IP addresses".into())
                .await?;
            return Ok(Some(Duration::from_secs(30)));
        };
        match self
            .launch(
                pod,
                &profile.fargate_profile_name,
                size,
                &subnet_id,
                ip,
                &zone,
            )
            .await
        {
            Ok(()) => Ok(None),
            Err(e) => {
                let _ = network.release_ip(&subnet_id, ip).await;
                Err(e)
            }
        }
    }

    /// What is wrong with the claims the pod mounts (see `support::claim_problem`).
    async fn claim_problems(&self, pod: &Value) -> Result<Vec<String>, ControllerError> {
        let volumes = claim_volumes(pod);
        if volumes.is_empty() {
            return Ok(Vec::new());
        }
        let registry = &self.api.registry;
        let (Some(pvcs), Some(pvs)) = (
            registry.get("", "v1", "persistentvolumeclaims"),
            registry.get("", "v1", "persistentvolumes"),
        ) else {
            return Ok(Vec::new());
        };
        let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
        let mut problems = Vec::new();
        for (volume_name, claim_name) in volumes {
            let claim = self.api.try_get(&pvcs, namespace, &claim_name).await?;
            let bound_to = claim
                .as_ref()
                .and_then(|c| c["spec"]["volumeName"].as_str())
                .filter(|n| !n.is_empty())
                .map(str::to_string);
            let volume = match bound_to {
                Some(pv) => self.api.try_get(&pvs, "", &pv).await?,
                None => None,
            };
            problems.extend(claim_problem(
                &volume_name,
                &claim_name,
                claim.as_ref(),
                volume.as_ref(),
            ));
        }
        Ok(problems)
    }

    async fn launch(
        &self,
        pod: &Value,
        profile: &str,
        size: super::sizing::Size,
        subnet_id: &str,
        ip: Ipv4Addr,
        zone: &str,
    ) -> Result<(), ControllerError> {
        let uid = podutil::uid(pod).to_string();
        let (ns, name) = split_key(&key_of(pod)).to_owned_pair();
        let region = self.control.config().region.clone();
        let version = self
            .control
            .with(self.cluster(), |d| d.cluster.version.clone())
            .unwrap_or_default();
        let patch = crate::versions::find(&version)
            .map_or("0", |v| v.patch_version)
            .to_string();
        let task_id = format!(
            "{}-{}",
            &uid.replace('-', "")[..10.min(uid.len())],
            uid.replace('-', "")
        );
        let node = FargateNode {
            ip,
            region: &region,
            zone,
            size,
            kubernetes_version: &patch,
            task_id: &task_id,
            profile,
        };
        let mut node_obj = node.object();
        node_obj["metadata"]["labels"][POD_UID_LABEL] = json!(uid);
        node_obj["metadata"]["annotations"][SUBNET_ANNOTATION] = json!(subnet_id);
        // The micro-VM boots and pulls the image before the pod's containers run.
        let startup = self.control.config().timing.fargate_pod_startup();
        node_obj["metadata"]["annotations"][keks_controllers::kubelet::STARTUP_DELAY_ANNOTATION] =
            json!(format!("{}", startup.as_secs_f64()));
        let node_name = node_obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let nodes = self
            .api
            .registry
            .get("", "v1", "nodes")
            .ok_or_else(|| ControllerError::Invalid("nodes are not served".into()))?;
        match self
            .api
            .create(&nodes, "", node_obj, &WriteOptions::default())
            .await
        {
            Ok(_) | Err(ApiError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let status = node.status();
        let status_opts = UpdateOptions {
            subresource: Subresource::Status,
            ..Default::default()
        };
        self.api
            .guaranteed_update(&nodes, "", &node_name, &status_opts, 0, |current| {
                let mut next = current.clone();
                let conditions = current["status"]["conditions"].clone();
                next["status"] = status.clone();
                if conditions.is_array() {
                    next["status"]["conditions"] = conditions;
                }
                Ok(next)
            })
            .await?;
        let d = self.descriptor()?;
        let annotation = size.annotation();
        self.api
            .guaranteed_update(&d, &ns, &name, &UpdateOptions::default(), 0, |current| {
                let mut next = current.clone();
                if !next["metadata"]["annotations"].is_object() {
                    next["metadata"]["annotations"] = json!({});
                }
                next["metadata"]["annotations"][CAPACITY_ANNOTATION] = json!(annotation);
                Ok(next)
            })
            .await?;
        let binding = json!({"apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": name, "namespace": ns, "uid": uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}});
        match self.api.bind_pod(&ns, &name, &binding, false).await {
            Ok(_) => {}
            Err(ApiError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.control
            .fargate_meter
            .start(Usage {
                cluster: self.cluster().to_string(),
                namespace: ns,
                pod: name,
                uid,
                profile: profile.to_string(),
                millicpu: size.millicpu,
                memory_mib: size.memory_mib,
                ephemeral_gib: size.ephemeral_gib,
                started: self.control.now(),
                ended: None,
            })
            .await
            .map_err(|e| ControllerError::Invalid(e.to_string()))?;
        Ok(())
    }

    /// The Fargate nodes of a pod (by uid), or of every pod.
    async fn fargate_nodes(&self, uid: Option<&str>) -> Result<Vec<Value>, ControllerError> {
        let nodes = self
            .api
            .registry
            .get("", "v1", "nodes")
            .ok_or_else(|| ControllerError::Invalid("nodes are not served".into()))?;
        let selector = match uid {
            Some(uid) => format!("{POD_UID_LABEL}={uid}"),
            None => POD_UID_LABEL.to_string(),
        };
        let opts = ListOptions {
            label_selector: LabelSelector::parse(&selector).map_err(ControllerError::Invalid)?,
            ..Default::default()
        };
        let list = self.api.list(&nodes, None, &opts).await?;
        Ok(list["items"].as_array().cloned().unwrap_or_default())
    }

    /// A pod went away: its billing ends, its node goes, its address returns.
    async fn release(&self, uid: &str) -> Result<(), ControllerError> {
        self.control
            .fargate_meter
            .end(self.cluster(), uid, self.control.now())
            .await
            .map_err(|e| ControllerError::Invalid(e.to_string()))?;
        let nodes_d = self
            .api
            .registry
            .get("", "v1", "nodes")
            .ok_or_else(|| ControllerError::Invalid("nodes are not served".into()))?;
        for node in self.fargate_nodes(Some(uid)).await? {
            let name = node["metadata"]["name"].as_str().unwrap_or_default();
            match self
                .api
                .delete(&nodes_d, "", name, &DeleteOptions::default())
                .await
            {
                Ok(_) | Err(ApiError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            let subnet = node["metadata"]["annotations"][SUBNET_ANNOTATION].as_str();
            let ip = node["status"]["addresses"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["type"] == "InternalIP")
                .and_then(|a| a["address"].as_str())
                .and_then(|a| a.parse::<Ipv4Addr>().ok());
            if let (Some(subnet), Some(ip)) = (subnet, ip) {
                let _ = self.control.network.release_ip(subnet, ip).await;
            }
        }
        Ok(())
    }

    /// After a restart: nodes whose pods are gone are collected, billing of pods that went
    /// away while keks was down ends.
    async fn collect_orphans(&self) {
        let live: BTreeMap<String, ()> = self
            .pods
            .list()
            .iter()
            .map(|p| (podutil::uid(p).to_string(), ()))
            .collect();
        if let Ok(nodes) = self.fargate_nodes(None).await {
            for node in nodes {
                if let Some(uid) = node["metadata"]["labels"][POD_UID_LABEL].as_str() {
                    if !live.contains_key(uid) {
                        self.queue.add(format!("{GONE}{uid}"));
                    }
                }
            }
        }
        for usage in self.control.fargate_meter.running(self.cluster()) {
            if !live.contains_key(&usage.uid) {
                self.queue.add(format!("{GONE}{}", usage.uid));
            }
        }
        // A short breath so that the clock-driven queue starts with the work above.
        self.api.clock.sleep(Duration::from_millis(1)).await;
    }
}

trait OwnedPair {
    fn to_owned_pair(self) -> (String, String);
}

impl OwnedPair for (&str, &str) {
    fn to_owned_pair(self) -> (String, String) {
        (self.0.to_string(), self.1.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_default_from_limits_and_convert_units() {
        let c = json!({"resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "1", "memory": "512Mi"}}});
        let r = container_requests(&c);
        assert_eq!(r.millicpu, 250);
        assert_eq!(r.memory_bytes, 512 * 1024 * 1024);
        let pod = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "100m", "memory": "200Mi"}}}]}});
        let size = provision(pod_requests(&[], &requests_of(&pod, "containers"))).unwrap();
        assert_eq!(size.annotation(), "0.25vCPU 0.5GB");
        let pod = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "1", "memory": "3Gi"}}}]}});
        assert_eq!(
            provision(pod_requests(&[], &requests_of(&pod, "containers")))
                .unwrap()
                .annotation(),
            "1vCPU 4GB"
        );
        let pod = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "3", "memory": "20Gi"}}}]}});
        assert_eq!(
            provision(pod_requests(&[], &requests_of(&pod, "containers")))
                .unwrap()
                .annotation(),
            "4vCPU 21GB"
        );
    }
}
