//! The EKS control plane of one region: every cluster's document, kept in memory and
//! written through to the store (an acknowledged change is durable), and the task that
//! completes asynchronous work — CREATING → ACTIVE, updates, deletion — on the clock.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use keks_apiserver::Clusters;
use keks_core::{ClockExt, SharedClock};
use keks_store::{KeyRange, RangeRequest, Store};
use parking_lot::RwLock;

use crate::doc::{ClusterDoc, Pending};
use crate::error::EksError;
use crate::timing::TimingProfile;
use keks_cloud::Network;

/// How keks' EKS is set up.
#[derive(Clone, Debug)]
pub struct ControlPlaneConfig {
    pub region: String,
    pub account_id: String,
    /// The base URL of keks' Kubernetes API listener (`https://127.0.0.1:7643`).
    pub kube_url: String,
    /// The CA that signs the Kubernetes API's serving certificate (PEM).
    pub ca_pem: String,
    pub timing: TimingProfile,
    /// Clusters per Region (EKS's default quota is 100; like AWS quotas, adjustable).
    pub cluster_quota: usize,
}

pub struct ControlPlane {
    pub(crate) config: ControlPlaneConfig,
    store: Arc<dyn Store>,
    pub(crate) clock: SharedClock,
    pub(crate) kube: Arc<Clusters>,
    pub(crate) network: Network,
    /// What every Fargate pod has cost.
    pub fargate_meter: Arc<crate::fargate::meter::Meter>,
    docs: RwLock<BTreeMap<String, ClusterDoc>>,
    principals: std::sync::OnceLock<Arc<dyn crate::Principals>>,
    /// The EC2 fleet's Auto Scaling groups, which managed node groups run on.
    autoscaling: std::sync::OnceLock<keks_cloud::AutoScaling>,
    /// Serializes changes so that each is read, checked and written as one step.
    writes: tokio::sync::Mutex<()>,
    wake: tokio::sync::Notify,
}

impl ControlPlane {
    /// Loads every cluster of the region and starts the task that completes pending work
    /// (including work a restart interrupted).
    pub async fn load(
        config: ControlPlaneConfig,
        store: Arc<dyn Store>,
        clock: SharedClock,
        kube: Arc<Clusters>,
        network: Network,
    ) -> Result<Arc<Self>, EksError> {
        let fargate_meter =
            Arc::new(crate::fargate::meter::Meter::load(store.clone(), &config.region).await?);
        let this = Arc::new(Self {
            fargate_meter,
            store,
            clock,
            kube,
            network,
            docs: RwLock::new(BTreeMap::new()),
            principals: std::sync::OnceLock::new(),
            autoscaling: std::sync::OnceLock::new(),
            writes: tokio::sync::Mutex::new(()),
            wake: tokio::sync::Notify::new(),
            config,
        });
        let prefix = this.prefix();
        let stored = this
            .store
            .range(RangeRequest::new(KeyRange::prefix(prefix)))
            .await?;
        {
            let mut docs = this.docs.write();
            for kv in stored.kvs {
                match serde_json::from_slice::<ClusterDoc>(&kv.value) {
                    Ok(mut doc) => {
                        // The Kubernetes listener may have moved since the cluster was
                        // created (another port); clusters are served where it is now.
                        doc.kube_endpoint =
                            format!("{}/clusters/{}", this.config.kube_url, doc.cluster.name);
                        if doc.cluster.endpoint.is_some() {
                            doc.cluster.endpoint = Some(doc.kube_endpoint.clone());
                        }
                        docs.insert(doc.cluster.name.clone(), doc);
                    }
                    Err(e) => {
                        tracing::error!(key = %String::from_utf8_lossy(&kv.key), error = %e, "a stored EKS cluster is damaged; skipped")
                    }
                }
            }
        }
        tokio::spawn(this.clone().complete_pending_work());
        Ok(this)
    }

    /// Connects IAM, so that role and principal ARNs are checked for existence (without it
    /// only their form is checked).
    pub fn set_principals(&self, principals: Arc<dyn crate::Principals>) {
        let _ = self.principals.set(principals);
    }

    /// Connects the EC2 fleet's Auto Scaling groups (managed node groups need them).
    pub fn set_autoscaling(&self, autoscaling: keks_cloud::AutoScaling) {
        let _ = self.autoscaling.set(autoscaling);
        self.wake.notify_one();
    }

    pub(crate) fn autoscaling(&self) -> Option<keks_cloud::AutoScaling> {
        self.autoscaling.get().cloned()
    }

    pub(crate) fn role_exists(&self, arn: &str) -> bool {
        self.principals.get().is_none_or(|p| p.role_exists(arn))
    }

    pub(crate) fn principal_exists(&self, arn: &str) -> bool {
        self.principals
            .get()
            .is_none_or(|p| p.principal_exists(arn))
    }

    pub fn config(&self) -> &ControlPlaneConfig {
        &self.config
    }

    fn prefix(&self) -> String {
        format!("/keks/eks/{}/clusters/", self.config.region)
    }

    fn key(&self, name: &str) -> Bytes {
        Bytes::from(format!("{}{name}", self.prefix()))
    }

    /// Wall-clock epoch seconds, as EKS timestamps are.
    pub fn now(&self) -> f64 {
        self.clock
            .wall()
            .duration_since(UNIX_EPOCH)
            .map(|d| (d.as_millis() as f64) / 1000.0)
            .unwrap_or(0.0)
    }

    pub fn get(&self, name: &str) -> Option<ClusterDoc> {
        self.docs.read().get(name).cloned()
    }

    /// The cluster's Kubernetes API with everything inside it running — started now if the
    /// cluster was dormant (see `keks_apiserver::clusters`). For what EKS does in the
    /// cluster: nodes joining, `aws-auth` mappings.
    pub(crate) async fn running_api(
        &self,
        cluster: &str,
    ) -> Result<Option<Arc<keks_apiserver::ClusterApi>>, EksError> {
        self.kube
            .running(cluster)
            .await
            .map_err(|e| EksError::Server(format!("starting cluster {cluster}: {e}")))
    }

    /// One page of cluster names after `after`, at most `max`, and whether more follow:
    /// read in place, in O(page), whatever the number of clusters.
    pub fn page_names(&self, after: Option<&str>, max: usize) -> (Vec<String>, bool) {
        use std::ops::Bound;
        let docs = self.docs.read();
        let start = match after {
            Some(a) => Bound::Excluded(a),
            None => Bound::Unbounded,
        };
        let mut names = docs
            .range::<str, _>((start, Bound::Unbounded))
            .map(|(k, _)| k);
        let page: Vec<String> = names.by_ref().take(max).cloned().collect();
        (page, names.next().is_some())
    }

    /// Serializes one cluster's document part without building a `Value`.
    pub fn describe_json(&self, name: &str) -> Option<Vec<u8>> {
        #[derive(serde::Serialize)]
        struct Answer<'a> {
            cluster: &'a crate::doc::Cluster,
        }
        self.with(name, |d| {
            serde_json::to_vec(&Answer {
                cluster: &d.cluster,
            })
            .expect("clusters serialize")
        })
    }

    pub fn names(&self) -> Vec<String> {
        self.docs.read().keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.docs.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.read().is_empty()
    }

    /// Reads something of one cluster without copying the document.
    pub fn with<T>(&self, name: &str, f: impl FnOnce(&ClusterDoc) -> T) -> Option<T> {
        self.docs.read().get(name).map(f)
    }

    /// Adds a new cluster's document; fails if the name is taken.
    pub(crate) async fn insert(&self, doc: ClusterDoc) -> Result<ClusterDoc, EksError> {
        let _guard = self.writes.lock().await;
        if self.docs.read().contains_key(&doc.cluster.name) {
            return Err(EksError::ResourceInUse {
                message: format!("Cluster already exists with name: {}", doc.cluster.name),
                cluster: Some(doc.cluster.name.clone()),
            });
        }
        self.persist(&doc).await?;
        self.docs
            .write()
            .insert(doc.cluster.name.clone(), doc.clone());
        self.wake.notify_one();
        Ok(doc)
    }

    /// Changes one cluster: `change` sees the current document and either edits it (then
    /// it is written and installed) or refuses with an error (then nothing changes).
    pub(crate) async fn modify<T>(
        &self,
        name: &str,
        change: impl FnOnce(&mut ClusterDoc) -> Result<T, EksError>,
    ) -> Result<T, EksError> {
        let _guard = self.writes.lock().await;
        let mut doc = self.get(name).ok_or_else(|| EksError::no_cluster(name))?;
        let out = change(&mut doc)?;
        self.persist(&doc).await?;
        self.docs.write().insert(name.to_string(), doc);
        self.wake.notify_one();
        Ok(out)
    }

    async fn persist(&self, doc: &ClusterDoc) -> Result<(), EksError> {
        let value = serde_json::to_vec(doc).map_err(|e| EksError::Server(e.to_string()))?;
        self.store
            .put(self.key(&doc.cluster.name), value.into())
            .await?;
        Ok(())
    }

    async fn forget(&self, name: &str) -> Result<(), EksError> {
        let _guard = self.writes.lock().await;
        self.store.delete(self.key(name)).await?;
        self.docs.write().remove(name);
        Ok(())
    }

    /// When `delay` from now falls, in epoch seconds.
    pub(crate) fn due_in(&self, delay: Duration) -> f64 {
        self.now() + delay.as_secs_f64()
    }

    /// Completes pending work as it falls due, forever.
    async fn complete_pending_work(self: Arc<Self>) {
        loop {
            let next = self
                .docs
                .read()
                .values()
                .filter_map(|d| {
                    let cluster = d.pending.as_ref().map(Pending::due);
                    let due = [
                        cluster,
                        crate::fargate::profiles::next_due(d),
                        crate::nodegroups::lifecycle::next_due(d),
                    ]
                    .into_iter()
                    .flatten()
                    .min_by(|a, b| a.total_cmp(b));
                    due.map(|due| (due, d.cluster.name.clone()))
                })
                .min_by(|a, b| a.0.total_cmp(&b.0));
            let notified = self.wake.notified();
            match next {
                None => notified.await,
                Some((due, name)) => {
                    let wait = due - self.now();
                    if wait > 0.0 {
                        tokio::select! {
                            _ = self.clock.sleep(Duration::from_secs_f64(wait)) => {}
                            _ = notified => {}
                        }
                        continue;
                    }
                    if let Err(e) = self.complete(&name).await {
                        tracing::warn!(cluster = %name, error = %e, "completing EKS work; retrying");
                        self.clock.sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        }
    }

    /// Completes the pending work of one cluster.
    async fn complete(&self, name: &str) -> Result<(), EksError> {
        let now = self.now();
        let profiles_due = self
            .with(name, |d| {
                crate::fargate::profiles::next_due(d).is_some_and(|due| due <= now)
            })
            .unwrap_or(false);
        if profiles_due {
            let removed = self
                .modify(name, |doc| {
                    Ok(crate::fargate::profiles::complete_due(doc, now))
                })
                .await?;
            for profile in removed {
                self.delete_profile_pods(name, &profile.fargate_profile_name)
                    .await;
            }
        }
        let nodegroups_due = self
            .with(name, |d| {
                crate::nodegroups::lifecycle::next_due(d).is_some_and(|due| due <= now)
            })
            .unwrap_or(false);
        if nodegroups_due {
            self.complete_nodegroups(name, now).await?;
        }
        let Some(pending) = self
            .with(name, |d| d.pending.clone().filter(|p| p.due() <= now))
            .flatten()
        else {
            return Ok(());
        };
        match pending {
            Pending::Activate { .. } => {
                self.modify(name, |doc| {
                    doc.pending = None;
                    doc.cluster.status = "ACTIVE".into();
                    doc.cluster.endpoint = Some(doc.kube_endpoint.clone());
                    doc.cluster.certificate_authority =
                        serde_json::json!({ "data": doc.kube_ca_data });
                    Ok(())
                })
                .await
            }
            Pending::FinishUpdate { update_id, .. } => {
                let version = self
                    .modify(name, |doc| crate::updates::finish(doc, &update_id))
                    .await?;
                if let Some(version) = version {
                    self.kube
                        .set_version(name, &version)
                        .await
                        .map_err(|e| EksError::Server(e.to_string()))?;
                }
                Ok(())
            }
            Pending::Remove { .. } => {
                self.kube
                    .delete(name)
                    .await
                    .map_err(|e| EksError::Server(e.to_string()))?;
                self.forget(name).await
            }
        }
    }
}
