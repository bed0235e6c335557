//! keks-apiserver: the Kubernetes API server of every keks cluster. One HTTPS listener serves
//! every cluster under `/clusters/<name>/`; a generic registry and per-resource strategies
//! serve the built-in resources over the versioned store, as kube-apiserver does.

pub mod admission;
pub mod authn;
pub mod authz;
pub mod clusters;
pub mod crd;
pub mod field;
pub mod http;
pub mod lifecycle;
pub mod managed_fields;
pub mod openapi;
pub mod patch;
pub mod pki;
pub mod protobuf;
pub mod registry;
pub mod request;
mod resources;
pub mod rest;
pub mod sa_tokens;
pub mod selector;
pub mod status;
pub mod table;
pub mod validation;

pub use clusters::{ClusterAddon, ClusterError, ClusterOptions, ClusterRecord, Clusters};
pub use http::{cluster_path, serve, ApiServer};
pub use pki::Pki;
pub use registry::Registry;
pub use rest::ClusterApi;
