//! Admission plug-ins other crates add to every cluster (EKS's Fargate profile webhook, for
//! one): they see an object being created before the resource's strategy prepares it, and
//! may change it or refuse it, as kube-apiserver's mutating admission does. Every creation
//! passes through them, whether it comes over HTTP or from an in-process controller.

use serde_json::Value;

use crate::registry::ResourceDescriptor;
use crate::status::ApiError;

/// One mutating admission plug-in.
#[async_trait::async_trait]
pub trait Admission: Send + Sync {
    /// Called for every object created in `cluster`; `obj` has its type and namespace
    /// checked but no defaults yet.
    async fn admit_create(
        &self,
        cluster: &str,
        d: &ResourceDescriptor,
        namespace: &str,
        obj: &mut Value,
    ) -> Result<(), ApiError>;
}
