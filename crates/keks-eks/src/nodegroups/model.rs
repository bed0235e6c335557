//! A managed node group as DescribeNodegroup returns it (field names and shapes of the EKS
//! model) and as stored in its cluster's document, with its updates and pending transition.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::doc::Update;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ScalingConfig {
    pub min_size: u32,
    pub max_size: u32,
    pub desired_size: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Taint {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub effect: String,
}

impl Taint {
    /// The Kubernetes form: `NO_SCHEDULE` → `NoSchedule`.
    pub fn kubernetes(&self) -> Value {
        let effect = match self.effect.as_str() {
            "NO_EXECUTE" => "NoExecute",
            "PREFER_NO_SCHEDULE" => "PreferNoSchedule",
            _ => "NoSchedule",
        };
        let mut t = serde_json::json!({ "key": self.key, "effect": effect });
        if let Some(v) = &self.value {
            t["value"] = Value::String(v.clone());
        }
        t
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UpdateConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable_percentage: Option<u32>,
}

/// A node group as DescribeNodegroup returns it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Nodegroup {
    pub nodegroup_name: String,
    pub nodegroup_arn: String,
    pub cluster_name: String,
    pub version: String,
    pub release_version: String,
    pub created_at: f64,
    pub modified_at: f64,
    pub status: String,
    pub capacity_type: String,
    pub scaling_config: ScalingConfig,
    pub instance_types: Vec<String>,
    pub subnets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_access: Option<Value>,
    pub ami_type: String,
    pub node_role: String,
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub taints: Vec<Taint>,
    pub resources: Value,
    pub disk_size: u32,
    pub health: Value,
    pub update_config: UpdateConfig,
    pub tags: BTreeMap<String, String>,
}

/// What a pending transition waits for.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", tag = "action")]
pub enum NodegroupPending {
    /// CREATING → ACTIVE once the group's nodes are Ready.
    Activate,
    /// UPDATING → ACTIVE (and the update Successful) once the nodes match.
    FinishUpdate { update_id: String },
    /// DELETING → gone once the group's instances are terminated.
    Remove,
}

/// A stored node group.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NodegroupDoc {
    pub nodegroup: Nodegroup,
    /// The Auto Scaling group behind it.
    pub asg_name: String,
    /// The AMI id its nodes show in `eks.amazonaws.com/nodegroup-image`.
    pub image_id: String,
    #[serde(default)]
    pub pending: Option<NodegroupPending>,
    /// When the pending transition is next checked (epoch seconds).
    #[serde(default)]
    pub due: Option<f64>,
    #[serde(default)]
    pub updates: Vec<Update>,
    #[serde(default)]
    pub client_request_token: Option<String>,
    #[serde(default)]
    pub update_tokens: BTreeMap<String, String>,
}
