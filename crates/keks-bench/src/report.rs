//! The `store` run's results: a human-readable table and the same as JSON.

use serde::Serialize;

use crate::reads::{PointReads, RangeResult};
use crate::stats::{human_rate, human_us};
use crate::watch::WatchResult;
use crate::writes::WriteResult;

#[derive(Debug, Default, Serialize)]
pub struct StoreReport {
    pub value_bytes: usize,
    pub duration_secs: f64,
    pub keks_writes: Vec<WriteResult>,
    pub etcd_writes: Vec<WriteResult>,
    pub etcd_url: Option<String>,
    pub etcd_connections: Option<usize>,
    pub point_reads_sync: Option<PointReads>,
    pub point_reads_async: Option<PointReads>,
    pub ranges: Vec<RangeResult>,
    pub watch: Option<WatchResult>,
    pub targets: Targets,
}

/// The targets: at least 3x etcd's durable writes/s at 64 writers, and more than
/// 1M point reads/s from the in-memory index.
#[derive(Debug, Default, Serialize)]
pub struct Targets {
    pub write_ratio_at_64: Option<f64>,
    pub write_ratio_met: Option<bool>,
    pub point_reads_per_sec: Option<f64>,
    pub point_reads_met: Option<bool>,
}

impl StoreReport {
    pub fn evaluate_targets(&mut self) {
        let at = |runs: &[WriteResult]| {
            runs.iter()
                .find(|r| r.writers == 64)
                .map(|r| r.writes_per_sec)
        };
        if let (Some(keks), Some(etcd)) = (at(&self.keks_writes), at(&self.etcd_writes)) {
            let ratio = keks / etcd;
            self.targets.write_ratio_at_64 = Some(ratio);
            self.targets.write_ratio_met = Some(ratio >= 3.0);
        }
        if let Some(reads) = &self.point_reads_sync {
            self.targets.point_reads_per_sec = Some(reads.reads_per_sec);
            self.targets.point_reads_met = Some(reads.reads_per_sec > 1e6);
        }
    }

    pub fn print(&self) {
        if !self.keks_writes.is_empty() {
            println!();
            println!(
                "durable writes, {} B values, {:.0} s per run (fsync on)",
                self.value_bytes, self.duration_secs
            );
            println!(
                "{:>7} | {:>9} {:>8} {:>8} {:>8} | {:>9} {:>8} {:>8} {:>8} | {:>6}",
                "writers",
                "keks w/s",
                "p50",
                "p99",
                "max",
                "etcd w/s",
                "p50",
                "p99",
                "max",
                "ratio"
            );
            for keks in &self.keks_writes {
                let etcd = self.etcd_writes.iter().find(|e| e.writers == keks.writers);
                let (e_rate, e_p50, e_p99, e_max, ratio) = match etcd {
                    Some(e) => (
                        format!("{:.0}", e.writes_per_sec),
                        human_us(e.latency.p50_us),
                        human_us(e.latency.p99_us),
                        human_us(e.latency.max_us),
                        format!("{:.2}x", keks.writes_per_sec / e.writes_per_sec),
                    ),
                    None => ("-".into(), "-".into(), "-".into(), "-".into(), "-".into()),
                };
                println!(
                    "{:>7} | {:>9.0} {:>8} {:>8} {:>8} | {:>9} {:>8} {:>8} {:>8} | {:>6}",
                    keks.writers,
                    keks.writes_per_sec,
                    human_us(keks.latency.p50_us),
                    human_us(keks.latency.p99_us),
                    human_us(keks.latency.max_us),
                    e_rate,
                    e_p50,
                    e_p99,
                    e_max,
                    ratio
                );
            }
        }
        if let Some(r) = &self.point_reads_sync {
            println!();
            println!("point reads (in-memory index, 100,000 keys)");
            println!(
                "  range_now, {} threads:   {} ({} reads)",
                r.threads,
                human_rate(r.reads_per_sec),
                r.reads
            );
        }
        if let Some(r) = &self.point_reads_async {
            println!(
                "  Store::get, {} tasks:    {} ({} reads)",
                r.threads,
                human_rate(r.reads_per_sec),
                r.reads
            );
        }
        if !self.ranges.is_empty() {
            println!();
            println!("full prefix range reads");
            for r in &self.ranges {
                println!(
                    "  {:>7} keys: mean {:.2} ms, min {:.2} ms ({} runs, {} keys/s)",
                    r.keys,
                    r.mean_ms,
                    r.min_ms,
                    r.iterations,
                    human_rate(r.keys_per_sec)
                );
            }
        }
        if let Some(w) = &self.watch {
            println!();
            println!(
                "watch fan-out: {} watchers, {} writes at {:.0}/s (target {}/s), {} events delivered",
                w.watchers, w.writes, w.write_rate, w.target_rate, w.events_delivered
            );
            println!(
                "  delivery latency (put issued -> event received): p50 {}, p99 {}, max {}",
                human_us(w.delivery.p50_us),
                human_us(w.delivery.p99_us),
                human_us(w.delivery.max_us)
            );
            println!(
                "  write latency (put issued -> durable ack):       p50 {}, p99 {}",
                human_us(w.write.p50_us),
                human_us(w.write.p99_us)
            );
        }
        println!();
        match (self.targets.write_ratio_at_64, self.targets.write_ratio_met) {
            (Some(ratio), Some(met)) => println!(
                "target  >= 3x etcd durable writes/s at 64 writers: {ratio:.2}x -> {}",
                if met { "MET" } else { "MISSED" }
            ),
            _ => println!("target  >= 3x etcd durable writes/s at 64 writers: not measured (needs --etcd and 64 writers)"),
        }
        match (
            self.targets.point_reads_per_sec,
            self.targets.point_reads_met,
        ) {
            (Some(rate), Some(met)) => println!(
                "target  > 1M point reads/s: {} -> {}",
                human_rate(rate),
                if met { "MET" } else { "MISSED" }
            ),
            _ => println!("target  > 1M point reads/s: not measured"),
        }
    }
}
