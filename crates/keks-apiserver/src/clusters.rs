//! The clusters this keks serves: each one's record in the store (`/keks/clusters/<name>`),
//! its API, its bootstrap contents and its admin token.
//!
//! A cluster starts dormant: its record and credentials exist, but its Kubernetes contents
//! and everything that runs inside it (RBAC policy, garbage collector, add-ons) start the
//! first time something uses it — a request that passed authentication, or an in-process
//! user such as EKS adding nodes ([`Clusters::running`]). Until then it costs a record, so
//! a keks can hold thousands of clusters nobody talks to. A cluster that ran once is
//! recorded as booted and runs again as soon as keks starts.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use keks_core::SharedClock;
use keks_store::{Compare, KeyRange, RangeRequest, Store, Txn, TxnOp};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::authn::{StaticTokens, UserInfo};
use crate::authz::Authorizer;
use crate::registry::Registry;
use crate::rest::ClusterApi;
use crate::status::ApiError;

/// How a new cluster differs from the defaults.
#[derive(Clone, Debug, Default)]
pub struct ClusterOptions {
    /// The Service address range (`10.100.0.0/16` by default).
    pub service_cidr: Option<String>,
    /// The issuer of service account tokens.
    pub service_account_issuer: Option<String>,
}

/// What the store keeps about a cluster.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRecord {
    pub name: String,
    /// Kubernetes minor version, e.g. `1.31`.
    pub version: String,
    pub created: String,
    /// The Service address range (`10.100.0.0/16` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_cidr: Option<String>,
    /// The issuer of the cluster's service account tokens (EKS: its OIDC issuer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_issuer: Option<String>,
    /// Bearer tokens by their SHA-256 (hex), with the identity each stands for.
    #[serde(default)]
    pub tokens: Vec<TokenRecord>,
    /// Whether the cluster's contents were written and its add-ons ran their boot step.
    #[serde(default)]
    pub booted: bool,
}

impl ClusterRecord {
    /// The issuer of the cluster's service account tokens.
    pub fn issuer(&self) -> String {
        self.service_account_issuer
            .clone()
            .unwrap_or_else(|| crate::sa_tokens::DEFAULT_ISSUER.to_string())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    pub sha256: String,
    pub username: String,
    pub groups: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cluster {0} already exists")]
    AlreadyExists(String),
    #[error("invalid cluster name {0:?}: {1}")]
    InvalidName(String, String),
    #[error("store: {0}")]
    Store(#[from] keks_store::StoreError),
    #[error("bootstrapping the cluster: {0}")]
    Bootstrap(#[from] ApiError),
    #[error("stored cluster record is damaged: {0}")]
    Damaged(#[from] serde_json::Error),
}

const PREFIX: &str = "/keks/clusters/";

/// Something that runs inside every cluster — controllers, the scheduler, the simulated
/// kubelet, EKS's in-cluster parts. Started when a cluster is installed (created, or loaded
/// at start); everything it runs must go through [`ClusterApi::spawn`] so that it stops with
/// the cluster.
pub trait ClusterAddon: Send + Sync {
    fn start(&self, api: Arc<ClusterApi>);

    /// Writes what the add-on puts into a new cluster, once, the first time the cluster
    /// runs (after the Kubernetes defaults). Must be idempotent: a crash before the cluster
    /// is recorded as booted runs it again.
    fn boot(
        &self,
        _api: Arc<ClusterApi>,
    ) -> futures::future::BoxFuture<'static, Result<(), ApiError>> {
        Box::pin(async { Ok(()) })
    }

    /// Admission plug-ins the add-on puts in front of every creation in the cluster.
    fn admission(&self) -> Vec<Arc<dyn crate::admission::Admission>> {
        Vec::new()
    }
}

/// The set of served clusters.
pub struct Clusters {
    store: Arc<dyn Store>,
    authorizer: Arc<Authorizer>,
    registry: Arc<Registry>,
    clock: SharedClock,
    tokens: Arc<StaticTokens>,
    addons: Vec<Arc<dyn ClusterAddon>>,
    live: parking_lot::RwLock<BTreeMap<String, Live>>,
}

/// A served cluster: its record, its API, and whether its runtime has started.
struct Live {
    record: ClusterRecord,
    api: Arc<ClusterApi>,
    /// Set once the cluster's background tasks are spawned.
    spawned: Arc<tokio::sync::OnceCell<()>>,
    /// Set once its contents are written (this run of keks).
    booted: Arc<tokio::sync::OnceCell<()>>,
}

impl Clusters {
    /// Loads every cluster recorded in the store and starts its add-ons.
    pub async fn load(
        store: Arc<dyn Store>,
        registry: Arc<Registry>,
        clock: SharedClock,
        tokens: Arc<StaticTokens>,
        authorizer: Arc<Authorizer>,
        addons: Vec<Arc<dyn ClusterAddon>>,
    ) -> Result<Self, ClusterError> {
        let clusters = Self {
            store,
            authorizer,
            registry,
            clock,
            tokens,
            addons,
            live: Default::default(),
        };
        let records = clusters
            .store
            .range(RangeRequest::new(KeyRange::prefix(PREFIX)))
            .await?;
        for kv in records.kvs {
            let record: ClusterRecord = serde_json::from_slice(&kv.value)?;
            let (name, booted) = (record.name.clone(), record.booted);
            clusters.install(record);
            if booted {
                // Its workloads go on; the bootstrap is idempotent and adds defaults new
                // versions of keks bring.
                clusters.running(&name).await?;
            }
        }
        Ok(clusters)
    }

    /// Serves a cluster, dormant: its credentials work and its API exists; nothing runs.
    fn install(&self, record: ClusterRecord) {
        for t in &record.tokens {
            if let Some(hash) = decode_hex32(&t.sha256) {
                let user = UserInfo {
                    username: t.username.clone(),
                    groups: t.groups.clone(),
                    ..Default::default()
                };
                self.tokens.insert_hashed(&record.name, hash, user);
            }
        }
        let range = record
            .service_cidr
            .as_deref()
            .and_then(crate::rest::service_ips::parse_cidr)
            .unwrap_or(crate::rest::service_ips::DEFAULT_SERVICE_CIDR);
        let api = Arc::new(
            ClusterApi::new(
                record.name.clone(),
                self.store.clone(),
                self.registry.clone(),
                self.clock.clone(),
            )
            .with_service_cidr(range)
            .with_admission(self.addons.iter().flat_map(|a| a.admission()).collect()),
        );
        let live = Live {
            record: record.clone(),
            api,
            spawned: Default::default(),
            booted: Default::default(),
        };
        self.live.write().insert(record.name, live);
    }

    /// A cluster's API with everything inside it running: the first call starts its
    /// background tasks and writes its contents; later calls return at once. `None` when
    /// there is no such cluster.
    pub async fn running(&self, name: &str) -> Result<Option<Arc<ClusterApi>>, ClusterError> {
        let Some((api, spawned, booted)) = self
            .live
            .read()
            .get(name)
            .map(|l| (l.api.clone(), l.spawned.clone(), l.booted.clone()))
        else {
            return Ok(None);
        };
        spawned.get_or_try_init(|| self.spawn_runtime(&api)).await?;
        booted.get_or_try_init(|| self.boot(&api)).await?;
        Ok(Some(api))
    }

    /// Starts what runs inside a cluster: its RBAC policy, the namespace finalizer, the CRD
    /// controller, the garbage collector and the add-ons.
    async fn spawn_runtime(&self, api: &Arc<ClusterApi>) -> Result<(), ClusterError> {
        self.authorizer.track(&api.cluster).await?;
        crate::lifecycle::NamespaceFinalizer::spawn(api.clone());
        crate::crd::CrdController::spawn(api.clone()); // custom resources of this cluster's CRDs
        crate::lifecycle::GarbageCollector::spawn(api.clone());
        for addon in &self.addons {
            addon.start(api.clone());
        }
        Ok(())
    }

    /// Writes a cluster's contents: the Kubernetes defaults every time keks starts it
    /// (idempotent), the add-ons' contents the first time ever, then records it as booted.
    async fn boot(&self, api: &Arc<ClusterApi>) -> Result<(), ClusterError> {
        self.bootstrap(api).await?;
        let Some(mut record) = self.record(&api.cluster) else {
            return Ok(()); // deleted meanwhile
        };
        if record.booted {
            return Ok(());
        }
        for addon in &self.addons {
            addon.boot(api.clone()).await?;
        }
        record.booted = true;
        self.save(&record).await?;
        Ok(())
    }

    /// Writes a changed record, if the cluster still exists, and serves it from then on.
    async fn save(&self, record: &ClusterRecord) -> Result<(), ClusterError> {
        let key = Bytes::from(format!("{PREFIX}{}", record.name));
        let value = Bytes::from(serde_json::to_vec(record)?);
        self.store
            .txn(
                Txn::new()
                    .when([Compare::present(key.clone())])
                    .and_then([TxnOp::put(key, value)]),
            )
            .await?;
        if let Some(live) = self.live.write().get_mut(&record.name) {
            live.record.tokens.clone_from(&record.tokens);
            live.record.version.clone_from(&record.version);
            live.record.booted |= record.booted;
        }
        Ok(())
    }

    /// Deletes a cluster: stops its background tasks, forgets its credentials and policy,
    /// and removes every object it stored. Returns whether it existed.
    pub async fn delete(&self, name: &str) -> Result<bool, ClusterError> {
        let removed = self.live.write().remove(name);
        if let Some(live) = &removed {
            live.api.stop();
        }
        self.tokens.remove_cluster(name);
        self.authorizer.forget(name);
        let objects = crate::registry::keys::cluster_prefix(name);
        let deleted = self
            .store
            .txn(Txn::new().and_then([
                TxnOp::delete(Bytes::from(format!("{PREFIX}{name}"))),
                TxnOp::Delete {
                    range: KeyRange::prefix(objects),
                },
            ]))
            .await?;
        debug_assert!(deleted.succeeded);
        Ok(removed.is_some())
    }

    /// A new admin bearer token (`kubernetes-admin` in `system:masters`) for a cluster; the
    /// plain token exists only in the answer.
    pub async fn issue_admin_token(
        &self,
        name: &str,
    ) -> Result<(ClusterRecord, String), ClusterError> {
        let Some(mut record) = self.record(name) else {
            return Err(ClusterError::InvalidName(
                name.to_string(),
                "no such cluster".into(),
            ));
        };
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        let token = hex(&secret);
        let hash = StaticTokens::hash(&token);
        record.tokens.push(TokenRecord {
            sha256: hex(&hash),
            username: "kubernetes-admin".into(),
            groups: vec!["system:masters".into()],
        });
        self.save(&record).await?;
        let user = UserInfo {
            username: "kubernetes-admin".into(),
            groups: vec!["system:masters".into()],
            ..Default::default()
        };
        self.tokens.insert_hashed(name, hash, user);
        Ok((record, token))
    }

    /// Records a new Kubernetes version for a cluster (after an upgrade); `/version` reports
    /// it from then on.
    pub async fn set_version(&self, name: &str, version: &str) -> Result<(), ClusterError> {
        let Some(mut record) = self.record(name) else {
            return Ok(());
        };
        record.version = version.to_string();
        self.save(&record).await
    }

    /// The cluster names keks accepts: EKS's (`^[0-9A-Za-z][A-Za-z0-9\-_]*$`, 1 to 100
    /// characters), which are also safe as one URL path segment and one store key segment.
    pub fn validate_name(name: &str) -> Result<(), String> {
        let mut chars = name.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        if !first_ok
            || name.len() > 100
            || !chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(
                "must be 1 to 100 characters: letters, digits, '-' and '_', starting with a letter or digit"
                    .into(),
            );
        }
        Ok(())
    }

    /// A cluster's API as it is: dormant clusters stay dormant (their store reads work;
    /// use [`Clusters::running`] to act in the cluster).
    pub fn get(&self, name: &str) -> Option<Arc<ClusterApi>> {
        self.live.read().get(name).map(|l| l.api.clone())
    }

    pub fn record(&self, name: &str) -> Option<ClusterRecord> {
        self.live.read().get(name).map(|l| l.record.clone())
    }

    pub fn names(&self) -> Vec<String> {
        self.live.read().keys().cloned().collect()
    }

    /// Creates a cluster with its bootstrap namespaces; returns its record and a new admin
    /// bearer token (the only time the plain token exists).
    pub async fn create(
        &self,
        name: &str,
        version: &str,
    ) -> Result<(ClusterRecord, String), ClusterError> {
        self.create_with(name, version, &ClusterOptions::default())
            .await
    }

    /// Creates a cluster with options: the Service address range, the token issuer.
    pub async fn create_with(
        &self,
        name: &str,
        version: &str,
        options: &ClusterOptions,
    ) -> Result<(ClusterRecord, String), ClusterError> {
        let service_cidr = options.service_cidr.as_deref();
        if let Some(c) = service_cidr {
            if crate::rest::service_ips::parse_cidr(c).is_none() {
                return Err(ClusterError::InvalidName(
                    name.to_string(),
                    format!("invalid service CIDR {c}"),
                ));
            }
        }
        Self::validate_name(name).map_err(|p| ClusterError::InvalidName(name.to_string(), p))?;
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        let token = hex(&secret);
        let record = ClusterRecord {
            name: name.to_string(),
            version: version.to_string(),
            created: crate::rest::meta::timestamp(self.clock.wall()),
            service_cidr: service_cidr.map(str::to_string),
            service_account_issuer: options.service_account_issuer.clone(),
            tokens: vec![TokenRecord {
                sha256: hex(&StaticTokens::hash(&token)),
                username: "kubernetes-admin".into(),
                groups: vec!["system:masters".into()],
            }],
            booted: false,
        };
        let key = Bytes::from(format!("{PREFIX}{name}"));
        let value = Bytes::from(serde_json::to_vec(&record)?);
        let created = self
            .store
            .txn(
                Txn::new()
                    .when([Compare::absent(key.clone())])
                    .and_then([TxnOp::put(key, value)]),
            )
            .await?;
        if !created.succeeded {
            return Err(ClusterError::AlreadyExists(name.to_string()));
        }
        self.install(record.clone());
        Ok((record, token))
    }

    /// The objects every cluster starts with.
    async fn bootstrap(&self, api: &Arc<ClusterApi>) -> Result<(), ApiError> {
        let namespaces = self.registry.get("", "v1", "namespaces").expect("built in");
        // Created concurrently, so that the store's group commit writes each batch with one
        // sync rather than one per object: namespaces first, then what lives in them.
        let created = ["default", "kube-system", "kube-public", "kube-node-lease"].map(|ns| {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            api.create_if_absent(&namespaces, obj)
        });
        futures::future::try_join_all(created).await?;
        let rbac = crate::authz::bootstrap::objects()
            .into_iter()
            .map(|(plural, obj)| ("rbac.authorization.k8s.io", plural, obj));
        let mut creates = Vec::new();
        for (group, plural, obj) in rbac.chain(defaults(api)) {
            let d = self
                .registry
                .get(group, "v1", plural)
                .expect("bootstrap resources are built in");
            let api = api.clone();
            creates.push(async move { api.create_if_absent(&d, obj).await });
        }
        futures::future::try_join_all(creates).await?;
        Ok(())
    }
}

/// What kube-apiserver's own bootstrap controllers create: the `kubernetes` Service on the
/// first address of the Service range, and the two system priority classes.
fn defaults(api: &ClusterApi) -> Vec<(&'static str, &'static str, serde_json::Value)> {
    let ip = crate::rest::service_ips::first_address(api.service_cidr).to_string();
    let priority = |name: &str, value: i64, description: &str| {
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
               "metadata": {"name": name}, "value": value, "globalDefault": false,
               "preemptionPolicy": "PreemptLowerPriority", "description": description})
    };
    vec![
        ("", "services", json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}]}})),
        ("scheduling.k8s.io", "priorityclasses", priority("system-node-critical", 2000001000,
            "Used for system critical pods that must not be moved from their current node.")),
        ("scheduling.k8s.io", "priorityclasses", priority("system-cluster-critical", 2000000000,
            "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.")),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in text.as_bytes().chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
    }
    Some(out)
}
