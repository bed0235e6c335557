//! The EC2 Auto Scaling API (awsQuery, `http://autoscaling.amazonaws.com/doc/2011-01-01/`)
//! over [`keks_cloud::AutoScaling`]: CreateAutoScalingGroup (a LaunchTemplate or a
//! MixedInstancesPolicy), DescribeAutoScalingGroups, UpdateAutoScalingGroup,
//! SetDesiredCapacity, DeleteAutoScalingGroup, TerminateInstanceInAutoScalingGroup,
//! SetInstanceProtection, DescribeScalingActivities, DescribeAutoScalingInstances.

mod xml;

use keks_cloud::{AsgError, AutoScaling, CapacityType, GroupSpec, GroupUpdate, Tag};

use crate::front::Response;
use crate::query::{self, QueryError, QueryRequest};

pub use xml::timestamp as xml_timestamp;

pub const NAMESPACE: &str = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

fn asg_error(e: &AsgError) -> QueryError {
    let status = match e.code() {
        "InternalFailure" => 500,
        _ => 400,
    };
    let code = e.code();
    QueryError::new(status, code, e.to_string())
}

/// Answers an Auto Scaling request.
pub async fn handle(asg: &AutoScaling, req: &QueryRequest, request_id: &str) -> Response {
    let Some(action) = req.action() else {
        return QueryError::new(400, "MissingAction", "Missing Action")
            .to_response(NAMESPACE, request_id);
    };
    let result = match action {
        "CreateAutoScalingGroup" => create_group(asg, req).await.map(|_| None),
        "DescribeAutoScalingGroups" => describe_groups(asg, req).map(Some),
        "UpdateAutoScalingGroup" => update_group(asg, req).await.map(|_| None),
        "SetDesiredCapacity" => set_desired(asg, req).await.map(|_| None),
        "DeleteAutoScalingGroup" => delete_group(asg, req).await.map(|_| None),
        "TerminateInstanceInAutoScalingGroup" => terminate_instance(asg, req).await.map(Some),
        "SetInstanceProtection" => set_protection(asg, req).await.map(|_| Some(String::new())),
        "DescribeScalingActivities" => describe_activities(asg, req).map(Some),
        "DescribeAutoScalingInstances" => describe_instances(asg, req).map(Some),
        other => Err(QueryError::new(
            501,
            "NotImplemented",
            format!("Auto Scaling action {other} is not implemented by keks yet"),
        )),
    };
    match result {
        Ok(Some(body)) => Response::xml(200, query::success(NAMESPACE, action, &body, request_id)),
        Ok(None) => Response::xml(200, query::success_empty(NAMESPACE, action, request_id)),
        Err(e) => e.to_response(NAMESPACE, request_id),
    }
}

fn required<'a>(req: &'a QueryRequest, name: &str, member: &str) -> Result<&'a str, QueryError> {
    req.get(name)
        .ok_or_else(|| QueryError::constraint(None, member, "Member must not be null"))
}

fn number(req: &QueryRequest, name: &str, member: &str) -> Result<Option<u32>, QueryError> {
    match req.get(name) {
        None => Ok(None),
        Some(text) => text.parse::<u32>().map(Some).map_err(|_| {
            QueryError::validation(format!("Value {text} for parameter {member} is invalid."))
        }),
    }
}

fn boolean(req: &QueryRequest, name: &str) -> Option<bool> {
    req.get(name).map(|v| v.eq_ignore_ascii_case("true"))
}

/// What a request says about launching: the template reference, the instance types, the
/// capacity type, and whether it came as a MixedInstancesPolicy.
struct Launch {
    template: Option<keks_cloud::LaunchTemplateRef>,
    instance_types: Vec<String>,
    capacity_type: Option<CapacityType>,
    mixed: bool,
}

fn launch_of(asg: &AutoScaling, req: &QueryRequest) -> Result<Option<Launch>, QueryError> {
    let (prefix, mixed) = if req.get("LaunchTemplate.LaunchTemplateId").is_some()
        || req.get("LaunchTemplate.LaunchTemplateName").is_some()
    {
        ("LaunchTemplate.", false)
    } else if req
        .params
        .keys()
        .any(|k| k.starts_with("MixedInstancesPolicy."))
    {
        (
            "MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.",
            true,
        )
    } else if req.get("LaunchConfigurationName").is_some() || req.get("InstanceId").is_some() {
        return Err(QueryError::validation(
            "keks supports launch templates only, not launch configurations or instance ids.",
        ));
    } else {
        return Ok(None);
    };
    let id = req.get(&format!("{prefix}LaunchTemplateId"));
    let name = req.get(&format!("{prefix}LaunchTemplateName"));
    let version = req.get(&format!("{prefix}Version"));
    let (_, reference, template_type) = asg
        .launch_templates()
        .resolve(id, name, version)
        .map_err(|e| QueryError::validation(e.to_string()))?;
    let overrides: Vec<String> = (1..)
        .map_while(|i| {
            req.get(&format!(
                "MixedInstancesPolicy.LaunchTemplate.Overrides.member.{i}.InstanceType"
            ))
            .map(str::to_string)
        })
        .collect();
    let instance_types = if overrides.is_empty() {
        template_type.into_iter().collect()
    } else {
        overrides
    };
    if instance_types.is_empty() {
        return Err(QueryError::validation(
            "The launch template does not specify an instance type; give one in the template or in MixedInstancesPolicy overrides.",
        ));
    }
    let capacity_type = mixed.then(|| {
        match req
            .get("MixedInstancesPolicy.InstancesDistribution.OnDemandPercentageAboveBaseCapacity")
        {
            Some("0") => CapacityType::Spot,
            _ => CapacityType::OnDemand,
        }
    });
    Ok(Some(Launch {
        template: Some(reference),
        instance_types,
        capacity_type,
        mixed,
    }))
}

/// Subnets from `VPCZoneIdentifier` (comma-separated), or the default subnets of
/// `AvailabilityZones.member.N`.
fn subnets_of(asg: &AutoScaling, req: &QueryRequest) -> Option<Vec<String>> {
    if let Some(ids) = req.get("VPCZoneIdentifier").filter(|s| !s.is_empty()) {
        return Some(
            ids.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        );
    }
    let zones = req.list("AvailabilityZones.member");
    if zones.is_empty() {
        return None;
    }
    Some(
        asg.fleet()
            .network()
            .subnets()
            .into_iter()
            .filter(|s| s.default_for_az && zones.contains(&s.availability_zone.as_str()))
            .map(|s| s.id)
            .collect(),
    )
}

async fn create_group(asg: &AutoScaling, req: &QueryRequest) -> Result<(), QueryError> {
    let name = required(req, "AutoScalingGroupName", "autoScalingGroupName")?;
    let min = number(req, "MinSize", "minSize")?
        .ok_or_else(|| QueryError::constraint(None, "minSize", "Member must not be null"))?;
    let max = number(req, "MaxSize", "maxSize")?
        .ok_or_else(|| QueryError::constraint(None, "maxSize", "Member must not be null"))?;
    let launch = launch_of(asg, req)?.ok_or_else(|| {
        QueryError::validation(
            "Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.",
        )
    })?;
    let mut tags = Vec::new();
    let mut other_tags = Vec::new();
    for i in 1.. {
        let Some(key) = req.get(&format!("Tags.member.{i}.Key")) else {
            break;
        };
        let value = req
            .get(&format!("Tags.member.{i}.Value"))
            .unwrap_or_default();
        let tag = Tag::new(key, value);
        if boolean(req, &format!("Tags.member.{i}.PropagateAtLaunch")).unwrap_or(false) {
            tags.push(tag);
        } else {
            other_tags.push(tag);
        }
    }
    asg.create_group(GroupSpec {
        name: name.to_string(),
        min_size: min,
        max_size: max,
        desired_capacity: number(req, "DesiredCapacity", "desiredCapacity")?,
        instance_types: launch.instance_types,
        launch_template: launch.template,
        subnet_ids: subnets_of(asg, req).unwrap_or_default(),
        capacity_type: launch.capacity_type.unwrap_or_default(),
        tags,
        other_tags,
        mixed_instances_policy: launch.mixed,
        new_instances_protected_from_scale_in: boolean(req, "NewInstancesProtectedFromScaleIn")
            .unwrap_or(false),
    })
    .await
    .map_err(|e| asg_error(&e))?;
    Ok(())
}

fn describe_groups(asg: &AutoScaling, req: &QueryRequest) -> Result<String, QueryError> {
    let names = req.list("AutoScalingGroupNames.member");
    let groups: Vec<_> = asg
        .groups()
        .into_iter()
        .filter(|g| names.is_empty() || names.contains(&g.name.as_str()))
        .collect();
    let (page, next) = page(req, groups, 100)?;
    let members: String = page.iter().map(|g| xml::group(asg, g)).collect();
    Ok(format!(
        "<AutoScalingGroups>{members}</AutoScalingGroups>{}",
        next_token(next)
    ))
}

/// `MaxRecords` (1–`limit`, default `limit`) and `NextToken` (`keks-<offset>`).
fn page<T>(
    req: &QueryRequest,
    items: Vec<T>,
    limit: usize,
) -> Result<(Vec<T>, Option<String>), QueryError> {
    let max = match req.get("MaxRecords") {
        None => limit,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=limit).contains(n))
            .ok_or_else(|| {
                QueryError::constraint(
                    Some(text),
                    "maxRecords",
                    &format!("Member must have value less than or equal to {limit}"),
                )
            })?,
    };
    let start = match req.get("NextToken") {
        None => 0,
        Some(token) => token
            .strip_prefix("keks-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| QueryError::new(400, "InvalidNextToken", "The token is invalid."))?,
    };
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| format!("keks-{end}"));
    Ok((
        items.into_iter().skip(start).take(end - start).collect(),
        next,
    ))
}

fn next_token(next: Option<String>) -> String {
    next.map(|t| format!("<NextToken>{t}</NextToken>"))
        .unwrap_or_default()
}

async fn update_group(asg: &AutoScaling, req: &QueryRequest) -> Result<(), QueryError> {
    let name = required(req, "AutoScalingGroupName", "autoScalingGroupName")?;
    let launch = launch_of(asg, req)?;
    let mut update = GroupUpdate {
        min_size: number(req, "MinSize", "minSize")?,
        max_size: number(req, "MaxSize", "maxSize")?,
        desired_capacity: number(req, "DesiredCapacity", "desiredCapacity")?,
        subnet_ids: subnets_of(asg, req),
        new_instances_protected_from_scale_in: boolean(req, "NewInstancesProtectedFromScaleIn"),
        ..GroupUpdate::default()
    };
    if let Some(launch) = launch {
        update.launch_template = launch.template;
        update.instance_types = Some(launch.instance_types);
        update.capacity_type = launch.capacity_type;
        update.mixed_instances_policy = Some(launch.mixed);
    }
    asg.update_group(name, update)
        .await
        .map_err(|e| asg_error(&e))?;
    Ok(())
}

async fn set_desired(asg: &AutoScaling, req: &QueryRequest) -> Result<(), QueryError> {
    let name = required(req, "AutoScalingGroupName", "autoScalingGroupName")?;
    let desired = number(req, "DesiredCapacity", "desiredCapacity")?.ok_or_else(|| {
        QueryError::constraint(None, "desiredCapacity", "Member must not be null")
    })?;
    let group = asg
        .group(name)
        .filter(|g| !g.deleting)
        .ok_or_else(|| asg_error(&AsgError::NotFound(name.to_string())))?;
    if desired < group.min_size || desired > group.max_size {
        return Err(QueryError::validation(format!(
            "New SetDesiredCapacity value {desired} is {} {} value {}.",
            if desired < group.min_size {
                "below"
            } else {
                "above"
            },
            if desired < group.min_size {
                "min"
            } else {
                "max"
            },
            if desired < group.min_size {
                group.min_size
            } else {
                group.max_size
            }
        )));
    }
    asg.set_desired_capacity(name, desired)
        .await
        .map_err(|e| asg_error(&e))?;
    Ok(())
}

async fn delete_group(asg: &AutoScaling, req: &QueryRequest) -> Result<(), QueryError> {
    let name = required(req, "AutoScalingGroupName", "autoScalingGroupName")?;
    let force = boolean(req, "ForceDelete").unwrap_or(false);
    asg.delete_group(name, force)
        .await
        .map_err(|e| asg_error(&e))
}

async fn terminate_instance(asg: &AutoScaling, req: &QueryRequest) -> Result<String, QueryError> {
    let id = required(req, "InstanceId", "instanceId")?;
    let decrement = boolean(req, "ShouldDecrementDesiredCapacity").ok_or_else(|| {
        QueryError::constraint(
            None,
            "shouldDecrementDesiredCapacity",
            "Member must not be null",
        )
    })?;
    let activity = asg
        .terminate_instance(id, decrement)
        .await
        .map_err(|e| asg_error(&e))?;
    Ok(format!(
        "<Activity>{}</Activity>",
        xml::activity_body(asg, &activity)
    ))
}

async fn set_protection(asg: &AutoScaling, req: &QueryRequest) -> Result<(), QueryError> {
    let name = required(req, "AutoScalingGroupName", "autoScalingGroupName")?;
    let ids: Vec<String> = req
        .list("InstanceIds.member")
        .into_iter()
        .map(str::to_string)
        .collect();
    let protected = boolean(req, "ProtectedFromScaleIn").ok_or_else(|| {
        QueryError::constraint(None, "protectedFromScaleIn", "Member must not be null")
    })?;
    asg.set_instance_protection(name, &ids, protected)
        .await
        .map_err(|e| asg_error(&e))
}

fn describe_activities(asg: &AutoScaling, req: &QueryRequest) -> Result<String, QueryError> {
    let ids = req.list("ActivityIds.member");
    let activities: Vec<_> = match req.get("AutoScalingGroupName") {
        Some(name) => asg.activities(name),
        None => asg
            .groups()
            .iter()
            .flat_map(|g| asg.activities(&g.name))
            .collect(),
    }
    .into_iter()
    .filter(|a| ids.is_empty() || ids.contains(&a.id.as_str()))
    .collect();
    let (page, next) = page(req, activities, 100)?;
    let members: String = page
        .iter()
        .map(|a| format!("<member>{}</member>", xml::activity_body(asg, a)))
        .collect();
    Ok(format!(
        "<Activities>{members}</Activities>{}",
        next_token(next)
    ))
}

fn describe_instances(asg: &AutoScaling, req: &QueryRequest) -> Result<String, QueryError> {
    let ids = req.list("InstanceIds.member");
    let instances: Vec<_> = asg
        .groups()
        .iter()
        .flat_map(|g| asg.instances(&g.name))
        .filter(|i| ids.is_empty() || ids.contains(&i.id.as_str()))
        .collect();
    let (page, next) = page(req, instances, 50)?;
    let members: String = page.iter().map(xml::group_instance).collect();
    Ok(format!(
        "<AutoScalingInstances>{members}</AutoScalingInstances>{}",
        next_token(next)
    ))
}
