//! Node lifecycle with kubectl: a node whose simulated kubelet is stopped
//! (`keks.dev/kubelet-stopped=true`) goes NotReady (Ready Unknown) after the 50 s grace
//! period, gets the unreachable taints, and loses the pods whose tolerations run out — the
//! default 300 s ones stay; started again it is Ready and untainted. About a minute of real
//! time (kube's grace period).

mod support;

use std::time::{Duration, Instant};

use support::{DevCluster, Keks};

const NODE: &str = r#"
apiVersion: v1
kind: Node
metadata:
  name: n1
"#;

const PODS: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: patient
spec:
  containers:
  - name: app
    image: nginx:1.25
---
apiVersion: v1
kind: Pod
metadata:
  name: hasty
spec:
  containers:
  - name: app
    image: nginx:1.25
  tolerations:
  - key: node.kubernetes.io/unreachable
    operator: Exists
    effect: NoExecute
    tolerationSeconds: 5
"#;

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("timed out waiting for {what}");
}

fn ready(c: &DevCluster) -> String {
    let node = c.get_json(&["node", "n1"]);
    node["status"]["conditions"]
        .as_array()
        .and_then(|l| l.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["status"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn taints(c: &DevCluster) -> Vec<String> {
    c.get_json(&["node", "n1"])["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            format!(
                "{}:{}",
                t["key"].as_str().unwrap_or_default(),
                t["effect"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

fn live_pods(c: &DevCluster) -> Vec<String> {
    c.get_json(&["pods"])["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn a_stopped_kubelet_makes_its_node_unreachable_until_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let keks = Keks::start(dir.path());
    let c = keks.dev_cluster("lifecycle");
    c.ok_stdin(&["create", "-f", "-"], NODE);
    c.ok_stdin(&["create", "-f", "-"], PODS);
    c.ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/patient",
        "pod/hasty",
        "--timeout=60s",
    ]);
    // DefaultTolerationSeconds: five minutes on a not-ready or unreachable node.
    let patient = c.get_json(&["pod", "patient"]);
    let defaults: Vec<(String, i64)> = patient["spec"]["tolerations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap().to_string(),
                t["tolerationSeconds"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        defaults,
        [
            ("node.kubernetes.io/not-ready".to_string(), 300),
            ("node.kubernetes.io/unreachable".to_string(), 300)
        ]
    );

    c.ok(&["annotate", "node", "n1", "keks.dev/kubelet-stopped=true"]);
    let stopped = Instant::now();
    wait_for("the node to go Unknown", Duration::from_secs(90), || {
        ready(&c) == "Unknown"
    });
    assert!(
        stopped.elapsed() >= Duration::from_secs(45),
        "not before the grace period"
    );
    let out = c.ok(&["get", "node", "n1"]);
    assert!(out.contains("NotReady"), "{out}");
    let mut t = taints(&c);
    t.sort();
    assert_eq!(
        t,
        [
            "node.kubernetes.io/unreachable:NoExecute",
            "node.kubernetes.io/unreachable:NoSchedule"
        ]
    );
    wait_for(
        "the 5 s toleration to run out",
        Duration::from_secs(30),
        || live_pods(&c) == ["patient"],
    );
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=hasty",
    ]);
    assert!(events.contains("TaintManagerEviction"), "{events}");

    c.ok(&["annotate", "node", "n1", "keks.dev/kubelet-stopped-"]);
    wait_for("the node Ready again", Duration::from_secs(30), || {
        ready(&c) == "True" && taints(&c).is_empty()
    });
    assert_eq!(live_pods(&c), ["patient"], "the patient pod stayed");
}
