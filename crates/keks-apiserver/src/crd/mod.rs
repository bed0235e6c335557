//! CustomResourceDefinitions (apiextensions.k8s.io/v1): the CRD strategy, the per-cluster
//! controller that serves each CRD's versions, and the custom resources' own strategy
//! (schema validation, pruning, defaults, printer columns). See docs/crd.md.

mod columns;
mod controller;
mod resource;
mod schema;
mod strategy;

pub use controller::CrdController;
pub use strategy::{CrdStrategy, CLEANUP_FINALIZER};
