//! TagResource, UntagResource and ListTagsForResource over the ARNs of EKS resources
//! (clusters today; node groups, Fargate profiles and add-ons as they arrive).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::control_plane::ControlPlane;
use crate::error::EksError;

const MAX_TAGS: usize = 50;

impl ControlPlane {
    /// The cluster an ARN of this region and account names.
    fn tagged_cluster(&self, arn: &str) -> Result<String, EksError> {
        let prefix = format!(
            "arn:aws:eks:{}:{}:",
            self.config.region, self.config.account_id
        );
        let resource = arn
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_prefix("cluster/"));
        let Some(name) = resource.filter(|n| !n.is_empty() && !n.contains('/')) else {
            if arn.starts_with("arn:") && arn.split(':').count() >= 6 {
                return Err(EksError::NotFound(format!("Resource {arn} not found.")));
            }
            return Err(EksError::BadRequest(format!(
                "{arn} is not a valid resource ARN."
            )));
        };
        if self.get(name).is_none() {
            return Err(EksError::NotFound(format!("Resource {arn} not found.")));
        }
        Ok(name.to_string())
    }

    pub fn list_tags_for_resource(&self, input: &Value) -> Result<Value, EksError> {
        let arn = input["resourceArn"].as_str().unwrap_or_default();
        let name = self.tagged_cluster(arn)?;
        let tags = self
            .with(&name, |d| d.cluster.tags.clone())
            .unwrap_or_default();
        Ok(json!({ "tags": tags }))
    }

    pub async fn tag_resource(&self, input: &Value) -> Result<Value, EksError> {
        let arn = input["resourceArn"].as_str().unwrap_or_default();
        let name = self.tagged_cluster(arn)?;
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
        self.modify(&name, |doc| {
            let mut merged = doc.cluster.tags.clone();
            merged.extend(tags);
            if merged.len() > MAX_TAGS {
                return Err(EksError::BadRequest(format!(
                    "The resource would have {} tags; at most {MAX_TAGS} are allowed.",
                    merged.len()
                )));
            }
            doc.cluster.tags = merged;
            Ok(json!({}))
        })
        .await
    }

    pub async fn untag_resource(&self, input: &Value) -> Result<Value, EksError> {
        let arn = input["resourceArn"].as_str().unwrap_or_default();
        let name = self.tagged_cluster(arn)?;
        let keys: Vec<String> = input["tagKeys"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        self.modify(&name, |doc| {
            for k in &keys {
                doc.cluster.tags.remove(k);
            }
            Ok(json!({}))
        })
        .await
    }
}
