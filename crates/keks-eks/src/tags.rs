//! TagResource, UntagResource and ListTagsForResource over the ARNs of EKS resources
//! (clusters, Fargate profiles and managed node groups; add-ons as they arrive).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::control_plane::ControlPlane;
use crate::doc::ClusterDoc;
use crate::error::EksError;

const MAX_TAGS: usize = 50;

/// A taggable resource.
enum Tagged {
    Cluster(String),
    FargateProfile { cluster: String, name: String },
    Nodegroup { cluster: String, name: String },
}

impl Tagged {
    fn cluster(&self) -> &str {
        match self {
            Self::Cluster(c)
            | Self::FargateProfile { cluster: c, .. }
            | Self::Nodegroup { cluster: c, .. } => c,
        }
    }

    fn tags<'a>(&self, doc: &'a mut ClusterDoc) -> Option<&'a mut BTreeMap<String, String>> {
        match self {
            Self::Cluster(_) => Some(&mut doc.cluster.tags),
            Self::FargateProfile { name, .. } => doc
                .fargate_profiles
                .get_mut(name)
                .map(|p| &mut p.profile.tags),
            Self::Nodegroup { name, .. } => {
                doc.nodegroups.get_mut(name).map(|n| &mut n.nodegroup.tags)
            }
        }
    }
}

impl ControlPlane {
    /// The resource an ARN of this region and account names, if it exists.
    fn tagged(&self, arn: &str) -> Result<Tagged, EksError> {
        let prefix = format!(
            "arn:aws:eks:{}:{}:",
            self.config.region, self.config.account_id
        );
        let not_found = || EksError::NotFound(format!("Resource {arn} not found."));
        let Some(resource) = arn.strip_prefix(&prefix) else {
            if arn.starts_with("arn:") && arn.split(':').count() >= 6 {
                return Err(not_found());
            }
            return Err(EksError::BadRequest(format!(
                "{arn} is not a valid resource ARN."
            )));
        };
        let parts: Vec<&str> = resource.split('/').collect();
        let tagged = match parts.as_slice() {
            ["cluster", name] if !name.is_empty() => Tagged::Cluster(name.to_string()),
            ["fargateprofile", cluster, name, _] => Tagged::FargateProfile {
                cluster: cluster.to_string(),
                name: name.to_string(),
            },
            ["nodegroup", cluster, name, _] => Tagged::Nodegroup {
                cluster: cluster.to_string(),
                name: name.to_string(),
            },
            _ => return Err(not_found()),
        };
        let exists = self
            .with(tagged.cluster(), |d| match &tagged {
                Tagged::Cluster(_) => true,
                Tagged::FargateProfile { name, .. } => d
                    .fargate_profiles
                    .get(name)
                    .is_some_and(|p| p.profile.fargate_profile_arn == arn),
                Tagged::Nodegroup { name, .. } => d
                    .nodegroups
                    .get(name)
                    .is_some_and(|n| n.nodegroup.nodegroup_arn == arn),
            })
            .unwrap_or(false);
        if !exists {
            return Err(not_found());
        }
        Ok(tagged)
    }

    pub fn list_tags_for_resource(&self, input: &Value) -> Result<Value, EksError> {
        let arn = input["resourceArn"].as_str().unwrap_or_default();
        let tagged = self.tagged(arn)?;
        let tags = self
            .with(tagged.cluster(), |d| {
                let mut d = d.clone();
                tagged.tags(&mut d).cloned().unwrap_or_default()
            })
            .unwrap_or_default();
        Ok(json!({ "tags": tags }))
    }

    pub async fn tag_resource(&self, input: &Value) -> Result<Value, EksError> {
        let arn = input["resourceArn"].as_str().unwrap_or_default();
        let tagged = self.tagged(arn)?;
        let tags: BTreeMap<String, String> = serde_json::from_value(input["tags"].clone())
            .map_err(|e| EksError::BadRequest(format!("tags: {e}")))?;
        if let Some(k) = tags
            .keys()
            .find(|k| k.to_ascii_lowercase().starts_with("aws:"))
        {
            return Err(EksError::BadRequest(format!(
                "Tag key {k} is not allowed: tag keys starting with 'aws:' are reserved for AWS use."
            )));
        }
        self.modify(tagged.cluster(), |doc| {
            let current = tagged
                .tags(doc)
                .ok_or_else(|| EksError::NotFound(format!("Resource {arn} not found.")))?;
            let mut merged = current.clone();
            merged.extend(tags);
            if merged.len() > MAX_TAGS {
                return Err(EksError::BadRequest(format!(
                    "The resource would have {} tags; at most {MAX_TAGS} are allowed.",
                    merged.len()
                )));
            }
            *current = merged;
            Ok(json!({}))
        })
        .await
    }

    pub async fn untag_resource(&self, input: &Value) -> Result<Value, EksError> {
        let arn = input["resourceArn"].as_str().unwrap_or_default();
        let tagged = self.tagged(arn)?;
        let keys: Vec<String> = input["tagKeys"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        self.modify(tagged.cluster(), |doc| {
            if let Some(tags) = tagged.tags(doc) {
                for k in &keys {
                    tags.remove(k);
                }
            }
            Ok(json!({}))
        })
        .await
    }
}
