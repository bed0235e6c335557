//! `keks-bench eks`: the EKS API as BENCHMARKS.md reports it — CreateCluster of N clusters
//! until all are ACTIVE, DescribeCluster and ListClusters requests/s with C connections,
//! full ListClusters walks, the server's resident memory, and (keks only) CreateCluster →
//! ACTIVE → first 200 from the cluster's Kubernetes API. With `--compare-endpoint` the same
//! phases (all but the first request) run against a second server (moto) afterwards, and
//! the two are shown side by side (run by scripts/bench-eks.sh).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use crate::aws_client::AwsEndpoint;
use crate::eks_phases::{self, ClusterSpec, Pick};
use crate::eks_report::{EksReport, ServerReport};
use crate::timing::{self, Duration};
use crate::{eks_first, stats};

#[derive(clap::Args)]
pub struct EksArgs {
    /// The AWS endpoint of the server to benchmark (keks: AWS_ENDPOINT_URL of its env.sh).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint: String,
    /// Pid of the server process, for its resident memory (VmRSS, VmHWM).
    #[arg(long)]
    server_pid: Option<u32>,
    /// The server's name in the report.
    #[arg(long, default_value = "keks")]
    name: String,
    /// A second server (moto) to run the same phases against afterwards, side by side.
    #[arg(long)]
    compare_endpoint: Option<String>,
    /// Pid of the second server process.
    #[arg(long)]
    compare_pid: Option<u32>,
    /// The second server's name in the report.
    #[arg(long, default_value = "moto")]
    compare_name: String,
    /// Subnets for the second server's CreateCluster (moto checks none): giving them keeps
    /// moto from loading its EC2 backend (~115 MiB) just to answer DescribeSubnets.
    #[arg(long, value_delimiter = ',')]
    compare_subnet_ids: Vec<String>,
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    access_key: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_key: String,
    #[arg(long, env = "AWS_DEFAULT_REGION", default_value = "us-east-1")]
    region: String,
    /// Clusters created (concurrently) before the read runs; 0 skips the create, read and
    /// memory phases (to time only the first request).
    #[arg(long, default_value_t = 1000)]
    clusters: usize,
    /// Connections (each one request in flight) of the create and read runs.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds of each read run (DescribeCluster, ListClusters).
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// `maxResults` of ListClusters; the service's default page size (100) unless given.
    #[arg(long)]
    page_size: Option<u32>,
    /// Timed full ListClusters walks.
    #[arg(long, default_value_t = 20)]
    walks: usize,
    /// Runs of CreateCluster → ACTIVE → first Kubernetes API request (first server only;
    /// 0 skips it).
    #[arg(long, default_value_t = 0)]
    first_request: usize,
    /// Subnets for CreateCluster (default: those of the first VPC EC2 DescribeSubnets lists).
    #[arg(long, value_delimiter = ',')]
    subnet_ids: Vec<String>,
    /// Cluster names are `{prefix}-{i}` (and `{prefix}-first-{i}`).
    #[arg(long, default_value = "bench")]
    name_prefix: String,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

struct Target<'a> {
    name: &'a str,
    url: &'a str,
    pid: Option<u32>,
    subnet_ids: &'a [String],
    first_request: usize,
}

pub async fn run(args: EksArgs) -> anyhow::Result<()> {
    let mut report = EksReport {
        started: keks_aws::sigv4::amz_date_of(timing::wall()),
        clusters: args.clusters,
        concurrency: args.concurrency.max(1),
        duration_secs: args.duration_secs.max(1),
        loadavg_start: eks_phases::loadavg(),
        ..Default::default()
    };
    let mut targets = vec![Target {
        name: &args.name,
        url: &args.endpoint,
        pid: args.server_pid,
        subnet_ids: &args.subnet_ids,
        first_request: args.first_request,
    }];
    if let Some(url) = &args.compare_endpoint {
        targets.push(Target {
            name: &args.compare_name,
            url,
            pid: args.compare_pid,
            subnet_ids: &args.compare_subnet_ids,
            first_request: 0,
        });
    }
    for target in targets {
        let server = bench_server(&args, &target)
            .await
            .with_context(|| format!("benchmarking {} at {}", target.name, target.url))?;
        report.servers.push(server);
    }
    report.loadavg_end = eks_phases::loadavg();
    report.evaluate_targets();
    report.print();
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

async fn bench_server(args: &EksArgs, target: &Target<'_>) -> anyhow::Result<ServerReport> {
    let endpoint = Arc::new(AwsEndpoint::new(
        target.url,
        &args.access_key,
        &args.secret_key,
        &args.region,
    )?);
    let name = target.name;
    let mut report = ServerReport {
        name: name.to_string(),
        endpoint: target.url.to_string(),
        pid: target.pid,
        ..Default::default()
    };
    let spec = Arc::new(eks_phases::cluster_spec(&endpoint, target.subnet_ids).await?);
    eprintln!(
        "{name}: role {}, subnets {}",
        spec.role_arn,
        spec.subnet_ids.join(",")
    );

    if let Some(pid) = target.pid {
        report.memory_before = Some(eks_phases::memory(pid)?);
    }
    if args.clusters > 0 {
        bench_api(args, target, &endpoint, spec.clone(), &mut report).await?;
    }
    if target.first_request > 0 {
        eprintln!(
            "{name}: CreateCluster -> ACTIVE -> first Kubernetes API request, {} runs ...",
            target.first_request
        );
        let first =
            eks_first::run(&endpoint, &spec, &args.name_prefix, target.first_request).await?;
        eprintln!(
            "  create response p50 {}; total p50 {}, p99 {}",
            stats::human_us(first.create_response.p50_us),
            stats::human_us(first.total.p50_us),
            stats::human_us(first.total.p99_us)
        );
        report.first_request = Some(first);
    }
    Ok(report)
}

/// Phases a-d: the clusters, DescribeCluster, ListClusters, memory.
async fn bench_api(
    args: &EksArgs,
    target: &Target<'_>,
    endpoint: &Arc<AwsEndpoint>,
    spec: Arc<ClusterSpec>,
    report: &mut ServerReport,
) -> anyhow::Result<()> {
    let (name, endpoint) = (target.name, endpoint.clone());
    let concurrency = args.concurrency.max(1);
    let duration = Duration::from_secs(args.duration_secs.max(1));
    let names: Arc<Vec<String>> = Arc::new(
        (0..args.clusters)
            .map(|i| format!("{}-{i:05}", args.name_prefix))
            .collect(),
    );
    eprintln!(
        "{name}: creating {} clusters with {concurrency} connections ...",
        args.clusters
    );
    let create =
        eks_phases::create_clusters(&endpoint, concurrency, spec.clone(), names.clone()).await?;
    eprintln!(
        "  creates: {} (p50 {}, p99 {}); all ACTIVE after {:.2} s",
        stats::human_rate(create.per_sec),
        stats::human_us(create.latency.p50_us),
        stats::human_us(create.latency.p99_us),
        create.all_active_secs
    );
    report.create = Some(create);
    if let Some(pid) = target.pid {
        // Let the server settle (background work after the creates) before reading.
        timing::sleep(Duration::from_secs(1)).await;
        report.memory_after_create = Some(eks_phases::memory(pid)?);
    }

    eprintln!(
        "{name}: DescribeCluster for {}s with {concurrency} connections ...",
        duration.as_secs()
    );
    let describes = Arc::new(
        names
            .iter()
            .map(|n| eks_phases::describe_request(&endpoint, n))
            .collect::<Vec<_>>(),
    );
    let describe = eks_phases::drive(
        eks_phases::connections(&endpoint, concurrency).await?,
        duration,
        describes,
        Pick::Random,
    )
    .await?;
    eprintln!(
        "  describes: {} (p50 {}, p99 {})",
        stats::human_rate(describe.per_sec),
        stats::human_us(describe.latency.p50_us),
        stats::human_us(describe.latency.p99_us)
    );
    report.describe = Some(describe);

    eprintln!(
        "{name}: ListClusters for {}s with {concurrency} connections, then {} full walks ...",
        duration.as_secs(),
        args.walks
    );
    let list = eks_phases::list_clusters(
        &endpoint,
        concurrency,
        duration,
        args.page_size,
        args.walks,
        args.clusters,
    )
    .await?;
    eprintln!(
        "  pages: {} (p50 {}, p99 {}); a walk of {} pages: mean {:.2} ms",
        stats::human_rate(list.pages.per_sec),
        stats::human_us(list.pages.latency.p50_us),
        stats::human_us(list.pages.latency.p99_us),
        list.pages_per_walk,
        list.walk_mean_ms
    );
    report.list = Some(list);
    if let Some(pid) = target.pid {
        report.memory_after_reads = Some(eks_phases::memory(pid)?);
    }

    Ok(())
}
