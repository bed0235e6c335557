//! `keks-bench apiserver`: the Kubernetes API server over HTTPS, as BENCHMARKS.md reports it —
//! pod creates/s and gets/s with 1 and 32 clients, LIST of 10,000 pods, watch fan-out to 100
//! watchers and resident memory per stored pod. Each client is its own HTTP/2 connection.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use bytes::{Bytes, BytesMut};
use hdrhistogram::Histogram;
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use serde::Serialize;

use crate::apiserver_client::{Conn, Endpoint};
use crate::stats::{self, human_rate, human_us, Latency};
use crate::timing::{self, Duration};

#[derive(clap::Args)]
pub struct ApiserverArgs {
    /// Kubeconfig of the cluster to benchmark (server URL, CA data, bearer token).
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Pid of the keks process, for its resident memory (VmRSS).
    #[arg(long)]
    pid: Option<u32>,
    /// Seconds per create and get run.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Client counts for the create and get runs.
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    clients: Vec<usize>,
    /// Pods in the LIST namespace.
    #[arg(long, default_value_t = 10_000)]
    list_pods: usize,
    /// Timed LIST runs.
    #[arg(long, default_value_t = 10)]
    list_runs: usize,
    /// Watchers in the fan-out run.
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// Pod creates per second during the fan-out run.
    #[arg(long, default_value_t = 100)]
    watch_rate: u32,
    /// Seconds of writes in the fan-out run.
    #[arg(long, default_value_t = 10)]
    watch_secs: u64,
    /// Pods created for the memory measurement (0 skips it).
    #[arg(long, default_value_t = 100_000)]
    memory_pods: usize,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Default, Serialize)]
struct Report {
    pod_json_bytes: usize,
    creates: Vec<RateResult>,
    gets: Vec<RateResult>,
    list: Option<ListResult>,
    watch: Option<WatchResult>,
    memory: Option<MemoryResult>,
}

#[derive(Serialize)]
struct RateResult {
    clients: usize,
    ops: u64,
    per_sec: f64,
    latency: Latency,
}

#[derive(Serialize)]
struct ListResult {
    pods: usize,
    response_bytes: usize,
    runs: usize,
    mean_ms: f64,
    min_ms: f64,
    max_ms: f64,
}

#[derive(Serialize)]
struct WatchResult {
    watchers: usize,
    rate: u32,
    pods_created: u64,
    expected_events: u64,
    received_events: u64,
    delivery: Latency,
    create: Latency,
}

#[derive(Serialize)]
struct MemoryResult {
    pods: usize,
    json_bytes: u64,
    rss_before_kib: u64,
    rss_after_kib: u64,
    rss_per_pod_bytes: f64,
    json_per_pod_bytes: f64,
    ratio: f64,
    seconds: f64,
}

/// A realistic pod (~2 KiB of JSON): labels, annotations, one container with image, ports,
/// env, resources, probes and a volume mount.
fn pod_json(ns: &str, name: &str, sent_us: Option<u64>) -> Bytes {
    let mut annotations = serde_json::json!({
        "kubectl.kubernetes.io/default-container": "app",
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9090",
    });
    if let Some(us) = sent_us {
        annotations["keks-bench/sent-us"] = us.to_string().into();
    }
    let pod = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {
                "app.kubernetes.io/name": "bench-web",
                "app.kubernetes.io/instance": "bench-web-prod",
                "app.kubernetes.io/component": "frontend",
                "app.kubernetes.io/part-of": "keks-bench",
                "tier": "web",
                "pod-template-hash": "7d9c6b5f48",
            },
            "annotations": annotations,
        },
        "spec": {
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "serviceAccountName": "default",
            "containers": [{
                "name": "app",
                "image": "public.ecr.aws/nginx/nginx:1.27.3-alpine-slim",
                "imagePullPolicy": "IfNotPresent",
                "command": ["/docker-entrypoint.sh"],
                "args": ["nginx", "-g", "daemon off;"],
                "ports": [
                    {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                ],
                "env": [
                    {"name": "APP_ENV", "value": "production"},
                    {"name": "APP_REGION", "value": "us-west-2"},
                    {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "LOG_FORMAT", "value": "json"},
                    {"name": "DATABASE_URL", "value": "postgres://app@db.bench.svc.cluster.local:5432/app"},
                    {"name": "CACHE_URL", "value": "redis://cache.bench.svc.cluster.local:6379/0"},
                    {"name": "FEATURE_FLAGS", "value": "new-checkout,fast-search,dark-mode"},
                    {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-collector.observability:4317"},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                ],
                "resources": {
                    "requests": {"cpu": "250m", "memory": "256Mi"},
                    "limits": {"cpu": "1", "memory": "512Mi"},
                },
                "readinessProbe": {
                    "httpGet": {"path": "/healthz", "port": 8080},
                    "initialDelaySeconds": 5,
                    "periodSeconds": 10,
                },
                "livenessProbe": {
                    "httpGet": {"path": "/livez", "port": 8080},
                    "initialDelaySeconds": 15,
                    "periodSeconds": 20,
                },
                "volumeMounts": [{"name": "config", "mountPath": "/etc/app", "readOnly": true}],
            }],
            "volumes": [{"name": "config", "configMap": {"name": "bench-web-config"}}],
        },
    });
    Bytes::from(serde_json::to_vec(&pod).expect("pod serializes"))
}

fn pods_path(ns: &str) -> String {
    format!("/api/v1/namespaces/{ns}/pods")
}

async fn ensure_namespace(conn: &mut Conn, ns: &str) -> anyhow::Result<()> {
    let body =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    let resp = conn
        .send(
            Method::POST,
            "/api/v1/namespaces",
            Some(Bytes::from(serde_json::to_vec(&body)?)),
        )
        .await?;
    let status = resp.status();
    let bytes = resp.into_body().collect().await?.to_bytes();
    if status != StatusCode::CREATED && status != StatusCode::CONFLICT {
        bail!(
            "creating namespace {ns}: {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    Ok(())
}

async fn connections(endpoint: &Arc<Endpoint>, n: usize) -> anyhow::Result<Vec<Conn>> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(endpoint.connect().await?);
    }
    Ok(conns)
}

/// Runs `clients` loops of `op(client, seq)` for `duration` (or until `limit` ops in all);
/// returns ops done, elapsed time and the merged latency histogram.
async fn run_clients<F, Fut>(
    conns: &[Conn],
    duration: Option<Duration>,
    limit: Option<u64>,
    op: F,
) -> anyhow::Result<(u64, Duration, Histogram<u64>)>
where
    F: Fn(Conn, usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let start = timing::now();
    let deadline = duration.map(|d| start + d);
    let mut tasks = Vec::new();
    for (client, conn) in conns.iter().enumerate() {
        let (op, stop, next, conn) = (op.clone(), stop.clone(), next.clone(), conn.clone());
        tasks.push(tokio::spawn(async move {
            let mut hist = stats::histogram();
            loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if limit.is_some_and(|l| seq >= l) {
                    break;
                }
                let t = timing::now();
                op(conn.clone(), client, seq).await?;
                let now = timing::now();
                stats::record(&mut hist, now.saturating_duration_since(t));
                if deadline.is_some_and(|d| now >= d) {
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
            }
            anyhow::Ok(hist)
        }));
    }
    let mut hist = stats::histogram();
    for task in tasks {
        hist.add(task.await??)?;
    }
    let elapsed = timing::since(start);
    Ok((hist.len(), elapsed, hist))
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("bad VmRSS")?
        .parse()?)
}

/// Creates `count` pods named `{prefix}{i}` in `ns` with `conns` clients; returns the JSON
/// bytes sent and the elapsed time.
async fn bulk_create(
    conns: &[Conn],
    ns: &str,
    prefix: &str,
    count: usize,
) -> anyhow::Result<(u64, Duration)> {
    let sent = Arc::new(AtomicU64::new(0));
    let (ns2, prefix, sent2) = (ns.to_string(), prefix.to_string(), sent.clone());
    let (_, elapsed, _) = run_clients(conns, None, Some(count as u64), move |mut conn, _, seq| {
        let body = pod_json(&ns2, &format!("{prefix}{seq}"), None);
        sent2.fetch_add(body.len() as u64, Ordering::Relaxed);
        let path = pods_path(&ns2);
        async move {
            conn.call(Method::POST, &path, Some(body), StatusCode::CREATED)
                .await
                .map(drop)
        }
    })
    .await?;
    Ok((sent.load(Ordering::Relaxed), elapsed))
}

pub async fn run(args: ApiserverArgs) -> anyhow::Result<()> {
    let endpoint = Endpoint::from_kubeconfig(&args.kubeconfig)?;
    let duration = Duration::from_secs(args.duration_secs.max(1));
    let mut report = Report {
        pod_json_bytes: pod_json("bench-create", "c32-123456", None).len(),
        ..Default::default()
    };
    eprintln!("pod JSON: {} bytes", report.pod_json_bytes);
    let mut admin = endpoint.connect().await?;
    for ns in ["bench-create", "bench-list", "bench-watch", "bench-memory"] {
        ensure_namespace(&mut admin, ns).await?;
    }

    // Creates, then gets of the pods the creates made.
    let mut created: Vec<u64> = Vec::new();
    for &clients in &args.clients {
        let conns = connections(&endpoint, clients).await?;
        eprintln!("creates: {clients} clients for {}s ...", duration.as_secs());
        let (ops, elapsed, hist) =
            run_clients(&conns, Some(duration), None, move |mut conn, _, seq| {
                let body = pod_json("bench-create", &format!("c{clients}-{seq}"), None);
                async move {
                    conn.call(
                        Method::POST,
                        &pods_path("bench-create"),
                        Some(body),
                        StatusCode::CREATED,
                    )
                    .await
                    .map(drop)
                }
            })
            .await?;
        let result = RateResult {
            clients,
            ops,
            per_sec: ops as f64 / elapsed.as_secs_f64(),
            latency: Latency::of(&hist),
        };
        print_rate("creates", &result);
        report.creates.push(result);
        created.push(ops);
    }
    let existing = Arc::new(
        args.clients
            .iter()
            .zip(&created)
            .flat_map(|(&c, &n)| (0..n).map(move |i| format!("c{c}-{i}")))
            .collect::<Vec<_>>(),
    );
    for &clients in &args.clients {
        let conns = connections(&endpoint, clients).await?;
        eprintln!("gets: {clients} clients for {}s ...", duration.as_secs());
        let names = existing.clone();
        let (ops, elapsed, hist) =
            run_clients(&conns, Some(duration), None, move |mut conn, _, seq| {
                // A multiplicative hash spreads the reads over every pod.
                let i = (seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as usize % names.len();
                let path = format!("{}/{}", pods_path("bench-create"), names[i]);
                async move {
                    conn.call(Method::GET, &path, None, StatusCode::OK)
                        .await
                        .map(drop)
                }
            })
            .await?;
        let result = RateResult {
            clients,
            ops,
            per_sec: ops as f64 / elapsed.as_secs_f64(),
            latency: Latency::of(&hist),
        };
        print_rate("gets", &result);
        report.gets.push(result);
    }

    // LIST of list_pods pods in one namespace.
    if args.list_pods > 0 {
        let conns = connections(&endpoint, 32).await?;
        eprintln!("list: creating {} pods ...", args.list_pods);
        bulk_create(&conns, "bench-list", "p", args.list_pods).await?;
        let mut times = Vec::new();
        let mut response_bytes = 0;
        for run in 0..=args.list_runs {
            let t = timing::now();
            let body = admin
                .call(Method::GET, &pods_path("bench-list"), None, StatusCode::OK)
                .await?;
            let elapsed = timing::since(t);
            let list: serde_json::Value = serde_json::from_slice(&body)?;
            let items = list["items"].as_array().map_or(0, Vec::len);
            if items != args.list_pods {
                bail!("LIST returned {items} pods, expected {}", args.list_pods);
            }
            response_bytes = body.len();
            if run > 0 {
                // Run 0 warms up.
                times.push(elapsed.as_secs_f64() * 1e3);
            }
        }
        let result = ListResult {
            pods: args.list_pods,
            response_bytes,
            runs: times.len(),
            mean_ms: times.iter().sum::<f64>() / times.len() as f64,
            min_ms: times.iter().copied().fold(f64::MAX, f64::min),
            max_ms: times.iter().copied().fold(0.0, f64::max),
        };
        eprintln!(
            "  LIST {} pods ({} bytes): mean {:.1} ms, min {:.1} ms, max {:.1} ms",
            result.pods, result.response_bytes, result.mean_ms, result.min_ms, result.max_ms
        );
        report.list = Some(result);
    }

    if args.watchers > 0 {
        report.watch = Some(watch_fanout(&endpoint, &args).await?);
    }

    if args.memory_pods > 0 {
        let pid = args
            .pid
            .context("--pid is needed for the memory measurement")?;
        let conns = connections(&endpoint, 32).await?;
        let before = rss_kib(pid)?;
        eprintln!(
            "memory: VmRSS {before} KiB; creating {} pods ...",
            args.memory_pods
        );
        let (json_bytes, elapsed) =
            bulk_create(&conns, "bench-memory", "m", args.memory_pods).await?;
        // Let background work (compaction, snapshots) settle before reading RSS.
        timing::sleep(Duration::from_secs(2)).await;
        let after = rss_kib(pid)?;
        let pods = args.memory_pods;
        let rss_per_pod = (after.saturating_sub(before) * 1024) as f64 / pods as f64;
        let json_per_pod = json_bytes as f64 / pods as f64;
        let result = MemoryResult {
            pods,
            json_bytes,
            rss_before_kib: before,
            rss_after_kib: after,
            rss_per_pod_bytes: rss_per_pod,
            json_per_pod_bytes: json_per_pod,
            ratio: rss_per_pod / json_per_pod,
            seconds: elapsed.as_secs_f64(),
        };
        eprintln!(
            "  {pods} pods in {:.1}s ({}), VmRSS {before} -> {after} KiB: {rss_per_pod:.0} B/pod vs {json_per_pod:.0} B JSON/pod = {:.2}x",
            result.seconds,
            human_rate(pods as f64 / result.seconds),
            result.ratio
        );
        report.memory = Some(result);
    }

    let json = serde_json::to_string_pretty(&report)?;
    if let Some(path) = &args.json {
        std::fs::write(path, &json)?;
    }
    println!("{json}");
    Ok(())
}

fn print_rate(what: &str, r: &RateResult) {
    eprintln!(
        "  {what}: {} clients: {} ({} ops), p50 {}, p99 {}, max {}",
        r.clients,
        human_rate(r.per_sec),
        r.ops,
        human_us(r.latency.p50_us),
        human_us(r.latency.p99_us),
        human_us(r.latency.max_us)
    );
}

/// 100 watchers from the LIST's resourceVersion; a writer creates pods at a steady rate with
/// the send time (µs since `base`) in an annotation; each watcher records now − send time.
async fn watch_fanout(
    endpoint: &Arc<Endpoint>,
    args: &ApiserverArgs,
) -> anyhow::Result<WatchResult> {
    let ns = "bench-watch";
    let mut admin = endpoint.connect().await?;
    let list = admin
        .call(Method::GET, &pods_path(ns), None, StatusCode::OK)
        .await?;
    let list: serde_json::Value = serde_json::from_slice(&list)?;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .context("list has no resourceVersion")?
        .to_string();
    let total = u64::from(args.watch_rate) * args.watch_secs;
    let base = timing::now();
    eprintln!(
        "watch: {} watchers, {} creates/s for {}s ...",
        args.watchers, args.watch_rate, args.watch_secs
    );
    let mut watchers = Vec::new();
    for _ in 0..args.watchers {
        let mut conn = endpoint.connect().await?;
        let resp = conn
            .send(
                Method::GET,
                &format!("{}?watch=1&resourceVersion={rv}", pods_path(ns)),
                None,
            )
            .await?;
        if resp.status() != StatusCode::OK {
            bail!("watch: {}", resp.status());
        }
        let mut body = resp.into_body();
        watchers.push(tokio::spawn(async move {
            let _conn = conn;
            let mut hist = stats::histogram();
            let mut buf = BytesMut::new();
            let mut seen = 0u64;
            while seen < total {
                let frame = tokio::select! {
                    f = body.frame() => f,
                    _ = timing::sleep(Duration::from_secs(10)) => break,
                };
                let Some(frame) = frame else { break };
                let Ok(data) = frame?.into_data() else {
                    continue;
                };
                buf.extend_from_slice(&data);
                while let Some(i) = buf.iter().position(|&b| b == b'\n') {
                    let line = buf.split_to(i + 1);
                    let now_us = timing::since(base).as_micros() as u64;
                    let event: serde_json::Value = serde_json::from_slice(&line)?;
                    if event["type"] != "ADDED" {
                        continue;
                    }
                    if let Some(sent) = event["object"]["metadata"]["annotations"]
                        ["keks-bench/sent-us"]
                        .as_str()
                        .and_then(|s| s.parse::<u64>().ok())
                    {
                        stats::record(
                            &mut hist,
                            Duration::from_micros(now_us.saturating_sub(sent)),
                        );
                        seen += 1;
                    }
                }
            }
            anyhow::Ok(hist)
        }));
    }
    // The writer: one create every 1/rate s on a fixed schedule, each on its own task so a
    // slow create does not delay the next.
    let period = Duration::from_secs_f64(1.0 / f64::from(args.watch_rate.max(1)));
    let start = timing::now();
    let mut creates = Vec::new();
    for i in 0..total {
        let at = start + period * u32::try_from(i).unwrap_or(u32::MAX);
        let now = timing::now();
        if at > now {
            timing::sleep(at.saturating_duration_since(now)).await;
        }
        let mut conn = admin.clone();
        creates.push(tokio::spawn(async move {
            let sent = timing::since(base).as_micros() as u64;
            let t = timing::now();
            let body = pod_json(ns, &format!("w{i}"), Some(sent));
            conn.call(
                Method::POST,
                &pods_path(ns),
                Some(body),
                StatusCode::CREATED,
            )
            .await?;
            anyhow::Ok(timing::since(t))
        }));
    }
    let mut create_hist = stats::histogram();
    for c in creates {
        stats::record(&mut create_hist, c.await??);
    }
    let mut delivery = stats::histogram();
    for w in watchers {
        delivery.add(w.await??)?;
    }
    let result = WatchResult {
        watchers: args.watchers,
        rate: args.watch_rate,
        pods_created: total,
        expected_events: total * args.watchers as u64,
        received_events: delivery.len(),
        delivery: Latency::of(&delivery),
        create: Latency::of(&create_hist),
    };
    eprintln!(
        "  delivered {}/{} events: p50 {}, p99 {}, max {}; create p50 {}, p99 {}",
        result.received_events,
        result.expected_events,
        human_us(result.delivery.p50_us),
        human_us(result.delivery.p99_us),
        human_us(result.delivery.max_us),
        human_us(result.create.p50_us),
        human_us(result.create.p99_us)
    );
    Ok(result)
}
