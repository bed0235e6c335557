//! Authentication: who a request comes from. A chain of authenticators, each recognising
//! its kind of credential; the EKS issue adds `aws eks get-token` tokens to the chain.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use sha2::{Digest, Sha256};

/// The authenticated identity of a request, as Kubernetes' `user.Info`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct UserInfo {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: HashMap<String, Vec<String>>,
}

impl UserInfo {
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// The outcome of one authenticator.
pub enum Authenticated {
    User(UserInfo),
    /// Not this authenticator's kind of credential; ask the next.
    NotMine,
    /// This authenticator's kind, but invalid: the request is refused.
    Invalid,
}

/// One way of recognising a bearer token. Asynchronous because some kinds (EKS tokens) map
/// the identity through objects in the cluster's store.
#[async_trait::async_trait]
pub trait TokenAuthenticator: Send + Sync {
    async fn authenticate(&self, cluster: &str, token: &str) -> Authenticated;
}

/// The chain: the first authenticator that recognises the token decides.
#[derive(Default, Clone)]
pub struct AuthenticatorChain {
    authenticators: Vec<Arc<dyn TokenAuthenticator>>,
}

impl AuthenticatorChain {
    pub fn with(mut self, a: Arc<dyn TokenAuthenticator>) -> Self {
        self.authenticators.push(a);
        self
    }

    /// The user behind `Authorization: Bearer <token>`; `None` means 401.
    pub async fn authenticate(&self, cluster: &str, token: &str) -> Option<UserInfo> {
        for a in &self.authenticators {
            match a.authenticate(cluster, token).await {
                Authenticated::User(mut user) => {
                    if !user.in_group("system:authenticated") {
                        user.groups.push("system:authenticated".into());
                    }
                    return Some(user);
                }
                Authenticated::Invalid => return None,
                Authenticated::NotMine => {}
            }
        }
        None
    }
}

/// Static bearer tokens per cluster, held by their SHA-256 so the plain token is never kept.
#[derive(Default)]
pub struct StaticTokens {
    by_hash: RwLock<HashMap<(String, [u8; 32]), UserInfo>>,
}

impl StaticTokens {
    pub fn hash(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    pub fn insert_hashed(&self, cluster: &str, hash: [u8; 32], user: UserInfo) {
        self.by_hash
            .write()
            .insert((cluster.to_string(), hash), user);
    }

    pub fn remove_cluster(&self, cluster: &str) {
        self.by_hash.write().retain(|(c, _), _| c != cluster);
    }
}

#[async_trait::async_trait]
impl TokenAuthenticator for StaticTokens {
    async fn authenticate(&self, cluster: &str, token: &str) -> Authenticated {
        match self
            .by_hash
            .read()
            .get(&(cluster.to_string(), Self::hash(token)))
        {
            Some(user) => Authenticated::User(user.clone()),
            None => Authenticated::NotMine,
        }
    }
}
