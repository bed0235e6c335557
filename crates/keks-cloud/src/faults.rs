//! Injected faults: standing conditions that make EC2 launches fail the way AWS's do
//! (insufficient capacity of a type in a zone, a subnet out of addresses). Spot
//! interruptions are one-off events on an instance (`Fleet::interrupt_spot`). Faults live in
//! memory only: a restart clears them.

use std::collections::BTreeSet;
use std::sync::Arc;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

/// A standing fault.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Fault {
    /// Launches of `instance_type` in `availability_zone` fail with
    /// `InsufficientInstanceCapacity`; `None` matches any type / any zone.
    #[serde(rename_all = "camelCase")]
    InsufficientCapacity {
        #[serde(default)]
        instance_type: Option<String>,
        #[serde(default)]
        availability_zone: Option<String>,
    },
    /// Launches into the subnet fail with `InsufficientFreeAddressesInSubnet`, as if it had
    /// no free address left.
    #[serde(rename_all = "camelCase")]
    SubnetExhausted { subnet_id: String },
}

/// The set of standing faults; clones share it.
#[derive(Clone, Default)]
pub struct Faults {
    inner: Arc<RwLock<BTreeSet<Fault>>>,
}

impl Faults {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a fault; `false` if it was already there.
    pub fn add(&self, fault: Fault) -> bool {
        self.inner.write().insert(fault)
    }

    /// Removes a fault; `false` if it was not there.
    pub fn remove(&self, fault: &Fault) -> bool {
        self.inner.write().remove(fault)
    }

    pub fn clear(&self) {
        self.inner.write().clear();
    }

    pub fn list(&self) -> Vec<Fault> {
        self.inner.read().iter().cloned().collect()
    }

    /// Whether launches of `instance_type` in `zone` lack capacity.
    pub fn lacks_capacity(&self, instance_type: &str, zone: &str) -> bool {
        self.inner.read().iter().any(|f| match f {
            Fault::InsufficientCapacity {
                instance_type: t,
                availability_zone: z,
            } => {
                t.as_deref().is_none_or(|t| t == instance_type)
                    && z.as_deref().is_none_or(|z| z == zone)
            }
            _ => false,
        })
    }

    /// Whether the subnet is made to look full.
    pub fn subnet_exhausted(&self, subnet_id: &str) -> bool {
        self.inner
            .read()
            .iter()
            .any(|f| matches!(f, Fault::SubnetExhausted { subnet_id: s } if s == subnet_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_and_json() {
        let faults = Faults::new();
        assert!(faults.add(Fault::InsufficientCapacity {
            instance_type: Some("m5.large".into()),
            availability_zone: None,
        }));
        assert!(faults.lacks_capacity("m5.large", "us-east-1a"));
        assert!(!faults.lacks_capacity("m5.xlarge", "us-east-1a"));
        let json: Fault =
            serde_json::from_str(r#"{"kind":"subnetExhausted","subnetId":"subnet-1"}"#).unwrap();
        faults.add(json);
        assert!(faults.subnet_exhausted("subnet-1"));
        let ice: Fault = serde_json::from_str(
            r#"{"kind":"insufficientCapacity","availabilityZone":"us-east-1b"}"#,
        )
        .unwrap();
        assert!(faults.add(ice.clone()));
        assert!(faults.lacks_capacity("c5.large", "us-east-1b"));
        assert!(faults.remove(&ice));
        assert!(!faults.lacks_capacity("c5.large", "us-east-1b"));
        assert_eq!(faults.list().len(), 2);
    }
}
