//! Access entries and access policies: CreateAccessEntry, DescribeAccessEntry,
//! ListAccessEntries, UpdateAccessEntry, DeleteAccessEntry, AssociateAccessPolicy,
//! DisassociateAccessPolicy, ListAssociatedAccessPolicies and ListAccessPolicies, with
//! EKS's rules for principals, types, usernames, groups and scopes.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::caller::strip_role_path;
use crate::clusters::{check_tags, parse};
use crate::control_plane::ControlPlane;
use crate::doc::{AccessEntry, AccessScope, AssociatedPolicy, ClusterDoc, EntryDoc};
use crate::error::EksError;
use crate::{ids, pagination};

/// What an access policy grants, as its RBAC equivalent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// The rules of a ClusterRole of the cluster (aggregation included).
    ClusterRole(&'static str),
    /// Read access to every resource, Secrets included.
    ReadEverything,
}

/// The access policies keks offers: (name, grant).
pub const ACCESS_POLICIES: &[(&str, Grant)] = &[
    ("AmazonEKSAdminPolicy", Grant::ClusterRole("admin")),
    ("AmazonEKSAdminViewPolicy", Grant::ReadEverything),
    (
        "AmazonEKSClusterAdminPolicy",
        Grant::ClusterRole("cluster-admin"),
    ),
    ("AmazonEKSEditPolicy", Grant::ClusterRole("edit")),
    ("AmazonEKSViewPolicy", Grant::ClusterRole("view")),
];

pub fn policy_arn(name: &str) -> String {
    format!("arn:aws:eks::aws:cluster-access-policy/{name}")
}

/// The grant of a policy ARN.
pub fn grant_of(arn: &str) -> Option<Grant> {
    let name = arn.strip_prefix("arn:aws:eks::aws:cluster-access-policy/")?;
    ACCESS_POLICIES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, g)| *g)
}

const TYPES: [&str; 5] = [
    "STANDARD",
    "EC2_LINUX",
    "EC2_WINDOWS",
    "FARGATE_LINUX",
    "HYBRID_LINUX",
];
const RESERVED_PREFIXES: [&str; 5] = ["system:", "eks:", "aws:", "amazon:", "iam:"];

/// The key an entry is stored under: the principal ARN with a role's path removed, which
/// is also what a caller's canonical ARN looks like.
pub fn entry_key(principal_arn: &str) -> String {
    strip_role_path(principal_arn)
}

/// `(account, "user" | "role", name)` of an IAM user or role ARN.
fn principal_parts(arn: &str) -> Option<(String, &'static str, String)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", partition, "iam", "", account, resource] = parts.as_slice() else {
        return None;
    };
    if !partition.starts_with("aws")
        || account.len() != 12
        || !account.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // The account's root user may hold an entry (a cluster created with root credentials
    // gives its creator one).
    if *resource == "root" {
        return Some((account.to_string(), "root", "root".to_string()));
    }
    let (kind, rest) = if let Some(r) = resource.strip_prefix("role/") {
        ("role", r)
    } else if let Some(r) = resource.strip_prefix("user/") {
        ("user", r)
    } else {
        return None;
    };
    let name = rest.rsplit('/').next().filter(|n| !n.is_empty())?;
    Some((account.to_string(), kind, name.to_string()))
}

/// Gives the cluster creator the cluster-admin entry EKS creates when
/// `bootstrapClusterCreatorAdminPermissions` is true.
pub(crate) fn add_creator_entry_if_missing(doc: &mut ClusterDoc, now: f64) {
    let principal = doc.creator_arn.clone();
    let key = entry_key(&principal);
    if doc.access_entries.contains_key(&key) {
        return;
    }
    let Some(entry) = new_entry(
        doc,
        &principal,
        "STANDARD",
        None,
        Vec::new(),
        BTreeMap::new(),
        now,
    ) else {
        return; // not an IAM principal that can hold an entry
    };
    doc.access_entries.insert(
        key,
        EntryDoc {
            entry,
            policies: vec![AssociatedPolicy {
                policy_arn: policy_arn("AmazonEKSClusterAdminPolicy"),
                access_scope: AccessScope {
                    kind: "cluster".into(),
                    namespaces: Vec::new(),
                },
                associated_at: now,
                modified_at: now,
            }],
        },
    );
}

/// Gives a node role (EC2 instance role, Fargate pod execution role) the access entry EKS
/// creates for it, unless the role already has one.
pub(crate) fn add_node_role_entry(doc: &mut ClusterDoc, role_arn: &str, kind: &str, now: f64) {
    let key = entry_key(role_arn);
    if doc.access_entries.contains_key(&key) {
        return;
    }
    if let Some(entry) = new_entry(doc, role_arn, kind, None, Vec::new(), BTreeMap::new(), now) {
        doc.access_entries.insert(
            key,
            EntryDoc {
                entry,
                policies: Vec::new(),
            },
        );
    }
}

fn new_entry(
    doc: &ClusterDoc,
    principal_arn: &str,
    kind: &str,
    username: Option<String>,
    groups: Vec<String>,
    tags: BTreeMap<String, String>,
    now: f64,
) -> Option<AccessEntry> {
    let (account, principal_kind, name) = principal_parts(principal_arn)?;
    let cluster = &doc.cluster;
    let arn_prefix = cluster.arn.split(":cluster/").next().unwrap_or_default();
    let username = username.unwrap_or_else(|| match (kind, principal_kind) {
        ("EC2_LINUX" | "EC2_WINDOWS" | "HYBRID_LINUX", _) => {
            "system:node:{{EC2PrivateDNSName}}".into()
        }
        ("FARGATE_LINUX", _) => "system:node:{{SessionName}}".into(),
        (_, "role") => format!("arn:aws:sts::{account}:assumed-role/{name}/{{{{SessionName}}}}"),
        _ => principal_arn.to_string(),
    });
    Some(AccessEntry {
        cluster_name: cluster.name.clone(),
        principal_arn: principal_arn.to_string(),
        kubernetes_groups: groups,
        access_entry_arn: format!(
            "{arn_prefix}:access-entry/{}/{principal_kind}/{account}/{name}/{}",
            cluster.name,
            ids::uuid()
        ),
        created_at: now,
        modified_at: now,
        tags,
        username,
        kind: kind.to_string(),
    })
}

fn check_username_and_groups(username: Option<&str>, groups: &[String]) -> Result<(), EksError> {
    if let Some(u) = username {
        if u.is_empty() || RESERVED_PREFIXES.iter().any(|p| u.starts_with(p)) {
            return Err(EksError::invalid_parameter(format!(
                "username {u:?} is not valid: it can't be empty or start with {}",
                RESERVED_PREFIXES.join(", ")
            )));
        }
    }
    if let Some(g) = groups
        .iter()
        .find(|g| g.is_empty() || g.starts_with("system:"))
    {
        return Err(EksError::invalid_parameter(format!(
            "kubernetesGroups: the group {g:?} is not valid: group names can't be empty or start with system:"
        )));
    }
    Ok(())
}

fn require_api_mode(doc: &ClusterDoc) -> Result<(), EksError> {
    if doc.cluster.access_config.uses_access_entries() {
        Ok(())
    } else {
        Err(EksError::InvalidRequest {
            message: "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.".into(),
            cluster: Some(doc.cluster.name.clone()),
        })
    }
}

fn no_entry(cluster: &str) -> EksError {
    EksError::ResourceNotFound {
        message: "The specified access entry resource can't be found.".into(),
        cluster: Some(cluster.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateEntryInput {
    cluster_name: String,
    principal_arn: String,
    #[serde(default)]
    kubernetes_groups: Vec<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    username: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateEntryInput {
    cluster_name: String,
    principal_arn: String,
    kubernetes_groups: Option<Vec<String>>,
    username: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssociateInput {
    cluster_name: String,
    principal_arn: String,
    policy_arn: String,
    access_scope: AccessScope,
}

fn str_of<'a>(input: &'a Value, member: &str) -> &'a str {
    input
        .get(member)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

impl ControlPlane {
    pub async fn create_access_entry(&self, input: Value) -> Result<Value, EksError> {
        let input: CreateEntryInput = parse(input)?;
        let kind = input.kind.clone().unwrap_or_else(|| "STANDARD".into());
        if !TYPES.contains(&kind.as_str()) {
            return Err(EksError::invalid_parameter(format!(
                "type {kind:?} is not valid: valid values are {}",
                TYPES.join(", ")
            )));
        }
        let Some((_, principal_kind, _)) = principal_parts(&input.principal_arn) else {
            return Err(EksError::invalid_parameter(format!(
                "The specified principalArn is invalid: {} is not an IAM user or role ARN",
                input.principal_arn
            )));
        };
        if kind != "STANDARD" {
            if principal_kind != "role" {
                return Err(EksError::invalid_parameter(format!(
                    "The principalArn of a {kind} access entry must be an IAM role"
                )));
            }
            if input.username.is_some() || !input.kubernetes_groups.is_empty() {
                return Err(EksError::invalid_parameter(format!(
                    "username and kubernetesGroups can't be specified for access entries of type {kind}"
                )));
            }
        }
        check_username_and_groups(input.username.as_deref(), &input.kubernetes_groups)?;
        check_tags(&input.tags)?;
        let now = self.now();
        let cluster = input.cluster_name.clone();
        self.modify(&cluster, |doc| {
            require_api_mode(doc)?;
            if !self.principal_exists(&input.principal_arn) {
                return Err(EksError::invalid_parameter(format!(
                    "The specified principalArn could not be found: {}",
                    input.principal_arn
                )));
            }
            let key = entry_key(&input.principal_arn);
            if doc.access_entries.contains_key(&key) {
                return Err(EksError::ResourceInUse {
                    message:
                        "The specified access entry resource is already in use on this cluster."
                            .into(),
                    cluster: Some(cluster.clone()),
                });
            }
            let entry = new_entry(
                doc,
                &input.principal_arn,
                &kind,
                input.username.clone(),
                input.kubernetes_groups.clone(),
                input.tags.clone(),
                now,
            )
            .ok_or_else(|| EksError::invalid_parameter("The specified principalArn is invalid"))?;
            doc.access_entries.insert(
                key,
                EntryDoc {
                    entry: entry.clone(),
                    policies: Vec::new(),
                },
            );
            Ok(json!({ "accessEntry": entry }))
        })
        .await
    }

    fn entry(&self, cluster: &str, principal: &str) -> Result<EntryDoc, EksError> {
        self.with(cluster, |d| {
            d.access_entries.get(&entry_key(principal)).cloned()
        })
        .ok_or_else(|| EksError::no_cluster(cluster))?
        .ok_or_else(|| no_entry(cluster))
    }

    pub fn describe_access_entry(&self, input: &Value) -> Result<Value, EksError> {
        let e = self.entry(str_of(input, "clusterName"), str_of(input, "principalArn"))?;
        Ok(json!({ "accessEntry": e.entry }))
    }

    pub fn list_access_entries(&self, input: &Value) -> Result<Value, EksError> {
        let cluster = str_of(input, "clusterName");
        let policy = input.get("associatedPolicyArn").and_then(Value::as_str);
        let arns: Vec<String> = self
            .with(cluster, |d| {
                d.access_entries
                    .values()
                    .filter(|e| policy.is_none_or(|p| e.policies.iter().any(|a| a.policy_arn == p)))
                    .map(|e| e.entry.principal_arn.clone())
                    .collect()
            })
            .ok_or_else(|| EksError::no_cluster(cluster))?;
        let (page, next) = pagination::page(
            &arns,
            String::clone,
            input.get("maxResults").and_then(Value::as_i64),
            input.get("nextToken").and_then(Value::as_str),
        )?;
        let mut out = json!({ "accessEntries": page });
        if let Some(next) = next {
            out["nextToken"] = json!(next);
        }
        Ok(out)
    }

    pub async fn update_access_entry(&self, input: Value) -> Result<Value, EksError> {
        let input: UpdateEntryInput = parse(input)?;
        let now = self.now();
        let cluster = input.cluster_name.clone();
        self.modify(&cluster, |doc| {
            let e = doc
                .access_entries
                .get_mut(&entry_key(&input.principal_arn))
                .ok_or_else(|| no_entry(&cluster))?;
            if e.entry.kind != "STANDARD" && (input.username.is_some() || input.kubernetes_groups.is_some()) {
                return Err(EksError::invalid_parameter(format!(
                    "username and kubernetesGroups can't be specified for access entries of type {}",
                    e.entry.kind
                )));
            }
            check_username_and_groups(input.username.as_deref(), input.kubernetes_groups.as_deref().unwrap_or_default())?;
            if let Some(u) = &input.username {
                e.entry.username = u.clone();
            }
            if let Some(g) = &input.kubernetes_groups {
                e.entry.kubernetes_groups = g.clone();
            }
            e.entry.modified_at = now;
            Ok(json!({ "accessEntry": e.entry }))
        })
        .await
    }

    pub async fn delete_access_entry(&self, input: &Value) -> Result<Value, EksError> {
        let cluster = str_of(input, "clusterName").to_string();
        let principal = str_of(input, "principalArn").to_string();
        self.modify(&cluster, |doc| {
            doc.access_entries
                .remove(&entry_key(&principal))
                .map(|_| json!({}))
                .ok_or_else(|| no_entry(&cluster))
        })
        .await
    }

    pub async fn associate_access_policy(&self, input: Value) -> Result<Value, EksError> {
        let input: AssociateInput = parse(input)?;
        if grant_of(&input.policy_arn).is_none() {
            return Err(EksError::invalid_parameter(format!(
                "The specified policyArn {} is not a valid access policy (see ListAccessPolicies)",
                input.policy_arn
            )));
        }
        let scope = &input.access_scope;
        match scope.kind.as_str() {
            "cluster" if scope.namespaces.is_empty() => {}
            "cluster" => {
                return Err(EksError::invalid_parameter(
                    "accessScope.namespaces can't be specified when accessScope.type is cluster",
                ))
            }
            "namespace" if scope.namespaces.is_empty() => {
                return Err(EksError::invalid_parameter(
                    "accessScope.namespaces must name at least one namespace when accessScope.type is namespace",
                ))
            }
            "namespace" => {}
            other => {
                return Err(EksError::invalid_parameter(format!(
                    "accessScope.type {other:?} is not valid: valid values are cluster, namespace"
                )))
            }
        }
        let now = self.now();
        let cluster = input.cluster_name.clone();
        self.modify(&cluster, |doc| {
            let e = doc
                .access_entries
                .get_mut(&entry_key(&input.principal_arn))
                .ok_or_else(|| no_entry(&cluster))?;
            if e.entry.kind != "STANDARD" {
                return Err(EksError::invalid_parameter(format!(
                    "Access policies can only be associated with access entries of type STANDARD, not {}",
                    e.entry.kind
                )));
            }
            let associated = match e.policies.iter_mut().find(|p| p.policy_arn == input.policy_arn) {
                Some(p) => {
                    p.access_scope = input.access_scope.clone();
                    p.modified_at = now;
                    p.clone()
                }
                None => {
                    let p = AssociatedPolicy {
                        policy_arn: input.policy_arn.clone(),
                        access_scope: input.access_scope.clone(),
                        associated_at: now,
                        modified_at: now,
                    };
                    e.policies.push(p.clone());
                    p
                }
            };
            Ok(json!({
                "clusterName": cluster,
                "principalArn": e.entry.principal_arn,
                "associatedAccessPolicy": associated,
            }))
        })
        .await
    }

    pub async fn disassociate_access_policy(&self, input: &Value) -> Result<Value, EksError> {
        let cluster = str_of(input, "clusterName").to_string();
        let principal = str_of(input, "principalArn").to_string();
        let policy = str_of(input, "policyArn").to_string();
        self.modify(&cluster, |doc| {
            let e = doc
                .access_entries
                .get_mut(&entry_key(&principal))
                .ok_or_else(|| no_entry(&cluster))?;
            let before = e.policies.len();
            e.policies.retain(|p| p.policy_arn != policy);
            if e.policies.len() == before {
                return Err(EksError::ResourceNotFound {
                    message: format!(
                        "The access policy {policy} is not associated with the access entry."
                    ),
                    cluster: Some(cluster.clone()),
                });
            }
            Ok(json!({}))
        })
        .await
    }

    pub fn list_associated_access_policies(&self, input: &Value) -> Result<Value, EksError> {
        let cluster = str_of(input, "clusterName");
        let e = self.entry(cluster, str_of(input, "principalArn"))?;
        let (page, next) = pagination::page(
            &e.policies,
            |p| p.policy_arn.clone(),
            input.get("maxResults").and_then(Value::as_i64),
            input.get("nextToken").and_then(Value::as_str),
        )?;
        let mut out = json!({
            "clusterName": cluster,
            "principalArn": e.entry.principal_arn,
            "associatedAccessPolicies": page,
        });
        if let Some(next) = next {
            out["nextToken"] = json!(next);
        }
        Ok(out)
    }

    pub fn list_access_policies(&self, input: &Value) -> Result<Value, EksError> {
        let all: Vec<Value> = ACCESS_POLICIES
            .iter()
            .map(|(name, _)| json!({ "name": name, "arn": policy_arn(name) }))
            .collect();
        let (page, next) = pagination::page(
            &all,
            |p| p["name"].as_str().unwrap_or_default().to_string(),
            input.get("maxResults").and_then(Value::as_i64),
            input.get("nextToken").and_then(Value::as_str),
        )?;
        let mut out = json!({ "accessPolicies": page });
        if let Some(next) = next {
            out["nextToken"] = json!(next);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_are_iam_users_or_roles() {
        assert_eq!(
            principal_parts("arn:aws:iam::123456789012:role/ops/deployer"),
            Some(("123456789012".into(), "role", "deployer".into()))
        );
        assert!(principal_parts("arn:aws:sts::123456789012:assumed-role/r/s").is_none());
        assert!(principal_parts("arn:aws:iam::123456789012:root").is_some());
        assert!(principal_parts("arn:aws:iam::123456789012:group/devs").is_none());
        assert_eq!(
            entry_key("arn:aws:iam::123456789012:role/ops/deployer"),
            "arn:aws:iam::123456789012:role/deployer"
        );
        assert_eq!(
            grant_of(&policy_arn("AmazonEKSViewPolicy")),
            Some(Grant::ClusterRole("view"))
        );
        assert!(check_username_and_groups(Some("system:admin"), &[]).is_err());
        assert!(check_username_and_groups(None, &["system:masters".into()]).is_err());
        assert!(check_username_and_groups(Some("alice"), &["devs".into()]).is_ok());
    }
}
