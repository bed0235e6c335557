//! Jobs, CronJobs and StatefulSets driven by kubectl against the real binary: `kubectl create
//! job` completing (`kubectl wait --for=condition=complete`), a Job failing past its
//! backoffLimit (BackoffLimitExceeded), an Indexed Job, `kubectl create cronjob` and
//! `kubectl create job --from=cronjob/x`, and a StatefulSet coming up in order with its
//! PVCs, `kubectl rollout status`, `set image`/`rollout history`/`rollout undo`, its
//! headless Service's Endpoints and EndpointSlice, and scaling down from the highest
//! ordinal; a Job counting each of its pods exactly once across kill -9.
//!
//! Pods of simulated nodes "run" as docs/controllers.md says: a Job's pod exits after
//! `keks.dev/run-seconds` (1 s by default) with `keks.dev/exit-code` (0 by default). The
//! binary runs on the real clock, so schedules themselves are tested on the virtual clock
//! (`crates/keks-controllers/tests/virtual_time.rs`), not here.

mod support;

use std::time::{Duration, Instant};

use support::{DevCluster, Keks};

const NODE: &str = r#"
apiVersion: v1
kind: Node
metadata:
  name: worker-1
  labels: {kubernetes.io/hostname: worker-1}
status:
  capacity: {cpu: "8", memory: 32Gi, pods: "110"}
  allocatable: {cpu: "8", memory: 32Gi, pods: "110"}
"#;

const FAILING_JOB: &str = r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: broken
spec:
  backoffLimit: 1
  template:
    metadata:
      annotations: {keks.dev/exit-code: "3"}
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: busybox, command: ["false"]}
"#;

const INDEXED_JOB: &str = r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: shards
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: busybox}
"#;

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

fn with_node(keks: &Keks, name: &str) -> DevCluster {
    let c = keks.dev_cluster(name);
    c.ok_stdin(&["create", "-f", "-"], NODE);
    wait_for("the node Ready", Duration::from_secs(20), || {
        c.ok(&["get", "nodes"]).contains(" Ready ")
    });
    c
}

fn items(v: serde_json::Value) -> Vec<serde_json::Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

fn condition(obj: &serde_json::Value, type_: &str) -> serde_json::Value {
    obj["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_)
        .cloned()
        .unwrap_or_default()
}

#[test]
fn jobs_complete_fail_and_index_with_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let keks = Keks::start(dir.path());
    let c = with_node(&keks, "batch");

    // kubectl create job: the API server generates the selector and labels, the pod runs
    // for a simulated second and succeeds.
    c.ok(&[
        "create",
        "job",
        "hello",
        "--image=busybox",
        "--",
        "echo",
        "hi",
    ]);
    c.ok(&[
        "wait",
        "--for=condition=complete",
        "job/hello",
        "--timeout=60s",
    ]);
    let job = c.get_json(&["job", "hello"]);
    assert_eq!(job["status"]["succeeded"], 1, "{job:#}");
    assert!(job["status"]["completionTime"].is_string());
    assert_eq!(condition(&job, "SuccessCriteriaMet")["status"], "True");
    let uid = job["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    let pods = items(c.get_json(&["pods", "-l", "job-name=hello"]));
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    assert_eq!(pod["status"]["phase"], "Succeeded", "{pod:#}");
    assert_eq!(
        pod["metadata"]["labels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    assert_eq!(
        pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"],
        "Completed"
    );
    assert!(
        pod["metadata"]["finalizers"]
            .as_array()
            .is_none_or(|f| f.is_empty()),
        "the tracking finalizer is gone once counted"
    );
    let log = c.ok(&["logs", "job/hello"]);
    assert!(log.contains("simulated container"), "{log}");
    let table = c.ok(&["get", "job", "hello"]);
    assert!(
        table.contains("Complete") && table.contains("1/1"),
        "{table}"
    );

    // Every pod exits 3; backoffLimit 1 tolerates one failure (then 10 s of backoff).
    c.ok_stdin(&["create", "-f", "-"], FAILING_JOB);
    c.ok(&[
        "wait",
        "--for=condition=failed",
        "job/broken",
        "--timeout=90s",
    ]);
    let job = c.get_json(&["job", "broken"]);
    let failed = condition(&job, "Failed");
    assert_eq!(failed["reason"], "BackoffLimitExceeded", "{job:#}");
    assert_eq!(
        failed["message"],
        "Job has reached the specified backoff limit"
    );
    assert_eq!(job["status"]["failed"], 2);
    let pods = items(c.get_json(&["pods", "-l", "job-name=broken"]));
    assert_eq!(pods.len(), 2);
    for p in &pods {
        assert_eq!(p["status"]["phase"], "Failed");
        assert_eq!(
            p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
            3
        );
    }
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=broken",
    ]);
    assert!(events.contains("BackoffLimitExceeded"), "{events}");

    // Indexed: one pod per index, with its index and hostname.
    c.ok_stdin(&["create", "-f", "-"], INDEXED_JOB);
    c.ok(&[
        "wait",
        "--for=condition=complete",
        "job/shards",
        "--timeout=60s",
    ]);
    let job = c.get_json(&["job", "shards"]);
    assert_eq!(job["status"]["completedIndexes"], "0-2", "{job:#}");
    let pods = items(c.get_json(&["pods", "-l", "job-name=shards"]));
    assert_eq!(
        pods.len(),
        3,
        "{job:#}\n{pods:#?}\n{}",
        c.ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=shards"
        ])
    );
    let mut indexes: Vec<String> = pods
        .iter()
        .map(|p| {
            let i = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
                .as_str()
                .unwrap()
                .to_string();
            assert_eq!(p["spec"]["hostname"], format!("shards-{i}"));
            i
        })
        .collect();
    indexes.sort();
    assert_eq!(indexes, vec!["0", "1", "2"]);

    // A CronJob, and a Job made from it by hand.
    c.ok(&[
        "create",
        "cronjob",
        "nightly",
        "--image=busybox",
        "--schedule=0 3 * * *",
        "--",
        "date",
    ]);
    let cj = c.get_json(&["cronjob", "nightly"]);
    assert_eq!(cj["spec"]["concurrencyPolicy"], "Allow");
    assert_eq!(cj["spec"]["successfulJobsHistoryLimit"], 3);
    c.ok(&["create", "job", "nightly-now", "--from=cronjob/nightly"]);
    c.ok(&[
        "wait",
        "--for=condition=complete",
        "job/nightly-now",
        "--timeout=60s",
    ]);
    let job = c.get_json(&["job", "nightly-now"]);
    assert_eq!(
        job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"],
        "manual"
    );
    assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    let table = c.ok(&["get", "cronjob", "nightly"]);
    assert!(table.contains("0 3 * * *"), "{table}");

    // Deleting a Job takes its pods with it (their finalizers do not hold them).
    c.ok(&["delete", "job", "hello", "--wait=true", "--timeout=30s"]);
    wait_for("hello's pod gone", Duration::from_secs(30), || {
        items(c.get_json(&["pods", "-l", "job-name=hello"])).is_empty()
    });
}

const STATEFULSET: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  clusterIP: None
  selector: {app: db}
  ports:
  - {name: pg, port: 5432}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  replicas: 3
  serviceName: db
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: pg
        image: postgres:15
        volumeMounts:
        - {name: data, mountPath: /var/lib/postgresql/data}
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests: {storage: 1Gi}
"#;

fn live_pods(c: &DevCluster) -> Vec<serde_json::Value> {
    items(c.get_json(&["pods", "-l", "app=db"]))
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect()
}

#[test]
fn statefulsets_come_up_in_order_roll_and_scale_down_with_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let keks = Keks::start(dir.path());
    let c = with_node(&keks, "stateful");
    c.ok_stdin(&["create", "-f", "-"], STATEFULSET);
    c.ok(&["rollout", "status", "statefulset/db", "--timeout=60s"]);

    let pods = live_pods(&c);
    let mut names: Vec<&str> = pods
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["db-0", "db-1", "db-2"]);
    // Created in order: each one after the one below was running.
    let created = |name: &str| {
        pods.iter().find(|p| p["metadata"]["name"] == name).unwrap()["metadata"]
            ["creationTimestamp"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(created("db-0") <= created("db-1") && created("db-1") <= created("db-2"));
    let db1 = pods
        .iter()
        .find(|p| p["metadata"]["name"] == "db-1")
        .unwrap();
    assert_eq!(db1["spec"]["hostname"], "db-1");
    assert_eq!(db1["spec"]["subdomain"], "db");
    assert_eq!(
        db1["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"],
        "db-1"
    );
    assert_eq!(
        db1["metadata"]["labels"]["apps.kubernetes.io/pod-index"],
        "1"
    );
    assert_eq!(
        db1["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "data-db-1"
    );
    let pvcs = c.ok(&["get", "pvc", "-o", "name"]);
    for i in 0..3 {
        assert!(
            pvcs.contains(&format!("persistentvolumeclaim/data-db-{i}")),
            "{pvcs}"
        );
    }
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=db",
    ]);
    assert!(
        events.contains("create Pod db-0 in StatefulSet db successful"),
        "{events}"
    );
    assert!(events.contains("create Claim data-db-0 Pod db-0 in StatefulSet db success"));

    // A new image rolls through every pod; the history has both revisions; undo goes back.
    c.ok(&["set", "image", "statefulset/db", "pg=postgres:16"]);
    c.ok(&["rollout", "status", "statefulset/db", "--timeout=60s"]);
    let set = c.get_json(&["statefulset", "db"]);
    assert_eq!(set["status"]["updatedReplicas"], 3, "{set:#}");
    assert_eq!(
        set["status"]["currentRevision"],
        set["status"]["updateRevision"]
    );
    for p in live_pods(&c) {
        assert_eq!(p["spec"]["containers"][0]["image"], "postgres:16");
        assert_eq!(
            p["metadata"]["labels"]["controller-revision-hash"],
            set["status"]["updateRevision"]
        );
    }
    let history = c.ok(&["rollout", "history", "statefulset/db"]);
    assert!(history.contains('1') && history.contains('2'), "{history}");
    c.ok(&["rollout", "undo", "statefulset/db"]);
    c.ok(&["rollout", "status", "statefulset/db", "--timeout=60s"]);
    wait_for(
        "every pod back on postgres:15",
        Duration::from_secs(60),
        || {
            let pods = live_pods(&c);
            pods.len() == 3
                && pods
                    .iter()
                    .all(|p| p["spec"]["containers"][0]["image"] == "postgres:15")
        },
    );

    // Scale down: the highest ordinal goes; its claim stays.
    c.ok(&["scale", "statefulset/db", "--replicas=2"]);
    wait_for("db-2 gone", Duration::from_secs(30), || {
        let names: Vec<String> = items(c.get_json(&["pods", "-l", "app=db"]))
            .iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        names.len() == 2 && !names.iter().any(|n| n == "db-2")
    });
    c.ok(&["rollout", "status", "statefulset/db", "--timeout=30s"]);
    assert!(c
        .ok(&["get", "pvc", "data-db-2", "-o", "name"])
        .contains("data-db-2"));
    let set = c.get_json(&["statefulset", "db"]);
    assert_eq!(set["status"]["replicas"], 2);
    assert_eq!(set["status"]["readyReplicas"], 2);
    wait_for("db-2 out of the endpoints", Duration::from_secs(20), || {
        let ep = c.get_json(&["endpoints", "db"]);
        ep["subsets"][0]["addresses"]
            .as_array()
            .is_some_and(|a| a.len() == 2)
    });
}

const COUNTED_JOB: &str = r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: counted
spec:
  completions: 8
  parallelism: 3
  template:
    metadata:
      annotations: {keks.dev/run-seconds: "1"}
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: busybox}
"#;

#[test]
fn a_job_counts_every_pod_once_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let keks = Keks::start(dir.path());
    let c = with_node(&keks, "counted");
    c.ok_stdin(&["create", "-f", "-"], COUNTED_JOB);
    // Mid-run: some pods done, some counted, some only recorded as uncounted.
    wait_for("a first success", Duration::from_secs(30), || {
        c.get_json(&["job", "counted"])["status"]["succeeded"]
            .as_i64()
            .is_some_and(|n| n >= 1)
    });
    let port = |var: &str| keks.var(var).rsplit(':').next().unwrap().to_string();
    let (aws, kube) = (port("KEKS_ENDPOINT_URL"), port("KEKS_KUBE_URL"));
    let mut keks = keks;
    keks.signal_and_wait("KILL");
    drop(keks);
    let _keks = Keks::start_with(dir.path(), &["--aws-port", &aws, "--kube-port", &kube]);
    c.ok(&[
        "wait",
        "--for=condition=complete",
        "job/counted",
        "--timeout=90s",
    ]);
    let job = c.get_json(&["job", "counted"]);
    assert_eq!(job["status"]["succeeded"], 8, "{job:#}");
    assert!(job["status"].get("failed").is_none(), "{job:#}");
    let pods = items(c.get_json(&["pods", "-l", "job-name=counted"]));
    assert_eq!(pods.len(), 8, "exactly one pod per completion");
    assert!(pods.iter().all(|p| p["status"]["phase"] == "Succeeded"));
}
