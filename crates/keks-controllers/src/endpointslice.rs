//! The EndpointSlice controller, as kube-controller-manager's: for every Service with a
//! selector, IPv4 EndpointSlices `<service>-<random>` owned by the Service and labelled
//! `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by:
//! endpointslice-controller.k8s.io`, one port set per slice and at most 100 endpoints each
//! (`--max-endpoints-per-slice`). Each selected pod with an IP is an endpoint with its
//! conditions (ready: Ready and not terminating; serving: Ready; terminating), node, zone
//! (the node's `topology.kubernetes.io/zone`), hostname and target reference. Slices are
//! updated in place when their port set still exists, created or deleted otherwise; slices
//! managed by anyone else are left alone.

use std::collections::BTreeMap;
use std::sync::Arc;

use keks_apiserver::rest::{DeleteOptions, UpdateOptions, WriteOptions};
use keks_apiserver::status::ApiError;
use keks_apiserver::ClusterApi;
use serde_json::{json, Value};

use crate::endpoints::{enqueue_services_of, hostname, pod_ip, pod_ports, selector, selects};
use crate::informer::{key_of, split_key, Informer};
use crate::podutil;
use crate::queue::{cluster_spawner, run_workers, ReconcileResult, WorkQueue};
use crate::Informers;

pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
const MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// Index: `namespace/service` of a slice managed by this controller.
pub fn by_managed_service(obj: &Value) -> Vec<String> {
    let labels = &obj["metadata"]["labels"];
    if labels[MANAGED_BY_LABEL] != MANAGED_BY {
        return Vec::new();
    }
    labels[SERVICE_NAME_LABEL]
        .as_str()
        .map(|s| vec![format!("{}/{s}", podutil::namespace(obj))])
        .unwrap_or_default()
}

pub struct EndpointSliceController {
    api: Arc<ClusterApi>,
    services: Arc<Informer>,
    pods: Arc<Informer>,
    nodes: Arc<Informer>,
    slices: Arc<Informer>,
    queue: Arc<WorkQueue>,
}

impl EndpointSliceController {
    pub fn start(api: &Arc<ClusterApi>, informers: &Informers) {
        let me = Arc::new(Self {
            api: api.clone(),
            services: informers.services.clone(),
            pods: informers.pods.clone(),
            nodes: informers.nodes.clone(),
            slices: informers.endpointslices.clone(),
            queue: WorkQueue::new("endpointslice", api.clock.clone(), cluster_spawner(api)),
        });
        let c = me.clone();
        informers
            .services
            .on_change(move |change| c.queue.add(key_of(change.object())));
        let c = me.clone();
        informers
            .pods
            .on_change(move |change| enqueue_services_of(&c.services, &c.queue, change));
        let c = me.clone();
        informers.endpointslices.on_change(move |change| {
            for key in by_managed_service(change.object()) {
                c.queue.add(key);
            }
        });
        api.spawn(async move {
            me.services.wait_synced().await;
            me.pods.wait_synced().await;
            me.nodes.wait_synced().await;
            me.slices.wait_synced().await;
            let c = me.clone();
            run_workers(&me.api, me.queue.clone(), 2, move |key| {
                let c = c.clone();
                async move { c.sync(&key).await }
            });
        });
    }

    async fn sync(&self, key: &str) -> ReconcileResult {
        let (ns, name) = split_key(key);
        let d = self.slices.descriptor().clone();
        let mut existing = self.slices.by_index("service", key);
        existing.sort_by(|a, b| podutil::name(a).cmp(podutil::name(b)));
        let service = self
            .services
            .get(key)
            .filter(|s| selector(s).is_some() && !podutil::is_deleting(s));
        let Some(service) = service else {
            // No selector (or no Service): our slices go; the garbage collector would take
            // them with the Service too.
            for s in &existing {
                self.delete(&d, s).await?;
            }
            return Ok(None);
        };
        let pods: Vec<Arc<Value>> = self
            .pods
            .by_index("namespace", ns)
            .into_iter()
            .filter(|p| selects(&service, p))
            .collect();
        let desired = self.desired(&service, &pods);
        // Existing slices by port set, reused in name order.
        let mut pool: BTreeMap<String, Vec<Arc<Value>>> = BTreeMap::new();
        for s in existing {
            pool.entry(s["ports"].to_string()).or_default().push(s);
        }
        for (ports, endpoints) in desired.into_values() {
            let key_ports = ports.to_string();
            let chunks: Vec<&[Value]> = if endpoints.is_empty() {
                vec![&[]]
            } else {
                endpoints.chunks(MAX_ENDPOINTS_PER_SLICE).collect()
            };
            for chunk in chunks {
                let reuse = pool.get_mut(&key_ports).and_then(|v| {
                    if v.is_empty() {
                        None
                    } else {
                        Some(v.remove(0))
                    }
                });
                let labels = slice_labels(&service);
                match reuse {
                    Some(s) => {
                        if s["endpoints"] == json!(chunk) && s["metadata"]["labels"] == labels {
                            continue;
                        }
                        let uid = podutil::uid(&s).to_string();
                        let result = self
                            .api
                            .guaranteed_update(
                                &d,
                                ns,
                                podutil::name(&s),
                                &UpdateOptions::default(),
                                0,
                                |cur| {
                                    let mut next = cur.clone();
                                    if podutil::uid(cur) == uid {
                                        next["endpoints"] = json!(chunk);
                                        next["metadata"]["labels"] = labels.clone();
                                    }
                                    Ok(next)
                                },
                            )
                            .await;
                        match result {
                            Ok(_) | Err(ApiError::NotFound { .. }) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                    None => {
                        let slice = json!({
                            "apiVersion": "discovery.k8s.io/v1",
                            "kind": "EndpointSlice",
                            "metadata": {
                                "generateName": format!("{name}-"),
                                "namespace": ns,
                                "labels": labels,
                                "ownerReferences": [podutil::owner_ref(&service, "v1", "Service")],
                            },
                            "addressType": "IPv4",
                            "endpoints": chunk,
                            "ports": ports,
                        });
                        self.api
                            .create(&d, ns, slice, &WriteOptions::default())
                            .await?;
                    }
                }
            }
        }
        for s in pool.into_values().flatten() {
            self.delete(&d, &s).await?;
        }
        Ok(None)
    }

    /// Endpoints grouped by the port set their pods serve; a Service with no pods still
    /// gets one empty placeholder slice without ports, as kube's.
    fn desired(
        &self,
        service: &Value,
        pods: &[Arc<Value>],
    ) -> BTreeMap<String, (Value, Vec<Value>)> {
        let mut groups: BTreeMap<String, (Value, Vec<Value>)> = BTreeMap::new();
        for pod in pods {
            let Some(ip) = pod_ip(pod) else { continue };
            if matches!(podutil::phase(pod), "Succeeded" | "Failed") {
                continue;
            }
            let ports = pod_ports(service, pod);
            let declared = service["spec"]["ports"]
                .as_array()
                .is_some_and(|p| !p.is_empty());
            if declared && ports.is_empty() {
                continue;
            }
            let terminating = podutil::is_deleting(pod);
            let ready = podutil::is_ready(pod);
            let mut ep = json!({
                "addresses": [ip],
                "conditions": {
                    "ready": ready && !terminating,
                    "serving": ready,
                    "terminating": terminating,
                },
                "targetRef": {"kind": "Pod", "namespace": podutil::namespace(pod), "name": podutil::name(pod), "uid": podutil::uid(pod)},
            });
            if let Some(node) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
                ep["nodeName"] = json!(node);
                if let Some(zone) = self.nodes.get(node).and_then(|n| {
                    n["metadata"]["labels"]["topology.kubernetes.io/zone"]
                        .as_str()
                        .map(str::to_string)
                }) {
                    ep["zone"] = json!(zone);
                }
            }
            if let Some(h) = hostname(service, pod) {
                ep["hostname"] = json!(h);
            }
            let key = Value::Array(ports.clone()).to_string();
            groups
                .entry(key)
                .or_insert_with(|| (Value::Array(ports), Vec::new()))
                .1
                .push(ep);
        }
        if groups.is_empty() {
            groups.insert(String::new(), (json!([]), Vec::new()));
        }
        for (_, eps) in groups.values_mut() {
            eps.sort_by(|a, b| a["addresses"][0].as_str().cmp(&b["addresses"][0].as_str()));
        }
        groups
    }

    async fn delete(
        &self,
        d: &keks_apiserver::registry::ResourceDescriptor,
        slice: &Value,
    ) -> Result<(), crate::ControllerError> {
        let opts = DeleteOptions {
            precondition_uid: Some(podutil::uid(slice).to_string()),
            ..Default::default()
        };
        match self
            .api
            .delete(d, podutil::namespace(slice), podutil::name(slice), &opts)
            .await
        {
            Ok(_) | Err(ApiError::NotFound { .. } | ApiError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The Service's labels plus the two that mark the slice as ours.
fn slice_labels(service: &Value) -> Value {
    let mut labels = service["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    if service["spec"]["clusterIP"] == "None" {
        labels["service.kubernetes.io/headless"] = json!("");
    }
    labels[SERVICE_NAME_LABEL] = json!(podutil::name(service));
    labels[MANAGED_BY_LABEL] = json!(MANAGED_BY);
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_slices_are_indexed_by_service() {
        let ours = json!({"metadata": {"namespace": "d", "labels": {SERVICE_NAME_LABEL: "web", MANAGED_BY_LABEL: MANAGED_BY}}});
        let theirs = json!({"metadata": {"namespace": "d", "labels": {SERVICE_NAME_LABEL: "web", MANAGED_BY_LABEL: "someone"}}});
        assert_eq!(by_managed_service(&ours), vec!["d/web".to_string()]);
        assert!(by_managed_service(&theirs).is_empty());
        let svc = json!({"metadata": {"name": "web", "labels": {"tier": "fe"}}, "spec": {"clusterIP": "None"}});
        let labels = slice_labels(&svc);
        assert_eq!(labels["tier"], "fe");
        assert_eq!(labels[SERVICE_NAME_LABEL], "web");
        assert_eq!(labels["service.kubernetes.io/headless"], "");
    }
}
