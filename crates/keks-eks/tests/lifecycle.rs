//! The control plane on a virtual clock: with the realistic timing profile a cluster stays
//! CREATING for EKS's ten minutes, an update runs for its twenty-five, deletion takes its
//! four; every transition is durable and survives a reload of the control plane.

use std::sync::Arc;
use std::time::Duration;

use keks_apiserver::authn::StaticTokens;
use keks_apiserver::authz::Authorizer;
use keks_apiserver::{Clusters, Registry};
use keks_core::{SharedClock, VirtualClock};
use keks_eks::{Caller, ControlPlane, ControlPlaneConfig, TimingProfile};
use keks_store::{MemoryStore, Store};
use serde_json::{json, Value};

const ACCOUNT: &str = "123456789012";

async fn control_plane(store: Arc<dyn Store>, clock: SharedClock) -> Arc<ControlPlane> {
    let clusters = Arc::new(
        Clusters::load(
            store.clone(),
            Arc::new(Registry::with_builtins()),
            clock.clone(),
            Arc::new(StaticTokens::default()),
            Arc::new(Authorizer::new(store.clone())),
            Vec::new(),
        )
        .await
        .unwrap(),
    );
    let network = keks_cloud::Network::load_or_create(store.clone(), "us-east-1", ACCOUNT)
        .await
        .unwrap();
    ControlPlane::load(
        ControlPlaneConfig {
            region: "us-east-1".into(),
            account_id: ACCOUNT.into(),
            kube_url: "https://127.0.0.1:7643".into(),
            ca_pem: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n".into(),
            timing: TimingProfile::Realistic,
            cluster_quota: 100,
        },
        store,
        clock,
        clusters,
        network,
    )
    .await
    .unwrap()
}

fn caller() -> Caller {
    Caller {
        account: ACCOUNT.into(),
        arn: format!("arn:aws:iam::{ACCOUNT}:user/admin"),
        user_id: "AIDAEXAMPLE".into(),
        access_key_id: "AKIAEXAMPLE".into(),
    }
}

fn status(cp: &ControlPlane, name: &str) -> String {
    cp.describe_cluster(name).unwrap()["cluster"]["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Lets the control plane's task see the clock's new time.
async fn advance(clock: &VirtualClock, by: Duration) {
    clock.advance(by).await;
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    clock.settle().await;
}

#[tokio::test]
async fn realistic_timing_runs_on_the_clock_and_survives_a_reload() {
    let clock = VirtualClock::new();
    let shared: SharedClock = Arc::new(clock.clone());
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let cp = control_plane(store.clone(), shared.clone()).await;
    let network = keks_cloud::Network::load_or_create(store.clone(), "us-east-1", ACCOUNT)
        .await
        .unwrap();
    let subnets: Vec<String> = network
        .subnets()
        .into_iter()
        .filter(|s| s.is_private())
        .map(|s| s.id)
        .collect();
    let created = cp
        .create_cluster(
            &caller(),
            json!({"name": "slow", "version": "1.33", "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/eks"),
                   "resourcesVpcConfig": {"subnetIds": subnets},
                   "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"}}),
        )
        .await
        .unwrap();
    assert_eq!(created["cluster"]["status"], "CREATING");
    assert!(created["cluster"].get("endpoint").is_none());

    advance(&clock, Duration::from_secs(9 * 60)).await;
    assert_eq!(status(&cp, "slow"), "CREATING");
    advance(&clock, Duration::from_secs(61)).await;
    assert_eq!(status(&cp, "slow"), "ACTIVE");
    let described = cp.describe_cluster("slow").unwrap();
    assert_eq!(
        described["cluster"]["endpoint"],
        "https://127.0.0.1:7643/clusters/slow"
    );

    let update = cp
        .update_cluster_version(json!({"name": "slow", "version": "1.34"}))
        .await
        .unwrap();
    let id = update["update"]["id"].as_str().unwrap().to_string();
    assert_eq!(status(&cp, "slow"), "UPDATING");
    // A restart in the middle of the update: the new control plane finishes it.
    let cp = control_plane(store.clone(), shared.clone()).await;
    advance(&clock, Duration::from_secs(24 * 60)).await;
    assert_eq!(status(&cp, "slow"), "UPDATING");
    advance(&clock, Duration::from_secs(61)).await;
    assert_eq!(status(&cp, "slow"), "ACTIVE");
    let done = cp
        .describe_update(&json!({"name": "slow", "updateId": id}))
        .unwrap();
    assert_eq!(done["update"]["status"], "Successful");
    assert_eq!(
        cp.describe_cluster("slow").unwrap()["cluster"]["version"],
        "1.34"
    );

    cp.delete_cluster("slow").await.unwrap();
    assert_eq!(status(&cp, "slow"), "DELETING");
    advance(&clock, Duration::from_secs(4 * 60 + 1)).await;
    let gone = cp.describe_cluster("slow").unwrap_err();
    assert_eq!(gone.to_string(), "No cluster found for name: slow.");
    let listed: Value = cp.list_clusters(&json!({})).unwrap();
    assert_eq!(listed["clusters"], json!([]));
}

#[tokio::test]
async fn one_fargate_profile_changes_at_a_time() {
    let clock = VirtualClock::new();
    let shared: SharedClock = Arc::new(clock.clone());
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let cp = control_plane(store.clone(), shared.clone()).await;
    let network = keks_cloud::Network::load_or_create(store.clone(), "us-east-1", ACCOUNT)
        .await
        .unwrap();
    let subnets: Vec<String> = network.subnets().into_iter().map(|s| s.id).collect();
    cp.create_cluster(
        &caller(),
        json!({"name": "fg", "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/eks"),
               "resourcesVpcConfig": {"subnetIds": subnets},
               "accessConfig": {"authenticationMode": "API"}}),
    )
    .await
    .unwrap();
    advance(&clock, Duration::from_secs(10 * 60 + 1)).await;
    let profile = |name: &str| {
        json!({"clusterName": "fg", "fargateProfileName": name,
               "podExecutionRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/pods"),
               "selectors": [{"namespace": name}]})
    };
    let a = cp.create_fargate_profile(profile("a")).await.unwrap();
    assert_eq!(a["fargateProfile"]["status"], "CREATING");
    // Only private subnets are chosen by default.
    assert_eq!(a["fargateProfile"]["subnets"].as_array().unwrap().len(), 3);
    let busy = cp.create_fargate_profile(profile("b")).await.unwrap_err();
    assert_eq!(
        busy.to_string(),
        "Cannot create Fargate Profile b because cluster fg currently has Fargate profile a in status CREATING"
    );
    advance(&clock, Duration::from_secs(3 * 60 + 1)).await;
    let described = cp
        .describe_fargate_profile(&json!({"clusterName": "fg", "fargateProfileName": "a"}))
        .unwrap();
    assert_eq!(described["fargateProfile"]["status"], "ACTIVE");
    cp.create_fargate_profile(profile("b")).await.unwrap();
    advance(&clock, Duration::from_secs(3 * 60 + 1)).await;
    cp.delete_fargate_profile(&json!({"clusterName": "fg", "fargateProfileName": "a"}))
        .await
        .unwrap();
    let busy = cp
        .delete_fargate_profile(&json!({"clusterName": "fg", "fargateProfileName": "b"}))
        .await
        .unwrap_err();
    assert!(busy
        .to_string()
        .contains("currently has Fargate profile a in status DELETING"));
    advance(&clock, Duration::from_secs(2 * 60 + 1)).await;
    let listed = cp
        .list_fargate_profiles(&json!({"clusterName": "fg"}))
        .unwrap();
    assert_eq!(listed["fargateProfileNames"], json!(["b"]));
}
