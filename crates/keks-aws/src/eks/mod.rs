//! The EKS front end: restJson1 requests (by the EKS model) to control-plane calls, their
//! results and errors back to the wire. Operations of the model keks does not implement yet
//! answer `NotImplementedException` (HTTP 501) naming the operation.

mod errors;
mod principals;

use std::sync::Arc;

use keks_eks::{Caller, ControlPlane, EksError};
use serde_json::Value;

use crate::front::{HttpRequest, Response};
use crate::rest_json::{Call, Model, RestJson};

/// The EKS model, trimmed from botocore by `scripts/gen-aws-models.py`.
const MODEL: &str = include_str!("../../models/eks.json");

pub struct EksFront {
    rest: RestJson,
    control: Arc<ControlPlane>,
}

impl EksFront {
    pub fn new(control: Arc<ControlPlane>) -> Self {
        let model = Model::parse(MODEL).expect("the bundled EKS model parses");
        Self {
            rest: RestJson::new(model),
            control,
        }
    }

    pub fn control(&self) -> &Arc<ControlPlane> {
        &self.control
    }

    pub async fn handle(&self, caller: &Caller, req: &HttpRequest<'_>) -> Response {
        let call = match self.rest.parse(req) {
            Ok(call) => call,
            Err(e) => return self.rest.error(&e),
        };
        let operation = call.operation.clone();
        // The most frequent call (waiters poll it) answers straight from the document.
        if operation == "DescribeCluster" {
            let name = call.input["name"].as_str().unwrap_or_default();
            return match self.control.describe_json(name) {
                Some(bytes) => Response {
                    status: 200,
                    headers: vec![("content-type".into(), "application/json".into())],
                    body: bytes,
                },
                None => self
                    .rest
                    .error(&errors::to_wire(&EksError::no_cluster(name))),
            };
        }
        // Node group errors name the node group too (EKS's `nodegroupName` member).
        let nodegroup = call.input["nodegroupName"]
            .as_str()
            .filter(|_| operation.contains("Nodegroup"))
            .map(str::to_string);
        match self.dispatch(caller, call).await {
            Ok(output) => self.rest.success(&operation, &output),
            Err(e) => self.rest.error(&errors::with_nodegroup(
                errors::to_wire(&e),
                &e,
                nodegroup.as_deref(),
            )),
        }
    }

    async fn dispatch(&self, caller: &Caller, call: Call) -> Result<Value, EksError> {
        let c = &self.control;
        let input = call.input;
        let name = || input["name"].as_str().unwrap_or_default().to_string();
        match call.operation.as_str() {
            "CreateCluster" => c.create_cluster(caller, input).await,
            "DescribeCluster" => c.describe_cluster(&name()),
            "ListClusters" => c.list_clusters(&input),
            "DeleteCluster" => c.delete_cluster(&name()).await,
            "UpdateClusterVersion" => c.update_cluster_version(input).await,
            "UpdateClusterConfig" => c.update_cluster_config(input).await,
            "DescribeUpdate" => c.describe_update(&input),
            "ListUpdates" => c.list_updates(&input),
            "DescribeClusterVersions" => c.describe_cluster_versions(&input),
            "TagResource" => c.tag_resource(&input).await,
            "UntagResource" => c.untag_resource(&input).await,
            "ListTagsForResource" => c.list_tags_for_resource(&input),
            "CreateAccessEntry" => c.create_access_entry(input).await,
            "DescribeAccessEntry" => c.describe_access_entry(&input),
            "ListAccessEntries" => c.list_access_entries(&input),
            "UpdateAccessEntry" => c.update_access_entry(input).await,
            "DeleteAccessEntry" => c.delete_access_entry(&input).await,
            "AssociateAccessPolicy" => c.associate_access_policy(input).await,
            "DisassociateAccessPolicy" => c.disassociate_access_policy(&input).await,
            "ListAssociatedAccessPolicies" => c.list_associated_access_policies(&input),
            "ListAccessPolicies" => c.list_access_policies(&input),
            "CreateFargateProfile" => c.create_fargate_profile(input).await,
            "DescribeFargateProfile" => c.describe_fargate_profile(&input),
            "ListFargateProfiles" => c.list_fargate_profiles(&input),
            "DeleteFargateProfile" => c.delete_fargate_profile(&input).await,
            "CreateNodegroup" => c.create_nodegroup(input).await,
            "DescribeNodegroup" => c.describe_nodegroup(&input),
            "ListNodegroups" => c.list_nodegroups(&input),
            "DeleteNodegroup" => c.delete_nodegroup(&input).await,
            "UpdateNodegroupConfig" => c.update_nodegroup_config(input).await,
            "UpdateNodegroupVersion" => c.update_nodegroup_version(input).await,
            other => Err(EksError::NotImplemented(format!(
                "The EKS operation {other} is not implemented by keks yet."
            ))),
        }
    }
}
