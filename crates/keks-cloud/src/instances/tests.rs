//! Instances on a virtual clock: boot, termination, addresses, metering, spot
//! interruptions, faults, and surviving a reload.

use std::sync::Arc;
use std::time::Duration;

use keks_core::{Clock, VirtualClock};
use keks_store::{MemoryStore, Store};

use super::*;
use crate::faults::Fault;

struct World {
    clock: VirtualClock,
    store: Arc<dyn Store>,
    network: Network,
    fleet: Fleet,
}

async fn world(region: &str) -> World {
    let clock = VirtualClock::new();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let network = Network::load_or_create(store.clone(), region, "123456789012")
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
    World {
        clock,
        store,
        network,
        fleet,
    }
}

fn request(w: &World, instance_type: &str, count: usize) -> LaunchRequest {
    LaunchRequest {
        instance_type: instance_type.into(),
        subnet_id: w.network.subnets()[3].id.clone(),
        count,
        tags: vec![Tag::new("team", "a")],
        ..LaunchRequest::default()
    }
}

#[tokio::test]
async fn launch_boots_on_the_clock_and_terminates() {
    let w = world("us-east-1").await;
    let mut events = w.fleet.subscribe();
    let subnet = w.network.subnets()[3].clone();
    let launched = w
        .fleet
        .run_instances(request(&w, "m5.large", 2))
        .await
        .unwrap();
    assert_eq!(launched.len(), 2);
    let i = &launched[0];
    assert!(i.id.starts_with("i-") && i.id.len() == 19);
    assert!(i.id[2..].chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(i.state, InstanceState::Pending);
    assert_eq!(i.availability_zone, subnet.availability_zone);
    assert_eq!(i.private_ip.to_string(), "172.31.48.4");
    assert_eq!(i.private_dns_name(), "ip-172-31-48-4.ec2.internal");
    assert_eq!(
        i.provider_id(),
        format!("aws:///{}/{}", subnet.availability_zone, i.id)
    );
    assert_eq!(launched[0].reservation_id, launched[1].reservation_id);
    assert_eq!(
        w.fleet.zone_id(i).as_deref(),
        Some(subnet.availability_zone_id.as_str())
    );
    assert_eq!(
        w.network
            .subnet(&subnet.id)
            .unwrap()
            .available_ip_address_count,
        4089
    );
    assert_eq!(
        events.recv().await.unwrap().kind,
        InstanceEventKind::Launched
    );

    w.clock.advance(Duration::from_millis(4)).await;
    assert_eq!(
        w.fleet.instance(&i.id).unwrap().state,
        InstanceState::Pending
    );
    w.clock.advance(Duration::from_millis(1)).await;
    w.clock.settle().await;
    assert_eq!(
        w.fleet.instance(&i.id).unwrap().state,
        InstanceState::Running
    );
    let kinds: Vec<_> = std::iter::from_fn(|| events.try_recv().ok())
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            InstanceEventKind::Launched,
            InstanceEventKind::Running,
            InstanceEventKind::Running
        ]
    );

    let changes = w
        .fleet
        .terminate_instances(std::slice::from_ref(&i.id))
        .await
        .unwrap();
    assert_eq!(changes[0].previous, InstanceState::Running);
    assert_eq!(changes[0].current, InstanceState::ShuttingDown);
    w.clock.advance(Duration::from_millis(5)).await;
    w.clock.settle().await;
    let gone = w.fleet.instance(&i.id).unwrap();
    assert_eq!(gone.state, InstanceState::Terminated);
    assert_eq!(
        gone.state_reason.unwrap().code,
        "Client.UserInitiatedShutdown"
    );
    assert_eq!(
        w.network
            .subnet(&subnet.id)
            .unwrap()
            .available_ip_address_count,
        4090
    );
    // Terminating again changes nothing; unknown ids are refused.
    let again = w
        .fleet
        .terminate_instances(std::slice::from_ref(&i.id))
        .await
        .unwrap();
    assert_eq!(again[0].current, InstanceState::Terminated);
    assert!(matches!(
        w.fleet
            .terminate_instances(&["i-00000000000000000".into()])
            .await,
        Err(InstanceError::NotFound(_))
    ));
    // Forgotten after the retention.
    w.clock.advance(Duration::from_secs(3600)).await;
    w.clock.settle().await;
    assert!(w.fleet.instance(&i.id).is_none());
    assert_eq!(w.fleet.instances().len(), 1);
}

#[tokio::test]
async fn names_outside_us_east_1() {
    let w = world("eu-west-1").await;
    let i = w
        .fleet
        .run_instances(request(&w, "t3.medium", 1))
        .await
        .unwrap();
    assert_eq!(
        i[0].private_dns_name(),
        "ip-172-31-48-4.eu-west-1.compute.internal"
    );
    assert!(i[0].provider_id().starts_with("aws:///eu-west-1"));
}

#[tokio::test]
async fn metering_is_per_second_on_the_clock() {
    let w = world("us-east-1").await;
    let mut req = request(&w, "m5.large", 1);
    req.group = Some("g1".into());
    let a = w.fleet.run_instances(req).await.unwrap().remove(0);
    let mut spot = request(&w, "m5.large", 1);
    spot.capacity_type = CapacityType::Spot;
    let b = w.fleet.run_instances(spot).await.unwrap().remove(0);
    assert_eq!(w.fleet.cost_of(&a.id), Some(0.0));
    w.clock.advance(Duration::from_millis(5)).await;
    w.clock.settle().await;
    w.clock.advance(Duration::from_secs(3600)).await;
    let cost = w.fleet.cost_of(&a.id).unwrap();
    assert!((cost - 0.096).abs() < 1e-9, "{cost}");
    let spot_cost = w.fleet.cost_of(&b.id).unwrap();
    assert!((spot_cost - 0.096 * 0.4).abs() < 1e-6, "{spot_cost}");
    assert!((w.fleet.cost_of_group("g1") - 0.096).abs() < 1e-9);
    assert!((w.fleet.cost_by_tag("team", "a") - cost - spot_cost).abs() < 1e-9);
    assert!((w.fleet.hourly_rate_of_group("g1") - 0.096).abs() < 1e-12);

    // Billing stops at termination; the minimum is a minute.
    w.fleet
        .terminate_instances(std::slice::from_ref(&a.id))
        .await
        .unwrap();
    w.clock.advance(Duration::from_secs(600)).await;
    assert!((w.fleet.cost_of(&a.id).unwrap() - 0.096).abs() < 1e-9);
    let c = w
        .fleet
        .run_instances(request(&w, "t3.medium", 1))
        .await
        .unwrap()
        .remove(0);
    w.clock.advance(Duration::from_millis(5)).await;
    w.clock.settle().await;
    w.clock.advance(Duration::from_secs(10)).await;
    let c_cost = w.fleet.cost_of(&c.id).unwrap();
    assert!((c_cost - 60.0 * 0.0416 / 3600.0).abs() < 1e-12, "{c_cost}");
    // A purged instance's cost stays in its group's total.
    w.clock.advance(Duration::from_secs(3600)).await;
    w.clock.settle().await;
    assert!(w.fleet.instance(&a.id).is_none());
    assert!((w.fleet.cost_of_group("g1") - 0.096).abs() < 1e-9);
}

#[tokio::test]
async fn spot_interruption_gives_two_minutes_notice() {
    let w = world("us-east-1").await;
    let mut events = w.fleet.subscribe();
    let mut req = request(&w, "c6g.large", 1);
    req.capacity_type = CapacityType::Spot;
    let i = w.fleet.run_instances(req).await.unwrap().remove(0);
    w.clock.advance(Duration::from_millis(5)).await;
    w.clock.settle().await;
    let on_demand = w
        .fleet
        .run_instances(request(&w, "m5.large", 1))
        .await
        .unwrap();
    assert!(matches!(
        w.fleet.interrupt_spot(&on_demand[0].id).await,
        Err(InstanceError::NotSpot(_))
    ));
    let at = w.fleet.interrupt_spot(&i.id).await.unwrap();
    let now = w.clock.wall_unix_seconds_f64();
    assert!((at - now - 120.0).abs() < 1e-6);
    let warned = std::iter::from_fn(|| events.try_recv().ok())
        .any(|e| matches!(e.kind, InstanceEventKind::SpotInterruptionWarning { .. }));
    assert!(warned);
    w.clock.advance(Duration::from_secs(119)).await;
    assert_eq!(
        w.fleet.instance(&i.id).unwrap().state,
        InstanceState::Running
    );
    w.clock.advance(Duration::from_secs(1)).await;
    w.clock.settle().await;
    let shut = w.fleet.instance(&i.id).unwrap();
    assert_eq!(shut.state, InstanceState::ShuttingDown);
    assert_eq!(
        shut.state_reason.unwrap().code,
        "Server.SpotInstanceTermination"
    );
    w.clock.advance(Duration::from_millis(5)).await;
    w.clock.settle().await;
    assert_eq!(
        w.fleet.instance(&i.id).unwrap().state,
        InstanceState::Terminated
    );
}

#[tokio::test]
async fn faults_make_launches_fail_like_ec2() {
    let w = world("us-east-1").await;
    let subnet = w.network.subnets()[3].clone();
    w.fleet.faults().add(Fault::InsufficientCapacity {
        instance_type: Some("m5.large".into()),
        availability_zone: Some(subnet.availability_zone.clone()),
    });
    let e = w
        .fleet
        .run_instances(request(&w, "m5.large", 1))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "InsufficientInstanceCapacity");
    assert!(w
        .fleet
        .run_instances(request(&w, "m5.xlarge", 1))
        .await
        .is_ok());
    w.fleet.faults().add(Fault::SubnetExhausted {
        subnet_id: subnet.id.clone(),
    });
    let e = w
        .fleet
        .run_instances(request(&w, "m5.xlarge", 1))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "InsufficientFreeAddressesInSubnet");
    w.fleet.faults().clear();
    assert!(w
        .fleet
        .run_instances(request(&w, "m5.large", 1))
        .await
        .is_ok());
    // A real shortage of addresses says the same.
    let e = w
        .fleet
        .run_instances(request(&w, "m5.large", 5000))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "InsufficientFreeAddressesInSubnet");
    let e = w
        .fleet
        .run_instances(request(&w, "m5.huge", 1))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "InvalidParameterValue");
    assert_eq!(
        w.network
            .subnet(&subnet.id)
            .unwrap()
            .available_ip_address_count,
        4089
    );
}

#[tokio::test]
async fn instances_survive_a_reload_and_finish_booting() {
    let w = world("us-east-1").await;
    let launched = w
        .fleet
        .run_instances(request(&w, "m6i.large", 3))
        .await
        .unwrap();
    let reloaded = Fleet::load(
        w.store.clone(),
        w.network.clone(),
        w.clock.to_shared(),
        FleetTiming::FAST,
        Faults::new(),
    )
    .await
    .unwrap();
    let again = reloaded.instance(&launched[0].id).unwrap();
    assert_eq!(again, launched[0]);
    w.clock.advance(Duration::from_millis(5)).await;
    w.clock.settle().await;
    assert!(reloaded
        .instances()
        .iter()
        .all(|i| i.state == InstanceState::Running));
}

#[tokio::test]
async fn a_reload_gives_back_addresses_of_terminated_instances() {
    let w = world("us-east-1").await;
    let subnet = w.network.subnets()[3].id.clone();
    let i = w
        .fleet
        .run_instances(request(&w, "m5.large", 1))
        .await
        .unwrap()
        .remove(0);
    // As if the process died after writing `terminated` but before releasing the address.
    let mut dead = i.clone();
    dead.state = InstanceState::Terminated;
    dead.terminated_at = Some(w.clock.wall_unix_seconds_f64());
    w.store
        .put(
            bytes::Bytes::from(format!("/keks/cloud/us-east-1/instances/{}", i.id)),
            bytes::Bytes::from(serde_json::to_vec(&dead).unwrap()),
        )
        .await
        .unwrap();
    let network = Network::load_or_create(w.store.clone(), "us-east-1", "123456789012")
        .await
        .unwrap();
    assert_eq!(
        network.subnet(&subnet).unwrap().available_ip_address_count,
        4090
    );
    Fleet::load(
        w.store.clone(),
        network.clone(),
        w.clock.to_shared(),
        FleetTiming::FAST,
        Faults::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        network.subnet(&subnet).unwrap().available_ip_address_count,
        4091
    );
}

#[tokio::test]
async fn a_thousand_instances_boot_in_few_writes() {
    let w = world("us-east-1").await;
    let before = w.store.revisions().await.unwrap().current;
    let launched = w
        .fleet
        .run_instances(request(&w, "t3.medium", 1000))
        .await
        .unwrap();
    assert_eq!(launched.len(), 1000);
    w.clock.advance(Duration::from_millis(5)).await;
    w.clock.settle().await;
    assert!(w
        .fleet
        .instances()
        .iter()
        .all(|i| i.state == InstanceState::Running));
    let writes = w.store.revisions().await.unwrap().current - before;
    assert!(writes <= 10, "{writes} store revisions");
}
