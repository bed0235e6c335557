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

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    /// `{name, version, id}` of the EC2 launch template the group launches from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<Value>,
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
    /// UPDATING → ACTIVE through a version update's rolling replacement (`rollout`).
    RollingUpdate { update_id: String },
}

/// What a node group's nodes run: the Kubernetes version, the AMI release and its id.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NodeImage {
    pub version: String,
    pub release_version: String,
    pub image_id: String,
}

/// Where a version update is (EKS's phases; setup happens when the update is accepted).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum RolloutPhase {
    /// The Auto Scaling group is raised by the surge; waiting for the new nodes.
    ScaleUp,
    /// Old nodes are cordoned, drained (a few at a time) and terminated.
    Upgrade,
    /// Every old node is gone; the group returns to its size.
    ScaleDown,
    /// The update failed: the new nodes go, the old ones are schedulable again.
    RollBack,
}

/// An old node being drained by a version update.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Draining {
    pub node: String,
    /// When its drain began (epoch seconds).
    pub started: f64,
    /// When it was first seen without pods to evict.
    #[serde(default)]
    pub emptied: Option<f64>,
}

/// A version update in progress, stored with the group so that a restart resumes it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    pub update_id: String,
    pub force: bool,
    pub phase: RolloutPhase,
    /// When the current phase began (epoch seconds).
    pub phase_started: f64,
    pub from: NodeImage,
    pub to: NodeImage,
    /// Instances launched before the update that still have to be replaced.
    pub old_instances: std::collections::BTreeSet<String>,
    /// The group's sizes before the update (restored by the scale-down).
    pub original: ScalingConfig,
    /// How many instances the scale-up adds.
    pub surge: u32,
    /// Whether the Auto Scaling group has been raised by the surge.
    #[serde(default)]
    pub raised: bool,
    /// Old instances being drained (by instance id).
    #[serde(default)]
    pub draining: BTreeMap<String, Draining>,
    /// The error the update fails with, once it is rolling back.
    #[serde(default)]
    pub failure: Option<Value>,
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
    /// The version update in progress, if any.
    #[serde(default)]
    pub rollout: Option<Rollout>,
}
