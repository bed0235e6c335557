//! An Auto Scaling group as stored, what creating and updating one takes, and its scaling
//! activities.

use serde::{Deserialize, Serialize};

use crate::instances::{CapacityType, LaunchTemplateRef};
use crate::Tag;

/// An Auto Scaling group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub name: String,
    /// `arn:aws:autoscaling:<region>:<account>:autoScalingGroup:<uuid>:autoScalingGroupName/<name>`.
    pub arn: String,
    pub min_size: u32,
    pub max_size: u32,
    pub desired_capacity: u32,
    /// Tried in order at each launch (the `prioritized` allocation strategy).
    pub instance_types: Vec<String>,
    /// The template new instances are launched from; older ones go first at scale-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<LaunchTemplateRef>,
    /// New instances are balanced across these subnets' availability zones.
    pub subnet_ids: Vec<String>,
    pub capacity_type: CapacityType,
    /// Tags put on every instance the group launches.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The group's tags that are not propagated to instances.
    #[serde(default)]
    pub other_tags: Vec<Tag>,
    /// Created with a MixedInstancesPolicy (the API shows one rather than a LaunchTemplate).
    #[serde(default)]
    pub mixed_instances_policy: bool,
    #[serde(default)]
    pub new_instances_protected_from_scale_in: bool,
    /// Wall time, Unix seconds.
    pub created_time: f64,
    /// Deletion in progress: instances are being terminated, then the group goes away.
    #[serde(default)]
    pub deleting: bool,
}

impl Group {
    /// `Delete in progress` while deleting (the API's `Status`).
    pub fn status(&self) -> Option<&'static str> {
        self.deleting.then_some("Delete in progress")
    }
}

/// What a new group is made of.
#[derive(Clone, Debug, Default)]
pub struct GroupSpec {
    pub name: String,
    pub min_size: u32,
    pub max_size: u32,
    /// Defaults to `min_size`.
    pub desired_capacity: Option<u32>,
    pub instance_types: Vec<String>,
    pub launch_template: Option<LaunchTemplateRef>,
    pub subnet_ids: Vec<String>,
    pub capacity_type: CapacityType,
    pub tags: Vec<Tag>,
    pub other_tags: Vec<Tag>,
    pub mixed_instances_policy: bool,
    pub new_instances_protected_from_scale_in: bool,
}

/// A change to a group; `None` keeps the current value.
#[derive(Clone, Debug, Default)]
pub struct GroupUpdate {
    pub min_size: Option<u32>,
    pub max_size: Option<u32>,
    pub desired_capacity: Option<u32>,
    pub instance_types: Option<Vec<String>>,
    pub launch_template: Option<LaunchTemplateRef>,
    pub subnet_ids: Option<Vec<String>>,
    pub capacity_type: Option<CapacityType>,
    pub mixed_instances_policy: Option<bool>,
    pub new_instances_protected_from_scale_in: Option<bool>,
}

/// How a scaling activity ended (the API's `StatusCode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivityStatus {
    InProgress,
    Successful,
    Failed,
}

impl ActivityStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "InProgress",
            Self::Successful => "Successful",
            Self::Failed => "Failed",
        }
    }
}

/// One scaling activity: a launch or termination of an instance, or a failed launch.
#[derive(Clone, Debug, PartialEq)]
pub struct Activity {
    /// A UUID.
    pub id: String,
    pub group: String,
    /// `Launching a new EC2 instance: i-…`, `Terminating EC2 instance: i-…`, `Launching a new
    /// EC2 instance.  Status Reason: … Launching EC2 instance failed.`
    pub description: String,
    pub cause: String,
    /// Wall times, Unix seconds.
    pub start_time: f64,
    pub end_time: Option<f64>,
    pub status: ActivityStatus,
    /// The failure's message.
    pub status_message: Option<String>,
    pub progress: u8,
    pub instance_id: Option<String>,
    /// `{"Subnet ID":"subnet-…","Availability Zone":"us-east-1a"}`.
    pub details: String,
}
