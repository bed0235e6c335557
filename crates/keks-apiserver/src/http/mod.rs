//! The HTTPS front of every cluster: one listener, each cluster under
//! `/clusters/<name>/`, requests authenticated, authorized and routed to discovery or to the
//! resource handlers.

mod body;
mod discovery;
mod logs;
mod query;
mod resource;
mod reviews;
mod route;
mod scale;
mod serve;

pub use route::ApiServer;
pub use serve::serve;

/// The path prefix of a cluster's API on the shared listener.
pub fn cluster_path(cluster: &str) -> String {
    format!("/clusters/{cluster}")
}
