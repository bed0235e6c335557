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

async fn create(api: &ClusterApi, group: &str, plural: &str, ns: &str, obj: Value) -> Value {
    let d = api.registry.get(group, "v1", plural).unwrap();
    api.create(&d, ns, obj, &WriteOptions::default())
        .await
        .unwrap()
}

async fn list(api: &ClusterApi, group: &str, plural: &str) -> Vec<Value> {
    let d = api.registry.get(group, "v1", plural).unwrap();
    api.list(&d, None, &Default::default()).await.unwrap()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn job(name: &str, spec: Value, annotations: Value) -> Value {
    let mut j = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": {"metadata": {"annotations": annotations}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}},
    });
    for (k, v) in spec.as_object().unwrap() {
        j["spec"][k] = v.clone();
    }
    j
}

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_ && c["status"] == "True")
}

#[tokio::test]
async fn jobs_complete_fail_and_expire_on_the_clock() {
    let clock = VirtualClock::new();
    let (_clusters, api) = cluster(&clock, Config::default()).await;
    create(&api, "", "nodes", "", json!({"metadata": {"name": "n1"}})).await;
    // 3 completions, 2 at a time, each pod running 10 virtual seconds.
    create(
        &api,
        "batch",
        "jobs",
        "default",
        job(
            "work",
            json!({"completions": 3, "parallelism": 2, "ttlSecondsAfterFinished": 60}),
            json!({"keks.dev/run-seconds": "10"}),
        ),
    )
    .await;
    // Every pod fails; backoffLimit 2 tolerates two failures, the third fails the Job.
    create(
        &api,
        "batch",
        "jobs",
        "default",
        job(
            "broken",
            json!({"backoffLimit": 2}),
            json!({"keks.dev/exit-code": "1"}),
        ),
    )
    .await;
    create(
        &api,
        "batch",
        "jobs",
        "default",
        job(
            "indexed",
            json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"}),
            json!({}),
        ),
    )
    .await;
    create(
        &api,
        "batch",
        "jobs",
        "default",
        job(
            "slow",
            json!({"activeDeadlineSeconds": 30}),
            json!({"keks.dev/run-seconds": "3600"}),
        ),
    )
    .await;

    clock.advance(Duration::from_secs(2)).await;
    let work = get(&api, "batch", "jobs", "default", "work").await;
    assert_eq!(work["status"]["active"], 2, "{work:#}");
    assert!(work["status"]["startTime"].is_string());
    let indexed = get(&api, "batch", "jobs", "default", "indexed").await;
    assert_eq!(indexed["status"]["completedIndexes"], "0-2", "{indexed:#}");
    assert!(condition(&indexed, "Complete").is_some(), "{indexed:#}");
    assert_eq!(indexed["status"]["succeeded"], 3);
    let hostnames: Vec<String> = list(&api, "", "pods")
        .await
        .iter()
        .filter(|p| p["metadata"]["labels"]["job-name"] == "indexed")
        .map(|p| p["spec"]["hostname"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hostnames.len(), 3);
    for i in 0..3 {
        assert!(hostnames.contains(&format!("indexed-{i}")), "{hostnames:?}");
    }

    // Two rounds of 10 s for three completions.
    clock.advance(Duration::from_secs(20)).await;
    let work = get(&api, "batch", "jobs", "default", "work").await;
    let complete = condition(&work, "Complete").unwrap_or_else(|| panic!("{work:#}"));
    assert_eq!(complete["reason"], "CompletionsReached");
    assert!(condition(&work, "SuccessCriteriaMet").is_some());
    assert_eq!(work["status"]["succeeded"], 3);
    assert!(work["status"].get("failed").is_none());
    assert_eq!(work["status"]["uncountedTerminatedPods"], json!({}));
    let work_pods: Vec<Value> = list(&api, "", "pods")
        .await
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["job-name"] == "work")
        .collect();
    assert_eq!(work_pods.len(), 3);
    assert!(work_pods.iter().all(|p| p["status"]["phase"] == "Succeeded"
        && p["metadata"]["finalizers"]
            .as_array()
            .is_none_or(|f| f.is_empty())));

    // The deadline passes 30 s after the start; the running pod is deleted.
    clock.advance(Duration::from_secs(10)).await;
    let slow = get(&api, "batch", "jobs", "default", "slow").await;
    let failed = condition(&slow, "Failed").unwrap_or_else(|| panic!("{slow:#}"));
    assert_eq!(failed["reason"], "DeadlineExceeded");
    assert_eq!(slow["status"]["failed"], 1);

    // Failures back off 10 s, then 20 s: the third failure (past the limit of 2) ends it.
    clock.advance(Duration::from_secs(60)).await;
    let broken = get(&api, "batch", "jobs", "default", "broken").await;
    let failed = condition(&broken, "Failed").unwrap_or_else(|| panic!("{broken:#}"));
    assert_eq!(failed["reason"], "BackoffLimitExceeded");
    assert_eq!(
        failed["message"],
        "Job has reached the specified backoff limit"
    );
    assert!(condition(&broken, "FailureTarget").is_some());
    assert_eq!(broken["status"]["failed"], 3);

    // ttlSecondsAfterFinished: the finished Job and its pods go 60 s after completion.
    clock.advance(Duration::from_secs(60)).await;
    let d = api.registry.get("batch", "v1", "jobs").unwrap();
    assert!(
        api.get(&d, "default", "work").await.is_err(),
        "deleted after its TTL"
    );
    clock.advance(Duration::from_secs(5)).await;
    assert!(list(&api, "", "pods")
        .await
        .iter()
        .all(|p| p["metadata"]["labels"]["job-name"] != "work"));
    api.stop();
}

fn cronjob(name: &str, schedule: &str, spec: Value, run_seconds: &str) -> Value {
    let mut cj = json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {
            "metadata": {"annotations": {"keks.dev/run-seconds": run_seconds}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}},
    });
    for (k, v) in spec.as_object().unwrap() {
        cj["spec"][k] = v.clone();
    }
    cj
}

fn owned_by<'a>(jobs: &'a [Value], cj: &str) -> Vec<&'a Value> {
    jobs.iter()
        .filter(|j| j["metadata"]["ownerReferences"][0]["name"] == cj)
        .collect()
}

#[tokio::test]
async fn cronjobs_run_an_hour_of_schedules_in_a_moment() {
    let clock = VirtualClock::new();
    let (_clusters, api) = cluster(&clock, Config::default()).await;
    create(&api, "", "nodes", "", json!({"metadata": {"name": "n1"}})).await;
    // Every minute, 5 s runs, 2 successful Jobs kept.
    create(
        &api,
        "batch",
        "cronjobs",
        "default",
        cronjob(
            "tick",
            "* * * * *",
            json!({"successfulJobsHistoryLimit": 2}),
            "5",
        ),
    )
    .await;
    // Every minute, but each run takes 150 s and may not overlap.
    create(
        &api,
        "batch",
        "cronjobs",
        "default",
        cronjob(
            "serial",
            "*/1 * * * *",
            json!({"concurrencyPolicy": "Forbid", "successfulJobsHistoryLimit": 100}),
            "150",
        ),
    )
    .await;
    // Each run replaces the one before.
    create(&api, "batch", "cronjobs", "default",
        cronjob("fresh", "*/2 * * * *", json!({"concurrencyPolicy": "Replace", "successfulJobsHistoryLimit": 100, "failedJobsHistoryLimit": 100}), "1000")).await;
    // 09:00 in New York is 14:00 UTC: nothing in the first hour.
    create(
        &api,
        "batch",
        "cronjobs",
        "default",
        cronjob(
            "morning",
            "0 9 * * *",
            json!({"timeZone": "America/New_York"}),
            "1",
        ),
    )
    .await;
    create(
        &api,
        "batch",
        "cronjobs",
        "default",
        cronjob("paused", "* * * * *", json!({"suspend": true}), "1"),
    )
    .await;

    let mut max_serial_active = 0;
    for _ in 0..60 {
        clock.advance(Duration::from_secs(60)).await;
        let jobs = list(&api, "batch", "jobs").await;
        let active = owned_by(&jobs, "serial")
            .iter()
            .filter(|j| condition(j, "Complete").is_none())
            .count();
        max_serial_active = max_serial_active.max(active);
    }
    // Runs start 100 ms after their minute, as kube's controller looks then.
    clock.advance(Duration::from_secs(1)).await;
    let jobs = list(&api, "batch", "jobs").await;
    let tick = get(&api, "batch", "cronjobs", "default", "tick").await;
    assert_eq!(
        tick["status"]["lastScheduleTime"], "2024-01-01T01:00:00Z",
        "{tick:#}"
    );
    assert_eq!(tick["status"]["lastSuccessfulTime"], "2024-01-01T00:59:05Z");
    let kept = owned_by(&jobs, "tick");
    let mut names: Vec<&str> = kept
        .iter()
        .map(|j| j["metadata"]["name"].as_str().unwrap())
        .collect();
    names.sort();
    // 28401120 is 2024-01-01T00:00 in minutes: the two newest finished runs and the one
    // started at 01:00 (still running) are all that is left.
    assert_eq!(
        names,
        vec!["tick-28401178", "tick-28401179", "tick-28401180"],
        "{kept:#?}"
    );
    assert_eq!(tick["status"]["active"][0]["name"], "tick-28401180");
    // The pods of deleted Jobs go too (the Job controller lets go of their finalizers).
    let tick_pods = list(&api, "", "pods")
        .await
        .into_iter()
        .filter(|p| {
            p["metadata"]["labels"]["job-name"]
                .as_str()
                .is_some_and(|n| n.starts_with("tick-"))
        })
        .count();
    assert_eq!(tick_pods, 3);

    // Forbid: never two at once; the run missed meanwhile starts as soon as the previous
    // ends (kube starts it late), so one every ~151 s.
    assert_eq!(max_serial_active, 1);
    let serial = owned_by(&jobs, "serial");
    assert!((23..=25).contains(&serial.len()), "{}", serial.len());

    // Replace: one Job alive at a time, every earlier one deleted.
    let fresh = owned_by(&jobs, "fresh");
    assert_eq!(fresh.len(), 1, "{fresh:#?}");
    assert_eq!(fresh[0]["metadata"]["name"], "fresh-28401180");

    assert!(owned_by(&jobs, "morning").is_empty());
    assert!(owned_by(&jobs, "paused").is_empty());
    // 13 more virtual hours reach 09:00 New York time (the busy ones are deleted first).
    let d = api.registry.get("batch", "v1", "cronjobs").unwrap();
    for name in ["tick", "serial", "fresh"] {
        api.delete(&d, "default", name, &Default::default())
            .await
            .unwrap();
    }
    clock.advance(Duration::from_secs(13 * 3600)).await;
    let jobs = list(&api, "batch", "jobs").await;
    let morning = owned_by(&jobs, "morning");
    assert_eq!(morning.len(), 1);
    assert_eq!(
        morning[0]["metadata"]["name"],
        format!("morning-{}", 28401120 + 14 * 60)
    );
    assert_eq!(
        morning[0]["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"],
        "2024-01-01T09:00:00-05:00"
    );
    api.stop();
}

async fn pod_names(api: &ClusterApi, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = list(api, "", "pods")
        .await
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn statefulsets_come_up_in_order_and_roll_from_the_top() {
    let clock = VirtualClock::new();
    let config = Config {
        pod_startup_delay: Duration::from_secs(10),
        ..Config::default()
    };
    let (_clusters, api) = cluster(&clock, config).await;
    create(&api, "", "nodes", "", json!({"metadata": {"name": "n1"}})).await;
    let set = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c", "image": "postgres:15"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]},
    });
    create(&api, "apps", "statefulsets", "default", set).await;
    // OrderedReady: each pod waits for the one below to run (10 s startup each).
    clock.advance(Duration::from_secs(1)).await;
    assert_eq!(pod_names(&api, "db-").await, vec!["db-0"]);
    clock.advance(Duration::from_secs(10)).await;
    assert_eq!(pod_names(&api, "db-").await, vec!["db-0", "db-1"]);
    clock.advance(Duration::from_secs(25)).await;
    assert_eq!(pod_names(&api, "db-").await, vec!["db-0", "db-1", "db-2"]);
    let pvcs: Vec<String> = list(&api, "", "persistentvolumeclaims")
        .await
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pvcs.len(), 3);
    for i in 0..3 {
        assert!(pvcs.contains(&format!("data-db-{i}")), "{pvcs:?}");
    }
    let s = get(&api, "apps", "statefulsets", "default", "db").await;
    assert_eq!(s["status"]["readyReplicas"], 3, "{s:#}");
    let first = s["status"]["updateRevision"].as_str().unwrap().to_string();
    assert_eq!(s["status"]["currentRevision"], first.as_str());

    // A new image rolls from db-2 down to db-0, one pod at a time.
    let d = api.registry.get("apps", "v1", "statefulsets").unwrap();
    api.guaranteed_update(&d, "default", "db", &Default::default(), 0, |cur| {
        let mut next = cur.clone();
        next["spec"]["template"]["spec"]["containers"][0]["image"] = json!("postgres:16");
        Ok(next)
    })
    .await
    .unwrap();
    clock.advance(Duration::from_secs(5)).await;
    let pods = list(&api, "", "pods").await;
    let image = |name: &str| {
        pods.iter()
            .find(|p| p["metadata"]["name"] == name)
            .map(|p| {
                p["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
    };
    assert_eq!(image("db-2").as_deref(), Some("postgres:16"));
    assert_eq!(image("db-0").as_deref(), Some("postgres:15"));
    clock.advance(Duration::from_secs(60)).await;
    let s = get(&api, "apps", "statefulsets", "default", "db").await;
    assert_eq!(s["status"]["updatedReplicas"], 3, "{s:#}");
    assert_ne!(s["status"]["updateRevision"], first.as_str());
    assert_eq!(
        s["status"]["currentRevision"],
        s["status"]["updateRevision"]
    );
    assert_eq!(list(&api, "apps", "controllerrevisions").await.len(), 2);

    // Scale down to 1: db-2 goes first, then db-1; the claims stay.
    api.guaranteed_update(&d, "default", "db", &Default::default(), 0, |cur| {
        let mut next = cur.clone();
        next["spec"]["replicas"] = json!(1);
        Ok(next)
    })
    .await
    .unwrap();
    clock.advance(Duration::from_secs(5)).await;
    assert_eq!(pod_names(&api, "db-").await, vec!["db-0"]);
    assert_eq!(list(&api, "", "persistentvolumeclaims").await.len(), 3);
    let s = get(&api, "apps", "statefulsets", "default", "db").await;
    assert_eq!(s["status"]["replicas"], 1);
    api.stop();
}

#[tokio::test]
async fn services_get_endpoints_and_slices_of_their_pods() {
    let clock = VirtualClock::new();
    let (_clusters, api) = cluster(&clock, Config::default()).await;
    create(&api, "", "nodes", "",
        json!({"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "us-east-1a"}}})).await;
    for name in ["web-a", "web-b", "other"] {
        let app = if name == "other" { "other" } else { "web" };
        create(&api, "", "pods", "default", json!({
            "metadata": {"name": name, "labels": {"app": app}},
            "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080}]}]},
        })).await;
    }
    create(&api, "", "services", "default", json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    })).await;
    clock.advance(Duration::from_secs(1)).await;
    let ep = get(&api, "", "endpoints", "default", "web").await;
    let addresses = ep["subsets"][0]["addresses"].as_array().unwrap();
    assert_eq!(addresses.len(), 2, "{ep:#}");
    assert_eq!(
        ep["subsets"][0]["ports"],
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
    );
    let slices = list(&api, "discovery.k8s.io", "endpointslices").await;
    let slices: Vec<&Value> = slices
        .iter()
        .filter(|s| s["metadata"]["labels"]["kubernetes.io/service-name"] == "web")
        .collect();
    assert_eq!(slices.len(), 1);
    let slice = slices[0];
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(slice["metadata"]["ownerReferences"][0]["kind"], "Service");
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(slice["endpoints"].as_array().unwrap().len(), 2);
    assert_eq!(slice["endpoints"][0]["conditions"]["ready"], true);
    assert_eq!(slice["endpoints"][0]["zone"], "us-east-1a");

    // A deleted pod leaves both.
    let pods = api.registry.get("", "v1", "pods").unwrap();
    api.delete(&pods, "default", "web-a", &Default::default())
        .await
        .unwrap();
    clock.advance(Duration::from_secs(1)).await;
    let ep = get(&api, "", "endpoints", "default", "web").await;
    assert_eq!(
        ep["subsets"][0]["addresses"].as_array().unwrap().len(),
        1,
        "{ep:#}"
    );
    assert_eq!(
        ep["subsets"][0]["addresses"][0]["targetRef"]["name"],
        "web-b"
    );
    let slices = list(&api, "discovery.k8s.io", "endpointslices").await;
    let slice = slices
        .iter()
        .find(|s| s["metadata"]["labels"]["kubernetes.io/service-name"] == "web")
        .unwrap();
    assert_eq!(slice["endpoints"].as_array().unwrap().len(), 1);
    api.stop();
}

#[tokio::test]
async fn suspended_jobs_wait_and_on_failure_restarts_count() {
    let clock = VirtualClock::new();
    let (_clusters, api) = cluster(&clock, Config::default()).await;
    create(&api, "", "nodes", "", json!({"metadata": {"name": "n1"}})).await;
    create(
        &api,
        "batch",
        "jobs",
        "default",
        job(
            "later",
            json!({"suspend": true, "parallelism": 2, "completions": 2}),
            json!({}),
        ),
    )
    .await;
    let mut restarting = job(
        "flaky",
        json!({"backoffLimit": 3}),
        json!({"keks.dev/exit-code": "2", "keks.dev/run-seconds": "5"}),
    );
    restarting["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure");
    create(&api, "batch", "jobs", "default", restarting).await;

    clock.advance(Duration::from_secs(2)).await;
    let later = get(&api, "batch", "jobs", "default", "later").await;
    let suspended = condition(&later, "Suspended").unwrap_or_else(|| panic!("{later:#}"));
    assert_eq!(suspended["reason"], "JobSuspended");
    assert!(
        later["status"]["startTime"].is_null(),
        "no start while suspended"
    );
    assert!(list(&api, "", "pods")
        .await
        .iter()
        .all(|p| p["metadata"]["labels"]["job-name"] != "later"));

    // Resumed: it runs and completes.
    let d = api.registry.get("batch", "v1", "jobs").unwrap();
    api.guaranteed_update(&d, "default", "later", &Default::default(), 0, |cur| {
        let mut next = cur.clone();
        next["spec"]["suspend"] = json!(false);
        Ok(next)
    })
    .await
    .unwrap();
    clock.advance(Duration::from_secs(5)).await;
    let later = get(&api, "batch", "jobs", "default", "later").await;
    assert!(condition(&later, "Complete").is_some(), "{later:#}");
    let resumed = later["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Suspended")
        .unwrap();
    assert_eq!(resumed["status"], "False");
    assert_eq!(resumed["reason"], "JobResumed");

    // OnFailure: one pod whose container restarts every 5 s; the third restart reaches
    // backoffLimit 3 and fails the Job.
    clock.advance(Duration::from_secs(30)).await;
    let flaky = get(&api, "batch", "jobs", "default", "flaky").await;
    let failed = condition(&flaky, "Failed").unwrap_or_else(|| panic!("{flaky:#}"));
    assert_eq!(failed["reason"], "BackoffLimitExceeded");
    let pods: Vec<Value> = list(&api, "", "pods")
        .await
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["job-name"] == "flaky")
        .collect();
    assert!(pods.len() <= 1, "one pod, restarted in place, then deleted");
    api.stop();
}

async fn set_kubelet_stopped(api: &ClusterApi, node: &str, stopped: bool) {
    let d = api.registry.get("", "v1", "nodes").unwrap();
    api.guaranteed_update(&d, "", node, &Default::default(), 0, |cur| {
        let mut next = cur.clone();
        if stopped {
            next["metadata"]["annotations"] = json!({"keks.dev/kubelet-stopped": "true"});
        } else if let Some(a) = next["metadata"]["annotations"].as_object_mut() {
            a.remove("keks.dev/kubelet-stopped");
        }
        Ok(next)
    })
    .await
    .unwrap();
}

/// A node's Ready condition, whatever its status.
fn ready(node: &Value) -> &Value {
    node["status"]["conditions"]
        .as_array()
        .and_then(|l| l.iter().find(|c| c["type"] == "Ready"))
        .expect("a Ready condition")
}

fn ready_status(node: &Value) -> String {
    ready(node)["status"].as_str().unwrap().to_string()
}

fn taint_keys(node: &Value) -> Vec<String> {
    node["spec"]["taints"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            format!(
                "{}:{}",
                t["key"].as_str().unwrap(),
                t["effect"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn a_silent_node_goes_unknown_is_tainted_and_its_pods_leave_on_their_tolerations() {
    let clock = VirtualClock::new();
    let (_clusters, api) = cluster(&clock, Config::default()).await;
    create(&api, "", "nodes", "", json!({"metadata": {"name": "n1"}})).await;
    let pod = |name: &str, tolerations: Value| {
        json!({"metadata": {"name": name},
               "spec": {"containers": [{"name": "c", "image": "nginx"}], "tolerations": tolerations}})
    };
    // DefaultTolerationSeconds gives the first 300 s; the second asks for 20 s.
    let patient = create(&api, "", "pods", "default", pod("patient", json!([]))).await;
    let tolerations = patient["spec"]["tolerations"].as_array().unwrap();
    assert!(tolerations
        .iter()
        .any(|t| t["key"] == "node.kubernetes.io/unreachable" && t["tolerationSeconds"] == 300));
    create(&api, "", "pods", "default", pod("hasty", json!([
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 20}
    ]))).await;
    clock.advance(Duration::from_secs(2)).await;
    let node = get(&api, "", "nodes", "", "n1").await;
    assert_eq!(ready_status(&node), "True");

    set_kubelet_stopped(&api, "n1", true).await;
    clock.advance(Duration::from_secs(45)).await;
    assert_eq!(
        ready_status(&get(&api, "", "nodes", "", "n1").await),
        "True",
        "within the grace period"
    );
    for _ in 0..4 {
        clock.advance(Duration::from_secs(5)).await;
    }
    let node = get(&api, "", "nodes", "", "n1").await;
    assert_eq!(ready_status(&node), "Unknown");
    assert_eq!(
        ready(&node)["message"],
        "Kubelet stopped posting node status."
    );
    let mut keys = taint_keys(&node);
    keys.sort();
    assert_eq!(
        keys,
        [
            "node.kubernetes.io/unreachable:NoExecute",
            "node.kubernetes.io/unreachable:NoSchedule"
        ]
    );
    for _ in 0..5 {
        clock.advance(Duration::from_secs(5)).await;
    }
    let names: Vec<String> = list(&api, "", "pods")
        .await
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["patient"],
        "the 20 s toleration ran out, the 300 s one has not"
    );
    for _ in 0..60 {
        clock.advance(Duration::from_secs(5)).await;
    }
    let live = list(&api, "", "pods")
        .await
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .count();
    assert_eq!(live, 0, "five minutes later the other leaves too");

    set_kubelet_stopped(&api, "n1", false).await;
    for _ in 0..4 {
        clock.advance(Duration::from_secs(5)).await;
    }
    let node = get(&api, "", "nodes", "", "n1").await;
    assert_eq!(ready_status(&node), "True", "the kubelet is back");
    assert!(taint_keys(&node).is_empty(), "{:?}", taint_keys(&node));
}
