//! Fargate on keks: profiles (the API, validated as EKS validates them) and the selector
//! matching the Fargate admission step uses to place pods.

pub mod profiles;
pub mod selector;

pub use profiles::FargateProfile;
pub use selector::{glob_match, Selector};
