//! OpenAPI, as kube-apiserver serves it: the v3 index and per-group-version documents
//! (`/openapi/v3`, `/openapi/v3/apis/apps/v1?hash=...`) that `kubectl` reads for `explain`,
//! client-side apply and server-side field-validation detection; the Swagger 2.0 document
//! (`/openapi/v2`, JSON or gnostic protobuf); and schema-driven unknown-field detection for
//! `fieldValidation`.
//!
//! Schemas come from `k8s-openapi`'s schemars impls (Kubernetes 1.34); paths are built from
//! the registry's descriptors. Documents are built once per process and registry content,
//! and cached with their hash.

mod cache;
mod components;
mod document;
mod error;
mod gnostic;
mod index;
mod kinds;
mod names;
mod operations;
mod params;
mod protobuf;
mod serve;
mod strict;
mod subresources;
mod swagger;
mod unknown;

pub use document::{DocKey, SCHEMA_VERSION};
pub use error::OpenApiError;
pub use names::group_version_key;
pub use serve::handle;
pub use strict::{
    strict_decoding_error, strict_decoding_message, strict_patch_error, unknown_field_message,
    warning_header, FieldValidation,
};
pub use unknown::{prune_unknown_fields, unknown_fields};

#[cfg(test)]
mod tests;
