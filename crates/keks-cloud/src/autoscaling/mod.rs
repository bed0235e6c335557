//! EC2 Auto Scaling groups over the fleet: min/max/desired, mixed instance types tried in
//! order, subnets across zones (new instances balanced over the zones), replacement of
//! instances that go away, scale-in by the default termination policy, scale-in
//! protection, and scaling activities. A reconcile loop on the clock drives every group
//! towards its desired capacity; groups are kept in the store
//! (`/keks/cloud/<region>/autoscaling/groups/<name>`), activities in memory.

mod model;
mod reconcile;
pub mod termination;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use keks_core::{ClockExt, SharedClock};
use keks_store::{Compare, KeyRange, RangeRequest, Store, StoreError, Txn, TxnOp};
use parking_lot::RwLock;
use tokio::sync::Notify;

use crate::catalog;
use crate::instances::{Fleet, Instance, InstanceError, StateReason};
use crate::launch_templates::{LaunchTemplateError, LaunchTemplates};

pub use model::{Activity, ActivityStatus, Group, GroupSpec, GroupUpdate};

/// How often the reconcile loop looks at every group even when nothing told it to (retries
/// after failed launches, recovery once a fault is removed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoScalingConfig {
    pub reconcile_interval: Duration,
}

impl AutoScalingConfig {
    pub const FAST: Self = Self {
        reconcile_interval: Duration::from_secs(1),
    };
    pub const REALISTIC: Self = Self {
        reconcile_interval: Duration::from_secs(10),
    };
}

impl Default for AutoScalingConfig {
    fn default() -> Self {
        Self::FAST
    }
}

/// Scaling activities kept per group (oldest dropped first).
const ACTIVITIES_KEPT: usize = 200;
/// EC2 Auto Scaling's group name limit.
const MAX_NAME: usize = 255;

#[derive(Debug, thiserror::Error)]
pub enum AsgError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("a stored group record is damaged: {0}")]
    Damaged(#[from] serde_json::Error),
    #[error("{0}")]
    Instance(#[from] InstanceError),
    #[error(
        "AutoScalingGroup by this name already exists - A group with the name {0} already exists"
    )]
    AlreadyExists(String),
    #[error("AutoScalingGroup name not found - AutoScalingGroup {0} not found")]
    NotFound(String),
    #[error("{0}")]
    Validation(String),
    #[error("You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.")]
    InUse(String),
    #[error("Instance Id not found - No managed instance found for instance ID: {0}")]
    InstanceNotInGroup(String),
}

impl AsgError {
    /// The Auto Scaling API's error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AlreadyExists(_) => "AlreadyExists",
            Self::NotFound(_) | Self::Validation(_) | Self::InstanceNotInGroup(_) => {
                "ValidationError"
            }
            Self::InUse(_) => "ResourceInUse",
            Self::Store(_) | Self::Damaged(_) | Self::Instance(_) => "InternalFailure",
        }
    }
}

/// The account's Auto Scaling groups in the fleet's region; clones share them.
#[derive(Clone)]
pub struct AutoScaling {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    fleet: Fleet,
    launch_templates: LaunchTemplates,
    clock: SharedClock,
    account_id: String,
    prefix: String,
    groups: RwLock<BTreeMap<String, Group>>,
    activities: RwLock<HashMap<String, VecDeque<Activity>>>,
    /// Serializes changes to groups and reconciles.
    writes: tokio::sync::Mutex<()>,
    wake: Arc<Notify>,
    /// Instances the groups are terminating themselves (not to be reported as departures).
    own_terminations: parking_lot::Mutex<HashSet<String>>,
}

impl AutoScaling {
    /// Loads the groups and starts the reconcile loop on the current tokio runtime.
    pub async fn load(
        store: Arc<dyn Store>,
        fleet: Fleet,
        config: AutoScalingConfig,
    ) -> Result<Self, AsgError> {
        let region = fleet.network().region().to_string();
        let account_id = fleet.network().account_id().to_string();
        let prefix = format!("/keks/cloud/{region}/autoscaling/groups/");
        let listed = store
            .range(RangeRequest::new(KeyRange::prefix(prefix.clone())))
            .await?;
        let mut groups = BTreeMap::new();
        for kv in listed.kvs {
            let g: Group = serde_json::from_slice(&kv.value)?;
            groups.insert(g.name.clone(), g);
        }
        let clock = fleet.clock().clone();
        let launch_templates = LaunchTemplates::load(store.clone(), &region)
            .await
            .map_err(|e| match e {
                LaunchTemplateError::Store(e) => AsgError::Store(e),
                LaunchTemplateError::Damaged(e) => AsgError::Damaged(e),
                other => AsgError::Validation(other.to_string()),
            })?;
        let asg = Self {
            inner: Arc::new(Inner {
                store,
                fleet,
                launch_templates,
                clock,
                account_id,
                prefix,
                groups: RwLock::new(groups),
                activities: RwLock::new(HashMap::new()),
                writes: tokio::sync::Mutex::new(()),
                wake: Arc::new(Notify::new()),
                own_terminations: parking_lot::Mutex::new(HashSet::new()),
            }),
        };
        reconcile::spawn(&asg, config);
        Ok(asg)
    }

    pub fn fleet(&self) -> &Fleet {
        &self.inner.fleet
    }

    /// The region's EC2 launch templates (groups launch from them).
    pub fn launch_templates(&self) -> &LaunchTemplates {
        &self.inner.launch_templates
    }

    pub fn group(&self, name: &str) -> Option<Group> {
        self.inner.groups.read().get(name).cloned()
    }

    /// Every group, by name.
    pub fn groups(&self) -> Vec<Group> {
        self.inner.groups.read().values().cloned().collect()
    }

    /// The group's instances that are not yet terminated (pending, running,
    /// shutting-down), by id. Subscribe to `fleet().subscribe()` to see them change.
    pub fn instances(&self, name: &str) -> Vec<Instance> {
        self.inner
            .fleet
            .group_instances(name)
            .into_iter()
            .filter(|i| i.state != crate::InstanceState::Terminated)
            .collect()
    }

    /// The group's scaling activities, newest first.
    pub fn activities(&self, name: &str) -> Vec<Activity> {
        self.inner
            .activities
            .read()
            .get(name)
            .map(|a| a.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// Asks the reconcile loop to look at every group now (after a fault was removed, say).
    pub fn reconcile_soon(&self) {
        self.inner.wake.notify_one();
    }

    /// Creates a group; its instances are launched by the reconcile loop.
    pub async fn create_group(&self, spec: GroupSpec) -> Result<Group, AsgError> {
        if spec.name.is_empty() || spec.name.len() > MAX_NAME {
            return Err(AsgError::Validation(format!(
                "1 validation error detected: Value '{}' at 'autoScalingGroupName' failed to satisfy constraint: Member must have length less than or equal to {MAX_NAME}",
                spec.name
            )));
        }
        let group = Group {
            arn: format!(
                "arn:aws:autoscaling:{}:{}:autoScalingGroup:{}:autoScalingGroupName/{}",
                self.inner.fleet.network().region(),
                self.inner.account_id,
                uuid_v4(),
                spec.name
            ),
            name: spec.name,
            min_size: spec.min_size,
            max_size: spec.max_size,
            desired_capacity: spec.desired_capacity.unwrap_or(spec.min_size),
            instance_types: spec.instance_types,
            launch_template: spec.launch_template,
            subnet_ids: spec.subnet_ids,
            capacity_type: spec.capacity_type,
            tags: spec.tags,
            other_tags: spec.other_tags,
            mixed_instances_policy: spec.mixed_instances_policy,
            new_instances_protected_from_scale_in: spec.new_instances_protected_from_scale_in,
            created_time: self.inner.clock.wall_unix_seconds_f64(),
            deleting: false,
        };
        self.validate(&group)?;
        let _writing = self.inner.writes.lock().await;
        if self.inner.groups.read().contains_key(&group.name) {
            return Err(AsgError::AlreadyExists(group.name));
        }
        let key = self.key(&group.name);
        let done = self
            .inner
            .store
            .txn(
                Txn::new()
                    .when([Compare::absent(key.clone())])
                    .and_then([TxnOp::put(key, Bytes::from(serde_json::to_vec(&group)?))]),
            )
            .await?;
        if !done.succeeded {
            return Err(AsgError::AlreadyExists(group.name));
        }
        self.inner
            .groups
            .write()
            .insert(group.name.clone(), group.clone());
        drop(_writing);
        self.reconcile_soon();
        Ok(group)
    }

    /// Changes a group's sizes, types, template or subnets.
    pub async fn update_group(&self, name: &str, update: GroupUpdate) -> Result<Group, AsgError> {
        let _writing = self.inner.writes.lock().await;
        let mut group = self.live_group(name)?;
        if let Some(v) = update.min_size {
            group.min_size = v;
        }
        if let Some(v) = update.max_size {
            group.max_size = v;
        }
        // As EC2 Auto Scaling: moving a bound past the desired capacity drags it along.
        match update.desired_capacity {
            Some(v) => group.desired_capacity = v,
            None => {
                group.desired_capacity = group
                    .desired_capacity
                    .max(group.min_size)
                    .min(group.max_size.max(group.min_size))
            }
        }
        if let Some(v) = update.instance_types {
            group.instance_types = v;
        }
        if let Some(v) = update.launch_template {
            group.launch_template = Some(v);
        }
        if let Some(v) = update.subnet_ids {
            group.subnet_ids = v;
        }
        if let Some(v) = update.capacity_type {
            group.capacity_type = v;
        }
        if let Some(v) = update.mixed_instances_policy {
            group.mixed_instances_policy = v;
        }
        if let Some(v) = update.new_instances_protected_from_scale_in {
            group.new_instances_protected_from_scale_in = v;
        }
        self.validate(&group)?;
        self.save(&group).await?;
        drop(_writing);
        self.reconcile_soon();
        Ok(group)
    }

    /// SetDesiredCapacity.
    pub async fn set_desired_capacity(&self, name: &str, desired: u32) -> Result<Group, AsgError> {
        self.update_group(
            name,
            GroupUpdate {
                desired_capacity: Some(desired),
                ..GroupUpdate::default()
            },
        )
        .await
    }

    /// Deletes a group. With instances left, only with `force` (they are all terminated,
    /// protected or not, and the group goes away once they are gone).
    pub async fn delete_group(&self, name: &str, force: bool) -> Result<(), AsgError> {
        let _writing = self.inner.writes.lock().await;
        let mut group = self.live_group(name)?;
        let members = self.instances(name);
        if !members.is_empty() && !force {
            return Err(AsgError::InUse(name.to_string()));
        }
        group.deleting = true;
        group.min_size = 0;
        group.max_size = 0;
        group.desired_capacity = 0;
        self.save(&group).await?;
        drop(_writing);
        let live: Vec<String> = members
            .iter()
            .filter(|i| i.state.is_live())
            .map(|i| i.id.clone())
            .collect();
        if !live.is_empty() {
            self.inner
                .own_terminations
                .lock()
                .extend(live.iter().cloned());
            self.inner.fleet.terminate_instances(&live).await?;
        }
        self.reconcile_soon();
        Ok(())
    }

    /// TerminateInstanceInAutoScalingGroup: terminates one instance; with
    /// `decrement_desired` the group shrinks by one, otherwise it launches a replacement.
    pub async fn terminate_instance(
        &self,
        instance_id: &str,
        decrement_desired: bool,
    ) -> Result<Activity, AsgError> {
        let instance = self
            .inner
            .fleet
            .instance(instance_id)
            .filter(|i| i.state.is_live())
            .ok_or_else(|| AsgError::InstanceNotInGroup(instance_id.to_string()))?;
        let name = instance
            .group
            .clone()
            .ok_or_else(|| AsgError::InstanceNotInGroup(instance_id.to_string()))?;
        // One critical section for the smaller desired capacity and the termination, so a
        // reconcile in between cannot pick a second instance to scale in.
        let writing = self.inner.writes.lock().await;
        let live = self
            .instances(&name)
            .iter()
            .filter(|i| i.state.is_live())
            .count() as u32;
        let cause = if decrement_desired {
            let mut group = self.live_group(&name)?;
            if group.desired_capacity == 0 || group.desired_capacity <= group.min_size {
                return Err(AsgError::Validation(format!(
                    "Currently, desiredSize equals minSize ({}). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.",
                    group.min_size
                )));
            }
            group.desired_capacity -= 1;
            self.save(&group).await?;
            format!(
                "At {} instance {instance_id} was taken out of service in response to a user request, shrinking the capacity from {live} to {}.",
                self.timestamp(),
                live.saturating_sub(1)
            )
        } else {
            format!(
                "At {} instance {instance_id} was taken out of service in response to a user request.",
                self.timestamp()
            )
        };
        self.inner
            .own_terminations
            .lock()
            .insert(instance_id.to_string());
        self.inner
            .fleet
            .terminate_instances(&[instance_id.to_string()])
            .await?;
        drop(writing);
        let activity = self.record_termination(&instance, cause);
        self.reconcile_soon();
        Ok(activity)
    }

    /// SetInstanceProtection: protects instances of the group from scale-in, or not.
    pub async fn set_instance_protection(
        &self,
        name: &str,
        instance_ids: &[String],
        protected: bool,
    ) -> Result<(), AsgError> {
        self.live_group(name)?;
        for id in instance_ids {
            if self
                .inner
                .fleet
                .instance(id)
                .is_none_or(|i| i.group.as_deref() != Some(name))
            {
                return Err(AsgError::InstanceNotInGroup(id.clone()));
            }
        }
        self.inner
            .fleet
            .set_protected(instance_ids, protected)
            .await?;
        Ok(())
    }

    fn live_group(&self, name: &str) -> Result<Group, AsgError> {
        self.group(name)
            .filter(|g| !g.deleting)
            .ok_or_else(|| AsgError::NotFound(name.to_string()))
    }

    fn validate(&self, g: &Group) -> Result<(), AsgError> {
        if g.min_size > g.max_size {
            return Err(AsgError::Validation(format!(
                "Max bound, {}, must be greater than or equal to min bound, {}",
                g.max_size, g.min_size
            )));
        }
        if g.desired_capacity < g.min_size || g.desired_capacity > g.max_size {
            return Err(AsgError::Validation(format!(
                "Desired capacity:{} must be between the specified min size:{} and max size:{}",
                g.desired_capacity, g.min_size, g.max_size
            )));
        }
        if g.instance_types.is_empty() {
            return Err(AsgError::Validation(
                "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.".into(),
            ));
        }
        for t in &g.instance_types {
            if catalog::lookup(t).is_none() {
                return Err(AsgError::Validation(format!(
                    "The instance type '{t}' is not supported."
                )));
            }
        }
        if g.subnet_ids.is_empty() {
            return Err(AsgError::Validation(
                "At least one Availability Zone or VPC Subnet is required.".into(),
            ));
        }
        for s in &g.subnet_ids {
            if self.inner.fleet.network().subnet(s).is_none() {
                return Err(AsgError::Validation(format!(
                    "The subnet ID '{s}' does not exist"
                )));
            }
        }
        Ok(())
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.inner.prefix)
    }

    async fn save(&self, group: &Group) -> Result<(), AsgError> {
        self.inner
            .store
            .put(
                Bytes::from(self.key(&group.name)),
                Bytes::from(serde_json::to_vec(group)?),
            )
            .await?;
        self.inner
            .groups
            .write()
            .insert(group.name.clone(), group.clone());
        Ok(())
    }

    async fn forget(&self, name: &str) -> Result<(), AsgError> {
        self.inner.store.delete(Bytes::from(self.key(name))).await?;
        self.inner.groups.write().remove(name);
        self.inner.activities.write().remove(name);
        Ok(())
    }

    fn record(&self, activity: Activity) -> Activity {
        let mut all = self.inner.activities.write();
        let list = all.entry(activity.group.clone()).or_default();
        if list.len() == ACTIVITIES_KEPT {
            list.pop_front();
        }
        list.push_back(activity.clone());
        activity
    }

    fn record_termination(&self, instance: &Instance, cause: String) -> Activity {
        let now = self.inner.clock.wall_unix_seconds_f64();
        self.record(Activity {
            id: uuid_v4(),
            group: instance.group.clone().unwrap_or_default(),
            description: format!("Terminating EC2 instance: {}", instance.id),
            cause,
            start_time: now,
            end_time: Some(now),
            status: ActivityStatus::Successful,
            status_message: None,
            progress: 100,
            instance_id: Some(instance.id.clone()),
            details: details(instance.subnet_id.as_str(), &instance.availability_zone),
        })
    }
}

fn details(subnet_id: &str, zone: &str) -> String {
    serde_json::json!({"Subnet ID": subnet_id, "Availability Zone": zone}).to_string()
}

/// `2024-01-01T00:00:00Z`.
fn rfc3339(unix: u64) -> String {
    let days = unix / 86_400;
    let rem = unix % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn uuid_v4() -> String {
    use rand::Rng;
    let b: [u8; 16] = rand::thread_rng().gen();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        u16::from_be_bytes([b[6], b[7]]) & 0x0fff,
        (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
        u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
    )
}

/// The reason an instance of a group left it, for the termination activity's cause.
fn unexpected_cause(reason: Option<&StateReason>, at: &str, id: &str) -> String {
    match reason.map(|r| r.code.as_str()) {
        Some("Server.SpotInstanceTermination") => format!(
            "At {at} an instance was taken out of service in response to an EC2 instance interruption, spot instance {id} was terminated."
        ),
        _ => format!(
            "At {at} an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped."
        ),
    }
}

#[cfg(test)]
mod tests;
