//! An EC2 instance as keks keeps it (in memory and, as JSON, in the store), its states,
//! capacity types, and the events subscribers see.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::catalog::{self, InstanceType};
use crate::Tag;

/// On-demand or spot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum CapacityType {
    #[default]
    OnDemand,
    Spot,
}

impl CapacityType {
    /// EKS's spelling: `ON_DEMAND`, `SPOT`.
    pub fn eks_name(self) -> &'static str {
        match self {
            Self::OnDemand => "ON_DEMAND",
            Self::Spot => "SPOT",
        }
    }
}

/// EC2's instance states (stop/start is not simulated).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InstanceState {
    Pending,
    Running,
    ShuttingDown,
    Terminated,
}

impl InstanceState {
    /// EC2's name: `pending`, `running`, `shutting-down`, `terminated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::ShuttingDown => "shutting-down",
            Self::Terminated => "terminated",
        }
    }

    /// EC2's state code (the low byte): 0, 16, 32, 48.
    pub fn code(self) -> u8 {
        match self {
            Self::Pending => 0,
            Self::Running => 16,
            Self::ShuttingDown => 32,
            Self::Terminated => 48,
        }
    }

    /// Pending or running: the instance counts towards its group's capacity.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Pending | Self::Running)
    }
}

/// Why an instance changed state, as EC2's `StateReason`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateReason {
    /// `Client.UserInitiatedShutdown`, `Server.SpotInstanceTermination`, …
    pub code: String,
    pub message: String,
}

impl StateReason {
    pub fn user_initiated() -> Self {
        Self {
            code: "Client.UserInitiatedShutdown".into(),
            message: "Client.UserInitiatedShutdown: User initiated shutdown".into(),
        }
    }

    pub fn spot_termination() -> Self {
        Self {
            code: "Server.SpotInstanceTermination".into(),
            message: "Server.SpotInstanceTermination: Spot instance termination".into(),
        }
    }
}

/// The launch template an instance was launched from (kept for the ASG's termination
/// policy and EKS's `sourceLaunchTemplate*` labels).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchTemplateRef {
    /// `lt-…`.
    pub id: String,
    /// `1`, `2`, …
    pub version: String,
}

/// One instance. Small on purpose: a fleet holds thousands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    /// `i-` + 17 hex digits.
    pub id: String,
    /// `r-` + 17 hex digits, shared by the instances of one launch.
    pub reservation_id: String,
    #[serde(with = "catalog::by_name")]
    pub instance_type: &'static InstanceType,
    pub capacity_type: CapacityType,
    pub availability_zone: String,
    pub subnet_id: String,
    pub vpc_id: String,
    pub private_ip: Ipv4Addr,
    pub state: InstanceState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<StateReason>,
    /// Wall time of the launch, Unix seconds.
    pub launch_time: f64,
    /// Wall time the instance became running (billing starts), Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_since: Option<f64>,
    /// Wall time billing stopped (termination requested), Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_ended: Option<f64>,
    /// Wall time the instance reached `terminated`, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminated_at: Option<f64>,
    /// Wall time a spot interruption notice fired for (the two-minute warning's deadline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interruption_at: Option<f64>,
    /// The Auto Scaling group the instance belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_template: Option<LaunchTemplateRef>,
    /// Protected from the group's scale-in.
    #[serde(default)]
    pub protected_from_scale_in: bool,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl Instance {
    /// `ip-a-b-c-d.ec2.internal` in us-east-1, `ip-a-b-c-d.<region>.compute.internal`
    /// elsewhere: the instance's private DNS name and its Kubernetes node name.
    pub fn private_dns_name(&self) -> String {
        private_dns_name(self.private_ip, &self.region())
    }

    /// The region, from the availability zone (`us-east-1a` → `us-east-1`).
    pub fn region(&self) -> String {
        let az = &self.availability_zone;
        az.trim_end_matches(|c: char| c.is_ascii_lowercase())
            .to_string()
    }

    /// `aws:///<az>/<id>`: the Node's `spec.providerID`.
    pub fn provider_id(&self) -> String {
        format!("aws:///{}/{}", self.availability_zone, self.id)
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }

    /// The hourly price it is billed at.
    pub fn usd_per_hour(&self) -> f64 {
        self.instance_type.usd_per_hour(self.capacity_type)
    }

    /// Seconds billed so far at wall time `now`: from running to termination, whole
    /// seconds, at least 60 once it ran at all (EC2's per-second Linux billing).
    pub fn billed_seconds(&self, now: f64) -> u64 {
        let Some(start) = self.running_since else {
            return 0;
        };
        let end = self.billing_ended.unwrap_or(now).max(start);
        ((end - start).floor() as u64).max(60)
    }

    /// Cost so far, USD, at wall time `now`.
    pub fn cost_usd(&self, now: f64) -> f64 {
        self.billed_seconds(now) as f64 * self.usd_per_hour() / 3600.0
    }
}

/// `ip-a-b-c-d.ec2.internal` (us-east-1) or `ip-a-b-c-d.<region>.compute.internal`.
pub fn private_dns_name(ip: Ipv4Addr, region: &str) -> String {
    let [a, b, c, d] = ip.octets();
    if region == "us-east-1" {
        format!("ip-{a}-{b}-{c}-{d}.ec2.internal")
    } else {
        format!("ip-{a}-{b}-{c}-{d}.{region}.compute.internal")
    }
}

/// What happened to an instance, for subscribers (the managed node group controller turns
/// running instances into Nodes).
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceEvent {
    pub instance_id: String,
    pub group: Option<String>,
    pub kind: InstanceEventKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum InstanceEventKind {
    /// Launched, `pending`.
    Launched,
    /// Booted: `running`.
    Running,
    /// A spot interruption notice: the instance will be terminated at `terminate_at` (wall
    /// time, Unix seconds), two minutes after the notice.
    SpotInterruptionWarning { terminate_at: f64 },
    /// Termination started: `shutting-down` (billing stopped).
    ShuttingDown,
    /// `terminated`; its address was released.
    Terminated,
}
