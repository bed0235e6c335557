//! kube-rs against a keks cluster: a reflector over pods stays in sync through 1,000
//! creates, updates and deletes (its watcher lists, then watches with bookmarks).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, Client, Config, ResourceExt};
use support::Keks;

fn pod(name: &str, generation: u32) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "reflected", "generation": generation.to_string()}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflector_stays_in_sync_through_1000_changes() {
    let dir = tempfile::tempdir().unwrap();
    let keks = Keks::start(dir.path());
    let cluster = keks.dev_cluster("dev");
    let kubeconfig = Kubeconfig::read_from(&cluster.kubeconfig).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    let client = Client::try_from(config).unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "default");

    // A few pods exist before the reflector starts: its initial list must bring them in.
    for i in 0..20 {
        pods.create(&PostParams::default(), &pod(&format!("early-{i}"), 0))
            .await
            .unwrap();
    }
    let (reader, writer) = reflector::store();
    let stream = reflector(
        writer,
        watcher(pods.clone(), watcher::Config::default().any_semantic()),
    )
    .applied_objects();
    let pump = tokio::spawn(stream.for_each(|_| async {}));
    tokio::time::timeout(Duration::from_secs(20), reader.wait_until_ready())
        .await
        .expect("reflector ready")
        .unwrap();

    // 1,000 changes: creates, label updates and deletes, interleaved.
    let mut expected: BTreeMap<String, String> = (0..20)
        .map(|i| (format!("early-{i}"), "0".to_string()))
        .collect();
    let mut changes = 0;
    let mut next = 0;
    while changes < 1_000 {
        let name = format!("pod-{next}");
        pods.create(&PostParams::default(), &pod(&name, 0))
            .await
            .unwrap();
        expected.insert(name.clone(), "0".into());
        changes += 1;
        if next % 3 != 2 {
            let patch = serde_json::json!({"metadata": {"labels": {"generation": "1"}}});
            pods.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .unwrap();
            expected.insert(name.clone(), "1".into());
            changes += 1;
        }
        if next % 4 == 3 {
            pods.delete(&name, &DeleteParams::default()).await.unwrap();
            expected.remove(&name);
            changes += 1;
        }
        next += 1;
    }

    let snapshot = || -> BTreeMap<String, String> {
        reader
            .state()
            .iter()
            .map(|p| {
                (
                    p.name_any(),
                    p.labels().get("generation").cloned().unwrap_or_default(),
                )
            })
            .collect()
    };
    let mut seen = snapshot();
    for _ in 0..200 {
        if seen == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        seen = snapshot();
    }
    assert_eq!(seen.len(), expected.len(), "pod count in the reflector");
    assert_eq!(
        seen, expected,
        "the reflector's store matches the cluster after 1,000 changes"
    );
    let listed: BTreeMap<String, String> = pods
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| {
            (
                p.name_any(),
                p.labels().get("generation").cloned().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(listed, expected, "and the API agrees");
    pump.abort();
}
