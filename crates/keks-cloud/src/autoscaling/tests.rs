//! Auto Scaling groups on a virtual clock: convergence across zones, scale-in by the
//! default termination policy, protection, replacement, faults and recovery, deletion.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use keks_core::{Clock, VirtualClock};
use keks_store::{MemoryStore, Store};

use super::*;
use crate::faults::{Fault, Faults};
use crate::instances::{CapacityType, FleetTiming, InstanceState, LaunchTemplateRef};
use crate::network::Network;
use crate::Tag;

struct World {
    clock: VirtualClock,
    store: Arc<dyn Store>,
    network: Network,
    asg: AutoScaling,
}

async fn world() -> World {
    let clock = VirtualClock::new();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let network = Network::load_or_create(store.clone(), "us-east-1", "123456789012")
        .await
        .unwrap();
    let fleet = Fleet::load(
        store.clone(),
        network.clone(),
        clock.to_shared(),
        FleetTiming::FAST,
        Faults::new(),
    )
    .await
    .unwrap();
    let asg = AutoScaling::load(store.clone(), fleet, AutoScalingConfig::FAST)
        .await
        .unwrap();
    World {
        clock,
        store,
        network,
        asg,
    }
}

impl World {
    fn private_subnets(&self) -> Vec<String> {
        self.network
            .subnets()
            .into_iter()
            .filter(|s| s.is_private())
            .map(|s| s.id)
            .collect()
    }

    fn spec(&self, name: &str, desired: u32, types: &[&str]) -> GroupSpec {
        GroupSpec {
            name: name.into(),
            min_size: 0,
            max_size: 20,
            desired_capacity: Some(desired),
            instance_types: types.iter().map(|t| t.to_string()).collect(),
            subnet_ids: self.private_subnets(),
            tags: vec![Tag::new("eks:nodegroup-name", name)],
            ..GroupSpec::default()
        }
    }

    /// Lets the reconcile loop run, instances boot and terminations finish.
    async fn run(&self) {
        for _ in 0..3 {
            self.clock.settle().await;
            self.clock.advance(Duration::from_millis(10)).await;
        }
        self.clock.settle().await;
    }

    fn per_zone(&self, group: &str) -> BTreeMap<String, usize> {
        let mut zones = BTreeMap::new();
        for i in self.asg.instances(group) {
            if i.state.is_live() {
                *zones.entry(i.availability_zone).or_default() += 1;
            }
        }
        zones
    }

    fn live(&self, group: &str) -> Vec<Instance> {
        self.asg
            .instances(group)
            .into_iter()
            .filter(|i| i.state.is_live())
            .collect()
    }
}

#[tokio::test]
async fn a_group_converges_balanced_and_scales_in_by_zone() {
    let w = world().await;
    w.asg
        .create_group(w.spec("ng", 7, &["m5.large"]))
        .await
        .unwrap();
    w.run().await;
    let live = w.live("ng");
    assert_eq!(live.len(), 7);
    assert!(live.iter().all(|i| i.state == InstanceState::Running));
    assert!(live
        .iter()
        .all(|i| i.tag("aws:autoscaling:groupName") == Some("ng")));
    assert!(live
        .iter()
        .all(|i| i.tag("eks:nodegroup-name") == Some("ng")));
    let zones: Vec<usize> = w.per_zone("ng").into_values().collect();
    assert_eq!(zones, [3, 2, 2]);
    let activities = w.asg.activities("ng");
    assert_eq!(activities.len(), 7);
    assert!(activities[0]
        .description
        .starts_with("Launching a new EC2 instance: i-"));

    // Scale in: the fullest zone gives first, so the zones stay balanced.
    w.asg.set_desired_capacity("ng", 3).await.unwrap();
    w.run().await;
    let zones: Vec<usize> = w.per_zone("ng").into_values().collect();
    assert_eq!(zones, [1, 1, 1]);
    assert!(w.asg.activities("ng")[0]
        .description
        .starts_with("Terminating EC2 instance: i-"));
}

#[tokio::test]
async fn lost_instances_are_replaced() {
    let w = world().await;
    let fleet = w.asg.fleet().clone();
    let mut spot = w.spec("spot", 3, &["m6g.large"]);
    spot.capacity_type = CapacityType::Spot;
    w.asg.create_group(spot).await.unwrap();
    w.run().await;
    let victim = w.live("spot")[0].id.clone();
    fleet
        .terminate_instances(std::slice::from_ref(&victim))
        .await
        .unwrap();
    w.run().await;
    let live = w.live("spot");
    assert_eq!(live.len(), 3);
    assert!(!live.iter().any(|i| i.id == victim));
    assert!(w
        .asg
        .activities("spot")
        .iter()
        .any(|a| a.cause.contains("EC2 health check")));

    // A spot interruption: the notice, two minutes, the termination, a replacement.
    let interrupted = live[1].id.clone();
    fleet.interrupt_spot(&interrupted).await.unwrap();
    w.clock.advance(Duration::from_secs(120)).await;
    w.run().await;
    let live = w.live("spot");
    assert_eq!(live.len(), 3);
    assert!(!live.iter().any(|i| i.id == interrupted));
    assert!(live.iter().all(|i| i.capacity_type == CapacityType::Spot));
    assert!(w
        .asg
        .activities("spot")
        .iter()
        .any(|a| a.cause.contains("interruption")));

    // TerminateInstanceInAutoScalingGroup, with and without a smaller desired capacity.
    w.asg.terminate_instance(&live[0].id, false).await.unwrap();
    w.run().await;
    assert_eq!(w.live("spot").len(), 3);
    let id = w.live("spot")[0].id.clone();
    w.asg.terminate_instance(&id, true).await.unwrap();
    w.run().await;
    assert_eq!(w.live("spot").len(), 2);
    assert_eq!(w.asg.group("spot").unwrap().desired_capacity, 2);
}

#[tokio::test]
async fn insufficient_capacity_falls_back_and_recovers() {
    let w = world().await;
    let fleet = w.asg.fleet().clone();
    let zone_a = "us-east-1a".to_string();
    fleet.faults().add(Fault::InsufficientCapacity {
        instance_type: Some("m5.large".into()),
        availability_zone: Some(zone_a.clone()),
    });
    w.asg
        .create_group(w.spec("mixed", 3, &["m5.large", "m5.xlarge"]))
        .await
        .unwrap();
    w.run().await;
    let live = w.live("mixed");
    assert_eq!(live.len(), 3);
    let in_a: Vec<_> = live
        .iter()
        .filter(|i| i.availability_zone == zone_a)
        .collect();
    assert_eq!(in_a.len(), 1);
    assert_eq!(in_a[0].instance_type.name, "m5.xlarge");
    let failed: Vec<_> = w
        .asg
        .activities("mixed")
        .into_iter()
        .filter(|a| a.status == ActivityStatus::Failed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0]
        .status_message
        .as_deref()
        .unwrap()
        .contains("sufficient m5.large capacity"));

    // No capacity at all in zone a: the zone's share goes to the others.
    fleet.faults().add(Fault::InsufficientCapacity {
        instance_type: None,
        availability_zone: Some(zone_a.clone()),
    });
    w.asg.set_desired_capacity("mixed", 6).await.unwrap();
    w.run().await;
    let zones = w.per_zone("mixed");
    assert_eq!(zones.values().sum::<usize>(), 6);
    assert_eq!(zones[&zone_a], 1);

    // A group that cannot launch anywhere records failures, and recovers once the fault
    // is gone, at its next reconcile.
    fleet.faults().add(Fault::InsufficientCapacity {
        instance_type: Some("c5.large".into()),
        availability_zone: None,
    });
    w.asg
        .create_group(w.spec("stuck", 2, &["c5.large"]))
        .await
        .unwrap();
    w.run().await;
    assert!(w.live("stuck").is_empty());
    assert!(w
        .asg
        .activities("stuck")
        .iter()
        .all(|a| a.status == ActivityStatus::Failed));
    fleet.faults().clear();
    w.clock.advance(Duration::from_secs(1)).await;
    w.run().await;
    assert_eq!(w.live("stuck").len(), 2);

    // A full subnet: the same story, with InsufficientFreeAddressesInSubnet.
    let subnet_b = w.private_subnets()[1].clone();
    fleet.faults().add(Fault::SubnetExhausted {
        subnet_id: subnet_b.clone(),
    });
    w.asg.set_desired_capacity("stuck", 5).await.unwrap();
    w.run().await;
    assert_eq!(w.live("stuck").len(), 5);
    assert!(w.asg.activities("stuck").iter().any(|a| a
        .status_message
        .as_deref()
        .is_some_and(|m| m.contains("not enough free addresses"))));
}

#[tokio::test]
async fn protection_and_validation() {
    let w = world().await;
    let mut spec = w.spec("p", 3, &["t3.medium"]);
    spec.new_instances_protected_from_scale_in = true;
    w.asg.create_group(spec).await.unwrap();
    w.run().await;
    w.asg.set_desired_capacity("p", 1).await.unwrap();
    w.run().await;
    assert_eq!(w.live("p").len(), 3, "protected instances stay");
    let ids: Vec<String> = w.live("p").iter().take(1).map(|i| i.id.clone()).collect();
    w.asg
        .set_instance_protection("p", &ids, false)
        .await
        .unwrap();
    w.asg.reconcile_soon();
    w.run().await;
    let live = w.live("p");
    assert_eq!(live.len(), 2);
    assert!(!live.iter().any(|i| i.id == ids[0]));

    let e = w
        .asg
        .create_group(w.spec("p", 1, &["t3.medium"]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "AlreadyExists");
    let mut bad = w.spec("q", 5, &["t3.medium"]);
    bad.max_size = 2;
    let e = w.asg.create_group(bad).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "Desired capacity:5 must be between the specified min size:0 and max size:2"
    );
    let e = w.asg.set_desired_capacity("nope", 1).await.unwrap_err();
    assert_eq!(e.code(), "ValidationError");
    let e = w
        .asg
        .create_group(w.spec("r", 1, &["x9.large"]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ValidationError");
}

#[tokio::test]
async fn deletion_needs_force_with_instances_and_groups_survive_reload() {
    let w = world().await;
    w.asg
        .create_group(w.spec("d", 2, &["t3.medium"]))
        .await
        .unwrap();
    w.run().await;
    let reloaded = AutoScaling::load(
        w.store.clone(),
        w.asg.fleet().clone(),
        AutoScalingConfig::FAST,
    )
    .await
    .unwrap();
    assert_eq!(reloaded.group("d"), w.asg.group("d"));
    drop(reloaded);
    let e = w.asg.delete_group("d", false).await.unwrap_err();
    assert_eq!(e.code(), "ResourceInUse");
    w.asg.delete_group("d", true).await.unwrap();
    assert_eq!(
        w.asg.group("d").unwrap().status(),
        Some("Delete in progress")
    );
    w.run().await;
    assert!(w.asg.group("d").is_none());
    assert!(w
        .asg
        .fleet()
        .group_instances("d")
        .iter()
        .all(|i| i.state == InstanceState::Terminated));
}

fn instance(id: &str, zone: &str, version: &str, running_for: f64, now: f64) -> Instance {
    Instance {
        id: id.into(),
        reservation_id: "r-1".into(),
        instance_type: crate::catalog::lookup("m5.large").unwrap(),
        capacity_type: CapacityType::OnDemand,
        availability_zone: zone.into(),
        subnet_id: "subnet-1".into(),
        vpc_id: "vpc-1".into(),
        private_ip: std::net::Ipv4Addr::new(10, 0, 0, 1),
        state: InstanceState::Running,
        state_reason: None,
        launch_time: now - running_for,
        running_since: Some(now - running_for),
        billing_ended: None,
        terminated_at: None,
        interruption_at: None,
        group: Some("g".into()),
        launch_template: Some(LaunchTemplateRef {
            id: "lt-1".into(),
            version: version.into(),
        }),
        protected_from_scale_in: false,
        tags: Vec::new(),
    }
}

#[test]
fn default_termination_policy() {
    let now = 1_000_000.0;
    let current = LaunchTemplateRef {
        id: "lt-1".into(),
        version: "3".into(),
    };
    // Zone a has the most; in it, the oldest template version goes first, whatever its age.
    let members = vec![
        instance("i-a1", "a", "3", 3500.0, now),
        instance("i-a2", "a", "2", 100.0, now),
        instance("i-a3", "a", "3", 10.0, now),
        instance("i-b1", "b", "1", 3599.0, now),
        instance("i-b2", "b", "3", 10.0, now),
    ];
    use termination::choose_victims;
    assert_eq!(choose_victims(&members, 1, Some(&current), now), ["i-a2"]);
    // Two: then the zones are even, and b's version 1 is the oldest.
    assert_eq!(
        choose_victims(&members, 2, Some(&current), now),
        ["i-a2", "i-b1"]
    );
    // Same template everywhere: closest to the next billing hour.
    let even = vec![
        instance("i-1", "a", "3", 100.0, now),
        instance("i-2", "a", "3", 3590.0, now),
        instance("i-3", "a", "3", 7100.0, now),
    ];
    assert_eq!(choose_victims(&even, 1, Some(&current), now), ["i-2"]);
    // Another template goes before any version of the current one.
    let mut other = instance("i-x", "a", "9", 10.0, now);
    other.launch_template = Some(LaunchTemplateRef {
        id: "lt-2".into(),
        version: "1".into(),
    });
    let mut mixed = even.clone();
    mixed.push(other);
    assert_eq!(choose_victims(&mixed, 1, Some(&current), now), ["i-x"]);
    // Protected instances are never chosen; their zone still counts for balance.
    let mut guarded = members.clone();
    for i in guarded.iter_mut().filter(|i| i.availability_zone == "a") {
        i.protected_from_scale_in = true;
    }
    assert_eq!(
        choose_victims(&guarded, 5, Some(&current), now),
        ["i-b1", "i-b2"]
    );
}

#[tokio::test]
async fn a_thousand_instances_in_one_reconcile() {
    let w = world().await;
    let before = w.store.revisions().await.unwrap().current;
    let mut spec = w.spec("big", 1000, &["m5.large"]);
    spec.max_size = 1000;
    w.asg.create_group(spec).await.unwrap();
    w.run().await;
    let live = w.live("big");
    assert_eq!(live.len(), 1000);
    assert!(live.iter().all(|i| i.state == InstanceState::Running));
    assert_eq!(
        w.per_zone("big").into_values().collect::<Vec<_>>(),
        [334, 333, 333]
    );
    let writes = w.store.revisions().await.unwrap().current - before;
    assert!(writes < 30, "{writes} store revisions");
    assert!(w.asg.activities("big").len() <= ACTIVITIES_KEPT);
}
