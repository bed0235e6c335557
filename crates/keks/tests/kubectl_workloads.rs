//! Workloads come alive, driven by kubectl against the real binary: nodes created with
//! kubectl are served by the simulated kubelet, Deployments roll out onto them through the
//! scheduler (`kubectl rollout status`, `set image`, `rollout undo`, `rollout history`), a pod
//! too big for every node stays Pending with kube-scheduler's FailedScheduling message, and a
//! scaled Deployment converges to exactly its replica count across SIGTERM and kill -9.

mod support;

use std::time::{Duration, Instant};

use support::{DevCluster, Keks};

const NODES: &str = r#"
apiVersion: v1
kind: Node
metadata:
  name: small-1
  labels: {kubernetes.io/hostname: small-1}
status:
  capacity: {cpu: "2", memory: 4Gi, pods: "110"}
  allocatable: {cpu: "2", memory: 4Gi, pods: "110"}
---
apiVersion: v1
kind: Node
metadata:
  name: large-1
  labels: {kubernetes.io/hostname: large-1}
status:
  capacity: {cpu: "8", memory: 32Gi, pods: "110"}
  allocatable: {cpu: "8", memory: 32Gi, pods: "110"}
---
apiVersion: v1
kind: Node
metadata:
  name: infra-1
  labels: {kubernetes.io/hostname: infra-1}
spec:
  taints:
  - {key: node-role, value: infra, effect: NoSchedule}
status:
  capacity: {cpu: "4", memory: 16Gi, pods: "110"}
  allocatable: {cpu: "4", memory: 16Gi, pods: "110"}
"#;

const HUGE_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: huge
spec:
  containers:
  - name: app
    image: nginx:1.25
    resources:
      requests: {cpu: "64"}
"#;

const MANUAL_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: manual
spec:
  schedulerName: my-scheduler
  containers:
  - name: app
    image: nginx:1.25
"#;

const BINDING: &str = r#"{"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "manual"}, "target": {"apiVersion": "v1", "kind": "Node", "name": "small-1"}}"#;

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

fn pods_of(c: &DevCluster, selector: &str) -> Vec<serde_json::Value> {
    c.get_json(&["pods", "-l", selector])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn running(pods: &[serde_json::Value]) -> usize {
    pods.iter()
        .filter(|p| {
            p["status"]["phase"] == "Running" && p["metadata"]["deletionTimestamp"].is_null()
        })
        .count()
}

#[test]
fn deployments_roll_out_onto_simulated_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let keks = Keks::start(dir.path());
    let c = keks.dev_cluster("work");
    c.ok_stdin(&["create", "-f", "-"], NODES);
    wait_for("nodes Ready", Duration::from_secs(20), || {
        let nodes = c.ok(&["get", "nodes"]);
        nodes.matches(" Ready ").count() == 3
    });
    let lease = c.get_json(&["-n", "kube-node-lease", "lease", "small-1"]);
    assert_eq!(lease["spec"]["holderIdentity"], "small-1");

    // Another scheduler's pod is left alone; binding it by hand runs it.
    c.ok_stdin(&["create", "-f", "-"], MANUAL_POD);
    std::thread::sleep(Duration::from_millis(500));
    assert!(c.get_json(&["pod", "manual"])["spec"]["nodeName"].is_null());
    // kubectl's --raw paths are from the server's root: the cluster's prefix is part of it.
    let path = format!(
        "/clusters/{}/api/v1/namespaces/default/pods/manual/binding",
        c.name
    );
    c.ok_stdin(&["create", "--raw", &path, "-f", "-"], BINDING);
    wait_for("manual pod running", Duration::from_secs(20), || {
        let pod = c.get_json(&["pod", "manual"]);
        pod["spec"]["nodeName"] == "small-1" && pod["status"]["phase"] == "Running"
    });
    let again = c.kubectl_with_stdin(&["create", "--raw", &path, "-f", "-"], Some(BINDING));
    assert!(!again.ok);
    assert!(
        again.stderr.contains("already assigned to node"),
        "{}",
        again.stderr
    );
    c.ok(&["delete", "pod", "manual", "--timeout=30s"]);

    c.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.25",
        "--replicas=3",
    ]);
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    let pods = pods_of(&c, "app=web");
    assert_eq!(running(&pods), 3, "{pods:#?}");
    for p in &pods {
        let node = p["spec"]["nodeName"].as_str().unwrap();
        assert_ne!(node, "infra-1", "the tainted node is not used");
        assert!(p["status"]["podIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.")));
        assert_eq!(p["status"]["containerStatuses"][0]["ready"], true);
    }
    let nodes: std::collections::BTreeSet<&str> = pods
        .iter()
        .map(|p| p["spec"]["nodeName"].as_str().unwrap())
        .collect();
    assert_eq!(
        nodes.len(),
        2,
        "spread over both untainted nodes: {nodes:?}"
    );

    // A new image rolls out; undo rolls back.
    c.ok(&["set", "image", "deployment/web", "nginx=nginx:1.26"]);
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    let pods = pods_of(&c, "app=web");
    assert!(pods
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.26"));
    let history = c.ok(&["rollout", "history", "deployment/web"]);
    assert!(history.contains('1') && history.contains('2'), "{history}");
    c.ok(&["rollout", "undo", "deployment/web"]);
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    let d = c.get_json(&["deployment", "web"]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.25"
    );
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
    wait_for("old pods gone after undo", Duration::from_secs(30), || {
        let pods = pods_of(&c, "app=web");
        pods.len() == 3
            && pods
                .iter()
                .all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.25")
    });
    c.ok(&["rollout", "restart", "deployment/web"]);
    c.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    let sets = c.get_json(&["rs", "-l", "app=web"]);
    let sets = sets["items"].as_array().unwrap();
    assert_eq!(
        sets.len(),
        3,
        "1.25 (revision 3), 1.26 (2), restarted (4): {sets:#?}"
    );

    // Too big for every node: Pending with kube-scheduler's message.
    c.ok_stdin(&["create", "-f", "-"], HUGE_POD);
    let expected = "0/3 nodes are available: 1 node(s) had untolerated taint {node-role: infra}, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.";
    wait_for("FailedScheduling", Duration::from_secs(20), || {
        c.ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=huge",
        ])
        .contains("FailedScheduling")
    });
    let describe = c.ok(&["describe", "pod", "huge"]);
    assert!(describe.contains("FailedScheduling"), "{describe}");
    assert!(describe.contains("default-scheduler"), "{describe}");
    let pod = c.get_json(&["pod", "huge"]);
    assert_eq!(pod["status"]["phase"], "Pending");
    let cond = pod["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "PodScheduled")
        .unwrap()
        .clone();
    assert_eq!(cond["reason"], "Unschedulable");
    assert_eq!(cond["message"], expected);

    // Deleting a running pod: the kubelet finishes it and the ReplicaSet replaces it.
    let victim = pods_of(&c, "app=web")[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    c.ok(&["delete", "pod", &victim, "--timeout=30s"]);
    wait_for("replacement pod", Duration::from_secs(30), || {
        let pods = pods_of(&c, "app=web");
        running(&pods) == 3
            && pods
                .iter()
                .all(|p| p["metadata"]["name"] != victim.as_str())
    });
}

#[test]
fn a_scaled_deployment_converges_across_restarts_and_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let keks = Keks::start(dir.path());
    let c = keks.dev_cluster("scale");
    c.ok_stdin(&["create", "-f", "-"], NODES);
    c.ok(&[
        "create",
        "deployment",
        "api",
        "--image=busybox:1.36",
        "--replicas=2",
    ]);
    c.ok(&["rollout", "status", "deployment/api", "--timeout=60s"]);

    // Scale and change the image at once, then stop keks mid-rollout.
    c.ok(&["scale", "deployment/api", "--replicas=50"]);
    c.ok(&["set", "image", "deployment/api", "busybox=busybox:1.37"]);
    std::thread::sleep(Duration::from_millis(300));
    let keks = keks.restart();
    std::thread::sleep(Duration::from_millis(300));
    // And once more, without a chance to stop cleanly.
    let mut keks = keks;
    let kube = keks
        .var("KEKS_KUBE_URL")
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let aws = keks
        .var("KEKS_ENDPOINT_URL")
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    keks.signal_and_wait("KILL");
    drop(keks);
    let keks = Keks::start_with(dir.path(), &["--aws-port", &aws, "--kube-port", &kube]);

    c.ok(&["rollout", "status", "deployment/api", "--timeout=120s"]);
    wait_for("exactly 50 pods", Duration::from_secs(60), || {
        let pods = pods_of(&c, "app=api");
        pods.len() == 50 && running(&pods) == 50
    });
    // Nothing more is created once converged.
    std::thread::sleep(Duration::from_secs(2));
    let pods = pods_of(&c, "app=api");
    assert_eq!(pods.len(), 50);
    assert!(pods
        .iter()
        .all(|p| p["spec"]["containers"][0]["image"] == "busybox:1.37"));
    let d = c.get_json(&["deployment", "api"]);
    assert_eq!(d["status"]["replicas"], 50);
    assert_eq!(d["status"]["availableReplicas"], 50);
    drop(keks);
}

const AGENT: &str = r#"
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
      - name: agent
        image: fluent-bit:3.0
"#;

const BUDGET: &str = r#"
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: db
spec:
  minAvailable: 2
  selector:
    matchLabels: {app: db}
"#;

#[test]
fn drain_evicts_within_disruption_budgets() {
    let dir = tempfile::tempdir().unwrap();
    let keks = Keks::start(dir.path());
    let c = keks.dev_cluster("drain");
    c.ok_stdin(&["create", "-f", "-"], NODES);
    c.ok(&[
        "create",
        "deployment",
        "db",
        "--image=postgres:16",
        "--replicas=2",
    ]);
    c.ok(&["rollout", "status", "deployment/db", "--timeout=60s"]);
    let on_small = |c: &DevCluster| {
        pods_of(c, "app=db")
            .iter()
            .filter(|p| p["spec"]["nodeName"] == "small-1")
            .count()
    };
    assert_eq!(on_small(&c), 1, "one replica per untainted node");
    // A DaemonSet runs one pod on every node whose taints it tolerates, and rolls.
    c.ok_stdin(&["create", "-f", "-"], AGENT);
    c.ok(&["rollout", "status", "daemonset/agent", "--timeout=60s"]);
    let agents = pods_of(&c, "app=agent");
    let mut agent_nodes: Vec<&str> = agents
        .iter()
        .map(|p| p["spec"]["nodeName"].as_str().unwrap())
        .collect();
    agent_nodes.sort();
    assert_eq!(
        agent_nodes,
        ["large-1", "small-1"],
        "not on the tainted node"
    );
    c.ok(&["set", "image", "daemonset/agent", "agent=fluent-bit:3.1"]);
    c.ok(&["rollout", "status", "daemonset/agent", "--timeout=60s"]);
    wait_for("agents updated", Duration::from_secs(30), || {
        let agents = pods_of(&c, "app=agent");
        agents.len() == 2
            && running(&agents) == 2
            && agents
                .iter()
                .all(|p| p["spec"]["containers"][0]["image"] == "fluent-bit:3.1")
    });

    c.ok_stdin(&["create", "-f", "-"], BUDGET);
    wait_for("the budget's status", Duration::from_secs(20), || {
        let pdb = c.get_json(&["pdb", "db"]);
        pdb["status"]["currentHealthy"] == 2 && pdb["status"]["expectedPods"] == 2
    });
    assert_eq!(
        c.get_json(&["pdb", "db"])["status"]["disruptionsAllowed"],
        0
    );

    // The budget allows no disruption: drain cordons, then cannot evict.
    let refused = c.kubectl(&["drain", "small-1", "--ignore-daemonsets", "--timeout=3s"]);
    assert!(!refused.ok);
    assert!(
        refused
            .stderr
            .contains("Cannot evict pod as it would violate the pod's disruption budget."),
        "{}",
        refused.stderr
    );
    assert!(c
        .ok(&["get", "node", "small-1"])
        .contains("SchedulingDisabled"));
    assert_eq!(on_small(&c), 1);

    // With room in the budget the pod is evicted and replaced on another node.
    c.ok(&[
        "patch",
        "pdb",
        "db",
        "--type=merge",
        "-p",
        r#"{"spec":{"minAvailable":1}}"#,
    ]);
    wait_for("a disruption allowed", Duration::from_secs(20), || {
        c.get_json(&["pdb", "db"])["status"]["disruptionsAllowed"] == 1
    });
    c.ok(&["drain", "small-1", "--ignore-daemonsets", "--timeout=60s"]);
    assert_eq!(on_small(&c), 0);
    c.ok(&["rollout", "status", "deployment/db", "--timeout=60s"]);
    wait_for(
        "two db pods running elsewhere",
        Duration::from_secs(30),
        || {
            let pods = pods_of(&c, "app=db");
            running(&pods) == 2 && pods.iter().all(|p| p["spec"]["nodeName"] == "large-1")
        },
    );
    assert_eq!(
        pods_of(&c, "app=agent")
            .iter()
            .filter(|p| p["spec"]["nodeName"] == "small-1")
            .count(),
        1,
        "drain leaves daemon pods"
    );
    c.ok(&["uncordon", "small-1"]);
    assert!(!c
        .ok(&["get", "node", "small-1"])
        .contains("SchedulingDisabled"));
}
