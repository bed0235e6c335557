//! Fargate on keks: profiles (the API, validated as EKS validates them) and the selector
//! matching the Fargate admission step uses to place pods.

pub mod admission;
pub mod meter;
pub mod node;
pub mod profiles;
pub mod scheduler;
pub mod selector;
pub mod sizing;
pub mod support;

pub use profiles::FargateProfile;
pub use selector::{glob_match, Selector};
