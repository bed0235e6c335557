//! Service account tokens: `serviceaccounts/<name>/token` (TokenRequest, what `kubectl create
//! token` and projected volumes use) issues a JWT for the account, and the authenticator
//! accepts such tokens while they are unexpired and the account still exists with the same
//! uid, as kube-apiserver does. The user is `system:serviceaccount:<ns>:<name>` in
//! `system:serviceaccounts` and `system:serviceaccounts:<ns>`.
//!
//! Tokens are signed HS256 with a key generated once per data directory and kept in the
//! store (`/keks/serviceaccount-signing-key`); the issuer is the cluster's (its EKS OIDC
//! issuer for EKS clusters). Default lifetime one hour; at least ten minutes, as the API
//! validates.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use keks_core::SharedClock;
use keks_store::{Compare, Store, StoreError, Txn, TxnOp};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::authn::{Authenticated, TokenAuthenticator, UserInfo};
use crate::clusters::Clusters;
use crate::field::{FieldError, FieldPath};
use crate::status::ApiError;

const KEY: &str = "/keks/serviceaccount-signing-key";
/// The audience kube-apiserver (and EKS) accepts by default.
pub const API_AUDIENCE: &str = "https://kubernetes.default.svc";
/// The issuer of clusters that name none.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
const MIN_EXPIRATION_SECONDS: i64 = 600;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub iss: String,
    pub sub: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaims,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct KubernetesClaims {
    pub namespace: String,
    pub serviceaccount: ObjectRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ObjectRef {
    pub name: String,
    pub uid: String,
}

/// Issues and checks service account tokens for every cluster.
pub struct ServiceAccountTokens {
    key: Vec<u8>,
    clock: SharedClock,
    clusters: std::sync::OnceLock<std::sync::Weak<Clusters>>,
}

fn epoch(clock: &SharedClock) -> i64 {
    clock
        .wall()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl ServiceAccountTokens {
    /// Loads the signing key, generating it on first start.
    pub async fn load(store: &dyn Store, clock: SharedClock) -> Result<Arc<Self>, StoreError> {
        let key = match store.get(KEY.as_bytes()).await? {
            Some(kv) => kv.value.to_vec(),
            None => {
                let mut key = vec![0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                let created = store
                    .txn(
                        Txn::new()
                            .when([Compare::absent(KEY)])
                            .and_then([TxnOp::put(KEY, Bytes::from(key.clone()))]),
                    )
                    .await?;
                if created.succeeded {
                    key
                } else {
                    store
                        .get(KEY.as_bytes())
                        .await?
                        .map(|kv| kv.value.to_vec())
                        .unwrap_or(key)
                }
            }
        };
        Ok(Arc::new(Self {
            key,
            clock,
            clusters: std::sync::OnceLock::new(),
        }))
    }

    /// Connects the clusters whose service accounts tokens are checked against.
    pub fn connect(&self, clusters: &Arc<Clusters>) {
        let _ = self.clusters.set(Arc::downgrade(clusters));
    }

    fn sign(&self, input: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(input.as_bytes());
        B64.encode(mac.finalize().into_bytes())
    }

    pub fn issue(&self, claims: &Claims) -> String {
        let header = B64.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
        let payload = B64.encode(serde_json::to_vec(claims).expect("claims serialize"));
        let input = format!("{header}.{payload}");
        let signature = self.sign(&input);
        format!("{input}.{signature}")
    }

    /// The claims of a token this keks signed, if unexpired.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let (input, signature) = token.rsplit_once('.')?;
        let expected = self.sign(input);
        if expected.len() != signature.len()
            || expected
                .bytes()
                .zip(signature.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                != 0
        {
            return None;
        }
        let (_, payload) = input.split_once('.')?;
        let claims: Claims = serde_json::from_slice(&B64.decode(payload).ok()?).ok()?;
        let now = epoch(&self.clock);
        (claims.exp > now && claims.nbf <= now + 60).then_some(claims)
    }

    /// Answers a TokenRequest for service account `name` (already read as `sa`).
    pub fn token_request(
        &self,
        sa: &Value,
        mut request: Value,
        issuer: &str,
    ) -> Result<Value, ApiError> {
        let spec = request.get("spec").cloned().unwrap_or(json!({}));
        let seconds = spec
            .get("expirationSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_EXPIRATION_SECONDS);
        if seconds < MIN_EXPIRATION_SECONDS {
            return Err(ApiError::invalid(
                "authentication.k8s.io",
                "TokenRequest",
                sa["metadata"]["name"].as_str().unwrap_or_default(),
                vec![FieldError::invalid(
                    FieldPath::root("spec").child("expirationSeconds"),
                    json!(seconds),
                    "may not specify a duration less than 10 minutes",
                )],
            ));
        }
        let audiences: Vec<String> = spec
            .get("audiences")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .filter(|a: &Vec<String>| !a.is_empty())
            .unwrap_or_else(|| vec![API_AUDIENCE.to_string()]);
        let meta = &sa["metadata"];
        let (ns, name, uid) = (
            meta["namespace"].as_str().unwrap_or_default(),
            meta["name"].as_str().unwrap_or_default(),
            meta["uid"].as_str().unwrap_or_default(),
        );
        let pod = spec
            .pointer("/boundObjectRef")
            .filter(|r| r["kind"] == "Pod")
            .map(|r| ObjectRef {
                name: r["name"].as_str().unwrap_or_default().to_string(),
                uid: r["uid"].as_str().unwrap_or_default().to_string(),
            });
        let now = epoch(&self.clock);
        let claims = Claims {
            aud: audiences.clone(),
            exp: now + seconds,
            iat: now,
            nbf: now,
            iss: issuer.to_string(),
            sub: format!("system:serviceaccount:{ns}:{name}"),
            kubernetes: KubernetesClaims {
                namespace: ns.to_string(),
                serviceaccount: ObjectRef {
                    name: name.to_string(),
                    uid: uid.to_string(),
                },
                pod,
            },
        };
        let token = self.issue(&claims);
        let expires = self.clock.wall() + Duration::from_secs(seconds as u64);
        request["apiVersion"] = json!("authentication.k8s.io/v1");
        request["kind"] = json!("TokenRequest");
        if request.get("metadata").is_none() {
            request["metadata"] = json!({});
        }
        request["metadata"]["name"] = json!(name);
        request["metadata"]["namespace"] = json!(ns);
        request["spec"] = json!({"audiences": audiences, "expirationSeconds": seconds, "boundObjectRef": spec.get("boundObjectRef")});
        request["status"] =
            json!({"token": token, "expirationTimestamp": crate::rest::meta::timestamp(expires)});
        Ok(request)
    }
}

#[async_trait::async_trait]
impl TokenAuthenticator for ServiceAccountTokens {
    async fn authenticate(&self, cluster: &str, token: &str) -> Authenticated {
        if token.split('.').count() != 3 {
            return Authenticated::NotMine;
        }
        let Some(claims) = self.verify(token) else {
            return Authenticated::NotMine;
        };
        let Some(clusters) = self.clusters.get().and_then(std::sync::Weak::upgrade) else {
            return Authenticated::Invalid;
        };
        let issuer = clusters
            .record(cluster)
            .map(|r| r.issuer())
            .unwrap_or_default();
        let audience_ok = claims.aud.iter().any(|a| a == API_AUDIENCE || *a == issuer);
        if claims.iss != issuer || !audience_ok {
            return Authenticated::Invalid;
        }
        // The account must still exist, the same one (a recreated account is another).
        let Some(api) = clusters.get(cluster) else {
            return Authenticated::Invalid;
        };
        let Some(d) = api.registry.get("", "v1", "serviceaccounts") else {
            return Authenticated::Invalid;
        };
        let ns = &claims.kubernetes.namespace;
        let sa = &claims.kubernetes.serviceaccount;
        match api.try_get(&d, ns, &sa.name).await {
            Ok(Some(obj)) if obj["metadata"]["uid"] == sa.uid.as_str() => {}
            _ => return Authenticated::Invalid,
        }
        let mut extra = HashMap::new();
        if let Some(pod) = &claims.kubernetes.pod {
            extra.insert(
                "authentication.kubernetes.io/pod-name".to_string(),
                vec![pod.name.clone()],
            );
            extra.insert(
                "authentication.kubernetes.io/pod-uid".to_string(),
                vec![pod.uid.clone()],
            );
        }
        Authenticated::User(UserInfo {
            username: claims.sub.clone(),
            uid: sa.uid.clone(),
            groups: vec![
                "system:serviceaccounts".to_string(),
                format!("system:serviceaccounts:{ns}"),
            ],
            extra,
        })
    }
}
