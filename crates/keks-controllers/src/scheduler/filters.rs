//! The scheduler's filters, in kube-scheduler's default order — NodeUnschedulable,
//! TaintToleration, NodeAffinity (nodeSelector and required affinity), NodePorts,
//! NodeResourcesFit — with their reason strings, and the FailedScheduling message built from
//! them exactly as kube-scheduler's `FitError` and default preemption word it.

use std::collections::BTreeMap;

use serde_json::Value;

use super::cache::{tolerated, NodeInfo, PodInfo, Taint};

/// Why a node does not fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub reasons: Vec<String>,
    /// `Unschedulable` (true: removing pods could help, preemption may try) as opposed to
    /// `UnschedulableAndUnresolvable`.
    pub resolvable: bool,
}

impl Failure {
    fn unresolvable(reason: impl Into<String>) -> Self {
        Self {
            reasons: vec![reason.into()],
            resolvable: false,
        }
    }
}

pub const ERR_UNSCHEDULABLE: &str = "node(s) were unschedulable";
pub const ERR_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
pub const ERR_PORTS: &str = "node(s) didn't have free ports for the requested pod ports";
pub const ERR_TOO_MANY_PODS: &str = "Too many pods";

/// Runs every filter; the first that fails decides, as kube-scheduler's framework does.
pub fn check(node: &NodeInfo, pod: &PodInfo) -> Result<(), Failure> {
    node_unschedulable(node, pod)?;
    taint_toleration(node, pod)?;
    node_affinity(node, pod)?;
    node_ports(node, pod)?;
    resources_fit(node, pod)
}

fn node_unschedulable(node: &NodeInfo, pod: &PodInfo) -> Result<(), Failure> {
    if !node.unschedulable {
        return Ok(());
    }
    let taint = Taint {
        key: "node.kubernetes.io/unschedulable".into(),
        value: String::new(),
        effect: "NoSchedule".into(),
    };
    if !tolerated(&pod.tolerations, &taint) {
        return Err(Failure::unresolvable(ERR_UNSCHEDULABLE));
    }
    Ok(())
}

pub fn taint_toleration(node: &NodeInfo, pod: &PodInfo) -> Result<(), Failure> {
    let untolerated = node.taints.iter().find(|t| {
        (t.effect == "NoSchedule" || t.effect == "NoExecute") && !tolerated(&pod.tolerations, t)
    });
    match untolerated {
        Some(t) => Err(Failure::unresolvable(format!(
            "node(s) had untolerated taint {{{}: {}}}",
            t.key, t.value
        ))),
        None => Ok(()),
    }
}

pub fn node_affinity(node: &NodeInfo, pod: &PodInfo) -> Result<(), Failure> {
    let selector_ok = pod
        .node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v));
    let affinity_ok = match &pod.required_terms {
        None => true,
        Some(terms) => terms.iter().any(|t| term_matches(t, node)),
    };
    if selector_ok && affinity_ok {
        Ok(())
    } else {
        Err(Failure::unresolvable(ERR_AFFINITY))
    }
}

/// A NodeSelectorTerm: all its expressions and field expressions hold. An empty term
/// matches nothing, as in Kubernetes.
pub fn term_matches(term: &Value, node: &NodeInfo) -> bool {
    let exprs = term["matchExpressions"].as_array();
    let fields = term["matchFields"].as_array();
    if exprs.is_none_or(|e| e.is_empty()) && fields.is_none_or(|f| f.is_empty()) {
        return false;
    }
    let mut name_labels = BTreeMap::new();
    name_labels.insert("metadata.name".to_string(), node.name.clone());
    exprs
        .into_iter()
        .flatten()
        .all(|e| requirement_matches(e, &node.labels))
        && fields
            .into_iter()
            .flatten()
            .all(|e| requirement_matches(e, &name_labels))
}

fn requirement_matches(expr: &Value, labels: &BTreeMap<String, String>) -> bool {
    let key = expr["key"].as_str().unwrap_or_default();
    let values: Vec<&str> = expr["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let have = labels.get(key);
    let number = |s: &str| s.parse::<i64>().ok();
    match expr["operator"].as_str().unwrap_or_default() {
        "In" => have.is_some_and(|v| values.contains(&v.as_str())),
        "NotIn" => have.is_none_or(|v| !values.contains(&v.as_str())),
        "Exists" => have.is_some(),
        "DoesNotExist" => have.is_none(),
        "Gt" => {
            matches!((have.and_then(|v| number(v)), values.first().and_then(|v| number(v))), (Some(a), Some(b)) if a > b)
        }
        "Lt" => {
            matches!((have.and_then(|v| number(v)), values.first().and_then(|v| number(v))), (Some(a), Some(b)) if a < b)
        }
        _ => false,
    }
}

fn node_ports(node: &NodeInfo, pod: &PodInfo) -> Result<(), Failure> {
    if node.port_conflict(&pod.host_ports) {
        return Err(Failure {
            reasons: vec![ERR_PORTS.into()],
            resolvable: true,
        });
    }
    Ok(())
}

fn resources_fit(node: &NodeInfo, pod: &PodInfo) -> Result<(), Failure> {
    let mut reasons = Vec::new();
    if node.pods + 1 > node.allowed_pods {
        reasons.push(ERR_TOO_MANY_PODS.to_string());
    }
    let (want, alloc, used) = (&pod.requests, &node.allocatable, &node.requested);
    if want.milli_cpu > 0 && want.milli_cpu > alloc.milli_cpu - used.milli_cpu {
        reasons.push("Insufficient cpu".into());
    }
    if want.memory > 0 && want.memory > alloc.memory - used.memory {
        reasons.push("Insufficient memory".into());
    }
    if want.ephemeral_storage > 0
        && want.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage
    {
        reasons.push("Insufficient ephemeral-storage".into());
    }
    for (name, amount) in &want.scalar {
        let free = alloc.scalar.get(name).copied().unwrap_or(0)
            - used.scalar.get(name).copied().unwrap_or(0);
        if *amount > 0 && *amount > free {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Failure {
            reasons,
            resolvable: true,
        })
    }
}

/// kube-scheduler's message when no node has room: `ErrNoNodesAvailable`.
pub const NO_NODES: &str = "no nodes available to schedule pods";

/// The FailedScheduling message for a pod no node fits: the histogram of filter reasons, then
/// what default preemption concluded (keks does not preempt: nodes that failed a resolvable
/// filter had no victims, the others could not be helped).
pub fn fit_error_message(total_nodes: usize, failures: &[Failure], pod: &PodInfo) -> String {
    if total_nodes == 0 {
        return NO_NODES.to_string();
    }
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for f in failures {
        for r in &f.reasons {
            *reasons.entry(r.as_str()).or_default() += 1;
        }
    }
    let mut msg = format!("0/{total_nodes} nodes are available:");
    let histogram = sorted_histogram(reasons.iter().map(|(r, n)| (*r, *n)));
    if !histogram.is_empty() {
        msg.push_str(&format!(" {histogram}."));
    }
    let preemption = if pod.preemption_never {
        "preemption: not eligible due to preemptionPolicy=Never".to_string()
    } else {
        let resolvable = failures.iter().filter(|f| f.resolvable).count();
        let mut outcomes = Vec::new();
        if resolvable > 0 {
            outcomes.push(("No preemption victims found for incoming pod", resolvable));
        }
        let unhelpable = total_nodes - resolvable;
        if unhelpable > 0 {
            outcomes.push(("Preemption is not helpful for scheduling", unhelpable));
        }
        format!(
            "preemption: 0/{total_nodes} nodes are available: {}",
            sorted_histogram(outcomes.into_iter())
        )
    };
    msg.push_str(&format!(" {preemption}."));
    msg
}

/// `"<count> <reason>"` entries sorted as strings and joined with ", ", as Go's
/// `sortReasonsHistogram`.
fn sorted_histogram<'a>(counts: impl Iterator<Item = (&'a str, usize)>) -> String {
    let mut entries: Vec<String> = counts.map(|(r, n)| format!("{n} {r}")).collect();
    entries.sort();
    entries.join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::cache::{Cache, PodInfo};
    use super::*;
    use serde_json::json;

    fn node(name: &str, cpu: &str, mem: &str, extra: Value) -> Value {
        let mut n = json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {},
            "status": {"allocatable": {"cpu": cpu, "memory": mem, "pods": "110"}},
        });
        if let Some(spec) = extra.get("spec") {
            n["spec"] = spec.clone();
        }
        if let Some(labels) = extra.get("labels").and_then(Value::as_object) {
            for (k, v) in labels {
                n["metadata"]["labels"][k] = v.clone();
            }
        }
        n
    }

    fn pod(spec: Value) -> PodInfo {
        PodInfo::parse(&json!({"spec": spec}))
    }

    fn cache(nodes: &[Value]) -> Cache {
        let mut c = Cache::default();
        for n in nodes {
            c.set_node(n);
        }
        c
    }

    fn failures(c: &Cache, p: &PodInfo) -> Vec<Failure> {
        c.nodes.values().filter_map(|n| check(n, p).err()).collect()
    }

    #[test]
    fn resources_are_counted_against_allocatable() {
        let mut c = cache(&[node("a", "2", "4Gi", json!({}))]);
        let big = pod(
            json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "1500m", "memory": "1Gi"}}}]}),
        );
        assert!(check(&c.nodes["a"], &big).is_ok());
        c.place("ns/p1", "a", big.clone(), true);
        let f = check(&c.nodes["a"], &big).unwrap_err();
        assert_eq!(f.reasons, vec!["Insufficient cpu"]);
        assert!(f.resolvable);
        // Limits alone count as requests; init containers count by their maximum.
        let by_limit =
            pod(json!({"containers": [{"name": "c", "resources": {"limits": {"memory": "5Gi"}}}]}));
        assert_eq!(
            check(&c.nodes["a"], &by_limit).unwrap_err().reasons,
            vec!["Insufficient memory"]
        );
        let init = pod(
            json!({"containers": [{"name": "c"}], "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1"}}}]}),
        );
        assert_eq!(init.requests.milli_cpu, 1000);
        c.remove_pod("ns/p1");
        assert_eq!(c.nodes["a"].requested.milli_cpu, 0);
    }

    #[test]
    fn pod_count_and_extended_resources() {
        let mut n = node("a", "4", "8Gi", json!({}));
        n["status"]["allocatable"]["pods"] = json!("1");
        n["status"]["allocatable"]["nvidia.com/gpu"] = json!("1");
        let mut c = cache(&[n]);
        let gpu = pod(
            json!({"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": 2}}}]}),
        );
        assert_eq!(
            check(&c.nodes["a"], &gpu).unwrap_err().reasons,
            vec!["Insufficient nvidia.com/gpu"]
        );
        c.place(
            "ns/x",
            "a",
            pod(json!({"containers": [{"name": "c"}]})),
            false,
        );
        let small = pod(json!({"containers": [{"name": "c"}]}));
        assert_eq!(
            check(&c.nodes["a"], &small).unwrap_err().reasons,
            vec!["Too many pods"]
        );
    }

    #[test]
    fn taints_tolerations_and_unschedulable() {
        let tainted = node(
            "infra",
            "4",
            "8Gi",
            json!({"spec": {"taints": [{"key": "node-role", "value": "infra", "effect": "NoSchedule"}, {"key": "soft", "effect": "PreferNoSchedule"}]}}),
        );
        let cordoned = node("c", "4", "8Gi", json!({"spec": {"unschedulable": true}}));
        let c = cache(&[tainted, cordoned]);
        let plain = pod(json!({"containers": [{"name": "c"}]}));
        assert_eq!(
            check(&c.nodes["infra"], &plain).unwrap_err(),
            Failure::unresolvable("node(s) had untolerated taint {node-role: infra}")
        );
        assert_eq!(
            check(&c.nodes["c"], &plain).unwrap_err().reasons,
            vec![ERR_UNSCHEDULABLE]
        );
        let tolerant = pod(json!({"containers": [{"name": "c"}], "tolerations": [
            {"key": "node-role", "operator": "Equal", "value": "infra", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}]}));
        assert!(check(&c.nodes["infra"], &tolerant).is_ok());
        assert!(check(&c.nodes["c"], &tolerant).is_ok());
        let everything =
            pod(json!({"containers": [{"name": "c"}], "tolerations": [{"operator": "Exists"}]}));
        assert!(check(&c.nodes["infra"], &everything).is_ok());
    }

    #[test]
    fn node_selector_and_required_affinity() {
        let c = cache(&[
            node(
                "a",
                "4",
                "8Gi",
                json!({"labels": {"zone": "a", "gen": "5"}}),
            ),
            node(
                "b",
                "4",
                "8Gi",
                json!({"labels": {"zone": "b", "gen": "7"}}),
            ),
        ]);
        let sel = pod(json!({"containers": [{"name": "c"}], "nodeSelector": {"zone": "b"}}));
        assert!(check(&c.nodes["a"], &sel).is_err());
        assert!(check(&c.nodes["b"], &sel).is_ok());
        let aff = pod(
            json!({"containers": [{"name": "c"}], "affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["6"]}]},
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}]}]}}}}),
        );
        assert!(check(&c.nodes["a"], &aff).is_ok());
        assert!(check(&c.nodes["b"], &aff).is_ok());
        let none = pod(
            json!({"containers": [{"name": "c"}], "affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a", "b"]}]}]}}}}),
        );
        assert_eq!(
            check(&c.nodes["a"], &none).unwrap_err().reasons,
            vec![ERR_AFFINITY]
        );
    }

    #[test]
    fn host_ports_conflict() {
        let mut c = cache(&[node("a", "4", "8Gi", json!({}))]);
        let web = pod(
            json!({"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}),
        );
        c.place("ns/w", "a", web.clone(), false);
        assert_eq!(
            check(&c.nodes["a"], &web).unwrap_err().reasons,
            vec![ERR_PORTS]
        );
        let udp = pod(
            json!({"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}]}]}),
        );
        assert!(check(&c.nodes["a"], &udp).is_ok());
    }

    #[test]
    fn the_message_is_kube_schedulers() {
        let c = cache(&[
            node("small-1", "1", "2Gi", json!({})),
            node("small-2", "2", "4Gi", json!({})),
            node(
                "infra",
                "8",
                "16Gi",
                json!({"spec": {"taints": [{"key": "node-role", "value": "infra", "effect": "NoSchedule"}]}}),
            ),
        ]);
        let huge =
            pod(json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "64"}}}]}));
        let f = failures(&c, &huge);
        assert_eq!(
            fit_error_message(c.node_count(), &f, &huge),
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role: infra}, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
        );
        let both = pod(
            json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "64", "memory": "1Ti"}}}], "tolerations": [{"operator": "Exists"}]}),
        );
        let f = failures(&c, &both);
        assert_eq!(
            fit_error_message(3, &f, &both),
            "0/3 nodes are available: 3 Insufficient cpu, 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
        );
        let mut never = huge.clone();
        never.preemption_never = true;
        assert!(fit_error_message(3, &failures(&c, &never), &never)
            .ends_with(" preemption: not eligible due to preemptionPolicy=Never."));
        assert_eq!(fit_error_message(0, &[], &huge), NO_NODES);
    }
}
