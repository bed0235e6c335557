//! The scheduler's cache, as kube-scheduler's: a parsed summary of every node (allocatable,
//! labels, taints, what its pods request, host ports in use) and of every placed pod, kept
//! current from the informers' events. Scheduling a pod reads only these summaries — no JSON
//! work per node — and an assumed pod counts on its node until its binding is seen.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::quantity;

/// kube-scheduler's defaults for containers that request nothing, used in scoring only.
pub const DEFAULT_MILLI_CPU: i64 = 100;
pub const DEFAULT_MEMORY: i64 = 200 * 1024 * 1024;

/// Amounts of resources: CPU in millicores, the rest in units (bytes, devices).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Extended and other resources (`nvidia.com/gpu`, `hugepages-2Mi`), by name.
    pub scalar: BTreeMap<String, i64>,
}

impl Resources {
    /// Reads a `ResourceList` (requests, limits, capacity, allocatable).
    pub fn from_list(list: &Value) -> Self {
        let mut r = Self::default();
        if let Some(map) = list.as_object() {
            for (name, q) in map {
                r.set(name, q);
            }
        }
        r
    }

    fn set(&mut self, name: &str, q: &Value) {
        match name {
            "cpu" => self.milli_cpu = quantity::milli(q).unwrap_or(0),
            "memory" => self.memory = quantity::units(q).unwrap_or(0),
            "ephemeral-storage" => self.ephemeral_storage = quantity::units(q).unwrap_or(0),
            "pods" => {}
            other => {
                self.scalar
                    .insert(other.to_string(), quantity::units(q).unwrap_or(0));
            }
        }
    }

    pub fn add(&mut self, other: &Self) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        for (k, v) in &other.scalar {
            *self.scalar.entry(k.clone()).or_default() += v;
        }
    }

    pub fn sub(&mut self, other: &Self) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        for (k, v) in &other.scalar {
            *self.scalar.entry(k.clone()).or_default() -= v;
        }
    }

    /// Each resource the larger of the two (init containers run one at a time).
    fn max_with(&mut self, other: &Self) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = (*e).max(*v);
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Toleration {
    pub key: String,
    pub operator: String,
    pub value: String,
    pub effect: String,
}

impl Toleration {
    /// Whether this toleration tolerates `taint`, as v1 `Toleration.ToleratesTaint`.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if !self.effect.is_empty() && self.effect != taint.effect {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.operator.as_str() {
            "Exists" => true,
            "" | "Equal" => self.value == taint.value,
            _ => false,
        }
    }
}

pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| t.tolerates(taint))
}

/// A host port a pod asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub protocol: String,
    pub ip: String,
    pub port: i64,
}

impl HostPort {
    fn conflicts(&self, other: &HostPort) -> bool {
        let wildcard = |ip: &str| ip.is_empty() || ip == "0.0.0.0" || ip == "::";
        self.protocol == other.protocol
            && self.port == other.port
            && (wildcard(&self.ip) || wildcard(&other.ip) || self.ip == other.ip)
    }
}

/// What the scheduler needs to know about a pod, parsed once.
#[derive(Clone, Debug, Default)]
pub struct PodInfo {
    pub requests: Resources,
    /// Requests with kube-scheduler's non-zero defaults, for scoring.
    pub nonzero_cpu: i64,
    pub nonzero_memory: i64,
    pub host_ports: Vec<HostPort>,
    pub node_selector: Vec<(String, String)>,
    /// `affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`.
    pub required_terms: Option<Vec<Value>>,
    /// `affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution`.
    pub preferred_terms: Vec<(i64, Value)>,
    pub tolerations: Vec<Toleration>,
    pub preemption_never: bool,
    /// The uid of the pod's controller: pods of one owner are spread over nodes, as the
    /// system default PodTopologySpread constraint (hostname) does.
    pub owner: Option<String>,
}

impl PodInfo {
    pub fn parse(pod: &Value) -> Self {
        let spec = &pod["spec"];
        let mut requests = Resources::default();
        let (mut nonzero_cpu, mut nonzero_memory) = (0, 0);
        let mut host_ports = Vec::new();
        for c in spec["containers"].as_array().into_iter().flatten() {
            let r = container_requests(c);
            nonzero_cpu += if r.milli_cpu == 0 {
                DEFAULT_MILLI_CPU
            } else {
                r.milli_cpu
            };
            nonzero_memory += if r.memory == 0 {
                DEFAULT_MEMORY
            } else {
                r.memory
            };
            requests.add(&r);
            for p in c["ports"].as_array().into_iter().flatten() {
                let port = p["hostPort"].as_i64().unwrap_or(0);
                if port > 0 {
                    host_ports.push(HostPort {
                        protocol: p["protocol"].as_str().unwrap_or("TCP").to_string(),
                        ip: p["hostIP"].as_str().unwrap_or("").to_string(),
                        port,
                    });
                }
            }
        }
        for c in spec["initContainers"].as_array().into_iter().flatten() {
            requests.max_with(&container_requests(c));
        }
        if let Some(overhead) = spec.get("overhead") {
            requests.add(&Resources::from_list(overhead));
        }
        let node_selector = spec["nodeSelector"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let affinity = &spec["affinity"]["nodeAffinity"];
        let required_terms = affinity["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"]
            .as_array()
            .cloned();
        let preferred_terms = affinity["preferredDuringSchedulingIgnoredDuringExecution"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| (t["weight"].as_i64().unwrap_or(0), t["preference"].clone()))
            .collect();
        let tolerations = spec["tolerations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| Toleration {
                key: text(&t["key"]),
                operator: text(&t["operator"]),
                value: text(&t["value"]),
                effect: text(&t["effect"]),
            })
            .collect();
        Self {
            requests,
            nonzero_cpu,
            nonzero_memory,
            host_ports,
            node_selector,
            required_terms,
            preferred_terms,
            tolerations,
            preemption_never: spec["preemptionPolicy"] == "Never",
            owner: crate::podutil::controller_ref(pod)
                .and_then(|r| r["uid"].as_str())
                .map(str::to_string),
        }
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// A container's requests; a resource with only a limit requests its limit, as the API
/// server's defaulting makes it.
fn container_requests(c: &Value) -> Resources {
    let mut r = Resources::from_list(&c["resources"]["limits"]);
    if let Some(requests) = c["resources"]["requests"].as_object() {
        for (name, q) in requests {
            r.set(name, q);
        }
    }
    r
}

/// One node as the scheduler sees it.
#[derive(Clone, Debug, Default)]
pub struct NodeInfo {
    pub name: String,
    /// False for a node only known from pods bound to it (the Node object is not seen yet).
    pub exists: bool,
    pub labels: BTreeMap<String, String>,
    pub unschedulable: bool,
    pub taints: Vec<Taint>,
    pub allocatable: Resources,
    pub allowed_pods: i64,
    pub requested: Resources,
    pub nonzero_cpu: i64,
    pub nonzero_memory: i64,
    pub pods: i64,
    pub host_ports: Vec<HostPort>,
    /// Pods on the node per controller uid.
    pub owners: HashMap<String, i64>,
}

impl NodeInfo {
    /// A node's summary with no pods counted (for checks other than resources).
    pub fn from_node(node: &Value) -> Self {
        let mut info = NodeInfo {
            name: node["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            ..Default::default()
        };
        info.set_node(node);
        info
    }

    /// Whether the scheduling-relevant parts of the node differ from `node`'s.
    fn set_node(&mut self, node: &Value) -> bool {
        let status = &node["status"];
        let alloc_list = if status["allocatable"].is_object() {
            &status["allocatable"]
        } else {
            &status["capacity"]
        };
        let allowed_pods = alloc_list
            .get("pods")
            .and_then(quantity::units)
            .unwrap_or(0);
        let labels = node["metadata"]["labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let taints = node["spec"]["taints"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| Taint {
                key: text(&t["key"]),
                value: text(&t["value"]),
                effect: text(&t["effect"]),
            })
            .collect();
        let fresh = NodeInfo {
            exists: true,
            labels,
            unschedulable: node["spec"]["unschedulable"] == true,
            taints,
            allocatable: Resources::from_list(alloc_list),
            allowed_pods,
            ..Default::default()
        };
        let changed = !self.exists
            || self.labels != fresh.labels
            || self.unschedulable != fresh.unschedulable
            || self.taints != fresh.taints
            || self.allocatable != fresh.allocatable
            || self.allowed_pods != fresh.allowed_pods;
        self.exists = true;
        self.labels = fresh.labels;
        self.unschedulable = fresh.unschedulable;
        self.taints = fresh.taints;
        self.allocatable = fresh.allocatable;
        self.allowed_pods = fresh.allowed_pods;
        changed
    }

    pub fn port_conflict(&self, wanted: &[HostPort]) -> bool {
        wanted
            .iter()
            .any(|w| self.host_ports.iter().any(|h| h.conflicts(w)))
    }

    fn add_pod(&mut self, pod: &PodInfo) {
        self.requested.add(&pod.requests);
        self.nonzero_cpu += pod.nonzero_cpu;
        self.nonzero_memory += pod.nonzero_memory;
        self.pods += 1;
        self.host_ports.extend(pod.host_ports.iter().cloned());
        if let Some(owner) = &pod.owner {
            *self.owners.entry(owner.clone()).or_default() += 1;
        }
    }

    fn remove_pod(&mut self, pod: &PodInfo) {
        self.requested.sub(&pod.requests);
        self.nonzero_cpu -= pod.nonzero_cpu;
        self.nonzero_memory -= pod.nonzero_memory;
        self.pods -= 1;
        if let Some(owner) = &pod.owner {
            if let Some(n) = self.owners.get_mut(owner) {
                *n -= 1;
                if *n <= 0 {
                    self.owners.remove(owner);
                }
            }
        }
        for p in &pod.host_ports {
            if let Some(i) = self.host_ports.iter().position(|h| h == p) {
                self.host_ports.swap_remove(i);
            }
        }
    }
}

struct Placement {
    node: String,
    pod: PodInfo,
    /// Placed by the scheduler, binding not yet seen.
    assumed: bool,
}

/// Nodes and the pods placed on them.
#[derive(Default)]
pub struct Cache {
    pub nodes: BTreeMap<String, NodeInfo>,
    placed: HashMap<String, Placement>,
}

impl Cache {
    /// Adds or updates a node; returns whether anything that affects scheduling changed.
    pub fn set_node(&mut self, node: &Value) -> bool {
        let name = node["metadata"]["name"].as_str().unwrap_or_default();
        let info = self
            .nodes
            .entry(name.to_string())
            .or_insert_with(|| NodeInfo {
                name: name.to_string(),
                ..Default::default()
            });
        info.set_node(node)
    }

    pub fn remove_node(&mut self, name: &str) {
        let has_pods = self.nodes.get(name).is_some_and(|n| n.pods > 0);
        if has_pods {
            // Its pods still count until they are gone; the node itself is no candidate.
            if let Some(n) = self.nodes.get_mut(name) {
                n.exists = false;
            }
        } else {
            self.nodes.remove(name);
        }
    }

    /// Nodes a pod can be scheduled to exist as Node objects.
    pub fn node_count(&self) -> usize {
        self.nodes.values().filter(|n| n.exists).count()
    }

    /// Records `pod_key` as running on `node` (replacing any earlier placement).
    pub fn place(&mut self, pod_key: &str, node: &str, pod: PodInfo, assumed: bool) {
        if let Some(p) = self.placed.get(pod_key) {
            if p.node == node && !assumed {
                // The binding of an assumed pod arrived: it now simply counts.
                if let Some(p) = self.placed.get_mut(pod_key) {
                    p.assumed = false;
                }
                return;
            }
        }
        self.remove_pod(pod_key);
        let info = self
            .nodes
            .entry(node.to_string())
            .or_insert_with(|| NodeInfo {
                name: node.to_string(),
                ..Default::default()
            });
        info.add_pod(&pod);
        self.placed.insert(
            pod_key.to_string(),
            Placement {
                node: node.to_string(),
                pod,
                assumed,
            },
        );
    }

    /// Forgets a pod placement; returns whether there was one.
    pub fn remove_pod(&mut self, pod_key: &str) -> bool {
        let Some(p) = self.placed.remove(pod_key) else {
            return false;
        };
        if let Some(n) = self.nodes.get_mut(&p.node) {
            n.remove_pod(&p.pod);
            if !n.exists && n.pods == 0 {
                self.nodes.remove(&p.node);
            }
        }
        true
    }

    /// Undoes an assumption whose binding failed.
    pub fn forget_assumed(&mut self, pod_key: &str) {
        if self.placed.get(pod_key).is_some_and(|p| p.assumed) {
            self.remove_pod(pod_key);
        }
    }

    pub fn is_placed(&self, pod_key: &str) -> bool {
        self.placed.contains_key(pod_key)
    }

    pub fn is_placed_on(&self, pod_key: &str, node: &str) -> bool {
        self.placed.get(pod_key).is_some_and(|p| p.node == node)
    }

    /// The binding of an assumed pod was seen: it now simply counts.
    pub fn confirm(&mut self, pod_key: &str) {
        if let Some(p) = self.placed.get_mut(pod_key) {
            p.assumed = false;
        }
    }
}
