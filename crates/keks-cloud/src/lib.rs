//! keks-cloud: the simulated AWS fleet under keks: the network of the account's region
//! (availability zones, the default VPC, its subnets with their IP pools, security
//! groups), the EC2 instance-type catalog, instances on the clock with metering, Auto
//! Scaling groups, and injected faults — kept durably in the store.

pub mod autoscaling;
pub mod catalog;
pub mod faults;
pub mod instances;
pub mod launch_templates;
pub mod network;

pub use autoscaling::{
    Activity, ActivityStatus, AsgError, AutoScaling, AutoScalingConfig, Group, GroupSpec,
    GroupUpdate,
};
pub use catalog::{Arch, Gpu, InstanceType};
pub use faults::{Fault, Faults};
pub use instances::{
    CapacityType, Fleet, FleetTiming, Instance, InstanceError, InstanceEvent, InstanceEventKind,
    InstanceState, LaunchRequest, LaunchTemplateRef, StateChange, StateReason,
};
pub use launch_templates::{
    LaunchTemplate, LaunchTemplateError, LaunchTemplateVersion, LaunchTemplates,
};
pub use network::{
    AvailabilityZone, InternetGateway, Network, NetworkError, Route, RouteTable,
    RouteTableAssociation, SecurityGroup, Subnet, Tag, Vpc, DEFAULT_VPC_CIDR,
};
