//! Authorization: `system:masters` may do anything; everyone else is decided by RBAC over the
//! cluster's Roles, ClusterRoles and bindings, deny by default. Each cluster's policy is
//! held in memory and kept current by a store watch (as kube-apiserver's informer-fed
//! authorizer); a denial is re-checked against the store so a binding that was just written
//! takes effect at once.

pub mod bootstrap;
mod policy;
mod rules;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use keks_store::{KeyRange, RangeRequest, Revision, Store, StoreError, WatchRequest};
use parking_lot::RwLock;
use serde_json::Value;

pub use policy::{Decision, Kind, Policy};
pub use rules::Rule;

use crate::authn::UserInfo;
use crate::request::RequestInfo;

/// The group whose members bypass authorization, as in Kubernetes.
pub const MASTERS: &str = "system:masters";

/// One cluster's policy and what it was built from.
struct Tracked {
    policy: RwLock<Policy>,
    /// (number of RBAC keys, newest mod_revision among them) the policy reflects.
    fingerprint: RwLock<(usize, Revision)>,
}

/// Permissions a user holds outside RBAC objects — EKS access policies. Each grant is a
/// set of rules, cluster-wide or limited to some namespaces.
pub trait Grants: Send + Sync {
    fn grants(&self, cluster: &str, user: &UserInfo) -> Vec<Grant>;
}

/// One grant: the rules of a ClusterRole of the cluster (aggregation included), or rules
/// of its own.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    pub rules: GrantRules,
    /// `None`: everywhere; otherwise only requests in these namespaces.
    pub namespaces: Option<Vec<String>>,
    /// Why it applies, for the audit reason (for example the access policy's name).
    pub source: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum GrantRules {
    ClusterRole(String),
    Rules(Vec<Rule>),
}

/// The RBAC authorizer of every cluster.
pub struct Authorizer {
    store: Arc<dyn Store>,
    clusters: RwLock<HashMap<String, Arc<Tracked>>>,
    grants: std::sync::OnceLock<Arc<dyn Grants>>,
}

fn prefix(cluster: &str) -> Bytes {
    Bytes::from(format!("/k8s/{cluster}/rbac.authorization.k8s.io/"))
}

/// `(kind, namespace, name)` of a stored RBAC key.
fn parse_key(cluster: &str, key: &[u8]) -> Option<(Kind, String, String)> {
    let key = std::str::from_utf8(key).ok()?;
    let rest = key.strip_prefix(&format!("/k8s/{cluster}/rbac.authorization.k8s.io/"))?;
    let mut parts = rest.split('/');
    let kind = Kind::from_plural(parts.next()?)?;
    let (a, b) = (parts.next()?, parts.next());
    Some(match b {
        Some(name) => (kind, a.to_string(), name.to_string()),
        None => (kind, String::new(), a.to_string()),
    })
}

impl Authorizer {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            clusters: RwLock::new(HashMap::new()),
            grants: std::sync::OnceLock::new(),
        }
    }

    /// Adds the source of non-RBAC grants (set once, when the EKS control plane starts).
    pub fn set_grants(&self, grants: Arc<dyn Grants>) {
        let _ = self.grants.set(grants);
    }

    /// Whether a grant allows a request.
    fn granted(policy: &Policy, grant: &Grant, info: &RequestInfo) -> bool {
        if let Some(namespaces) = &grant.namespaces {
            if info.namespace.is_empty() || !namespaces.iter().any(|n| n == &info.namespace) {
                return false;
            }
        }
        match &grant.rules {
            GrantRules::ClusterRole(name) => policy
                .cluster_role_rules(name)
                .is_some_and(|rules| rules.iter().any(|r| r.allows(info))),
            GrantRules::Rules(rules) => rules.iter().any(|r| r.allows(info)),
        }
    }

    /// Loads a cluster's policy and keeps it current from then on.
    pub async fn track(self: &Arc<Self>, cluster: &str) -> Result<(), StoreError> {
        let tracked = Arc::new(Tracked {
            policy: RwLock::new(Policy::default()),
            fingerprint: RwLock::new((0, 0)),
        });
        let revision = self.reload(cluster, &tracked).await?;
        self.clusters
            .write()
            .insert(cluster.to_string(), tracked.clone());
        let this = self.clone();
        let cluster = cluster.to_string();
        tokio::spawn(async move { this.follow(cluster, tracked, revision).await });
        Ok(())
    }

    /// Rebuilds a policy from the store; returns the revision it reflects.
    async fn reload(&self, cluster: &str, tracked: &Tracked) -> Result<Revision, StoreError> {
        let all = self
            .store
            .range(RangeRequest::new(KeyRange::prefix(prefix(cluster))))
            .await?;
        let mut policy = Policy::default();
        for kv in &all.kvs {
            if let (Some((kind, ns, name)), Ok(obj)) = (
                parse_key(cluster, &kv.key),
                serde_json::from_slice::<Value>(&kv.value),
            ) {
                policy.apply(kind, &ns, &name, Some(&obj));
            }
        }
        let newest = all.kvs.iter().map(|kv| kv.mod_revision).max().unwrap_or(0);
        *tracked.policy.write() = policy;
        *tracked.fingerprint.write() = (all.kvs.len(), newest);
        Ok(all.revision)
    }

    /// Applies the cluster's RBAC changes as they happen; relists if the watch breaks.
    async fn follow(
        self: Arc<Self>,
        cluster: String,
        tracked: Arc<Tracked>,
        mut revision: Revision,
    ) {
        loop {
            let request =
                WatchRequest::new(KeyRange::prefix(prefix(&cluster))).from_revision(revision + 1);
            let mut events = match self.store.watch(request).await {
                Ok(events) => events,
                Err(_) => match self.reload(&cluster, &tracked).await {
                    Ok(r) => {
                        revision = r;
                        continue;
                    }
                    Err(_) => return, // the store is closed
                },
            };
            while let Some(event) = events.next().await {
                let Ok(event) = event else { break };
                revision = event.kv.mod_revision;
                let Some((kind, ns, name)) = parse_key(&cluster, &event.kv.key) else {
                    continue;
                };
                let obj = match event.kind {
                    keks_store::EventKind::Put => {
                        serde_json::from_slice::<Value>(&event.kv.value).ok()
                    }
                    keks_store::EventKind::Delete => None,
                };
                tracked.policy.write().apply(kind, &ns, &name, obj.as_ref());
                let mut fp = tracked.fingerprint.write();
                fp.1 = fp.1.max(revision);
                fp.0 = match event.kind {
                    keks_store::EventKind::Put if event.prev_kv.is_none() => fp.0 + 1,
                    keks_store::EventKind::Delete => fp.0.saturating_sub(1),
                    keks_store::EventKind::Put => fp.0,
                };
            }
            if self
                .clusters
                .read()
                .get(&cluster)
                .is_none_or(|t| !Arc::ptr_eq(t, &tracked))
            {
                return; // the cluster was removed or re-tracked
            }
            match self.reload(&cluster, &tracked).await {
                Ok(r) => revision = r,
                Err(_) => return,
            }
        }
    }

    /// Stops tracking a deleted cluster.
    pub fn forget(&self, cluster: &str) {
        self.clusters.write().remove(cluster);
    }

    /// Decides one request.
    pub async fn authorize(&self, cluster: &str, user: &UserInfo, info: &RequestInfo) -> Decision {
        if user.in_group(MASTERS) {
            return Decision::Allow(format!("allowed: {} is in {MASTERS}", user.username));
        }
        let Some(tracked) = self.clusters.read().get(cluster).cloned() else {
            return Decision::Deny;
        };
        let decision = tracked.policy.read().decide(user, info);
        if decision != Decision::Deny {
            return decision;
        }
        if let Some(source) = self.grants.get() {
            let policy = tracked.policy.read();
            if let Some(g) = source
                .grants(cluster, user)
                .into_iter()
                .find(|g| Self::granted(&policy, g, info))
            {
                return Decision::Allow(format!("allowed by {}", g.source));
            }
        }
        // The watch may not have delivered a binding written a moment ago: look at the store
        // and rebuild if the policy is behind it.
        let Ok(current) = self
            .store
            .range(RangeRequest::new(KeyRange::prefix(prefix(cluster))).keys_only())
            .await
        else {
            return Decision::Deny;
        };
        let fingerprint = (
            current.kvs.len(),
            current
                .kvs
                .iter()
                .map(|kv| kv.mod_revision)
                .max()
                .unwrap_or(0),
        );
        if fingerprint == *tracked.fingerprint.read()
            || self.reload(cluster, &tracked).await.is_err()
        {
            return Decision::Deny;
        }
        let decision = tracked.policy.read().decide(user, info);
        decision
    }

    /// The rules `user` holds in `namespace`: RBAC's and the grants' (SelfSubjectRulesReview).
    pub fn rules_for(&self, cluster: &str, user: &UserInfo, namespace: &str) -> Vec<Rule> {
        let Some(tracked) = self.clusters.read().get(cluster).cloned() else {
            return Vec::new();
        };
        let policy = tracked.policy.read();
        let mut rules = policy.rules_for(user, namespace);
        if let Some(source) = self.grants.get() {
            for g in source.grants(cluster, user) {
                let applies = g
                    .namespaces
                    .as_ref()
                    .is_none_or(|n| !namespace.is_empty() && n.iter().any(|n| n == namespace));
                if !applies {
                    continue;
                }
                match g.rules {
                    GrantRules::ClusterRole(name) => rules.extend(
                        policy
                            .cluster_role_rules(&name)
                            .unwrap_or_default()
                            .iter()
                            .cloned(),
                    ),
                    GrantRules::Rules(r) => rules.extend(r),
                }
            }
        }
        rules
    }

    /// The effective rules of an aggregated ClusterRole, for the aggregation controller.
    pub fn effective_rules(&self, cluster: &str, cluster_role: &str) -> Option<Vec<Rule>> {
        let tracked = self.clusters.read().get(cluster).cloned()?;
        let policy = tracked.policy.read();
        policy
            .cluster_role_rules(cluster_role)
            .map(<[Rule]>::to_vec)
    }
}
