//! keks-eks: the EKS control plane — clusters and their lifecycle on the clock, updates,
//! tags, access entries and policies, and the mapping of IAM identities to Kubernetes users
//! (access entries and `aws-auth`), Fargate and managed node groups. The AWS front (keks-aws) calls it with validated input.

pub mod access;
pub mod addon;
pub mod aws_auth;
pub mod bootstrap;
pub mod caller;
pub mod clusters;
pub mod control_plane;
pub mod doc;
pub mod error;
pub mod fargate;
pub mod identity;
pub mod ids;
pub mod nodegroups;
pub mod pagination;
pub mod principals;
pub mod tags;
pub mod timing;
pub mod updates;
pub mod versions;

pub use addon::EksAddon;
pub use caller::Caller;
pub use control_plane::{ControlPlane, ControlPlaneConfig};
pub use error::EksError;
pub use principals::Principals;
pub use timing::TimingProfile;
