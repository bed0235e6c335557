//! The Endpoints controller, as kube-controller-manager's: for every Service with a selector,
//! an Endpoints object of the same name listing the selected pods that have an IP — ready
//! pods under `addresses`, the others under `notReadyAddresses` (all under `addresses` with
//! `publishNotReadyAddresses`) — with the ports each pod resolves (a named `targetPort` is
//! looked up among the pod's container ports; a pod that lacks it is left out for that
//! port). Subsets are grouped by port set and sorted by IP, as `RepackSubsets` does.
//! Services without a selector keep the Endpoints their users write; a deleted Service's
//! Endpoints are deleted. The helpers here are shared with the EndpointSlice controller.

use std::collections::BTreeMap;
use std::sync::Arc;

use keks_apiserver::rest::{DeleteOptions, UpdateOptions, WriteOptions};
use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use serde_json::{json, Value};

use crate::informer::{key_of, split_key, Change, Informer};
use crate::podutil;
use crate::queue::{cluster_spawner, run_workers, ReconcileResult, WorkQueue};
use crate::Informers;

/// A Service's selector, when it has a non-empty one.
pub fn selector(service: &Value) -> Option<&Value> {
    service["spec"]["selector"]
        .as_object()
        .filter(|m| !m.is_empty())
        .map(|_| &service["spec"]["selector"])
}

/// Whether the Service selects the pod.
pub fn selects(service: &Value, pod: &Value) -> bool {
    selector(service).is_some_and(|s| {
        podutil::namespace(pod) == podutil::namespace(service) && podutil::has_labels(pod, s)
    })
}

/// Queues every Service of the pod's namespace that selects it (before or after a change).
pub fn enqueue_services_of(services: &Informer, queue: &WorkQueue, change: &Change) {
    let (old, new) = match change {
        Change::Added(p) | Change::Deleted(p) => (None, p),
        Change::Updated { old, new } => (Some(old), new),
    };
    for svc in services.by_index("namespace", podutil::namespace(new)) {
        if selects(&svc, new) || old.is_some_and(|o| selects(&svc, o)) {
            queue.add(key_of(&svc));
        }
    }
}

/// The pod's IPv4 address, if it has one.
pub fn pod_ip(pod: &Value) -> Option<&str> {
    pod["status"]["podIP"].as_str().filter(|ip| !ip.is_empty())
}

/// The endpoint port of `service_port` on `pod`: the target port's number, a named one
/// looked up in the pod's containers; `None` when the pod has no such port.
pub fn resolve_port(service_port: &Value, pod: &Value) -> Option<Value> {
    let protocol = service_port["protocol"].as_str().unwrap_or("TCP");
    let target = &service_port["targetPort"];
    let number = match target {
        Value::Number(n) => n.as_i64(),
        Value::String(name) => match name.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => pod["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                .find(|p| {
                    p["name"] == name.as_str()
                        && p["protocol"].as_str().unwrap_or("TCP") == protocol
                })
                .and_then(|p| p["containerPort"].as_i64()),
        },
        // targetPort defaults to the port.
        _ => service_port["port"].as_i64(),
    }?;
    let mut port = json!({"port": number, "protocol": protocol});
    if let Some(name) = service_port["name"].as_str().filter(|n| !n.is_empty()) {
        port["name"] = json!(name);
    }
    if let Some(app) = service_port.get("appProtocol").filter(|a| a.is_string()) {
        port["appProtocol"] = app.clone();
    }
    Some(port)
}

/// The ports a pod serves for the Service, in the Service's order.
pub fn pod_ports(service: &Value, pod: &Value) -> Vec<Value> {
    service["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| resolve_port(p, pod))
        .collect()
}

/// An Endpoints address (or EndpointSlice endpoint reference) for a pod.
fn address(service: &Value, pod: &Value, ip: &str) -> Value {
    let mut a = json!({
        "ip": ip,
        "targetRef": {"kind": "Pod", "namespace": podutil::namespace(pod), "name": podutil::name(pod), "uid": podutil::uid(pod)},
    });
    if let Some(node) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
        a["nodeName"] = json!(node);
    }
    if let Some(h) = hostname(service, pod) {
        a["hostname"] = json!(h);
    }
    a
}

/// The pod's hostname when it is in the Service's subdomain (StatefulSet pods under their
/// headless Service).
pub fn hostname<'a>(service: &Value, pod: &'a Value) -> Option<&'a str> {
    let h = pod["spec"]["hostname"].as_str().filter(|h| !h.is_empty())?;
    (pod["spec"]["subdomain"].as_str() == Some(podutil::name(service))).then_some(h)
}

/// One subset being built: its ports, ready and not-ready addresses.
type Subset = (Vec<Value>, Vec<Value>, Vec<Value>);

/// The subsets of a Service's Endpoints from its pods.
pub fn subsets(service: &Value, pods: &[Arc<Value>]) -> Vec<Value> {
    let publish_not_ready = service["spec"]["publishNotReadyAddresses"] == true;
    // port set (as JSON text) → (ports, ready, not ready)
    let mut groups: BTreeMap<String, Subset> = BTreeMap::new();
    for pod in pods {
        let Some(ip) = pod_ip(pod) else { continue };
        if matches!(podutil::phase(pod), "Succeeded" | "Failed") {
            continue;
        }
        if podutil::is_deleting(pod) && !publish_not_ready {
            continue;
        }
        let ports = pod_ports(service, pod);
        let declared = service["spec"]["ports"]
            .as_array()
            .is_some_and(|p| !p.is_empty());
        if declared && ports.is_empty() {
            continue;
        }
        let entry = groups
            .entry(Value::Array(ports.clone()).to_string())
            .or_insert_with(|| (ports, Vec::new(), Vec::new()));
        if publish_not_ready || podutil::is_ready(pod) {
            entry.1.push(address(service, pod, ip));
        } else {
            entry.2.push(address(service, pod, ip));
        }
    }
    groups
        .into_values()
        .map(|(ports, mut ready, mut not_ready)| {
            let by_ip = |a: &Value| a["ip"].as_str().unwrap_or("").to_string();
            ready.sort_by_key(by_ip);
            not_ready.sort_by_key(by_ip);
            let mut s = json!({});
            if !ready.is_empty() {
                s["addresses"] = json!(ready);
            }
            if !not_ready.is_empty() {
                s["notReadyAddresses"] = json!(not_ready);
            }
            if !ports.is_empty() {
                s["ports"] = json!(ports);
            }
            s
        })
        .collect()
}

pub struct EndpointsController {
    api: Arc<ClusterApi>,
    services: Arc<Informer>,
    pods: Arc<Informer>,
    endpoints: Arc<Informer>,
    queue: Arc<WorkQueue>,
}

impl EndpointsController {
    pub fn start(api: &Arc<ClusterApi>, informers: &Informers) {
        let me = Arc::new(Self {
            api: api.clone(),
            services: informers.services.clone(),
            pods: informers.pods.clone(),
            endpoints: informers.endpoints.clone(),
            queue: WorkQueue::new("endpoints", api.clock.clone(), cluster_spawner(api)),
        });
        let c = me.clone();
        informers
            .services
            .on_change(move |change| c.queue.add(key_of(change.object())));
        let c = me.clone();
        informers
            .pods
            .on_change(move |change| enqueue_services_of(&c.services, &c.queue, change));
        // Someone else's edit (or deletion) of a managed Endpoints is put right.
        let c = me.clone();
        informers
            .endpoints
            .on_change(move |change| c.queue.add(key_of(change.object())));
        api.spawn(async move {
            me.services.wait_synced().await;
            me.pods.wait_synced().await;
            me.endpoints.wait_synced().await;
            let c = me.clone();
            run_workers(&me.api, me.queue.clone(), 2, move |key| {
                let c = c.clone();
                async move { c.sync(&key).await }
            });
        });
    }

    async fn sync(&self, key: &str) -> ReconcileResult {
        let (ns, name) = split_key(key);
        let d = self.endpoints.descriptor().clone();
        let current = self.endpoints.get(key);
        let Some(service) = self.services.get(key) else {
            // The Service is gone: so are its Endpoints (kube deletes them too).
            if current.is_some() {
                match self
                    .api
                    .delete(&d, ns, name, &DeleteOptions::default())
                    .await
                {
                    Ok(_) | Err(ApiError::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            return Ok(None);
        };
        if selector(&service).is_none() || podutil::is_deleting(&service) {
            return Ok(None); // user-managed Endpoints
        }
        let pods: Vec<Arc<Value>> = self
            .pods
            .by_index("namespace", ns)
            .into_iter()
            .filter(|p| selects(&service, p))
            .collect();
        let subsets = subsets(&service, &pods);
        let mut labels = service["metadata"]["labels"].clone();
        if !labels.is_object() {
            labels = json!({});
        }
        if service["spec"]["clusterIP"] == "None" {
            labels["service.kubernetes.io/headless"] = json!("");
        }
        if let Some(cur) = &current {
            let cur_subsets = cur.get("subsets").cloned().unwrap_or(json!([]));
            let cur_labels = cur["metadata"].get("labels").cloned().unwrap_or(json!({}));
            if cur_subsets == json!(subsets) && cur_labels == labels {
                return Ok(None);
            }
            let result = self
                .api
                .guaranteed_update(&d, ns, name, &UpdateOptions::default(), 0, |c| {
                    let mut next = c.clone();
                    next["subsets"] = json!(subsets);
                    next["metadata"]["labels"] = labels.clone();
                    Ok(next)
                })
                .await;
            return match result {
                Ok(_) | Err(ApiError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e.into()),
            };
        }
        let obj = json!({
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "subsets": subsets,
        });
        match self.api.create(&d, ns, obj, &WriteOptions::default()).await {
            Ok(_) => Ok(None),
            // Our cache is behind; the next event brings it and the next sync compares.
            Err(ApiError::AlreadyExists { .. }) => Ok(Some(std::time::Duration::from_millis(100))),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, ip: &str, ready: bool, port_name: &str) -> Arc<Value> {
        Arc::new(json!({
            "metadata": {"name": name, "namespace": "d", "uid": name, "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": [{"name": port_name, "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]},
        }))
    }

    #[test]
    fn subsets_split_ready_and_named_ports() {
        let svc = json!({"metadata": {"name": "web", "namespace": "d"}, "spec": {"selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}});
        let pods = vec![
            pod("b", "10.0.0.2", true, "http"),
            pod("a", "10.0.0.1", true, "http"),
            pod("c", "10.0.0.3", false, "http"),
            pod("d", "10.0.0.4", true, "other"),
        ];
        let s = subsets(&svc, &pods);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0]["addresses"][0]["ip"], "10.0.0.1");
        assert_eq!(s[0]["addresses"][1]["ip"], "10.0.0.2");
        assert_eq!(s[0]["notReadyAddresses"][0]["ip"], "10.0.0.3");
        assert_eq!(
            s[0]["ports"],
            json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
        );
        assert_eq!(s[0]["addresses"][0]["targetRef"]["name"], "a");
        assert!(selects(&svc, &pods[0]));
        assert!(selector(&json!({"spec": {"selector": {}}})).is_none());
    }
}
