//! Who an AWS identity is inside a cluster, as EKS decides it: an access entry (modes API
//! and API_AND_CONFIG_MAP) first, then the `aws-auth` ConfigMap (modes CONFIG_MAP and
//! API_AND_CONFIG_MAP); in CONFIG_MAP mode the cluster creator is an administrator without
//! appearing anywhere. Unmapped identities get nothing (the API answers 401). Access
//! policies of the entry are handed to the authorizer as grants.

use std::collections::HashMap;

use keks_apiserver::authn::UserInfo;
use keks_apiserver::authz::{Grant, GrantRules, Grants, Rule};
use serde_json::json;

use crate::access::{self, grant_of};
use crate::aws_auth::{expand, AwsAuth};
use crate::caller::Caller;
use crate::control_plane::ControlPlane;

/// The `extra` key carrying the canonical ARN, as aws-iam-authenticator names it.
pub const CANONICAL_ARN: &str = "canonicalArn";

impl ControlPlane {
    /// The Kubernetes user `caller` is in `cluster`; `None` when unmapped.
    pub async fn kubernetes_user(&self, cluster: &str, caller: &Caller) -> Option<UserInfo> {
        let canonical = caller.canonical_arn();
        let (config, entry, creator_admin) = self.with(cluster, |d| {
            let creator_admin = d
                .cluster
                .access_config
                .bootstrap_cluster_creator_admin_permissions
                && !d.cluster.access_config.uses_access_entries()
                && d.creator_arn == canonical;
            let entry = d
                .cluster
                .access_config
                .uses_access_entries()
                .then(|| d.access_entries.get(&canonical).map(|e| e.entry.clone()))
                .flatten();
            (d.cluster.access_config.clone(), entry, creator_admin)
        })?;
        let (username, groups) = if let Some(e) = entry {
            let mut groups = e.kubernetes_groups.clone();
            match e.kind.as_str() {
                "EC2_LINUX" | "EC2_WINDOWS" | "HYBRID_LINUX" => groups.extend([
                    "system:bootstrappers".to_string(),
                    "system:nodes".to_string(),
                ]),
                "FARGATE_LINUX" => groups.extend([
                    "system:node-proxier".to_string(),
                    "system:nodes".to_string(),
                ]),
                _ => {}
            }
            (expand(&e.username, caller), groups)
        } else if creator_admin {
            (
                "kubernetes-admin".to_string(),
                vec!["system:masters".to_string()],
            )
        } else if config.uses_config_map() {
            self.aws_auth(cluster).await?.map(caller)?
        } else {
            return None;
        };
        let mut extra = HashMap::new();
        extra.insert("arn".to_string(), vec![caller.arn.clone()]);
        extra.insert(CANONICAL_ARN.to_string(), vec![canonical]);
        extra.insert(
            "accessKeyId".to_string(),
            vec![caller.access_key_id.clone()],
        );
        extra.insert("principalId".to_string(), vec![caller.user_id.clone()]);
        if let Some(s) = caller.session_name() {
            extra.insert("sessionName".to_string(), vec![s.to_string()]);
        }
        Some(UserInfo {
            username,
            uid: format!(
                "aws-iam-authenticator:{}:{}",
                caller.account, caller.user_id
            ),
            groups,
            extra,
        })
    }

    async fn aws_auth(&self, cluster: &str) -> Option<AwsAuth> {
        // Reading aws-auth needs the cluster's contents: only callers with a valid AWS
        // signature get here, so only they wake a dormant cluster.
        let api = self.running_api(cluster).await.ok()??;
        let d = api.registry.get("", "v1", "configmaps")?;
        let cm = api.try_get(&d, "kube-system", "aws-auth").await.ok()??;
        let (auth, problems) = AwsAuth::from_config_map(&cm);
        for p in problems {
            tracing::debug!(cluster, problem = %p, "the aws-auth ConfigMap has a malformed section");
        }
        Some(auth)
    }
}

impl Grants for ControlPlane {
    fn grants(&self, cluster: &str, user: &UserInfo) -> Vec<Grant> {
        let Some(canonical) = user.extra.get(CANONICAL_ARN).and_then(|v| v.first()) else {
            return Vec::new();
        };
        self.with(cluster, |d| {
            if !d.cluster.access_config.uses_access_entries() {
                return Vec::new();
            }
            let Some(entry) = d.access_entries.get(canonical) else {
                return Vec::new();
            };
            entry
                .policies
                .iter()
                .filter_map(|p| {
                    let rules = match grant_of(&p.policy_arn)? {
                        access::Grant::ClusterRole(role) => GrantRules::ClusterRole(role.to_string()),
                        access::Grant::ReadEverything => GrantRules::Rules(vec![Rule::from_json(&json!({
                            "apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]
                        }))]),
                    };
                    Some(Grant {
                        rules,
                        namespaces: (p.access_scope.kind == "namespace").then(|| p.access_scope.namespaces.clone()),
                        source: format!("EKS access policy {}", p.policy_arn.rsplit('/').next().unwrap_or_default()),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
    }
}
