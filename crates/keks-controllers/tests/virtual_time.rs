//! The controllers on a virtual clock, in process: a cluster with the `Controllers` add-on
//! over the in-memory store, time moved by hand. Shows that every delay of the scheduler,
//! kubelet and controllers is the clock's: the pod startup delay holds a bound pod Pending
//! for exactly its length of virtual time, and node Leases renew every 10 virtual seconds.

use std::sync::Arc;
use std::time::Duration;

use keks_apiserver::authn::StaticTokens;
use keks_apiserver::authz::Authorizer;
use keks_apiserver::rest::WriteOptions;
use keks_apiserver::{ClusterApi, Clusters, Registry};
use keks_controllers::{Config, Controllers};
use keks_core::{Clock, VirtualClock};
use keks_store::{MemoryStore, Store};
use serde_json::{json, Value};

async fn cluster(clock: &VirtualClock, config: Config) -> (Clusters, Arc<ClusterApi>) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clusters = Clusters::load(
        store.clone(),
        Arc::new(Registry::with_builtins()),
        clock.to_shared(),
        Arc::new(StaticTokens::default()),
        Arc::new(Authorizer::new(store)),
        vec![Arc::new(Controllers::new(config))],
    )
    .await
    .unwrap();
    clusters.create("sim", "1.33").await.unwrap();
    let api = clusters.running("sim").await.unwrap().unwrap();
    (clusters, api)
}

async fn get(api: &ClusterApi, group: &str, plural: &str, ns: &str, name: &str) -> Value {
    let d = api.registry.get(group, "v1", plural).unwrap();
    api.get(&d, ns, name).await.unwrap()
}

#[tokio::test]
async fn startup_delay_and_leases_run_on_the_clock() {
    let clock = VirtualClock::new();
    let config = Config {
        pod_startup_delay: Duration::from_secs(30),
        ..Config::default()
    };
    let (_clusters, api) = cluster(&clock, config).await;
    let nodes = api.registry.get("", "v1", "nodes").unwrap();
    let pods = api.registry.get("", "v1", "pods").unwrap();
    let w = WriteOptions::default();
    api.create(&nodes, "", json!({"metadata": {"name": "n1"}}), &w)
        .await
        .unwrap();
    api.create(
        &pods,
        "default",
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
        &w,
    )
    .await
    .unwrap();
    clock.advance(Duration::from_secs(1)).await;
    let pod = get(&api, "", "pods", "default", "p").await;
    assert_eq!(pod["spec"]["nodeName"], "n1", "scheduled at once");
    assert_eq!(pod["status"]["phase"], "Pending", "still starting");
    let node = get(&api, "", "nodes", "", "n1").await;
    assert_eq!(
        node["status"]["allocatable"]["pods"], "110",
        "defaults filled in"
    );
    let lease = get(
        &api,
        "coordination.k8s.io",
        "leases",
        "kube-node-lease",
        "n1",
    )
    .await;
    let first_renewal = lease["spec"]["renewTime"].as_str().unwrap().to_string();

    clock.advance(Duration::from_secs(28)).await;
    assert_eq!(
        get(&api, "", "pods", "default", "p").await["status"]["phase"],
        "Pending"
    );
    clock.advance(Duration::from_secs(2)).await;
    let pod = get(&api, "", "pods", "default", "p").await;
    assert_eq!(
        pod["status"]["phase"], "Running",
        "after 30 virtual seconds"
    );
    assert!(pod["status"]["podIP"]
        .as_str()
        .unwrap()
        .starts_with("10.64."));

    let lease = get(
        &api,
        "coordination.k8s.io",
        "leases",
        "kube-node-lease",
        "n1",
    )
    .await;
    let renewed = lease["spec"]["renewTime"].as_str().unwrap();
    assert!(
        renewed > first_renewal.as_str(),
        "{renewed} after {first_renewal}"
    );
    // One virtual hour passes in a moment; the lease keeps up.
    clock.advance(Duration::from_secs(3600)).await;
    let lease = get(
        &api,
        "coordination.k8s.io",
        "leases",
        "kube-node-lease",
        "n1",
    )
    .await;
    let late = lease["spec"]["renewTime"].as_str().unwrap().to_string();
    assert!(
        late.starts_with("2024-01-01T01:0"),
        "renewed in the last 10 s of the hour: {late}"
    );
    api.stop();
}
