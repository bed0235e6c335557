//! EKS managed node groups: the API (validated as EKS validates it), the Auto Scaling group
//! behind each group, the transitions completed on the clock (including a version update's
//! rolling replacement), the drains before instances go, and the per-cluster task that
//! keeps one Node object per running instance of each group.

pub mod allocatable;
pub mod api;
pub mod drain;
pub mod health;
pub mod lifecycle;
pub mod model;
pub mod node;
pub mod rolling;
pub mod scale_in;
pub mod sync;
pub mod validate;
pub mod version;

pub use model::{Nodegroup, NodegroupDoc};
