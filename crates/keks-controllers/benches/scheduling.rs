//! Scheduling decisions over a 5,000-node cluster (kube-scheduler's SchedulingBasic shape:
//! pods with small requests, nodes of one size): filters and scoring over the parsed
//! summaries, and the placement that follows.

use criterion::{criterion_group, criterion_main, Criterion};
use keks_controllers::scheduler::cache::{Cache, PodInfo};
use keks_controllers::scheduler::decide;
use serde_json::json;

fn cluster(nodes: usize) -> Cache {
    let mut cache = Cache::default();
    for i in 0..nodes {
        cache.set_node(&json!({
            "metadata": {"name": format!("node-{i}"), "labels": {"kubernetes.io/hostname": format!("node-{i}")}},
            "spec": {},
            "status": {"allocatable": {"cpu": "4", "memory": "32Gi", "pods": "110"}},
        }));
    }
    cache
}

fn pod() -> PodInfo {
    PodInfo::parse(
        &json!({"spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
        "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]}}),
    )
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("scheduling");
    let pod = pod();
    let mut cache = cluster(5000);
    let (mut n, mut start) = (0usize, 0usize);
    group.bench_function("decide_and_place_5000_nodes", |b| {
        b.iter(|| {
            let (node, looked) = decide(&cache, &pod, start);
            start += looked;
            cache.place(
                &format!("default/p{n}"),
                &node.expect("fits"),
                pod.clone(),
                true,
            );
            n += 1;
        })
    });
    let full = {
        let mut c = cluster(5000);
        let huge = PodInfo::parse(
            &json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "64"}}}]}}),
        );
        group.bench_function("unschedulable_message_5000_nodes", |b| {
            b.iter(|| decide(&c, &huge, 0).0.expect_err("fits nowhere"))
        });
        c.nodes.clear();
        c
    };
    drop(full);
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
