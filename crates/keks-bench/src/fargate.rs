//! The Fargate scale benchmark (issue 6): in a cluster whose `default` namespace a Fargate
//! profile selects (`keks create cluster NAME --fargate`), one Deployment of N replicas is
//! created and timed until every pod is Running on a micro-VM node of its own; the server's
//! resident memory before and after gives the memory per Fargate pod (pod + node + what
//! keks keeps for them). Run by scripts/bench-fargate.sh.

use std::path::PathBuf;

use anyhow::{bail, Context};
use bytes::Bytes;
use http::{Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};

use crate::apiserver_client::{Conn, Endpoint};
use crate::eks_phases::memory;
use crate::timing::{now, since, sleep, Duration};

#[derive(clap::Args)]
pub struct FargateArgs {
    /// Kubeconfig of the cluster (its current context), with a bearer token.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// Replicas of the Deployment.
    #[arg(long, default_value_t = 10_000)]
    replicas: u64,
    /// Namespace a Fargate profile selects.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Pid of keks, for its resident memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Serialize, Default)]
struct FargateReport {
    replicas: u64,
    /// Deployment created → every replica exists / is Running, seconds.
    all_created_secs: Option<f64>,
    all_running_secs: Option<f64>,
    /// Fargate nodes when all pods ran.
    fargate_nodes: u64,
    rss_before_kib: Option<u64>,
    rss_after_kib: Option<u64>,
    /// (after − before) / replicas.
    rss_per_pod_bytes: Option<f64>,
}

/// How many of the Deployment's pods are Running.
async fn running_pods(conn: &mut Conn, ns: &str) -> anyhow::Result<u64> {
    let path = format!("/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dfargate-bench");
    let body = conn.call(Method::GET, &path, None, StatusCode::OK).await?;
    let list: Value = serde_json::from_slice(&body)?;
    let running = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["status"]["phase"] == "Running")
        .count();
    Ok(running as u64)
}

/// The Deployment's replica counts from its status: (replicas, ready).
async fn deployment_status(conn: &mut Conn, ns: &str) -> anyhow::Result<(u64, u64)> {
    let path = format!("/apis/apps/v1/namespaces/{ns}/deployments/fargate-bench");
    let body = conn.call(Method::GET, &path, None, StatusCode::OK).await?;
    let d: Value = serde_json::from_slice(&body)?;
    let n = |k: &str| d["status"][k].as_u64().unwrap_or(0);
    Ok((n("replicas"), n("readyReplicas")))
}

pub async fn run(args: FargateArgs) -> anyhow::Result<()> {
    let endpoint = Endpoint::from_kubeconfig(&args.kubeconfig)?;
    let mut conn = endpoint.connect().await?;
    let ns = args.namespace.clone();
    let mut report = FargateReport {
        replicas: args.replicas,
        ..Default::default()
    };
    if let Some(pid) = args.server_pid {
        report.rss_before_kib = Some(memory(pid)?.rss_kib);
    }
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "fargate-bench", "namespace": ns},
        "spec": {"replicas": args.replicas,
                 "selector": {"matchLabels": {"app": "fargate-bench"}},
                 "template": {"metadata": {"labels": {"app": "fargate-bench"}},
                              "spec": {"containers": [{"name": "app", "image": "nginx",
                                  "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}]}}}
    });
    let start = now();
    conn.call(
        Method::POST,
        &format!("/apis/apps/v1/namespaces/{ns}/deployments"),
        Some(Bytes::from(serde_json::to_vec(&deployment)?)),
        StatusCode::CREATED,
    )
    .await
    .context("creating the Deployment")?;
    eprintln!(
        "fargate: Deployment of {} replicas created; waiting ...",
        args.replicas
    );
    let deadline = Duration::from_secs(args.timeout_secs);
    let secs = |d: Duration| d.as_secs_f64();
    // The Deployment's status is a cheap poll; the pod list (10,000 objects) is taken only
    // once the status says every replica is ready, to confirm on the pods themselves.
    let mut last_print = now();
    loop {
        let elapsed = since(start);
        if elapsed > deadline {
            bail!("timed out after {}s", args.timeout_secs);
        }
        let (replicas, ready) = deployment_status(&mut conn, &ns).await?;
        if replicas >= args.replicas && report.all_created_secs.is_none() {
            report.all_created_secs = Some(secs(elapsed));
        }
        if since(last_print) > Duration::from_secs(2) {
            eprintln!(
                "  {:.1}s: {replicas} replicas, {ready} ready",
                secs(elapsed)
            );
            last_print = now();
        }
        if ready >= args.replicas && running_pods(&mut conn, &ns).await? >= args.replicas {
            report.all_running_secs = Some(secs(since(start)));
            break;
        }
        sleep(Duration::from_millis(20)).await;
    }
    if let Some(pid) = args.server_pid {
        // Let in-flight status writes settle before reading memory.
        sleep(Duration::from_secs(1)).await;
        let after = memory(pid)?.rss_kib;
        report.rss_after_kib = Some(after);
        if let Some(before) = report.rss_before_kib {
            report.rss_per_pod_bytes =
                Some((after.saturating_sub(before) as f64 * 1024.0) / args.replicas as f64);
        }
    }
    let nodes = conn
        .call(
            Method::GET,
            "/api/v1/nodes?labelSelector=eks.amazonaws.com%2Fcompute-type%3Dfargate",
            None,
            StatusCode::OK,
        )
        .await?;
    let nodes: Value = serde_json::from_slice(&nodes)?;
    report.fargate_nodes = nodes["items"].as_array().map_or(0, |a| a.len() as u64);

    println!("Fargate scale, {} replicas:", report.replicas);
    let show = |label: &str, v: Option<f64>| match v {
        Some(s) => println!("  {label:<40} {s:>9.2} s"),
        None => println!("  {label:<40} {:>9}", "-"),
    };
    show(
        "Deployment created -> all pods exist",
        report.all_created_secs,
    );
    show(
        "Deployment created -> all pods Running",
        report.all_running_secs,
    );
    println!("  {:<40} {:>9}", "Fargate nodes", report.fargate_nodes);
    if let (Some(b), Some(a)) = (report.rss_before_kib, report.rss_after_kib) {
        println!(
            "  {:<40} {:.1} -> {:.1} MiB",
            "VmRSS",
            b as f64 / 1024.0,
            a as f64 / 1024.0
        );
    }
    if let Some(per) = report.rss_per_pod_bytes {
        println!(
            "  {:<40} {:>9.1} KiB",
            "VmRSS growth per Fargate pod",
            per / 1024.0
        );
    }
    let met = |ok: bool| if ok { "MET" } else { "MISSED" };
    if let Some(s) = report.all_running_secs {
        println!("target  all Running < 3 s: {s:.2} s -> {}", met(s < 3.0));
    }
    if let Some(per) = report.rss_per_pod_bytes {
        println!(
            "target  < 20 KiB per Fargate pod: {:.1} KiB -> {}",
            per / 1024.0,
            met(per < 20.0 * 1024.0)
        );
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
