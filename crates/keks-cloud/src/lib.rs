//! keks-cloud: the simulated AWS fleet under keks. Today: the network of the account's
//! region (availability zones, the default VPC, its subnets with their IP pools, security
//! groups), kept durably in the store.

pub mod network;

pub use network::{
    AvailabilityZone, InternetGateway, Network, NetworkError, Route, RouteTable,
    RouteTableAssociation, SecurityGroup, Subnet, Tag, Vpc, DEFAULT_VPC_CIDR,
};
