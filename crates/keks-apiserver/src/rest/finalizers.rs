//! Removing a finalizer, the last step of every controller that holds objects back from
//! deletion (the garbage collector, CRD cleanup): an update that retries on conflicts and
//! treats an object already gone as done.

use serde_json::Value;

use super::{ClusterApi, UpdateOptions};
use crate::registry::ResourceDescriptor;
use crate::status::ApiError;

impl ClusterApi {
    /// Removes `finalizer` from `metadata.finalizers`. With `uid`, only from that very object
    /// (not a new one of the same name). Succeeds if the object is gone.
    pub async fn remove_finalizer(
        &self,
        d: &ResourceDescriptor,
        namespace: &str,
        name: &str,
        finalizer: &str,
        uid: Option<&str>,
    ) -> Result<(), ApiError> {
        let result = self
            .guaranteed_update(
                d,
                namespace,
                name,
                &UpdateOptions::default(),
                0,
                |current| {
                    if uid.is_some_and(|uid| {
                        current.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid)
                    }) {
                        return Err(ApiError::not_found(d.group_resource(), name));
                    }
                    let mut next = current.clone();
                    if let Some(list) = next
                        .pointer_mut("/metadata/finalizers")
                        .and_then(Value::as_array_mut)
                    {
                        list.retain(|f| f != finalizer);
                    }
                    Ok(next)
                },
            )
            .await;
        match result {
            Ok(_) | Err(ApiError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
