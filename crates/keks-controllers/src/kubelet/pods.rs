//! The pods of simulated nodes: a pod bound to a node goes Pending → Running after the
//! startup delay, with the status a kubelet writes (IPs, start time, container statuses,
//! the five pod conditions); a pod being deleted is "stopped" and removed with the final
//! delete a kubelet makes (grace period 0, uid precondition). Pods bound to a node that does
//! not exist are removed as PodGC removes orphans: after a 40 s quarantine (the node may be
//! about to appear), marked Failed and deleted with grace period 0.

use std::time::Duration;

use keks_apiserver::rest::meta::timestamp;
use keks_apiserver::rest::{DeleteOptions, Subresource, UpdateOptions};
use keks_apiserver::status::ApiError;
use serde_json::{json, Value};

use super::{hex_id, run, Kubelet};
use crate::informer::split_key;
use crate::podutil;
use crate::queue::ReconcileResult;

/// PodGC's quarantine before a pod of a missing node is removed.
const ORPHAN_QUARANTINE: Duration = Duration::from_secs(40);

impl Kubelet {
    /// A pod bound to a node that does not exist: wait out the quarantine, then mark it
    /// Failed (DisruptionTarget, DeletionByPodGC) and delete it with grace period 0.
    async fn collect_orphan(&self, key: &str, pod: &Value) -> ReconcileResult {
        let now = self.api.clock.now();
        let since = *self
            .orphaned_since
            .lock()
            .entry(podutil::uid(pod).to_string())
            .or_insert(now);
        let due = since + ORPHAN_QUARANTINE;
        if now < due {
            return Ok(Some(due.saturating_duration_since(now)));
        }
        let (ns, name) = split_key(key);
        let d = self.pods.descriptor().clone();
        let stamp = timestamp(self.api.clock.wall());
        let uid = podutil::uid(pod).to_string();
        let opts = UpdateOptions {
            subresource: Subresource::Status,
            ..Default::default()
        };
        let marked = self
            .api
            .guaranteed_update(&d, ns, name, &opts, 0, |current| {
                let mut p = current.clone();
                if podutil::uid(current) == uid && podutil::phase(current) != "Succeeded" {
                    p["status"]["phase"] = json!("Failed");
                    podutil::set_condition(
                        &mut p,
                        json!({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC", "message": "PodGC: node no longer exists"}),
                        &stamp,
                    );
                }
                Ok(p)
            })
            .await;
        match marked {
            Ok(_) => {}
            Err(ApiError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let delete = DeleteOptions {
            grace_period_seconds: Some(0),
            precondition_uid: Some(uid),
            ..Default::default()
        };
        match self.api.delete(&d, ns, name, &delete).await {
            Ok(_) | Err(ApiError::NotFound { .. }) | Err(ApiError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn sync_pod(&self, key: &str) -> ReconcileResult {
        let Some(pod) = self.pods.get(key) else {
            return Ok(None);
        };
        let node_name = pod["spec"]["nodeName"].as_str().unwrap_or_default();
        if node_name.is_empty() {
            return Ok(None);
        }
        let (ns, name) = split_key(key);
        let d = self.pods.descriptor().clone();
        if self.nodes.get(node_name).is_none() {
            return self.collect_orphan(key, &pod).await;
        }
        self.orphaned_since.lock().remove(podutil::uid(&pod));
        if podutil::is_deleting(&pod) {
            // The containers are stopped at once; the kubelet's final delete follows.
            let opts = DeleteOptions {
                grace_period_seconds: Some(0),
                precondition_uid: Some(podutil::uid(&pod).to_string()),
                ..Default::default()
            };
            return match self.api.delete(&d, ns, name, &opts).await {
                Ok(_) | Err(ApiError::NotFound { .. }) | Err(ApiError::Conflict { .. }) => Ok(None),
                Err(e) => Err(e.into()),
            };
        }
        let Some(node) = self.nodes.get(node_name) else {
            return Ok(None); // gone meanwhile: the next look collects the pod
        };
        if podutil::phase(&pod) != "Pending" {
            self.ipam.lock().reserve(&pod);
            if podutil::phase(&pod) == "Running" {
                return self.finish_run(key, &pod).await;
            }
            return Ok(None);
        }
        let delay = node_startup_delay(&node).unwrap_or(self.config.pod_startup_delay);
        if !delay.is_zero() {
            let now = self.api.clock.now();
            let seen = *self
                .first_seen
                .lock()
                .entry(podutil::uid(&pod).to_string())
                .or_insert(now);
            let ready_at = seen + delay;
            if now < ready_at {
                return Ok(Some(ready_at.saturating_duration_since(now)));
            }
        }
        let host_ip = node["status"]["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["type"] == "InternalIP")
            .and_then(|a| a["address"].as_str())
            .unwrap_or("")
            .to_string();
        if host_ip.is_empty() {
            // The node's status is not reported yet; its first report requeues nothing, so
            // look again shortly.
            return Ok(Some(Duration::from_millis(200)));
        }
        // A Fargate micro-VM runs one pod, which has the node's own address.
        let fargate = node["metadata"]["labels"]["eks.amazonaws.com/compute-type"] == "fargate";
        let pod_ip = if pod["spec"]["hostNetwork"] == true || fargate {
            host_ip.clone()
        } else {
            let mut ipam = self.ipam.lock();
            if !ipam.is_seeded() {
                let pods = self.pods.list();
                ipam.seed(pods.iter().map(|p| p.as_ref()));
            }
            match ipam.allocate() {
                Some(ip) => ip.to_string(),
                None => {
                    return Err(crate::ControllerError::Invalid(
                        "the pod address pool is exhausted".into(),
                    ))
                }
            }
        };
        let now = timestamp(self.api.clock.wall());
        let uid = podutil::uid(&pod).to_string();
        let opts = UpdateOptions {
            subresource: Subresource::Status,
            ..Default::default()
        };
        let mut wrote = false;
        let result = self
            .api
            .guaranteed_update(&d, ns, name, &opts, 0, |current| {
                let same_pod = podutil::uid(current) == uid;
                if !same_pod
                    || podutil::phase(current) != "Pending"
                    || podutil::is_deleting(current)
                {
                    wrote = false;
                    return Ok(current.clone());
                }
                wrote = true;
                Ok(running_status(current, &host_ip, &pod_ip, &now))
            })
            .await;
        if (!wrote || result.is_err()) && pod_ip != host_ip {
            let unused = json!({"status": {"podIP": pod_ip}});
            self.ipam.lock().release(&unused);
        }
        match result {
            Ok(_) => Ok(None),
            Err(ApiError::NotFound { .. }) => {
                Ok(self.pods.get(key).map(|_| Duration::from_secs(1)))
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl Kubelet {
    /// Ends the current run of a pod's containers when its simulated run time is over
    /// (see `run.rs`); comes back when it will be.
    async fn finish_run(&self, key: &str, pod: &Value) -> ReconcileResult {
        let Some(run_time) = run::run_time(pod) else {
            return Ok(None);
        };
        let wall = self.api.clock.wall();
        let Some(started) = run::run_started(pod) else {
            return Ok(None);
        };
        let ends = started + run_time;
        if wall < ends {
            return Ok(Some(
                ends.duration_since(wall)
                    .unwrap_or(Duration::from_millis(1)),
            ));
        }
        let (ns, name) = split_key(key);
        let d = self.pods.descriptor().clone();
        let code = run::exit_code(pod);
        let now = timestamp(wall);
        let uid = podutil::uid(pod).to_string();
        let started_text = pod["status"]["startTime"].clone();
        let opts = UpdateOptions {
            subresource: Subresource::Status,
            ..Default::default()
        };
        let result = self
            .api
            .guaranteed_update(&d, ns, name, &opts, 0, |current| {
                // Only the run this decision was about: same pod, still running it.
                if podutil::uid(current) != uid
                    || podutil::phase(current) != "Running"
                    || podutil::is_deleting(current)
                    || current["status"]["startTime"] != started_text
                    || run::run_started(current) != Some(started)
                {
                    return Ok(current.clone());
                }
                Ok(run::exited_status(current, code, &now))
            })
            .await;
        match result {
            Ok(_) | Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// The status of a pod whose containers all started and are ready.
fn running_status(current: &Value, host_ip: &str, pod_ip: &str, now: &str) -> Value {
    let mut pod = current.clone();
    let uid = podutil::uid(current).to_string();
    let status = |c: &Value, init: bool| {
        let name = c["name"].as_str().unwrap_or_default();
        let image = c["image"].as_str().unwrap_or_default();
        let container_id = format!("containerd://{}", hex_id(&uid, hash_name(name), 64));
        let repo = image.split('@').next().unwrap_or(image);
        let repo = match repo.rsplit_once(':') {
            Some((r, tag)) if !tag.contains('/') => r,
            _ => repo,
        };
        let image_id = format!("{repo}@sha256:{}", hex_id(image, 7, 64));
        let state = if init {
            json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now, "containerID": container_id}})
        } else {
            json!({"running": {"startedAt": now}})
        };
        json!({
            "name": name,
            "image": image,
            "imageID": image_id,
            "containerID": container_id,
            "ready": !init,
            "started": !init,
            "restartCount": 0,
            "state": state,
            "lastState": {},
        })
    };
    let containers: Vec<Value> = current["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| status(c, false))
        .collect();
    let init: Vec<Value> = current["spec"]["initContainers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| status(c, true))
        .collect();
    if !pod["status"].is_object() {
        pod["status"] = json!({});
    }
    let s = &mut pod["status"];
    s["phase"] = json!("Running");
    s["hostIP"] = json!(host_ip);
    s["hostIPs"] = json!([{"ip": host_ip}]);
    s["podIP"] = json!(pod_ip);
    s["podIPs"] = json!([{"ip": pod_ip}]);
    s["startTime"] = json!(now);
    s["containerStatuses"] = json!(containers);
    if !init.is_empty() {
        s["initContainerStatuses"] = json!(init);
    }
    for type_ in [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ] {
        podutil::set_condition(
            &mut pod,
            json!({"type": type_, "status": "True", "lastProbeTime": null}),
            now,
        );
    }
    pod
}

fn hash_name(name: &str) -> u64 {
    name.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// A node's own pod startup delay ([`super::STARTUP_DELAY_ANNOTATION`]), if it has one.
fn node_startup_delay(node: &Value) -> Option<Duration> {
    let text = node["metadata"]["annotations"][super::STARTUP_DELAY_ANNOTATION].as_str()?;
    let seconds: f64 = text.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_node_may_set_its_own_startup_delay() {
        let node = |v: &str| json!({"metadata": {"annotations": {super::super::STARTUP_DELAY_ANNOTATION: v}}});
        assert_eq!(
            node_startup_delay(&node("60")),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            node_startup_delay(&node("0.02")),
            Some(Duration::from_millis(20))
        );
        assert_eq!(node_startup_delay(&node("-1")), None);
        assert_eq!(node_startup_delay(&node("soon")), None);
        assert_eq!(node_startup_delay(&json!({"metadata": {}})), None);
    }
}
