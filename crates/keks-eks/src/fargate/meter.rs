//! The Fargate bill: every Fargate pod's provisioned size and the time it ran, from the
//! moment its micro-VM was started for it until the pod is deleted (a completed Job pod
//! keeps billing until it is deleted, as on EKS), per second with a one-minute minimum.
//! Records are durable (`/keks/eks/<region>/fargate-usage/<cluster>/<pod uid>`), so a
//! restart neither forgets a running pod nor bills it twice. A report sums cost so far per
//! pod, namespace, profile and cluster.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use keks_store::{KeyRange, RangeRequest, Store};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::sizing::{cost_usd, Size};
use crate::error::EksError;

/// One pod's use of Fargate.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub cluster: String,
    pub namespace: String,
    pub pod: String,
    pub uid: String,
    pub profile: String,
    pub millicpu: u64,
    pub memory_mib: u64,
    pub ephemeral_gib: u64,
    /// Epoch seconds.
    pub started: f64,
    pub ended: Option<f64>,
}

impl Usage {
    pub fn size(&self) -> Size {
        Size {
            millicpu: self.millicpu,
            memory_mib: self.memory_mib,
            ephemeral_gib: self.ephemeral_gib,
        }
    }

    /// Billed seconds so far: whole seconds, rounded up.
    pub fn seconds(&self, now: f64) -> f64 {
        (self.ended.unwrap_or(now) - self.started).max(0.0).ceil()
    }

    pub fn cost_usd(&self, now: f64) -> f64 {
        cost_usd(&self.size(), self.seconds(now))
    }
}

/// Every Fargate pod's usage in a region.
pub struct Meter {
    store: Arc<dyn Store>,
    prefix: String,
    usage: RwLock<BTreeMap<(String, String), Usage>>,
}

impl Meter {
    pub async fn load(store: Arc<dyn Store>, region: &str) -> Result<Self, EksError> {
        let prefix = format!("/keks/eks/{region}/fargate-usage/");
        let stored = store
            .range(RangeRequest::new(KeyRange::prefix(prefix.clone())))
            .await?;
        let mut usage = BTreeMap::new();
        for kv in stored.kvs {
            if let Ok(u) = serde_json::from_slice::<Usage>(&kv.value) {
                usage.insert((u.cluster.clone(), u.uid.clone()), u);
            }
        }
        Ok(Self {
            store,
            prefix,
            usage: RwLock::new(usage),
        })
    }

    fn key(&self, cluster: &str, uid: &str) -> Bytes {
        Bytes::from(format!("{}{cluster}/{uid}", self.prefix))
    }

    async fn save(&self, u: &Usage) -> Result<(), EksError> {
        let value = serde_json::to_vec(u).map_err(|e| EksError::Server(e.to_string()))?;
        self.store
            .put(self.key(&u.cluster, &u.uid), value.into())
            .await?;
        Ok(())
    }

    /// Starts billing a pod (once: a pod already metered keeps its start).
    pub async fn start(&self, usage: Usage) -> Result<(), EksError> {
        let id = (usage.cluster.clone(), usage.uid.clone());
        if self.usage.read().contains_key(&id) {
            return Ok(());
        }
        self.save(&usage).await?;
        self.usage.write().insert(id, usage);
        Ok(())
    }

    /// Stops billing a pod at `at` (once).
    pub async fn end(&self, cluster: &str, uid: &str, at: f64) -> Result<(), EksError> {
        let Some(mut u) = self
            .usage
            .read()
            .get(&(cluster.to_string(), uid.to_string()))
            .cloned()
        else {
            return Ok(());
        };
        if u.ended.is_some() {
            return Ok(());
        }
        u.ended = Some(at);
        self.save(&u).await?;
        self.usage
            .write()
            .insert((cluster.to_string(), uid.to_string()), u);
        Ok(())
    }

    pub fn get(&self, cluster: &str, uid: &str) -> Option<Usage> {
        self.usage
            .read()
            .get(&(cluster.to_string(), uid.to_string()))
            .cloned()
    }

    /// Whether a pod is being billed now.
    pub fn running(&self, cluster: &str) -> Vec<Usage> {
        self.usage
            .read()
            .values()
            .filter(|u| u.cluster == cluster && u.ended.is_none())
            .cloned()
            .collect()
    }

    /// Cost so far, per cluster with its profiles, namespaces and pods.
    pub fn report(&self, cluster: Option<&str>, now: f64) -> Value {
        let usage = self.usage.read();
        let mut clusters: BTreeMap<&str, Vec<&Usage>> = BTreeMap::new();
        for u in usage
            .values()
            .filter(|u| cluster.is_none_or(|c| c == u.cluster))
        {
            clusters.entry(&u.cluster).or_default().push(u);
        }
        let reports: Vec<Value> = clusters
            .into_iter()
            .map(|(name, pods)| {
                let mut namespaces: BTreeMap<&str, f64> = BTreeMap::new();
                let mut profiles: BTreeMap<&str, f64> = BTreeMap::new();
                let mut total = 0.0;
                let pods: Vec<Value> = pods
                    .into_iter()
                    .map(|u| {
                        let cost = u.cost_usd(now);
                        total += cost;
                        *namespaces.entry(&u.namespace).or_default() += cost;
                        *profiles.entry(&u.profile).or_default() += cost;
                        json!({
                            "namespace": u.namespace, "name": u.pod, "uid": u.uid, "profile": u.profile,
                            "capacityProvisioned": u.size().annotation(),
                            "started": u.started, "ended": u.ended,
                            "billedSeconds": u.seconds(now), "usd": cost,
                        })
                    })
                    .collect();
                json!({"cluster": name, "usd": total, "profiles": profiles, "namespaces": namespaces, "pods": pods})
            })
            .collect();
        json!({ "fargate": reports })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keks_store::MemoryStore;

    fn usage(uid: &str, started: f64) -> Usage {
        Usage {
            cluster: "c".into(),
            namespace: "ns".into(),
            pod: format!("p-{uid}"),
            uid: uid.into(),
            profile: "fp".into(),
            millicpu: 1000,
            memory_mib: 2048,
            ephemeral_gib: 20,
            started,
            ended: None,
        }
    }

    #[tokio::test]
    async fn bills_per_second_with_a_minute_minimum_and_survives_a_reload() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let meter = Meter::load(store.clone(), "us-east-1").await.unwrap();
        meter.start(usage("a", 1000.0)).await.unwrap();
        meter.start(usage("b", 1000.0)).await.unwrap();
        meter.end("c", "a", 1010.2).await.unwrap();
        let hourly = 0.04048 + 2.0 * 0.004445;
        let a = meter.get("c", "a").unwrap();
        assert_eq!(a.seconds(5000.0), 11.0);
        assert!((a.cost_usd(5000.0) - hourly * 60.0 / 3600.0).abs() < 1e-12);
        let meter = Meter::load(store, "us-east-1").await.unwrap();
        let b = meter.get("c", "b").unwrap();
        assert!((b.cost_usd(1000.0 + 7200.0) - hourly * 2.0).abs() < 1e-9);
        let report = meter.report(Some("c"), 1000.0 + 7200.0);
        let total = report["fargate"][0]["usd"].as_f64().unwrap();
        assert!((total - hourly * 2.0 - hourly / 60.0).abs() < 1e-9);
        assert_eq!(
            report["fargate"][0]["pods"][0]["capacityProvisioned"],
            "1vCPU 2GB"
        );
    }
}
