//! Managed node groups on a virtual clock with the realistic timing profile: a group stays
//! CREATING at least its two minutes and until its instances (40 s to boot) are Ready nodes,
//! a scaling update completes once the new node is Ready (and a scale-in once the extra
//! nodes are gone), and deletion waits for the
//! instances to terminate; the nodes carry EKS's labels and the AMI's allocatable.

use std::sync::Arc;
use std::time::Duration;

use keks_apiserver::authn::StaticTokens;
use keks_apiserver::authz::Authorizer;
use keks_apiserver::rest::ListOptions;
use keks_apiserver::{Clusters, Registry};
use keks_core::{SharedClock, VirtualClock};
use keks_eks::{Caller, ControlPlane, ControlPlaneConfig, TimingProfile};
use keks_store::{MemoryStore, Store};
use serde_json::{json, Value};

const ACCOUNT: &str = "123456789012";

fn caller() -> Caller {
    Caller {
        account: ACCOUNT.into(),
        arn: format!("arn:aws:iam::{ACCOUNT}:user/admin"),
        user_id: "AIDAEXAMPLE".into(),
        access_key_id: "AKIAEXAMPLE".into(),
    }
}

async fn advance(clock: &VirtualClock, by: Duration) {
    // In steps, so that each task sees the time pass as it would.
    let step = Duration::from_secs(1);
    let mut left = by;
    while !left.is_zero() {
        let d = left.min(step);
        clock.advance(d).await;
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        clock.settle().await;
        left -= d;
    }
}

fn group_status(cp: &ControlPlane) -> String {
    cp.describe_nodegroup(&json!({"clusterName": "ng", "nodegroupName": "workers"}))
        .map(|v| {
            v["nodegroup"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_else(|e| e.to_string())
}

async fn nodes(clusters: &Clusters) -> Vec<Value> {
    let api = clusters.get("ng").unwrap();
    let d = api.registry.get("", "v1", "nodes").unwrap();
    let list = api.list(&d, None, &ListOptions::default()).await.unwrap();
    list["items"].as_array().cloned().unwrap_or_default()
}

struct Rig {
    clock: VirtualClock,
    cp: Arc<ControlPlane>,
    clusters: Arc<Clusters>,
    autoscaling: keks_cloud::AutoScaling,
    faults: keks_cloud::Faults,
    subnets: Vec<String>,
}

/// A realistic control plane with the fleet and an ACTIVE cluster `ng`.
async fn rig() -> Rig {
    let clock = VirtualClock::new();
    let shared: SharedClock = Arc::new(clock.clone());
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let fargate = keks_eks::EksAddon::new();
    let faults = keks_cloud::Faults::new();
    let clusters = Arc::new(
        Clusters::load(
            store.clone(),
            Arc::new(Registry::with_builtins()),
            shared.clone(),
            Arc::new(StaticTokens::default()),
            Arc::new(Authorizer::new(store.clone())),
            vec![
                Arc::new(keks_controllers::Controllers::new(
                    keks_controllers::Config::default(),
                )),
                Arc::new(fargate.clone()),
            ],
        )
        .await
        .unwrap(),
    );
    let network = keks_cloud::Network::load_or_create(store.clone(), "us-east-1", ACCOUNT)
        .await
        .unwrap();
    let fleet = keks_cloud::Fleet::load(
        store.clone(),
        network.clone(),
        shared.clone(),
        keks_cloud::FleetTiming::REALISTIC,
        faults.clone(),
    )
    .await
    .unwrap();
    let autoscaling = keks_cloud::AutoScaling::load(
        store.clone(),
        fleet,
        keks_cloud::AutoScalingConfig::REALISTIC,
    )
    .await
    .unwrap();
    let cp = ControlPlane::load(
        ControlPlaneConfig {
            region: "us-east-1".into(),
            account_id: ACCOUNT.into(),
            kube_url: "https://127.0.0.1:7643".into(),
            ca_pem: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n".into(),
            timing: TimingProfile::Realistic,
            cluster_quota: 100,
        },
        store.clone(),
        shared.clone(),
        clusters.clone(),
        network.clone(),
    )
    .await
    .unwrap();
    cp.set_autoscaling(autoscaling.clone());
    fargate.connect(&cp);
    let subnets: Vec<String> = network
        .subnets()
        .into_iter()
        .filter(|s| s.is_private())
        .map(|s| s.id)
        .collect();
    cp.create_cluster(
        &caller(),
        json!({"name": "ng", "version": "1.33", "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/eks"),
               "resourcesVpcConfig": {"subnetIds": subnets}}),
    )
    .await
    .unwrap();
    advance(&clock, Duration::from_secs(10 * 60 + 1)).await;

    Rig {
        clock,
        cp,
        clusters,
        autoscaling,
        faults,
        subnets,
    }
}

#[tokio::test]
async fn realistic_node_group_lifecycle() {
    let Rig {
        clock,
        cp,
        clusters,
        autoscaling,
        subnets,
        ..
    } = rig().await;
    let created = cp
        .create_nodegroup(json!({"clusterName": "ng", "nodegroupName": "workers",
            "nodeRole": format!("arn:aws:iam::{ACCOUNT}:role/nodes"), "subnets": subnets,
            "scalingConfig": {"minSize": 1, "maxSize": 3, "desiredSize": 2},
            "labels": {"team": "blue"}}))
        .await
        .unwrap();
    let asg = created["nodegroup"]["resources"]["autoScalingGroups"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(asg.starts_with("eks-workers-"));
    assert_eq!(created["nodegroup"]["amiType"], "AL2023_x86_64_STANDARD");
    assert_eq!(autoscaling.group(&asg).unwrap().desired_capacity, 2);

    // The instances boot in 40 s and become nodes; the group is ACTIVE after its 2 minutes.
    advance(&clock, Duration::from_secs(60)).await;
    let ns = nodes(&clusters).await;
    assert_eq!(ns.len(), 2, "{ns:#?}");
    assert_eq!(group_status(&cp), "CREATING");
    let labels = &ns[0]["metadata"]["labels"];
    assert_eq!(labels["eks.amazonaws.com/nodegroup"], "workers");
    assert_eq!(labels["team"], "blue");
    assert_eq!(ns[0]["status"]["allocatable"]["pods"], "17");
    advance(&clock, Duration::from_secs(62)).await;
    assert_eq!(group_status(&cp), "ACTIVE");

    let update = cp
        .update_nodegroup_config(json!({"clusterName": "ng", "nodegroupName": "workers",
            "scalingConfig": {"desiredSize": 3}}))
        .await
        .unwrap();
    let id = update["update"]["id"].as_str().unwrap().to_string();
    assert_eq!(group_status(&cp), "UPDATING");
    advance(&clock, Duration::from_secs(65)).await;
    assert_eq!(group_status(&cp), "ACTIVE");
    assert_eq!(nodes(&clusters).await.len(), 3);
    let done = cp
        .describe_update(&json!({"name": "ng", "updateId": id, "nodegroupName": "workers"}))
        .unwrap();
    assert_eq!(done["update"]["status"], "Successful");

    // Scaling in: the group's instances are terminated and their nodes go.
    cp.update_nodegroup_config(json!({"clusterName": "ng", "nodegroupName": "workers",
        "scalingConfig": {"minSize": 0, "desiredSize": 1}}))
        .await
        .unwrap();
    advance(&clock, Duration::from_secs(65)).await;
    assert_eq!(group_status(&cp), "ACTIVE");
    assert_eq!(nodes(&clusters).await.len(), 1);
    assert_eq!(autoscaling.group(&asg).unwrap().min_size, 0);

    cp.delete_nodegroup(&json!({"clusterName": "ng", "nodegroupName": "workers"}))
        .await
        .unwrap();
    assert_eq!(group_status(&cp), "DELETING");
    assert!(cp.delete_cluster("ng").await.is_err());
    advance(&clock, Duration::from_secs(62)).await;
    assert_eq!(group_status(&cp), "No node group found for name: workers.");
    assert!(nodes(&clusters).await.is_empty());
    assert!(autoscaling.group(&asg).is_none());
}

#[tokio::test]
async fn a_group_without_capacity_fails_after_fifteen_minutes() {
    let Rig {
        clock,
        cp,
        faults,
        subnets,
        ..
    } = rig().await;
    faults.add(keks_cloud::Fault::InsufficientCapacity {
        instance_type: Some("c5.large".into()),
        availability_zone: None,
    });
    cp.create_nodegroup(json!({"clusterName": "ng", "nodegroupName": "workers",
        "nodeRole": format!("arn:aws:iam::{ACCOUNT}:role/nodes"), "subnets": subnets,
        "instanceTypes": ["c5.large"],
        "scalingConfig": {"minSize": 1, "maxSize": 1, "desiredSize": 1}}))
        .await
        .unwrap();
    advance(&clock, Duration::from_secs(5 * 60)).await;
    let g = cp
        .describe_nodegroup(&json!({"clusterName": "ng", "nodegroupName": "workers"}))
        .unwrap();
    assert_eq!(g["nodegroup"]["status"], "CREATING");
    assert_eq!(
        g["nodegroup"]["health"]["issues"][0]["code"],
        "AsgInstanceLaunchFailures"
    );
    advance(&clock, Duration::from_secs(10 * 60 + 2)).await;
    assert_eq!(group_status(&cp), "CREATE_FAILED");
    cp.delete_nodegroup(&json!({"clusterName": "ng", "nodegroupName": "workers"}))
        .await
        .unwrap();
    advance(&clock, Duration::from_secs(62)).await;
    assert_eq!(group_status(&cp), "No node group found for name: workers.");
}

async fn create(clusters: &Clusters, group: &str, version: &str, plural: &str, obj: Value) {
    let api = clusters.get("ng").unwrap();
    let d = api.registry.get(group, version, plural).unwrap();
    api.create(
        &d,
        "default",
        obj,
        &keks_apiserver::rest::WriteOptions::default(),
    )
    .await
    .unwrap();
}

/// Pods of the `web` Deployment: (name, node, phase).
async fn web_pods(clusters: &Clusters) -> Vec<(String, String, String)> {
    let api = clusters.get("ng").unwrap();
    let d = api.registry.get("", "v1", "pods").unwrap();
    let list = api
        .list(&d, Some("default"), &ListOptions::default())
        .await
        .unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (
                s(&p["metadata"]["name"]),
                s(&p["spec"]["nodeName"]),
                s(&p["status"]["phase"]),
            )
        })
        .collect()
}

fn node_names(ns: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = ns
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// A cluster at 1.34 with a 1.33 group of two nodes running a two-replica Deployment that a
/// `maxUnavailable: 0` budget covers.
async fn upgradable(rig: &Rig) {
    let Rig {
        clock,
        cp,
        clusters,
        subnets,
        ..
    } = rig;
    cp.create_nodegroup(json!({"clusterName": "ng", "nodegroupName": "workers",
        "nodeRole": format!("arn:aws:iam::{ACCOUNT}:role/nodes"), "subnets": subnets,
        "scalingConfig": {"minSize": 2, "maxSize": 2, "desiredSize": 2}}))
        .await
        .unwrap();
    advance(clock, Duration::from_secs(125)).await;
    assert_eq!(group_status(cp), "ACTIVE");
    cp.update_cluster_version(json!({"name": "ng", "version": "1.34"}))
        .await
        .unwrap();
    advance(clock, Duration::from_secs(25 * 60 + 2)).await;
    let labels = json!({"app": "web"});
    create(
        clusters,
        "apps",
        "v1",
        "deployments",
        json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}),
    )
    .await;
    create(
        clusters,
        "policy",
        "v1",
        "poddisruptionbudgets",
        json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"},
        "spec": {"maxUnavailable": 0, "selector": {"matchLabels": labels}}}),
    )
    .await;
    advance(clock, Duration::from_secs(5)).await;
    let pods = web_pods(clusters).await;
    assert_eq!(pods.len(), 2, "{pods:?}");
    assert!(pods.iter().all(|p| p.2 == "Running"), "{pods:?}");
}

fn the_update(cp: &ControlPlane, id: &str) -> Value {
    cp.describe_update(&json!({"name": "ng", "updateId": id, "nodegroupName": "workers"}))
        .unwrap()["update"]
        .clone()
}

#[tokio::test]
async fn a_version_update_blocked_by_a_budget_fails_and_keeps_the_old_nodes() {
    let rig = rig().await;
    upgradable(&rig).await;
    let Rig {
        clock,
        cp,
        clusters,
        autoscaling,
        ..
    } = &rig;
    let before = node_names(&nodes(clusters).await);
    let update = cp
        .update_nodegroup_version(json!({"clusterName": "ng", "nodegroupName": "workers",
            "version": "1.34"}))
        .await
        .unwrap();
    let id = update["update"]["id"].as_str().unwrap().to_string();
    assert_eq!(update["update"]["type"], "VersionUpdate");
    assert_eq!(
        update["update"]["params"][0],
        json!({"type": "Version", "value": "1.34"})
    );
    assert_eq!(
        update["update"]["params"][1],
        json!({"type": "ReleaseVersion", "value": "1.34.1-20251120"})
    );
    assert_eq!(group_status(cp), "UPDATING");
    // A second update while this one runs is refused.
    let again = cp
        .update_nodegroup_version(json!({"clusterName": "ng", "nodegroupName": "workers"}))
        .await
        .unwrap_err();
    assert!(
        matches!(again, keks_eks::EksError::ResourceInUse { .. }),
        "{again:?}"
    );

    // Scale up: three zones → six more instances; 40 s to boot.
    advance(clock, Duration::from_secs(2)).await;
    let asg = autoscaling.groups()[0].clone();
    assert_eq!((asg.desired_capacity, asg.max_size), (8, 8));
    advance(clock, Duration::from_secs(60)).await;
    let ns = nodes(clusters).await;
    assert_eq!(ns.len(), 8);
    let old: Vec<&Value> = ns
        .iter()
        .filter(|n| before.contains(&n.name_string()))
        .collect();
    assert!(
        old.iter().all(|n| n["spec"]["unschedulable"] == true),
        "{old:#?}"
    );
    assert!(old.iter().all(|n| n["metadata"]["labels"]
        ["node.kubernetes.io/exclude-from-external-load-balancers"]
        == "true"));
    let new_kubelets: Vec<&Value> = ns
        .iter()
        .filter(|n| !before.contains(&n.name_string()))
        .map(|n| &n["status"]["nodeInfo"]["kubeletVersion"])
        .collect();
    assert!(
        new_kubelets.iter().all(|v| *v == "v1.34.1-eks-113cf36"),
        "{new_kubelets:?}"
    );

    // The budget keeps the pods for 15 minutes: the update fails and rolls back.
    advance(clock, Duration::from_secs(14 * 60)).await;
    assert_eq!(the_update(cp, &id)["status"], "InProgress");
    advance(clock, Duration::from_secs(2 * 60)).await;
    let u = the_update(cp, &id);
    assert_eq!(u["status"], "Failed", "{u:#}");
    assert_eq!(u["errors"][0]["errorCode"], "PodEvictionFailure");
    assert_eq!(
        u["errors"][0]["errorMessage"],
        "Reached max retries while trying to evict pods from nodes in node group workers"
    );
    let g = cp
        .describe_nodegroup(&json!({"clusterName": "ng", "nodegroupName": "workers"}))
        .unwrap();
    assert_eq!(g["nodegroup"]["status"], "ACTIVE");
    assert_eq!(g["nodegroup"]["version"], "1.33");
    let ns = nodes(clusters).await;
    assert_eq!(node_names(&ns), before);
    assert!(ns.iter().all(|n| n["spec"]["unschedulable"].is_null()));
    let asg = autoscaling.groups()[0].clone();
    assert_eq!((asg.desired_capacity, asg.max_size), (2, 2));
}

#[tokio::test]
async fn a_forced_version_update_replaces_every_node() {
    let rig = rig().await;
    upgradable(&rig).await;
    let Rig {
        clock,
        cp,
        clusters,
        autoscaling,
        ..
    } = &rig;
    let before = node_names(&nodes(clusters).await);
    let update = cp
        .update_nodegroup_version(json!({"clusterName": "ng", "nodegroupName": "workers",
            "force": true}))
        .await
        .unwrap_err();
    // Without a version the group would stay at 1.33 with its current release.
    assert!(
        update
            .to_string()
            .contains("already at Kubernetes version 1.33"),
        "{update}"
    );
    let update = cp
        .update_nodegroup_version(json!({"clusterName": "ng", "nodegroupName": "workers",
            "version": "1.34", "force": true}))
        .await
        .unwrap();
    let id = update["update"]["id"].as_str().unwrap().to_string();
    let mut waited = 0;
    while the_update(cp, &id)["status"] == "InProgress" && waited < 30 * 60 {
        advance(clock, Duration::from_secs(10)).await;
        waited += 10;
    }
    assert_eq!(the_update(cp, &id)["status"], "Successful");
    let g = cp
        .describe_nodegroup(&json!({"clusterName": "ng", "nodegroupName": "workers"}))
        .unwrap();
    assert_eq!(g["nodegroup"]["status"], "ACTIVE");
    assert_eq!(g["nodegroup"]["version"], "1.34");
    assert_eq!(g["nodegroup"]["releaseVersion"], "1.34.1-20251120");
    let ns = nodes(clusters).await;
    assert_eq!(ns.len(), 2);
    for n in &ns {
        assert!(!before.contains(&n.name_string()));
        assert_eq!(
            n["status"]["nodeInfo"]["kubeletVersion"],
            "v1.34.1-eks-113cf36"
        );
        assert!(n["spec"]["unschedulable"].is_null());
    }
    let asg = autoscaling.groups()[0].clone();
    assert_eq!((asg.desired_capacity, asg.max_size), (2, 2));
    advance(clock, Duration::from_secs(60)).await;
    let pods = web_pods(clusters).await;
    assert_eq!(pods.len(), 2, "{pods:?}");
    let names = node_names(&ns);
    assert!(
        pods.iter()
            .all(|p| p.2 == "Running" && names.contains(&p.1)),
        "{pods:?}"
    );
}

trait NodeName {
    fn name_string(&self) -> String;
}

impl NodeName for Value {
    fn name_string(&self) -> String {
        self["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}
