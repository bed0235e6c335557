//! The `eks` run's results: per server (keks, and moto side by side), the ratios and the
//! issue's targets, as a human-readable table and the same as JSON.

use serde::Serialize;

use crate::stats::{human_rate, human_us, Latency};

#[derive(Debug, Default, Serialize)]
pub struct EksReport {
    /// `X-Amz-Date` form of the run's start.
    pub started: String,
    pub clusters: usize,
    pub concurrency: usize,
    pub duration_secs: u64,
    /// `/proc/loadavg` at the start and at the end of the run.
    pub loadavg_start: String,
    pub loadavg_end: String,
    pub servers: Vec<ServerReport>,
    pub targets: Targets,
}

#[derive(Debug, Default, Serialize)]
pub struct ServerReport {
    pub name: String,
    pub endpoint: String,
    pub pid: Option<u32>,
    pub create: Option<CreateResult>,
    pub describe: Option<RateResult>,
    pub list: Option<ListResult>,
    /// Resident memory before any cluster is created (after the account and subnet look-ups).
    pub memory_before: Option<Memory>,
    /// Resident memory once the clusters exist (before the read phases), and at the end
    /// of the read phases.
    pub memory_after_create: Option<Memory>,
    pub memory_after_reads: Option<Memory>,
    pub first_request: Option<FirstRequestResult>,
}

#[derive(Debug, Serialize)]
pub struct CreateResult {
    pub clusters: usize,
    /// From the first CreateCluster sent to the last response.
    pub seconds: f64,
    pub per_sec: f64,
    pub latency: Latency,
    /// From the first CreateCluster sent until DescribeCluster showed every one ACTIVE.
    pub all_active_secs: f64,
    /// DescribeCluster calls that found a cluster not ACTIVE yet.
    pub polls_not_active: u64,
}

#[derive(Debug, Serialize)]
pub struct RateResult {
    pub requests: u64,
    pub seconds: f64,
    pub per_sec: f64,
    pub latency: Latency,
    /// Connections reopened after the server closed them.
    pub reconnects: u64,
}

#[derive(Debug, Serialize)]
pub struct ListResult {
    /// `maxResults` sent; `None`: the service's default (100 on EKS and moto).
    pub max_results: Option<u32>,
    pub pages_per_walk: usize,
    pub clusters_listed: usize,
    /// One request is one page; the pages are requested round-robin.
    pub pages: RateResult,
    /// Full walks (page after page, following `nextToken`) on one connection.
    pub walks: usize,
    pub walk_mean_ms: f64,
    pub walk_min_ms: f64,
    pub walk_max_ms: f64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

#[derive(Debug, Serialize)]
pub struct FirstRequestResult {
    pub runs: usize,
    /// CreateCluster sent → its response (CREATING).
    pub create_response: Latency,
    /// CreateCluster sent → DescribeCluster returns ACTIVE (polled back to back).
    pub create_to_active: Latency,
    /// ACTIVE seen → first 200 of `GET /api/v1/namespaces` (token, TLS handshake included).
    pub active_to_first_200: Latency,
    /// CreateCluster sent → first 200 from the cluster's Kubernetes API.
    pub total: Latency,
    pub total_mean_us: u64,
    /// DescribeCluster calls per run before ACTIVE, on average.
    pub mean_polls: f64,
    /// Kubernetes API requests that were refused before the first 200, in all runs.
    pub api_retries: u64,
}

/// The targets: first request under 100 ms (fast profile); at least 20x moto's
/// throughput at no more than half its resident memory.
#[derive(Debug, Default, Serialize)]
pub struct Targets {
    pub first_request_p50_us: Option<u64>,
    pub first_request_p99_us: Option<u64>,
    pub first_request_met: Option<bool>,
    pub describe_ratio: Option<f64>,
    pub list_ratio: Option<f64>,
    pub walk_ratio: Option<f64>,
    pub throughput_met: Option<bool>,
    /// keks' VmRSS / moto's, with the clusters created.
    pub memory_ratio: Option<f64>,
    pub memory_met: Option<bool>,
}

const FIRST_REQUEST_TARGET_US: u64 = 100_000;
const THROUGHPUT_RATIO: f64 = 20.0;
const MEMORY_RATIO: f64 = 0.5;

impl EksReport {
    pub fn evaluate_targets(&mut self) {
        let t = &mut self.targets;
        if let Some(first) = self.servers.first().and_then(|s| s.first_request.as_ref()) {
            t.first_request_p50_us = Some(first.total.p50_us);
            t.first_request_p99_us = Some(first.total.p99_us);
            t.first_request_met = Some(first.total.p99_us < FIRST_REQUEST_TARGET_US);
        }
        let [keks, other] = match self.servers.as_slice() {
            [a, b] => [a, b],
            _ => return,
        };
        let ratio = |f: fn(&ServerReport) -> Option<f64>| match (f(keks), f(other)) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        t.describe_ratio = ratio(|s| s.describe.as_ref().map(|r| r.per_sec));
        t.list_ratio = ratio(|s| s.list.as_ref().map(|l| l.pages.per_sec));
        t.walk_ratio = match (&other.list, &keks.list) {
            (Some(o), Some(k)) if k.walk_mean_ms > 0.0 => Some(o.walk_mean_ms / k.walk_mean_ms),
            _ => None,
        };
        if let (Some(d), Some(l)) = (t.describe_ratio, t.list_ratio) {
            t.throughput_met = Some(d >= THROUGHPUT_RATIO && l >= THROUGHPUT_RATIO);
        }
        if let (Some(k), Some(o)) = (keks.memory_after_create, other.memory_after_create) {
            let r = k.rss_kib as f64 / o.rss_kib.max(1) as f64;
            t.memory_ratio = Some(r);
            t.memory_met = Some(r <= MEMORY_RATIO);
        }
    }

    pub fn print(&self) {
        let names: Vec<&str> = self.servers.iter().map(|s| s.name.as_str()).collect();
        println!();
        println!(
            "EKS API, {} clusters, {} connections, {} s per read run (started {}; loadavg {} -> {})",
            self.clusters,
            self.concurrency,
            self.duration_secs,
            self.started,
            self.loadavg_start,
            self.loadavg_end
        );
        let ratio_head = if names.len() == 2 {
            format!("{}/{}", names[0], names[1])
        } else {
            String::new()
        };
        print!("{:<44}", "");
        for n in &names {
            print!(" | {n:>34}");
        }
        println!(" | {ratio_head:>10}");
        let row = |label: &str, cells: Vec<String>, ratio: Option<f64>| {
            print!("{label:<44}");
            for c in &cells {
                print!(" | {c:>34}");
            }
            println!(
                " | {:>10}",
                ratio.map(|r| format!("{r:.2}x")).unwrap_or_default()
            );
        };
        let both = |f: &dyn Fn(&ServerReport) -> Option<f64>| -> Option<f64> {
            match self.servers.as_slice() {
                [a, b] => match (f(a), f(b)) {
                    (Some(x), Some(y)) if y > 0.0 => Some(x / y),
                    _ => None,
                },
                _ => None,
            }
        };
        let rate_cell = |r: Option<&RateResult>| match r {
            Some(r) => format!(
                "{} p50 {} p99 {}",
                human_rate(r.per_sec),
                human_us(r.latency.p50_us),
                human_us(r.latency.p99_us)
            ),
            None => "-".into(),
        };
        row(
            &format!("CreateCluster x{} (concurrent)", self.clusters),
            self.servers
                .iter()
                .map(|s| match &s.create {
                    Some(c) => format!(
                        "{} p50 {} p99 {}",
                        human_rate(c.per_sec),
                        human_us(c.latency.p50_us),
                        human_us(c.latency.p99_us)
                    ),
                    None => "-".into(),
                })
                .collect(),
            both(&|s| s.create.as_ref().map(|c| c.per_sec)),
        );
        row(
            "  all ACTIVE after (from first create)",
            self.servers
                .iter()
                .map(|s| match &s.create {
                    Some(c) => format!("{:.2} s", c.all_active_secs),
                    None => "-".into(),
                })
                .collect(),
            None,
        );
        row(
            "DescribeCluster, random names",
            self.servers
                .iter()
                .map(|s| rate_cell(s.describe.as_ref()))
                .collect(),
            both(&|s| s.describe.as_ref().map(|r| r.per_sec)),
        );
        row(
            "ListClusters, one page per request",
            self.servers
                .iter()
                .map(|s| rate_cell(s.list.as_ref().map(|l| &l.pages)))
                .collect(),
            both(&|s| s.list.as_ref().map(|l| l.pages.per_sec)),
        );
        row(
            "  full walk (all pages, one connection)",
            self.servers
                .iter()
                .map(|s| match &s.list {
                    Some(l) => format!(
                        "{} pages: mean {:.2} ms, max {:.2} ms",
                        l.pages_per_walk, l.walk_mean_ms, l.walk_max_ms
                    ),
                    None => "-".into(),
                })
                .collect(),
            // Faster is better: show how many times faster the first server walks.
            both(&|s| s.list.as_ref().map(|l| 1.0 / l.walk_mean_ms.max(1e-9))),
        );
        let mem_cell = |m: Option<Memory>| match m {
            Some(m) => format!(
                "VmRSS {:.1} MiB, VmHWM {:.1} MiB",
                m.rss_kib as f64 / 1024.0,
                m.hwm_kib as f64 / 1024.0
            ),
            None => "-".into(),
        };
        row(
            "memory before the creates",
            self.servers
                .iter()
                .map(|s| mem_cell(s.memory_before))
                .collect(),
            both(&|s| s.memory_before.map(|m| m.rss_kib as f64)),
        );
        row(
            "memory with the clusters created",
            self.servers
                .iter()
                .map(|s| mem_cell(s.memory_after_create))
                .collect(),
            both(&|s| s.memory_after_create.map(|m| m.rss_kib as f64)),
        );
        row(
            "memory after the read runs",
            self.servers
                .iter()
                .map(|s| mem_cell(s.memory_after_reads))
                .collect(),
            both(&|s| s.memory_after_reads.map(|m| m.rss_kib as f64)),
        );
        for s in &self.servers {
            let Some(f) = &s.first_request else { continue };
            println!();
            println!(
                "{}: CreateCluster -> ACTIVE -> first 200 from the cluster's Kubernetes API, {} runs",
                s.name, f.runs
            );
            for (label, l) in [
                ("CreateCluster response", &f.create_response),
                ("create -> ACTIVE", &f.create_to_active),
                ("ACTIVE -> first 200", &f.active_to_first_200),
                ("total", &f.total),
            ] {
                println!(
                    "  {label:<22} p50 {:>9}  p99 {:>9}  max {:>9}",
                    human_us(l.p50_us),
                    human_us(l.p99_us),
                    human_us(l.max_us)
                );
            }
            println!(
                "  mean total {}, {:.1} DescribeCluster polls per run, {} refused API requests",
                human_us(f.total_mean_us),
                f.mean_polls,
                f.api_retries
            );
        }
        println!();
        let verdict = |met: Option<bool>| match met {
            Some(true) => "MET",
            Some(false) => "MISSED",
            None => "not measured",
        };
        let t = &self.targets;
        println!(
            "target  first request < 100 ms (fast profile): p50 {}, p99 {} -> {}",
            t.first_request_p50_us.map(human_us).unwrap_or("-".into()),
            t.first_request_p99_us.map(human_us).unwrap_or("-".into()),
            verdict(t.first_request_met)
        );
        let x = |r: Option<f64>| r.map(|r| format!("{r:.1}x")).unwrap_or("-".into());
        println!(
            "target  >= 20x the other server's throughput: DescribeCluster {}, ListClusters {} (full walk {}) -> {}",
            x(t.describe_ratio),
            x(t.list_ratio),
            x(t.walk_ratio),
            verdict(t.throughput_met)
        );
        println!(
            "target  <= 0.5x the other server's resident memory: {} -> {}",
            t.memory_ratio
                .map(|r| format!("{r:.2}x"))
                .unwrap_or("-".into()),
            verdict(t.memory_met)
        );
    }
}
