//! CreateNodegroup, DescribeNodegroup, ListNodegroups, DeleteNodegroup and
//! UpdateNodegroupConfig, with EKS's rules (see `validate`): required members, a node role
//! that exists, subnets of the cluster's VPC (the cluster's when none are given), unique
//! names, at most 30 groups per cluster, an ACTIVE cluster. Creating a group creates its
//! Auto Scaling group `eks-<ng>-<uuid>` and lets its node role's nodes join (an EC2_LINUX
//! access entry, or an `aws-auth` mapping on CONFIG_MAP clusters). Config updates are
//! Update records (`ConfigUpdate`), InProgress until the nodes match, then Successful.

use std::collections::BTreeMap;

use keks_cloud::{CapacityType, GroupSpec, Tag};
use serde::Deserialize;
use serde_json::{json, Value};

use super::model::{Nodegroup, NodegroupDoc, NodegroupPending, ScalingConfig, Taint, UpdateConfig};
use super::validate::{self, MAX_NODEGROUPS};
use crate::clusters::{check_tags, parse, valid_cluster_name, valid_role_arn};
use crate::control_plane::ControlPlane;
use crate::doc::{Update, UpdateParam};
use crate::error::EksError;
use crate::{access, ids, pagination, versions};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ScalingInput {
    min_size: Option<u32>,
    max_size: Option<u32>,
    desired_size: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateInput {
    cluster_name: String,
    nodegroup_name: String,
    node_role: String,
    subnets: Option<Vec<String>>,
    scaling_config: Option<ScalingInput>,
    disk_size: Option<u32>,
    instance_types: Option<Vec<String>>,
    ami_type: Option<String>,
    remote_access: Option<Value>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    taints: Vec<Taint>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    client_request_token: Option<String>,
    launch_template: Option<Value>,
    update_config: Option<UpdateConfig>,
    capacity_type: Option<String>,
    version: Option<String>,
    release_version: Option<String>,
}

/// A node group's launch template, resolved.
struct NodeLaunchTemplate {
    /// As DescribeNodegroup shows it: name, version (a number), id.
    spec: Value,
    /// What the Auto Scaling group launches from.
    reference: keks_cloud::LaunchTemplateRef,
    /// The template version's instance type, if it sets one.
    instance_type: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct LabelsPayload {
    #[serde(default)]
    add_or_update_labels: BTreeMap<String, String>,
    #[serde(default)]
    remove_labels: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TaintsPayload {
    #[serde(default)]
    add_or_update_taints: Vec<Taint>,
    #[serde(default)]
    remove_taints: Vec<Taint>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateConfigInput {
    cluster_name: String,
    nodegroup_name: String,
    labels: Option<LabelsPayload>,
    taints: Option<TaintsPayload>,
    scaling_config: Option<ScalingInput>,
    update_config: Option<UpdateConfig>,
    client_request_token: Option<String>,
}

pub(crate) fn no_nodegroup(cluster: &str, name: &str) -> EksError {
    EksError::ResourceNotFound {
        message: format!("No node group found for name: {name}."),
        cluster: Some(cluster.to_string()),
    }
}

/// A deterministic `ami-…` id for an AMI type and Kubernetes version (the image a group's
/// nodes show in `eks.amazonaws.com/nodegroup-image`).
pub fn image_id(ami_type: &str, version: &str) -> String {
    let h = format!("{ami_type}/{version}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("ami-0{:016x}", h)
}

pub(crate) fn param(kind: &str, value: impl Into<String>) -> UpdateParam {
    UpdateParam {
        kind: kind.into(),
        value: value.into(),
    }
}

impl ControlPlane {
    pub async fn create_nodegroup(&self, input: Value) -> Result<Value, EksError> {
        let input: CreateInput = parse(input)?;
        let cluster = input.cluster_name.clone();
        let name = input.nodegroup_name.clone();
        let bad = |e: EksError| e.for_cluster(&cluster);
        if !valid_cluster_name(&name) || name.len() > 63 {
            return Err(bad(EksError::invalid_parameter(format!(
                "The node group name {name:?} is not valid: it can contain only alphanumeric characters, hyphens and underscores, must start with an alphanumeric character and can't be longer than 63 characters."
            ))));
        }
        let role = input.node_role.clone();
        if !valid_role_arn(&role) {
            return Err(bad(EksError::invalid_parameter(format!(
                "The node role ARN {role} is not valid: it must be an IAM role ARN."
            ))));
        }
        if !self.role_exists(&role) {
            return Err(bad(EksError::invalid_parameter(format!(
                "Role with arn: {role}, could not be assumed because it does not exist or the trusted entity is not correct"
            ))));
        }
        let capacity = match input.capacity_type.as_deref().unwrap_or("ON_DEMAND") {
            "ON_DEMAND" => CapacityType::OnDemand,
            "SPOT" => CapacityType::Spot,
            other => {
                return Err(bad(EksError::invalid_parameter(format!(
                    "Capacity type {other} is not supported by keks"
                ))))
            }
        };
        let (cluster_version, cluster_vpc, cluster_subnets) = self
            .with(&cluster, |d| {
                (
                    d.cluster.version.clone(),
                    d.cluster.resources_vpc_config.vpc_id.clone(),
                    d.cluster.resources_vpc_config.subnet_ids.clone(),
                )
            })
            .ok_or_else(|| EksError::no_cluster(&cluster))?;
        if let Some(v) = &input.version {
            if v != &cluster_version {
                return Err(bad(EksError::invalid_parameter(format!(
                    "Requested Nodegroup version {v} is invalid. The node group version must match the cluster version {cluster_version}"
                ))));
            }
        }
        let ami_type = input
            .ami_type
            .clone()
            .unwrap_or_else(|| validate::default_ami_type(&cluster_version).to_string());
        let template = match &input.launch_template {
            Some(spec) => Some(self.node_launch_template(spec, &input).map_err(bad)?),
            None => None,
        };
        let instance_types = template
            .as_ref()
            .and_then(|t| t.instance_type.clone())
            .map(|t| vec![t])
            .or_else(|| input.instance_types.clone().filter(|t| !t.is_empty()))
            .unwrap_or_else(|| vec![validate::DEFAULT_INSTANCE_TYPE.to_string()]);
        validate::check_instance_types(&instance_types, &ami_type).map_err(bad)?;
        let s = input.scaling_config.unwrap_or_default();
        let min = s.min_size.unwrap_or(2);
        let scaling = ScalingConfig {
            min_size: min,
            max_size: s
                .max_size
                .unwrap_or(min.max(s.desired_size.unwrap_or(2)).max(1)),
            desired_size: s.desired_size.unwrap_or(min),
        };
        validate::check_scaling(&scaling).map_err(bad)?;
        validate::check_labels(&input.labels).map_err(bad)?;
        validate::check_taints(&input.taints).map_err(bad)?;
        let update_config = input.update_config.clone().unwrap_or(UpdateConfig {
            max_unavailable: Some(1),
            max_unavailable_percentage: None,
        });
        validate::check_update_config(&update_config).map_err(bad)?;
        check_tags(&input.tags)?;
        let subnets = match input.subnets.clone().filter(|s| !s.is_empty()) {
            Some(given) => {
                for id in &given {
                    let subnet = self.network.subnet(id).ok_or_else(|| {
                        bad(EksError::invalid_parameter(format!(
                            "The subnet ID '{id}' does not exist"
                        )))
                    })?;
                    if subnet.vpc_id != cluster_vpc {
                        return Err(bad(EksError::invalid_parameter(format!(
                            "Subnet {id} is not in the cluster's VPC {cluster_vpc}"
                        ))));
                    }
                }
                given
            }
            None => cluster_subnets,
        };
        let Some(autoscaling) = self.autoscaling() else {
            return Err(EksError::Server(
                "keks runs without an EC2 fleet; managed node groups are unavailable".into(),
            ));
        };
        let uuid = ids::uuid();
        let asg_name = format!("eks-{name}-{uuid}");
        let patch = versions::find(&cluster_version).map_or_else(
            || format!("{cluster_version}.0"),
            |v| v.patch_version.to_string(),
        );
        let now = self.now();
        let nodegroup = Nodegroup {
            nodegroup_name: name.clone(),
            nodegroup_arn: format!(
                "arn:aws:eks:{}:{}:nodegroup/{cluster}/{name}/{uuid}",
                self.config.region, self.config.account_id
            ),
            cluster_name: cluster.clone(),
            version: cluster_version.clone(),
            release_version: input
                .release_version
                .clone()
                .unwrap_or_else(|| format!("{patch}-20251120")),
            created_at: now,
            modified_at: now,
            status: "CREATING".into(),
            capacity_type: capacity.eks_name().into(),
            scaling_config: scaling.clone(),
            instance_types: instance_types.clone(),
            subnets: subnets.clone(),
            remote_access: input.remote_access.clone(),
            ami_type: ami_type.clone(),
            node_role: role.clone(),
            labels: input.labels.clone(),
            taints: input.taints.clone(),
            resources: json!({ "autoScalingGroups": [{ "name": asg_name }] }),
            disk_size: input.disk_size.unwrap_or(validate::DEFAULT_DISK_GIB),
            launch_template: template.as_ref().map(|t| t.spec.clone()),
            health: json!({ "issues": [] }),
            update_config,
            tags: input.tags.clone(),
        };
        let doc = NodegroupDoc {
            nodegroup: nodegroup.clone(),
            asg_name: asg_name.clone(),
            image_id: image_id(&ami_type, &cluster_version),
            pending: Some(NodegroupPending::Activate),
            due: Some(self.due_in(self.config.timing.nodegroup_create())),
            updates: Vec::new(),
            client_request_token: input.client_request_token.clone(),
            update_tokens: BTreeMap::new(),
            rollout: None,
        };
        let (answer, created, config_map_only) = self
            .modify(&cluster, |d| {
                if let Some(existing) = d.nodegroups.get(&name) {
                    if input.client_request_token.is_some()
                        && existing.client_request_token == input.client_request_token
                    {
                        return Ok((json!({ "nodegroup": existing.nodegroup }), false, false));
                    }
                    return Err(EksError::ResourceInUse {
                        message: format!(
                            "NodeGroup already exists with name {name} and cluster name {cluster}"
                        ),
                        cluster: Some(cluster.clone()),
                    });
                }
                if d.cluster.status != "ACTIVE" && d.cluster.status != "UPDATING" {
                    return Err(EksError::InvalidRequest {
                        message: format!("Cluster '{cluster}' is not in ACTIVE status"),
                        cluster: Some(cluster.clone()),
                    });
                }
                if d.nodegroups.len() >= MAX_NODEGROUPS {
                    return Err(EksError::ResourceLimitExceeded {
                        message: format!(
                            "Nodegroup limit exceeded for cluster {cluster}: at most {MAX_NODEGROUPS} managed node groups."
                        ),
                        cluster: Some(cluster.clone()),
                    });
                }
                d.nodegroups.insert(name.clone(), doc.clone());
                if d.cluster.access_config.uses_access_entries() {
                    access::add_node_role_entry(d, &role, "EC2_LINUX", now);
                }
                let config_map_only = !d.cluster.access_config.uses_access_entries();
                Ok((json!({ "nodegroup": nodegroup }), true, config_map_only))
            })
            .await?;
        if !created {
            return Ok(answer);
        }
        // The group's nodes join a running cluster (its kubelets, its node sync).
        self.running_api(&cluster).await?;
        if config_map_only {
            self.map_node_role(&cluster, &role).await;
        }
        let tag = |k: String, v: &str| Tag {
            key: k,
            value: v.to_string(),
        };
        let spec = GroupSpec {
            name: asg_name.clone(),
            min_size: scaling.min_size,
            max_size: scaling.max_size,
            desired_capacity: Some(scaling.desired_size),
            instance_types,
            subnet_ids: subnets,
            capacity_type: capacity,
            launch_template: template.map(|t| t.reference),
            tags: vec![
                tag("eks:cluster-name".into(), &cluster),
                tag("eks:nodegroup-name".into(), &name),
                tag(format!("kubernetes.io/cluster/{cluster}"), "owned"),
                tag("k8s.io/cluster-autoscaler/enabled".into(), "true"),
                tag(format!("k8s.io/cluster-autoscaler/{cluster}"), "owned"),
            ],
            ..GroupSpec::default()
        };
        if let Err(e) = autoscaling.create_group(spec).await {
            // Nothing launched: the group is taken back as if never created.
            let _ = self
                .modify(&cluster, |d| {
                    d.nodegroups.remove(&name);
                    Ok(())
                })
                .await;
            return Err(EksError::Server(format!(
                "creating the node group's Auto Scaling group: {e}"
            )));
        }
        Ok(answer)
    }

    /// The EC2 launch template a CreateNodegroup names, checked as EKS checks it: an id or a
    /// name (not both) of an existing template and version; no `diskSize` and no
    /// `remoteAccess` beside it (they belong in the template), and no `instanceTypes` when
    /// the template sets its own.
    fn node_launch_template(
        &self,
        spec: &Value,
        input: &CreateInput,
    ) -> Result<NodeLaunchTemplate, EksError> {
        let id = spec["id"].as_str();
        let name = spec["name"].as_str();
        if id.is_some() == name.is_some() {
            return Err(EksError::invalid_parameter(
                "You must specify either the launch template ID or the launch template name in the request, but not both.",
            ));
        }
        if input.disk_size.is_some() {
            return Err(EksError::invalid_parameter(
                "Disk size must be specified within the launch template.",
            ));
        }
        if input.remote_access.is_some() {
            return Err(EksError::invalid_parameter(
                "Remote access configuration cannot be specified with a launch template.",
            ));
        }
        let autoscaling = self.autoscaling().ok_or_else(|| {
            EksError::Server(
                "keks runs without an EC2 fleet; launch templates are unavailable".into(),
            )
        })?;
        let (template, reference, instance_type) = autoscaling
            .launch_templates()
            .resolve(id, name, spec["version"].as_str())
            .map_err(|e| EksError::invalid_parameter(e.to_string()))?;
        if instance_type.is_some() && input.instance_types.as_ref().is_some_and(|t| !t.is_empty()) {
            return Err(EksError::invalid_request(
                "Cannot specify instance types in launch template and API Request",
            ));
        }
        Ok(NodeLaunchTemplate {
            spec: json!({"name": template.name, "version": reference.version, "id": template.id}),
            reference,
            instance_type,
        })
    }

    /// Maps a node role in `aws-auth`, as EKS does for CONFIG_MAP clusters.
    async fn map_node_role(&self, cluster: &str, role: &str) {
        let Ok(Some(api)) = self.running_api(cluster).await else {
            return;
        };
        let groups = ["system:bootstrappers", "system:nodes"];
        if let Err(e) = crate::aws_auth::add_role_mapping(
            &api,
            role,
            "system:node:{{EC2PrivateDNSName}}",
            &groups,
        )
        .await
        {
            tracing::warn!(cluster, role, error = %e, "mapping the node role in aws-auth");
        }
    }

    pub fn describe_nodegroup(&self, input: &Value) -> Result<Value, EksError> {
        let cluster = input["clusterName"].as_str().unwrap_or_default();
        let name = input["nodegroupName"].as_str().unwrap_or_default();
        self.with(cluster, |d| {
            d.nodegroups.get(name).map(|n| n.nodegroup.clone())
        })
        .ok_or_else(|| EksError::no_cluster(cluster))?
        .map(|n| json!({ "nodegroup": n }))
        .ok_or_else(|| no_nodegroup(cluster, name))
    }

    pub fn list_nodegroups(&self, input: &Value) -> Result<Value, EksError> {
        let cluster = input["clusterName"].as_str().unwrap_or_default();
        let names: Vec<String> = self
            .with(cluster, |d| d.nodegroups.keys().cloned().collect())
            .ok_or_else(|| EksError::no_cluster(cluster))?;
        pagination::answer("nodegroups", &names, String::clone, input)
    }

    pub async fn delete_nodegroup(&self, input: &Value) -> Result<Value, EksError> {
        let cluster = input["clusterName"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let name = input["nodegroupName"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let due = self.due_in(self.config.timing.nodegroup_delete());
        let now = self.now();
        let (answer, asg) = self
            .modify(&cluster, |d| {
                let n = d
                    .nodegroups
                    .get_mut(&name)
                    .ok_or_else(|| no_nodegroup(&cluster, &name))?;
                if n.nodegroup.status != "DELETING" {
                    n.nodegroup.status = "DELETING".into();
                    n.nodegroup.modified_at = now;
                    n.pending = Some(NodegroupPending::Remove);
                    n.due = Some(due);
                    // An update in progress ends with the group.
                    for u in n.updates.iter_mut().filter(|u| u.status == "InProgress") {
                        u.status = "Cancelled".into();
                    }
                    n.rollout = None;
                }
                Ok((json!({ "nodegroup": n.nodegroup }), n.asg_name.clone()))
            })
            .await?;
        if let Some(autoscaling) = self.autoscaling() {
            // Nodes are drained before their instances go.
            let live: Vec<keks_cloud::Instance> = autoscaling
                .instances(&asg)
                .into_iter()
                .filter(|i| i.state.is_live())
                .collect();
            self.drain_instances(&cluster, &live).await;
            match autoscaling.delete_group(&asg, true).await {
                Ok(()) | Err(keks_cloud::AsgError::NotFound(_)) => {}
                Err(e) => {
                    tracing::warn!(cluster, nodegroup = %name, error = %e, "deleting the node group's Auto Scaling group; the clock retries")
                }
            }
        }
        Ok(answer)
    }

    pub async fn update_nodegroup_config(&self, input: Value) -> Result<Value, EksError> {
        let input: UpdateConfigInput = parse(input)?;
        let cluster = input.cluster_name.clone();
        let name = input.nodegroup_name.clone();
        let bad = |e: EksError| e.for_cluster(&cluster);
        if input.labels.is_none()
            && input.taints.is_none()
            && input.scaling_config.is_none()
            && input.update_config.is_none()
        {
            return Err(bad(EksError::invalid_parameter(
                "No changes were specified in the request.",
            )));
        }
        if let Some(c) = &input.update_config {
            validate::check_update_config(c).map_err(bad)?;
        }
        let due = self.due_in(self.config.timing.nodegroup_update());
        let now = self.now();
        let update_id = ids::uuid();
        let (answer, asg, scaling) = self
            .modify(&cluster, |d| {
                let n = d
                    .nodegroups
                    .get_mut(&name)
                    .ok_or_else(|| no_nodegroup(&cluster, &name))?;
                if let Some(token) = &input.client_request_token {
                    if let Some(id) = n.update_tokens.get(token) {
                        if let Some(u) = n.updates.iter().find(|u| &u.id == id) {
                            return Ok((json!({ "update": u }), n.asg_name.clone(), None));
                        }
                    }
                }
                if n.nodegroup.status != "ACTIVE" && n.nodegroup.status != "DEGRADED" {
                    return Err(EksError::ResourceInUse {
                        message: format!(
                            "Nodegroup {name} is in {} state and cannot be updated until it is ACTIVE",
                            n.nodegroup.status
                        ),
                        cluster: Some(cluster.clone()),
                    });
                }
                let g = &mut n.nodegroup;
                let mut params = Vec::new();
                let mut scaling = None;
                if let Some(s) = &input.scaling_config {
                    let next = ScalingConfig {
                        min_size: s.min_size.unwrap_or(g.scaling_config.min_size),
                        max_size: s.max_size.unwrap_or(g.scaling_config.max_size),
                        desired_size: s.desired_size.unwrap_or(g.scaling_config.desired_size),
                    };
                    validate::check_scaling(&next)?;
                    for (kind, v) in [
                        ("MinSize", s.min_size),
                        ("MaxSize", s.max_size),
                        ("DesiredSize", s.desired_size),
                    ] {
                        if let Some(v) = v {
                            params.push(param(kind, v.to_string()));
                        }
                    }
                    g.scaling_config = next.clone();
                    scaling = Some(next);
                }
                if let Some(l) = &input.labels {
                    if let Some(k) = l
                        .remove_labels
                        .iter()
                        .find(|k| l.add_or_update_labels.contains_key(*k))
                    {
                        return Err(EksError::invalid_parameter(format!(
                            "The label {k} is both added and removed"
                        )));
                    }
                    validate::check_labels(&l.add_or_update_labels)?;
                    let mut labels = g.labels.clone();
                    labels.extend(l.add_or_update_labels.clone());
                    for k in &l.remove_labels {
                        labels.remove(k);
                    }
                    if !l.add_or_update_labels.is_empty() {
                        params.push(param(
                            "LabelsToAdd",
                            serde_json::to_string(&l.add_or_update_labels).unwrap_or_default(),
                        ));
                    }
                    if !l.remove_labels.is_empty() {
                        params.push(param(
                            "LabelsToRemove",
                            serde_json::to_string(&l.remove_labels).unwrap_or_default(),
                        ));
                    }
                    g.labels = labels;
                }
                if let Some(t) = &input.taints {
                    validate::check_taints(&t.add_or_update_taints)?;
                    let mut taints: Vec<Taint> = g
                        .taints
                        .iter()
                        .filter(|x| {
                            !t.remove_taints.iter().any(|r| r.key == x.key && r.effect == x.effect)
                                && !t.add_or_update_taints.iter().any(|a| a.key == x.key && a.effect == x.effect)
                        })
                        .cloned()
                        .collect();
                    taints.extend(t.add_or_update_taints.iter().cloned());
                    validate::check_taints(&taints)?;
                    if !t.add_or_update_taints.is_empty() {
                        params.push(param(
                            "TaintsToAdd",
                            serde_json::to_string(&t.add_or_update_taints).unwrap_or_default(),
                        ));
                    }
                    if !t.remove_taints.is_empty() {
                        params.push(param(
                            "TaintsToRemove",
                            serde_json::to_string(&t.remove_taints).unwrap_or_default(),
                        ));
                    }
                    g.taints = taints;
                }
                if let Some(c) = &input.update_config {
                    if let Some(v) = c.max_unavailable {
                        params.push(param("MaxUnavailable", v.to_string()));
                    }
                    if let Some(v) = c.max_unavailable_percentage {
                        params.push(param("MaxUnavailablePercentage", v.to_string()));
                    }
                    g.update_config = c.clone();
                }
                g.status = "UPDATING".into();
                g.modified_at = now;
                let update = Update {
                    id: update_id.clone(),
                    status: "InProgress".into(),
                    kind: "ConfigUpdate".into(),
                    params,
                    created_at: now,
                    errors: Vec::new(),
                };
                if let Some(token) = &input.client_request_token {
                    n.update_tokens.insert(token.clone(), update_id.clone());
                }
                n.pending = Some(NodegroupPending::FinishUpdate {
                    update_id: update_id.clone(),
                });
                n.due = Some(due);
                let out = json!({ "update": update });
                n.updates.push(update);
                Ok((out, n.asg_name.clone(), scaling))
            })
            .await
            .map_err(bad)?;
        if let Some(s) = scaling {
            if let Err(e) = self.resize_with_drain(&cluster, &asg, &s).await {
                tracing::warn!(cluster, nodegroup = %name, error = %e, "resizing the node group's Auto Scaling group; the clock retries");
            }
        }
        Ok(answer)
    }

    /// DescribeUpdate of a node group's update.
    pub(crate) fn describe_nodegroup_update(
        &self,
        cluster: &str,
        nodegroup: &str,
        id: &str,
    ) -> Result<Value, EksError> {
        let found = self
            .with(cluster, |d| {
                d.nodegroups
                    .get(nodegroup)
                    .map(|n| n.updates.iter().find(|u| u.id == id).cloned())
            })
            .ok_or_else(|| EksError::no_cluster(cluster))?
            .ok_or_else(|| no_nodegroup(cluster, nodegroup))?;
        found
            .map(|u| json!({ "update": u }))
            .ok_or_else(|| EksError::ResourceNotFound {
                message: format!("No update found for ID: {id}."),
                cluster: Some(cluster.to_string()),
            })
    }

    /// The ids and creation times of a node group's updates.
    pub(crate) fn nodegroup_update_ids(
        &self,
        cluster: &str,
        nodegroup: &str,
    ) -> Result<Vec<(f64, String)>, EksError> {
        self.with(cluster, |d| {
            d.nodegroups.get(nodegroup).map(|n| {
                n.updates
                    .iter()
                    .map(|u| (u.created_at, u.id.clone()))
                    .collect()
            })
        })
        .ok_or_else(|| EksError::no_cluster(cluster))?
        .ok_or_else(|| no_nodegroup(cluster, nodegroup))
    }
}
