//! The Auto Scaling API's XML for groups, their instances and scaling activities.

use keks_cloud::{Activity, AutoScaling, CapacityType, Group, Instance, InstanceState, Tag};

use crate::query::xml_escape;

/// `2024-01-01T00:00:00.000Z`.
pub fn timestamp(unix: f64) -> String {
    let ts = jiff::Timestamp::from_millisecond((unix * 1000.0) as i64)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m-%dT%H:%M:%S.%3fZ").to_string()
}

fn lifecycle(state: InstanceState) -> &'static str {
    match state {
        InstanceState::Pending => "Pending",
        InstanceState::Running => "InService",
        InstanceState::ShuttingDown => "Terminating",
        InstanceState::Terminated => "Terminated",
    }
}

fn template_xml(asg: &AutoScaling, element: &str, id: &str, version: &str) -> String {
    let name = asg
        .launch_templates()
        .find(Some(id), None)
        .map(|t| t.name)
        .unwrap_or_default();
    format!(
        "<{element}><LaunchTemplateId>{id}</LaunchTemplateId><LaunchTemplateName>{}</LaunchTemplateName><Version>{version}</Version></{element}>",
        xml_escape(&name)
    )
}

fn instance_template(i: &Instance) -> String {
    i.launch_template
        .as_ref()
        .map(|t| {
            format!(
                "<LaunchTemplate><LaunchTemplateId>{}</LaunchTemplateId><Version>{}</Version></LaunchTemplate>",
                t.id, t.version
            )
        })
        .unwrap_or_default()
}

fn tag_xml(group: &str, t: &Tag, propagate: bool) -> String {
    format!(
        "<member><ResourceId>{}</ResourceId><ResourceType>auto-scaling-group</ResourceType><Key>{}</Key><Value>{}</Value><PropagateAtLaunch>{propagate}</PropagateAtLaunch></member>",
        xml_escape(group),
        xml_escape(&t.key),
        xml_escape(&t.value)
    )
}

pub fn group(asg: &AutoScaling, g: &Group) -> String {
    let launch = match (&g.launch_template, g.mixed_instances_policy) {
        (Some(t), false) => template_xml(asg, "LaunchTemplate", &t.id, &t.version),
        (Some(t), true) => {
            let overrides: String = g
                .instance_types
                .iter()
                .map(|ty| format!("<member><InstanceType>{ty}</InstanceType></member>"))
                .collect();
            let on_demand = match g.capacity_type {
                CapacityType::OnDemand => 100,
                CapacityType::Spot => 0,
            };
            format!(
                "<MixedInstancesPolicy><LaunchTemplate>{}<Overrides>{overrides}</Overrides></LaunchTemplate><InstancesDistribution><OnDemandAllocationStrategy>prioritized</OnDemandAllocationStrategy><OnDemandBaseCapacity>0</OnDemandBaseCapacity><OnDemandPercentageAboveBaseCapacity>{on_demand}</OnDemandPercentageAboveBaseCapacity><SpotAllocationStrategy>price-capacity-optimized</SpotAllocationStrategy></InstancesDistribution></MixedInstancesPolicy>",
                template_xml(asg, "LaunchTemplateSpecification", &t.id, &t.version)
            )
        }
        (None, _) => String::new(),
    };
    let network = asg.fleet().network();
    let mut zones: Vec<String> = g
        .subnet_ids
        .iter()
        .filter_map(|s| network.subnet(s))
        .map(|s| s.availability_zone)
        .collect();
    zones.sort();
    zones.dedup();
    let zones: String = zones
        .iter()
        .map(|z| format!("<member>{z}</member>"))
        .collect();
    let instances: String = asg
        .instances(&g.name)
        .iter()
        .map(|i| {
            format!(
                "<member><InstanceId>{}</InstanceId><InstanceType>{}</InstanceType><AvailabilityZone>{}</AvailabilityZone><LifecycleState>{}</LifecycleState><HealthStatus>Healthy</HealthStatus>{}<ProtectedFromScaleIn>{}</ProtectedFromScaleIn></member>",
                i.id,
                i.instance_type.name,
                i.availability_zone,
                lifecycle(i.state),
                instance_template(i),
                i.protected_from_scale_in
            )
        })
        .collect();
    let tags: String = g
        .tags
        .iter()
        .map(|t| tag_xml(&g.name, t, true))
        .chain(g.other_tags.iter().map(|t| tag_xml(&g.name, t, false)))
        .collect();
    let status = g
        .status()
        .map(|s| format!("<Status>{s}</Status>"))
        .unwrap_or_default();
    format!(
        "<member><AutoScalingGroupName>{name}</AutoScalingGroupName><AutoScalingGroupARN>{arn}</AutoScalingGroupARN>{launch}<MinSize>{min}</MinSize><MaxSize>{max}</MaxSize><DesiredCapacity>{desired}</DesiredCapacity><DefaultCooldown>300</DefaultCooldown><AvailabilityZones>{zones}</AvailabilityZones><LoadBalancerNames/><TargetGroupARNs/><HealthCheckType>EC2</HealthCheckType><HealthCheckGracePeriod>300</HealthCheckGracePeriod><Instances>{instances}</Instances><CreatedTime>{created}</CreatedTime><SuspendedProcesses/><VPCZoneIdentifier>{subnets}</VPCZoneIdentifier><EnabledMetrics/>{status}<Tags>{tags}</Tags><TerminationPolicies><member>Default</member></TerminationPolicies><NewInstancesProtectedFromScaleIn>{protect}</NewInstancesProtectedFromScaleIn><ServiceLinkedRoleARN>arn:aws:iam::{account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling</ServiceLinkedRoleARN><CapacityRebalance>false</CapacityRebalance></member>",
        name = xml_escape(&g.name),
        arn = xml_escape(&g.arn),
        min = g.min_size,
        max = g.max_size,
        desired = g.desired_capacity,
        created = timestamp(g.created_time),
        subnets = g.subnet_ids.join(","),
        protect = g.new_instances_protected_from_scale_in,
        account = network.account_id(),
    )
}

pub fn group_instance(i: &Instance) -> String {
    format!(
        "<member><InstanceId>{}</InstanceId><InstanceType>{}</InstanceType><AutoScalingGroupName>{}</AutoScalingGroupName><AvailabilityZone>{}</AvailabilityZone><LifecycleState>{}</LifecycleState><HealthStatus>HEALTHY</HealthStatus>{}<ProtectedFromScaleIn>{}</ProtectedFromScaleIn></member>",
        i.id,
        i.instance_type.name,
        xml_escape(i.group.as_deref().unwrap_or_default()),
        i.availability_zone,
        lifecycle(i.state),
        instance_template(i),
        i.protected_from_scale_in
    )
}

pub fn activity_body(asg: &AutoScaling, a: &Activity) -> String {
    let arn = asg.group(&a.group).map(|g| g.arn).unwrap_or_default();
    let end = a
        .end_time
        .map(|t| format!("<EndTime>{}</EndTime>", timestamp(t)))
        .unwrap_or_default();
    let message = a
        .status_message
        .as_ref()
        .map(|m| format!("<StatusMessage>{}</StatusMessage>", xml_escape(m)))
        .unwrap_or_default();
    format!(
        "<ActivityId>{}</ActivityId><AutoScalingGroupName>{}</AutoScalingGroupName><Description>{}</Description><Cause>{}</Cause><StartTime>{}</StartTime>{end}<StatusCode>{}</StatusCode>{message}<Progress>{}</Progress><Details>{}</Details><AutoScalingGroupARN>{}</AutoScalingGroupARN>",
        a.id,
        xml_escape(&a.group),
        xml_escape(&a.description),
        xml_escape(&a.cause),
        timestamp(a.start_time),
        a.status.as_str(),
        a.progress,
        xml_escape(&a.details),
        xml_escape(&arn)
    )
}
