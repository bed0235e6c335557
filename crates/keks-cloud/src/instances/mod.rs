//! The simulated EC2 fleet: launching instances into subnets (an address from the
//! subnet's pool), their life on the clock (pending → running after the boot delay;
//! shutting-down → terminated; a spot interruption's two-minute notice), per-second
//! metering, and events for subscribers. Every acknowledged change is in the store
//! (`/keks/cloud/<region>/instances/<id>`) before the call returns; memory is a cache.

mod driver;
mod meter;
mod model;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use keks_core::{ClockExt, Instant, SharedClock};
use keks_store::{KeyRange, RangeRequest, Store, StoreError, Txn, TxnOp};
use parking_lot::{Mutex, RwLock};
use tokio::sync::{broadcast, watch, Notify};

use crate::catalog;
use crate::faults::Faults;
use crate::network::{new_id, Network, NetworkError};
use crate::Tag;

pub use model::{
    private_dns_name, CapacityType, Instance, InstanceEvent, InstanceEventKind, InstanceState,
    LaunchTemplateRef, StateReason,
};

/// How long the fleet's transitions take. `FAST` (the default: still asynchronous, clients
/// see `pending`) and `REALISTIC` (EC2's usual durations) are the two keks uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FleetTiming {
    /// pending → running.
    pub boot: Duration,
    /// shutting-down → terminated.
    pub shutdown: Duration,
    /// Between a spot interruption notice and the termination (AWS: two minutes).
    pub spot_notice: Duration,
    /// How long a terminated instance stays visible (EC2: about an hour).
    pub terminated_retention: Duration,
}

impl FleetTiming {
    pub const FAST: Self = Self {
        boot: Duration::from_millis(5),
        shutdown: Duration::from_millis(5),
        spot_notice: Duration::from_secs(120),
        terminated_retention: Duration::from_secs(3600),
    };
    pub const REALISTIC: Self = Self {
        boot: Duration::from_secs(40),
        shutdown: Duration::from_secs(30),
        spot_notice: Duration::from_secs(120),
        terminated_retention: Duration::from_secs(3600),
    };
}

impl Default for FleetTiming {
    fn default() -> Self {
        Self::FAST
    }
}

/// What to launch: `count` instances of one type into one subnet (EC2 RunInstances with
/// MinCount = MaxCount: all or nothing).
#[derive(Clone, Debug, Default)]
pub struct LaunchRequest {
    pub instance_type: String,
    pub subnet_id: String,
    pub count: usize,
    pub capacity_type: CapacityType,
    pub tags: Vec<Tag>,
    pub group: Option<String>,
    pub launch_template: Option<LaunchTemplateRef>,
    pub protected_from_scale_in: bool,
}

/// A state change a termination made (EC2's `TerminateInstances` answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateChange {
    pub instance_id: String,
    pub previous: InstanceState,
    pub current: InstanceState,
}

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("a stored instance record is damaged: {0}")]
    Damaged(#[from] serde_json::Error),
    #[error("{0}")]
    Network(NetworkError),
    #[error("Invalid value '{0}' for InstanceType.")]
    UnknownInstanceType(String),
    #[error("The subnet ID '{0}' does not exist")]
    NoSuchSubnet(String),
    #[error("We currently do not have sufficient {instance_type} capacity in the Availability Zone you requested ({availability_zone}). Our system will be working on provisioning additional capacity. You can currently get {instance_type} capacity by not specifying an Availability Zone in your request or choosing a different Availability Zone.")]
    InsufficientCapacity {
        instance_type: String,
        availability_zone: String,
    },
    #[error("There are not enough free addresses in subnet '{0}' to satisfy the requested number of instances.")]
    InsufficientAddresses(String),
    #[error("The instance ID{} '{}' {} not exist", if .0.len() > 1 { "s" } else { "" }, .0.join(", "), if .0.len() > 1 { "do" } else { "does" })]
    NotFound(Vec<String>),
    #[error("Instance {0} is not a running spot instance")]
    NotSpot(String),
    #[error("Invalid count {0}: launch at least one instance")]
    InvalidCount(usize),
}

impl InstanceError {
    /// EC2's error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownInstanceType(_) | Self::InvalidCount(_) => "InvalidParameterValue",
            Self::NoSuchSubnet(_) => "InvalidSubnetID.NotFound",
            Self::InsufficientCapacity { .. } => "InsufficientInstanceCapacity",
            Self::InsufficientAddresses(_) => "InsufficientFreeAddressesInSubnet",
            Self::NotFound(_) => "InvalidInstanceID.NotFound",
            Self::NotSpot(_) => "UnsupportedOperation",
            Self::Store(_) | Self::Damaged(_) | Self::Network(_) => "InternalError",
        }
    }
}

impl From<NetworkError> for InstanceError {
    fn from(e: NetworkError) -> Self {
        match e {
            NetworkError::SubnetFull(s) => Self::InsufficientAddresses(s),
            NetworkError::NoSuchSubnet(s) => Self::NoSuchSubnet(s),
            other => Self::Network(other),
        }
    }
}

/// A timed transition the driver runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// pending → running.
    Boot,
    /// A spot interruption's notice ran out: terminate.
    Interrupt,
    /// shutting-down → terminated (and the address released).
    Finish,
    /// Forget a terminated instance.
    Purge,
}

/// The fleet; clones share it.
#[derive(Clone)]
pub struct Fleet {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    network: Network,
    clock: SharedClock,
    timing: FleetTiming,
    faults: Faults,
    prefix: String,
    state: RwLock<State>,
    /// Serializes changes, so the store and memory agree on the order of writes.
    writes: tokio::sync::Mutex<()>,
    events: broadcast::Sender<InstanceEvent>,
    changes: watch::Sender<u64>,
    timers: Mutex<Timers>,
    wake: Arc<Notify>,
}

#[derive(Default)]
struct State {
    instances: HashMap<String, Instance>,
    by_group: HashMap<String, BTreeSet<String>>,
    /// Cost of purged instances per group, so group totals outlive the retention.
    retired_cost: HashMap<String, f64>,
}

#[derive(Default)]
struct Timers {
    queue: BTreeMap<(Instant, u64), (String, Step)>,
    seq: u64,
}

/// Subscribers may lag by this many events before they see `Lagged` (then re-list).
const EVENT_BUFFER: usize = 8 * 1024;
/// Store transactions are cut at this many operations.
const TXN_CHUNK: usize = 256;

impl Fleet {
    /// Loads the fleet of the network's region from the store and starts its driver (a task
    /// on the current tokio runtime that runs the timed transitions on `clock`).
    pub async fn load(
        store: Arc<dyn Store>,
        network: Network,
        clock: SharedClock,
        timing: FleetTiming,
        faults: Faults,
    ) -> Result<Self, InstanceError> {
        let prefix = format!("/keks/cloud/{}/instances/", network.region());
        let listed = store
            .range(RangeRequest::new(KeyRange::prefix(prefix.clone())))
            .await?;
        let mut state = State::default();
        for kv in listed.kvs {
            let instance: Instance = serde_json::from_slice(&kv.value)?;
            if let Some(g) = &instance.group {
                state
                    .by_group
                    .entry(g.clone())
                    .or_default()
                    .insert(instance.id.clone());
            }
            state.instances.insert(instance.id.clone(), instance);
        }
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let fleet = Self {
            inner: Arc::new(Inner {
                store,
                network,
                clock,
                timing,
                faults,
                prefix,
                state: RwLock::new(state),
                writes: tokio::sync::Mutex::new(()),
                events,
                changes: watch::Sender::new(0),
                timers: Mutex::new(Timers::default()),
                wake: Arc::new(Notify::new()),
            }),
        };
        // Pick up where the last process left off: transitions in flight are due at their
        // wall-clock times.
        let resumed: Vec<(f64, String, Step)> = fleet
            .inner
            .state
            .read()
            .instances
            .values()
            .filter_map(|i| {
                let t = fleet.inner.timing;
                let (due, step) = match i.state {
                    InstanceState::Pending => (i.launch_time + t.boot.as_secs_f64(), Step::Boot),
                    InstanceState::Running => (i.interruption_at?, Step::Interrupt),
                    InstanceState::ShuttingDown => (
                        i.billing_ended.unwrap_or(i.launch_time) + t.shutdown.as_secs_f64(),
                        Step::Finish,
                    ),
                    InstanceState::Terminated => (
                        i.terminated_at.unwrap_or(i.launch_time)
                            + t.terminated_retention.as_secs_f64(),
                        Step::Purge,
                    ),
                };
                Some((due, i.id.clone(), step))
            })
            .collect();
        for (due, id, step) in resumed {
            let at = fleet.instant_of_wall(due);
            fleet.schedule(at, id, step);
        }
        // A crash between writing `terminated` and releasing the address leaves the address
        // held by its terminated instance: give those back.
        let mut held: BTreeMap<String, Vec<(Ipv4Addr, String)>> = BTreeMap::new();
        for i in fleet.inner.state.read().instances.values() {
            if i.state == InstanceState::Terminated {
                held.entry(i.subnet_id.clone())
                    .or_default()
                    .push((i.private_ip, i.id.clone()));
            }
        }
        for (subnet, list) in held {
            let pairs: Vec<(Ipv4Addr, &str)> =
                list.iter().map(|(ip, id)| (*ip, id.as_str())).collect();
            fleet
                .inner
                .network
                .release_ips_owned(&subnet, &pairs)
                .await?;
        }
        driver::spawn(&fleet);
        Ok(fleet)
    }

    pub fn network(&self) -> &Network {
        &self.inner.network
    }

    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    pub fn timing(&self) -> FleetTiming {
        self.inner.timing
    }

    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// Every instance event from now on. A subscriber that falls `EVENT_BUFFER` events
    /// behind gets `RecvError::Lagged` and should re-read `instances()`.
    pub fn subscribe(&self) -> broadcast::Receiver<InstanceEvent> {
        self.inner.events.subscribe()
    }

    /// A counter bumped after every batch of changes: a cheap "something changed" signal.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// The zone id (`use1-az1`) of an instance's zone: the Node label
    /// `topology.k8s.aws/zone-id`.
    pub fn zone_id(&self, instance: &Instance) -> Option<String> {
        self.inner
            .network
            .availability_zones()
            .iter()
            .find(|z| z.name == instance.availability_zone)
            .map(|z| z.zone_id.clone())
    }

    pub fn instance(&self, id: &str) -> Option<Instance> {
        self.inner.state.read().instances.get(id).cloned()
    }

    /// Every instance (terminated ones until they are forgotten), by launch time then id.
    pub fn instances(&self) -> Vec<Instance> {
        let mut all: Vec<Instance> = self
            .inner
            .state
            .read()
            .instances
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| {
            a.launch_time
                .total_cmp(&b.launch_time)
                .then(a.id.cmp(&b.id))
        });
        all
    }

    /// The instances of an Auto Scaling group, terminated ones included, by id.
    pub fn group_instances(&self, group: &str) -> Vec<Instance> {
        let state = self.inner.state.read();
        state
            .by_group
            .get(group)
            .into_iter()
            .flatten()
            .filter_map(|id| state.instances.get(id).cloned())
            .collect()
    }

    /// Launches `count` instances: all pending, all or none. Checks the type, the subnet,
    /// the injected faults and the subnet's free addresses.
    pub async fn run_instances(&self, req: LaunchRequest) -> Result<Vec<Instance>, InstanceError> {
        if req.count == 0 {
            return Err(InstanceError::InvalidCount(0));
        }
        let instance_type = catalog::lookup(&req.instance_type)
            .ok_or_else(|| InstanceError::UnknownInstanceType(req.instance_type.clone()))?;
        let subnet = self
            .inner
            .network
            .subnet(&req.subnet_id)
            .ok_or_else(|| InstanceError::NoSuchSubnet(req.subnet_id.clone()))?;
        let faults = &self.inner.faults;
        if faults.lacks_capacity(instance_type.name, &subnet.availability_zone) {
            return Err(InstanceError::InsufficientCapacity {
                instance_type: instance_type.name.to_string(),
                availability_zone: subnet.availability_zone.clone(),
            });
        }
        if faults.subnet_exhausted(&subnet.id) {
            return Err(InstanceError::InsufficientAddresses(subnet.id.clone()));
        }
        let ids: Vec<String> = (0..req.count).map(|_| new_id("i")).collect();
        let owners: Vec<&str> = ids.iter().map(String::as_str).collect();
        let ips = self.inner.network.allocate_ips(&subnet.id, &owners).await?;
        let reservation_id = new_id("r");
        let now = self.inner.clock.wall_unix_seconds_f64();
        let mut tags = req.tags.clone();
        if let Some(group) = &req.group {
            if !tags.iter().any(|t| t.key == "aws:autoscaling:groupName") {
                tags.push(Tag::new("aws:autoscaling:groupName", group.clone()));
            }
        }
        let launched: Vec<Instance> = ids
            .into_iter()
            .zip(ips.iter())
            .map(|(id, ip)| Instance {
                id,
                reservation_id: reservation_id.clone(),
                instance_type,
                capacity_type: req.capacity_type,
                availability_zone: subnet.availability_zone.clone(),
                subnet_id: subnet.id.clone(),
                vpc_id: subnet.vpc_id.clone(),
                private_ip: *ip,
                state: InstanceState::Pending,
                state_reason: None,
                launch_time: now,
                running_since: None,
                billing_ended: None,
                terminated_at: None,
                interruption_at: None,
                group: req.group.clone(),
                launch_template: req.launch_template.clone(),
                protected_from_scale_in: req.protected_from_scale_in,
                tags: tags.clone(),
            })
            .collect();
        {
            let _writing = self.inner.writes.lock().await;
            if let Err(e) = self.persist(&launched).await {
                let _ = self.inner.network.release_ips(&subnet.id, &ips).await;
                return Err(e);
            }
            let mut state = self.inner.state.write();
            for i in &launched {
                if let Some(g) = &i.group {
                    state
                        .by_group
                        .entry(g.clone())
                        .or_default()
                        .insert(i.id.clone());
                }
                state.instances.insert(i.id.clone(), i.clone());
            }
        }
        let boot_at = self
            .inner
            .clock
            .now()
            .saturating_add(self.inner.timing.boot);
        for i in &launched {
            self.schedule(boot_at, i.id.clone(), Step::Boot);
            self.emit(i, InstanceEventKind::Launched);
        }
        self.bump();
        Ok(launched)
    }

    /// Starts terminating instances (EC2 TerminateInstances): each goes shutting-down now
    /// (billing stops) and terminated after the shutdown delay. Every id must exist;
    /// terminating a terminated instance changes nothing.
    pub async fn terminate_instances(
        &self,
        ids: &[String],
    ) -> Result<Vec<StateChange>, InstanceError> {
        self.terminate_with(ids, StateReason::user_initiated())
            .await
    }

    async fn terminate_with(
        &self,
        ids: &[String],
        reason: StateReason,
    ) -> Result<Vec<StateChange>, InstanceError> {
        let _writing = self.inner.writes.lock().await;
        let now = self.inner.clock.wall_unix_seconds_f64();
        let (changes, changed) = {
            let state = self.inner.state.read();
            let missing: Vec<String> = ids
                .iter()
                .filter(|id| !state.instances.contains_key(*id))
                .cloned()
                .collect();
            if !missing.is_empty() {
                return Err(InstanceError::NotFound(missing));
            }
            let mut changes = Vec::new();
            let mut changed = Vec::new();
            for id in ids {
                let i = &state.instances[id];
                let mut next = i.clone();
                if i.state.is_live() {
                    next.state = InstanceState::ShuttingDown;
                    next.billing_ended = Some(now);
                    next.state_reason = Some(reason.clone());
                    changed.push(next.clone());
                }
                changes.push(StateChange {
                    instance_id: id.clone(),
                    previous: i.state,
                    current: next.state,
                });
            }
            (changes, changed)
        };
        self.persist(&changed).await?;
        self.replace(&changed);
        drop(_writing);
        let finish_at = self
            .inner
            .clock
            .now()
            .saturating_add(self.inner.timing.shutdown);
        for i in &changed {
            self.schedule(finish_at, i.id.clone(), Step::Finish);
            self.emit(i, InstanceEventKind::ShuttingDown);
        }
        if !changed.is_empty() {
            self.bump();
        }
        Ok(changes)
    }

    /// Sends a spot interruption notice: subscribers see `SpotInterruptionWarning` now, and
    /// the instance is terminated `spot_notice` (two minutes) later. Returns the wall time
    /// (Unix seconds) of the termination.
    pub async fn interrupt_spot(&self, id: &str) -> Result<f64, InstanceError> {
        let _writing = self.inner.writes.lock().await;
        let mut instance = self
            .instance(id)
            .ok_or_else(|| InstanceError::NotFound(vec![id.to_string()]))?;
        if instance.capacity_type != CapacityType::Spot || !instance.state.is_live() {
            return Err(InstanceError::NotSpot(id.to_string()));
        }
        if let Some(at) = instance.interruption_at {
            return Ok(at);
        }
        let notice = self.inner.timing.spot_notice;
        let at = self.inner.clock.wall_unix_seconds_f64() + notice.as_secs_f64();
        instance.interruption_at = Some(at);
        self.persist(std::slice::from_ref(&instance)).await?;
        self.replace(std::slice::from_ref(&instance));
        drop(_writing);
        let due = self.inner.clock.now().saturating_add(notice);
        self.schedule(due, id.to_string(), Step::Interrupt);
        self.emit(
            &instance,
            InstanceEventKind::SpotInterruptionWarning { terminate_at: at },
        );
        self.bump();
        Ok(at)
    }

    /// Sets or clears scale-in protection on instances (of any group).
    pub async fn set_protected(
        &self,
        ids: &[String],
        protected: bool,
    ) -> Result<(), InstanceError> {
        let _writing = self.inner.writes.lock().await;
        let changed: Vec<Instance> = {
            let state = self.inner.state.read();
            let missing: Vec<String> = ids
                .iter()
                .filter(|id| !state.instances.contains_key(*id))
                .cloned()
                .collect();
            if !missing.is_empty() {
                return Err(InstanceError::NotFound(missing));
            }
            ids.iter()
                .map(|id| {
                    let mut i = state.instances[id].clone();
                    i.protected_from_scale_in = protected;
                    i
                })
                .collect()
        };
        self.persist(&changed).await?;
        self.replace(&changed);
        drop(_writing);
        self.bump();
        Ok(())
    }

    /// Writes instance records, in transactions of at most `TXN_CHUNK` keys.
    async fn persist(&self, instances: &[Instance]) -> Result<(), InstanceError> {
        for chunk in instances.chunks(TXN_CHUNK) {
            let mut ops = Vec::with_capacity(chunk.len());
            for i in chunk {
                ops.push(TxnOp::put(
                    format!("{}{}", self.inner.prefix, i.id),
                    Bytes::from(serde_json::to_vec(i)?),
                ));
            }
            self.inner.store.txn(Txn::new().and_then(ops)).await?;
        }
        Ok(())
    }

    /// Puts updated records into memory (after they were persisted).
    fn replace(&self, instances: &[Instance]) {
        let mut state = self.inner.state.write();
        for i in instances {
            state.instances.insert(i.id.clone(), i.clone());
        }
    }

    fn schedule(&self, at: Instant, id: String, step: Step) {
        {
            let mut timers = self.inner.timers.lock();
            timers.seq += 1;
            let seq = timers.seq;
            timers.queue.insert((at, seq), (id, step));
        }
        self.inner.wake.notify_one();
    }

    fn emit(&self, instance: &Instance, kind: InstanceEventKind) {
        let _ = self.inner.events.send(InstanceEvent {
            instance_id: instance.id.clone(),
            group: instance.group.clone(),
            kind,
        });
    }

    fn bump(&self) {
        self.inner.changes.send_modify(|n| *n += 1);
    }

    /// The clock instant at which the wall clock shows `wall` (now, if that is past).
    fn instant_of_wall(&self, wall: f64) -> Instant {
        let clock = &self.inner.clock;
        let ahead = (wall - clock.wall_unix_seconds_f64()).max(0.0);
        // Unix seconds as f64 carry about a quarter microsecond of noise: round it away.
        clock
            .now()
            .saturating_add(Duration::from_micros((ahead * 1e6).round() as u64))
    }

    /// Releases the addresses of instances, one transaction per subnet.
    async fn release_addresses(&self, instances: &[Instance]) -> Result<(), InstanceError> {
        let mut by_subnet: BTreeMap<&str, Vec<Ipv4Addr>> = BTreeMap::new();
        for i in instances {
            by_subnet
                .entry(&i.subnet_id)
                .or_default()
                .push(i.private_ip);
        }
        for (subnet, ips) in by_subnet {
            self.inner.network.release_ips(subnet, &ips).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
