//! keks-bench: whole-run benchmarks. `keks-bench store` measures the embedded store the way
//! BENCHMARKS.md reports it: durable writes/s with concurrent writers (and the same workload
//! against etcd with `--etcd`), point reads/s, full prefix ranges and watch fan-out latency;
//! `keks-bench apiserver` the Kubernetes API server; `keks-bench eks` the EKS API (and moto's,
//! side by side).

mod apiserver;
mod apiserver_client;
mod aws_client;
mod eks;
mod eks_first;
mod eks_phases;
mod eks_report;
mod etcd;
mod fargate;
mod reads;
mod report;
mod stats;
mod timing;
mod watch;
mod writes;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use clap::{Parser, Subcommand};
use keks_store::{EmbeddedOptions, EmbeddedStore};

use crate::report::StoreReport;
use crate::timing::Duration;
use crate::writes::Target;

#[derive(Parser)]
#[command(name = "keks-bench", about = "Whole-run benchmarks of keks", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Benchmark the embedded store (and etcd's writes, with --etcd).
    Store(StoreArgs),
    /// Benchmark the Kubernetes API server over HTTPS (run by scripts/bench-apiserver.sh).
    Apiserver(apiserver::ApiserverArgs),
    /// Benchmark the EKS API, optionally beside another server such as moto (run by
    /// scripts/bench-eks.sh).
    Eks(eks::EksArgs),
    /// Time a many-replica Deployment onto Fargate and measure memory per Fargate pod (run
    /// by scripts/bench-fargate.sh).
    Fargate(fargate::FargateArgs),
}

#[derive(clap::Args)]
struct StoreArgs {
    /// Seconds per measured run (each writer count, each read mode, the watch run).
    #[arg(long, default_value_t = 5)]
    duration_secs: u64,
    /// Writer counts for the durable write runs.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    writers: Vec<usize>,
    /// Value size of every write.
    #[arg(long, default_value_t = 2048)]
    value_bytes: usize,
    /// Run the same write workload against this etcd (plaintext gRPC, e.g. http://127.0.0.1:2379).
    #[arg(long)]
    etcd: Option<String>,
    /// HTTP/2 connections to etcd (writers share them round-robin; at most one per writer).
    /// One, like the default of etcd's own benchmark tool, was also the fastest here.
    #[arg(long, default_value_t = 1)]
    etcd_connections: usize,
    /// Threads (and async tasks) doing point reads.
    #[arg(long, default_value_t = 2)]
    read_threads: usize,
    /// Watchers in the fan-out run.
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// Writes per second during the fan-out run.
    #[arg(long, default_value_t = 2_000)]
    watch_rate: u32,
    /// Phases to run.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "writes,reads,ranges,watch"
    )]
    phases: Vec<Phase>,
    /// Log segment size of the write and watch stores, in MiB (a full segment starts a
    /// snapshot); the store's default unless given.
    #[arg(long)]
    segment_mib: Option<u64>,
    /// Directory for the stores' temporary directories (default: the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Phase {
    Writes,
    Reads,
    Ranges,
    Watch,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match cli.command {
        Command::Store(args) => runtime.block_on(store(args)),
        Command::Apiserver(args) => runtime.block_on(apiserver::run(args)),
        Command::Eks(args) => runtime.block_on(eks::run(args)),
        Command::Fargate(args) => runtime.block_on(fargate::run(args)),
    }
}

/// A fresh embedded store (fsync on) in its own temporary directory.
fn fresh_store(args: &StoreArgs) -> anyhow::Result<(tempfile::TempDir, Arc<EmbeddedStore>)> {
    let mut options = EmbeddedOptions::default();
    if let Some(mib) = args.segment_mib {
        options.segment_bytes = mib << 20;
    }
    fresh_store_with(args, options)
}

fn fresh_store_with(
    args: &StoreArgs,
    options: EmbeddedOptions,
) -> anyhow::Result<(tempfile::TempDir, Arc<EmbeddedStore>)> {
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("keks-bench-")
        .tempdir_in(&parent)
        .with_context(|| format!("creating a store directory in {}", parent.display()))?;
    let store = EmbeddedStore::open(dir.path(), options)?;
    Ok((dir, Arc::new(store)))
}

async fn store(args: StoreArgs) -> anyhow::Result<()> {
    let duration = Duration::from_secs(args.duration_secs.max(1));
    let value = Bytes::from(vec![b'x'; args.value_bytes]);
    let mut report = StoreReport {
        value_bytes: args.value_bytes,
        duration_secs: duration.as_secs_f64(),
        etcd_url: args.etcd.clone(),
        ..Default::default()
    };

    if args.phases.contains(&Phase::Writes) {
        let (_dir, store) = fresh_store(&args)?;
        let keks = Arc::new(Target::Keks(store.clone()));
        for &writers in &args.writers {
            eprintln!("keks: {writers} writers for {}s ...", duration.as_secs());
            let result = writes::run(
                keks.clone(),
                &format!("keks{writers}"),
                writers,
                value.clone(),
                duration,
            )
            .await?;
            eprintln!("  {:.0} writes/s", result.writes_per_sec);
            report.keks_writes.push(result);
        }
        drop(keks);
        store.close();
        if let Some(url) = &args.etcd {
            for &writers in &args.writers {
                let connections = args.etcd_connections.clamp(1, writers.max(1));
                report.etcd_connections = Some(args.etcd_connections);
                let client = etcd::EtcdClient::connect(url, connections).await?;
                let etcd = Arc::new(Target::Etcd(client));
                eprintln!(
                    "etcd: {writers} writers over {connections} connections for {}s ...",
                    duration.as_secs()
                );
                let result = writes::run(
                    etcd,
                    &format!("etcd{writers}"),
                    writers,
                    value.clone(),
                    duration,
                )
                .await?;
                eprintln!("  {:.0} writes/s", result.writes_per_sec);
                report.etcd_writes.push(result);
            }
        }
    }

    let read_phases = args.phases.contains(&Phase::Reads) || args.phases.contains(&Phase::Ranges);
    if read_phases {
        // Segments big enough that filling starts no snapshot, which would compete with the
        // readers for the CPU and the index lock.
        let options = EmbeddedOptions {
            segment_bytes: 1 << 30,
            ..Default::default()
        };
        let (_dir, store) = fresh_store_with(&args, options)?;
        eprintln!("filling 110,000 keys for reads ...");
        reads::fill(&store, reads::POINT_PREFIX, 100_000, &value).await?;
        reads::fill(&store, reads::SMALL_RANGE_PREFIX, 10_000, &value).await?;
        if args.phases.contains(&Phase::Reads) {
            eprintln!(
                "point reads, range_now on {} threads ...",
                args.read_threads
            );
            report.point_reads_sync =
                Some(reads::point_sync(&store, 100_000, args.read_threads, duration).await?);
            eprintln!("point reads, Store::get on {} tasks ...", args.read_threads);
            report.point_reads_async =
                Some(reads::point_async(&store, 100_000, args.read_threads, duration).await?);
        }
        if args.phases.contains(&Phase::Ranges) {
            eprintln!("ranges ...");
            let budget = Duration::from_secs(2);
            report.ranges.push(reads::range(
                &store,
                reads::SMALL_RANGE_PREFIX,
                10_000,
                budget,
            )?);
            report
                .ranges
                .push(reads::range(&store, reads::POINT_PREFIX, 100_000, budget)?);
        }
        store.close();
    }

    if args.phases.contains(&Phase::Watch) {
        let (_dir, store) = fresh_store(&args)?;
        eprintln!(
            "watch fan-out: {} watchers, {} writes/s for {}s ...",
            args.watchers,
            args.watch_rate,
            duration.as_secs()
        );
        report.watch = Some(
            watch::run(
                store.clone(),
                args.watchers,
                args.watch_rate,
                duration,
                args.value_bytes,
            )
            .await?,
        );
        store.close();
    }

    report.evaluate_targets();
    report.print();
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
