//! The phases of `keks-bench eks` that run against any EKS endpoint (keks or moto): the
//! account and subnets to create clusters with, concurrent CreateCluster then polling until
//! every cluster is ACTIVE, fixed-duration DescribeCluster and ListClusters runs over
//! pre-signed requests, full ListClusters walks, and the server's resident memory.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::aws_client::{encode, xml_text, xml_texts, AwsConn, AwsEndpoint, SignedRequest};
use crate::eks_report::{CreateResult, ListResult, Memory, RateResult};
use crate::stats::{self, Latency};
use crate::timing::{self, Duration};

/// What CreateCluster needs besides a name: a role ARN in the caller's account and subnets
/// of one VPC in at least two zones.
pub struct ClusterSpec {
    pub role_arn: String,
    pub subnet_ids: Vec<String>,
}

impl ClusterSpec {
    pub fn create_body(&self, name: &str) -> Value {
        json!({
            "name": name,
            "roleArn": self.role_arn,
            "resourcesVpcConfig": {"subnetIds": self.subnet_ids},
        })
    }
}

/// The account (STS GetCallerIdentity), the cluster role (IAM CreateRole) and the subnets of the first VPC EC2
/// DescribeSubnets lists, unless subnets are given.
pub async fn cluster_spec(
    endpoint: &Arc<AwsEndpoint>,
    subnets: &[String],
) -> anyhow::Result<ClusterSpec> {
    let mut conn = endpoint.connect().await?;
    let identity = conn
        .expect(
            &endpoint.sign_query(
                "sts",
                &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
            ),
            StatusCode::OK,
        )
        .await
        .context("STS GetCallerIdentity")?;
    let identity = String::from_utf8_lossy(&identity);
    let account = xml_text(&identity, "Account")
        .context("GetCallerIdentity returned no Account")?
        .to_string();
    // EKS requires the cluster role to exist (moto does not check; creating it is harmless).
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let (status, _) = conn
        .call(&endpoint.sign_query(
            "iam",
            &[
                ("Action", "CreateRole"),
                ("Version", "2010-05-08"),
                ("RoleName", "keks-bench-cluster"),
                ("AssumeRolePolicyDocument", trust),
            ],
        ))
        .await
        .context("IAM CreateRole")?;
    if !(status.is_success() || status == StatusCode::CONFLICT) {
        bail!("IAM CreateRole keks-bench-cluster answered {status}");
    }
    let subnet_ids = if subnets.is_empty() {
        let xml = conn
            .expect(
                &endpoint.sign_query(
                    "ec2",
                    &[("Action", "DescribeSubnets"), ("Version", "2016-11-15")],
                ),
                StatusCode::OK,
            )
            .await
            .context("EC2 DescribeSubnets")?;
        let xml = String::from_utf8_lossy(&xml);
        // Each subnet has one subnetId and one vpcId, in order.
        let pairs: Vec<(&str, &str)> = xml_texts(&xml, "subnetId")
            .zip(xml_texts(&xml, "vpcId"))
            .collect();
        let Some(&(_, vpc)) = pairs.first() else {
            bail!("EC2 DescribeSubnets listed no subnets; pass --subnet-ids");
        };
        pairs
            .iter()
            .filter(|(_, v)| *v == vpc)
            .map(|(s, _)| s.to_string())
            .collect()
    } else {
        subnets.to_vec()
    };
    Ok(ClusterSpec {
        role_arn: format!("arn:aws:iam::{account}:role/keks-bench-cluster"),
        subnet_ids,
    })
}

pub async fn connections(endpoint: &Arc<AwsEndpoint>, n: usize) -> anyhow::Result<Vec<AwsConn>> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(endpoint.connect().await?);
    }
    Ok(conns)
}

pub fn describe_request(endpoint: &AwsEndpoint, name: &str) -> SignedRequest {
    endpoint.sign_json(
        "eks",
        Method::GET,
        &format!("/clusters/{}", encode(name)),
        "",
        None,
    )
}

/// `cluster.status` of a DescribeCluster response.
pub fn status_of(body: &[u8]) -> anyhow::Result<Value> {
    let v: Value = serde_json::from_slice(body).context("DescribeCluster response")?;
    Ok(v["cluster"].clone())
}

/// Creates every cluster in `names` with `concurrency` connections, then polls
/// DescribeCluster until each is ACTIVE.
pub async fn create_clusters(
    endpoint: &Arc<AwsEndpoint>,
    concurrency: usize,
    spec: Arc<ClusterSpec>,
    names: Arc<Vec<String>>,
) -> anyhow::Result<CreateResult> {
    let conns = connections(endpoint, concurrency.min(names.len()).max(1)).await?;
    let start = timing::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for mut conn in conns {
        let (endpoint, spec, names, next) =
            (endpoint.clone(), spec.clone(), names.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut hist = stats::histogram();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(name) = names.get(i) else { break };
                let req = endpoint.sign_json(
                    "eks",
                    Method::POST,
                    "/clusters",
                    "",
                    Some(&spec.create_body(name)),
                );
                let t = timing::now();
                conn.expect(&req, StatusCode::OK)
                    .await
                    .with_context(|| format!("CreateCluster {name}"))?;
                stats::record(&mut hist, timing::since(t));
            }
            anyhow::Ok((conn, hist))
        }));
    }
    let mut hist = stats::histogram();
    let mut conns = Vec::new();
    for task in tasks {
        let (conn, h) = task.await??;
        hist.add(h)?;
        conns.push(conn);
    }
    let created = timing::since(start);

    // Poll until ACTIVE: each connection takes the next cluster and describes it until it is.
    let next = Arc::new(AtomicUsize::new(0));
    let not_active = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for mut conn in conns {
        let (endpoint, names, next, not_active) = (
            endpoint.clone(),
            names.clone(),
            next.clone(),
            not_active.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(name) = names.get(i) else { break };
                loop {
                    let body = conn
                        .expect(&describe_request(&endpoint, name), StatusCode::OK)
                        .await?;
                    let cluster = status_of(&body)?;
                    match cluster["status"].as_str() {
                        Some("ACTIVE") => break,
                        Some("CREATING") => {
                            not_active.fetch_add(1, Ordering::Relaxed);
                            timing::sleep(Duration::from_millis(5)).await;
                        }
                        other => bail!("cluster {name} is {other:?}, not CREATING or ACTIVE"),
                    }
                }
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let all_active = timing::since(start);
    Ok(CreateResult {
        clusters: names.len(),
        seconds: created.as_secs_f64(),
        per_sec: names.len() as f64 / created.as_secs_f64(),
        latency: Latency::of(&hist),
        all_active_secs: all_active.as_secs_f64(),
        polls_not_active: not_active.load(Ordering::Relaxed),
    })
}

/// How a fixed-duration run picks the next of its pre-signed requests.
#[derive(Clone, Copy)]
pub enum Pick {
    /// Spread by a multiplicative hash of the sequence number: every request about as
    /// often, in no useful order.
    Random,
    /// In turn.
    RoundRobin,
}

/// Sends `requests` (each must answer 200) on every connection back to back for
/// `duration`.
pub async fn drive(
    conns: Vec<AwsConn>,
    duration: Duration,
    requests: Arc<Vec<SignedRequest>>,
    pick: Pick,
) -> anyhow::Result<RateResult> {
    let next = Arc::new(AtomicU64::new(0));
    let start = timing::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for mut conn in conns {
        let (next, requests) = (next.clone(), requests.clone());
        tasks.push(tokio::spawn(async move {
            let mut hist = stats::histogram();
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                let i = match pick {
                    Pick::Random => (seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as usize,
                    Pick::RoundRobin => seq as usize,
                } % requests.len();
                let t = timing::now();
                conn.expect(&requests[i], StatusCode::OK).await?;
                let now = timing::now();
                stats::record(&mut hist, now.saturating_duration_since(t));
                if now >= deadline {
                    break;
                }
            }
            anyhow::Ok((hist, conn.reconnects))
        }));
    }
    let mut hist = stats::histogram();
    let mut reconnects = 0;
    for task in tasks {
        let (h, r) = task.await??;
        hist.add(h)?;
        reconnects += r;
    }
    let elapsed = timing::since(start);
    Ok(RateResult {
        requests: hist.len(),
        seconds: elapsed.as_secs_f64(),
        per_sec: hist.len() as f64 / elapsed.as_secs_f64(),
        latency: Latency::of(&hist),
        reconnects,
    })
}

/// The query of one ListClusters page.
fn list_query(max_results: Option<u32>, token: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(m) = max_results {
        parts.push(format!("maxResults={m}"));
    }
    if let Some(t) = token {
        parts.push(format!("nextToken={}", encode(t)));
    }
    parts.join("&")
}

/// One full ListClusters walk, page after page, each request signed as it is sent: the
/// names listed and the `nextToken` of every page after the first.
pub async fn walk(
    endpoint: &AwsEndpoint,
    conn: &mut AwsConn,
    max_results: Option<u32>,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let mut names = Vec::new();
    let mut tokens = Vec::new();
    loop {
        let query = list_query(max_results, tokens.last().map(String::as_str));
        let req = endpoint.sign_json("eks", Method::GET, "/clusters", &query, None);
        let body = conn.expect(&req, StatusCode::OK).await?;
        let page: Value = serde_json::from_slice(&body).context("ListClusters response")?;
        let clusters = page["clusters"]
            .as_array()
            .context("ListClusters returned no clusters list")?;
        names.extend(
            clusters
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string),
        );
        match page["nextToken"].as_str() {
            Some(t) if !t.is_empty() => {
                if tokens.len() > 100_000 {
                    bail!("ListClusters never ends");
                }
                tokens.push(t.to_string());
            }
            _ => return Ok((names, tokens)),
        }
    }
}

/// ListClusters: one walk to learn the pages, `duration` of pages requested round-robin on
/// every connection, then `walks` timed full walks on one connection.
pub async fn list_clusters(
    endpoint: &Arc<AwsEndpoint>,
    concurrency: usize,
    duration: Duration,
    max_results: Option<u32>,
    walks: usize,
    expect_at_least: usize,
) -> anyhow::Result<ListResult> {
    let mut conn = endpoint.connect().await?;
    let (names, tokens) = walk(endpoint, &mut conn, max_results).await?;
    if names.len() < expect_at_least {
        bail!(
            "ListClusters listed {} clusters, expected at least {expect_at_least}",
            names.len()
        );
    }
    let pages: Vec<SignedRequest> = std::iter::once(None)
        .chain(tokens.iter().map(|t| Some(t.as_str())))
        .map(|t| {
            endpoint.sign_json(
                "eks",
                Method::GET,
                "/clusters",
                &list_query(max_results, t),
                None,
            )
        })
        .collect();
    let pages_per_walk = pages.len();
    let rate = drive(
        connections(endpoint, concurrency).await?,
        duration,
        Arc::new(pages),
        Pick::RoundRobin,
    )
    .await?;
    let mut times = Vec::with_capacity(walks);
    for _ in 0..walks {
        let t = timing::now();
        let (listed, _) = walk(endpoint, &mut conn, max_results).await?;
        times.push(timing::since(t).as_secs_f64() * 1e3);
        if listed.len() != names.len() {
            bail!(
                "a walk listed {} clusters, the first {}",
                listed.len(),
                names.len()
            );
        }
    }
    let n = times.len().max(1) as f64;
    Ok(ListResult {
        max_results,
        pages_per_walk,
        clusters_listed: names.len(),
        pages: rate,
        walks: times.len(),
        walk_mean_ms: times.iter().sum::<f64>() / n,
        walk_min_ms: times.iter().copied().fold(f64::INFINITY, f64::min),
        walk_max_ms: times.iter().copied().fold(0.0, f64::max),
    })
}

/// VmRSS and VmHWM of a process.
pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("/proc/{pid}/status has no {name}"))?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .with_context(|| format!("bad {name} line"))?
            .parse()?)
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// `/proc/loadavg`'s three load averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
