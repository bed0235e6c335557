//! EC2's instance actions over [`keks_cloud::Fleet`] and the instance-type catalog:
//! DescribeInstances, DescribeInstanceTypes, RunInstances, TerminateInstances.

use super::xml::tag_set;
use keks_cloud::catalog::{self, Arch};
use keks_cloud::{CapacityType, Fleet, Instance, InstanceError, InstanceType, LaunchRequest, Tag};

use super::filters::Filterable;
use super::{ids, next_token_xml, not_found, select, Ec2Error, QueryRequest};
use crate::query::xml_escape;

/// The AMI keks reports for instances (no images are simulated).
fn image_id(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "ami-0a1b2c3d4e5f60718",
        Arch::Arm64 => "ami-0f1e2d3c4b5a69788",
    }
}

/// EC2's timestamp form: `2024-01-01T00:00:00.000Z`.
fn timestamp(unix: f64) -> String {
    let ts = jiff::Timestamp::from_millisecond((unix * 1000.0) as i64)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m-%dT%H:%M:%S.%3fZ").to_string()
}

fn ec2_error(e: &InstanceError) -> Ec2Error {
    let mut err = Ec2Error::new(e.code(), e.to_string());
    if e.code() == "InternalError" {
        err.status = 500;
    }
    err
}

fn state_xml(element: &str, s: keks_cloud::InstanceState) -> String {
    format!(
        "<{element}><code>{}</code><name>{}</name></{element}>",
        s.code(),
        s.as_str()
    )
}

fn instance_xml(i: &Instance, group_xml: &str) -> String {
    let t = i.instance_type;
    let (cores, threads) = cores_and_threads(t);
    let reason = i
        .state_reason
        .as_ref()
        .map(|r| {
            format!(
                "<stateReason><code>{}</code><message>{}</message></stateReason>",
                xml_escape(&r.code),
                xml_escape(&r.message)
            )
        })
        .unwrap_or_default();
    let lifecycle = match i.capacity_type {
        CapacityType::Spot => "<instanceLifecycle>spot</instanceLifecycle>",
        CapacityType::OnDemand => "",
    };
    let address = if i.state == keks_cloud::InstanceState::Terminated {
        String::new()
    } else {
        format!("<privateIpAddress>{}</privateIpAddress>", i.private_ip)
    };
    format!(
        "<item><instanceId>{id}</instanceId><imageId>{ami}</imageId>{state}<privateDnsName>{dns}</privateDnsName><dnsName/><reason/><amiLaunchIndex>0</amiLaunchIndex><productCodes/><instanceType>{ty}</instanceType><launchTime>{launch}</launchTime><placement><availabilityZone>{az}</availabilityZone><groupName/><tenancy>default</tenancy></placement><monitoring><state>disabled</state></monitoring><subnetId>{subnet}</subnetId><vpcId>{vpc}</vpcId>{address}<sourceDestCheck>true</sourceDestCheck>{group_xml}{reason}<architecture>{arch}</architecture><rootDeviceType>ebs</rootDeviceType><rootDeviceName>/dev/xvda</rootDeviceName><blockDeviceMapping/>{lifecycle}<virtualizationType>hvm</virtualizationType><clientToken/>{tags}<hypervisor>xen</hypervisor><ebsOptimized>false</ebsOptimized><enaSupport>true</enaSupport><cpuOptions><coreCount>{cores}</coreCount><threadsPerCore>{threads}</threadsPerCore></cpuOptions><privateDnsNameOptions><hostnameType>ip-name</hostnameType><enableResourceNameDnsARecord>false</enableResourceNameDnsARecord><enableResourceNameDnsAAAARecord>false</enableResourceNameDnsAAAARecord></privateDnsNameOptions><platformDetails>Linux/UNIX</platformDetails><usageOperation>RunInstances</usageOperation></item>",
        id = i.id,
        ami = image_id(t.arch),
        state = state_xml("instanceState", i.state),
        dns = i.private_dns_name(),
        ty = t.name,
        launch = timestamp(i.launch_time),
        az = i.availability_zone,
        subnet = i.subnet_id,
        vpc = i.vpc_id,
        arch = t.arch.as_str(),
        tags = tag_set(&i.tags),
    )
}

/// EC2's default core count and threads per core: x86 types have two threads per core,
/// Graviton one.
fn cores_and_threads(t: &InstanceType) -> (u32, u32) {
    match t.arch {
        Arch::X86_64 => ((t.vcpus / 2).max(1), 2),
        Arch::Arm64 => (t.vcpus, 1),
    }
}

fn group_set(fleet: &Fleet, vpc_id: &str) -> String {
    fleet
        .network()
        .default_security_group(vpc_id)
        .map(|g| {
            format!(
                "<groupSet><item><groupId>{}</groupId><groupName>{}</groupName></item></groupSet>",
                g.id,
                xml_escape(&g.name)
            )
        })
        .unwrap_or_else(|| "<groupSet/>".into())
}

/// Reservations in order of first appearance, each with its instances.
fn reservations_xml(fleet: &Fleet, instances: &[Instance]) -> String {
    let mut order: Vec<&str> = Vec::new();
    for i in instances {
        if !order.contains(&i.reservation_id.as_str()) {
            order.push(&i.reservation_id);
        }
    }
    let owner = fleet.network().account_id();
    order
        .into_iter()
        .map(|r| {
            let members: Vec<&Instance> =
                instances.iter().filter(|i| i.reservation_id == r).collect();
            let groups = group_set(fleet, &members[0].vpc_id);
            let items: String = members.iter().map(|i| instance_xml(i, &groups)).collect();
            format!("<item><reservationId>{r}</reservationId><ownerId>{owner}</ownerId>{groups}<instancesSet>{items}</instancesSet></item>")
        })
        .collect()
}

pub(super) fn describe_instances(fleet: &Fleet, req: &QueryRequest) -> Result<String, Ec2Error> {
    let wanted = ids(req, "InstanceId", "i", "InvalidInstanceID.Malformed")?;
    let all = fleet.instances();
    let sample = all.first().cloned();
    let (instances, next) = select(
        req,
        all,
        |i| i.id.as_str(),
        &wanted,
        |m| not_found("InvalidInstanceID.NotFound", "instance", m),
        sample.as_ref(),
        "instanceIds",
        Some(1000),
    )?;
    Ok(format!(
        "<reservationSet>{}</reservationSet>{}",
        reservations_xml(fleet, &instances),
        next_token_xml(next)
    ))
}

impl Filterable for Instance {
    fn values(&self, filter: &str) -> Option<Vec<String>> {
        Some(match filter {
            "instance-id" => vec![self.id.clone()],
            "instance-type" => vec![self.instance_type.name.to_string()],
            "availability-zone" => vec![self.availability_zone.clone()],
            "instance-state-name" => vec![self.state.as_str().to_string()],
            "instance-state-code" => vec![self.state.code().to_string()],
            "subnet-id" => vec![self.subnet_id.clone()],
            "vpc-id" => vec![self.vpc_id.clone()],
            "private-ip-address" => vec![self.private_ip.to_string()],
            "private-dns-name" => vec![self.private_dns_name()],
            "reservation-id" => vec![self.reservation_id.clone()],
            "architecture" => vec![self.instance_type.arch.as_str().to_string()],
            "image-id" => vec![image_id(self.instance_type.arch).to_string()],
            "instance-lifecycle" => match self.capacity_type {
                CapacityType::Spot => vec!["spot".into()],
                CapacityType::OnDemand => vec![],
            },
            _ => return None,
        })
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

/// An instance type, for filtering.
#[derive(Clone)]
struct TypeItem(&'static InstanceType);

impl Filterable for TypeItem {
    fn values(&self, filter: &str) -> Option<Vec<String>> {
        let t = self.0;
        let (cores, threads) = cores_and_threads(t);
        Some(match filter {
            "instance-type" => vec![t.name.to_string()],
            "processor-info.supported-architecture" => vec![t.arch.as_str().to_string()],
            "vcpu-info.default-vcpus" => vec![t.vcpus.to_string()],
            "vcpu-info.default-cores" => vec![cores.to_string()],
            "vcpu-info.default-threads-per-core" => vec![threads.to_string()],
            "memory-info.size-in-mib" => vec![t.memory_mib.to_string()],
            "current-generation" => vec!["true".into()],
            "burstable-performance-supported" => vec![t.burstable().to_string()],
            "bare-metal" => vec!["false".into()],
            "hypervisor" => vec!["nitro".into()],
            "free-tier-eligible" => vec![(t.name == "t3.micro").to_string()],
            "supported-usage-class" => vec!["on-demand".into(), "spot".into()],
            "network-info.maximum-network-interfaces" => vec![t.enis.to_string()],
            "network-info.ipv4-addresses-per-interface" => vec![t.ipv4_per_eni.to_string()],
            _ => return None,
        })
    }

    fn tags(&self) -> &[Tag] {
        &[]
    }
}

fn type_xml(t: &InstanceType) -> String {
    let (cores, threads) = cores_and_threads(t);
    let gpu = t
        .gpu
        .map(|g| {
            format!(
                "<gpuInfo><gpus><item><name>{}</name><manufacturer>{}</manufacturer><count>{}</count><memoryInfo><sizeInMiB>{}</sizeInMiB></memoryInfo></item></gpus><totalGpuMemoryInMiB>{}</totalGpuMemoryInMiB></gpuInfo>",
                g.name,
                g.manufacturer,
                g.count,
                g.memory_mib,
                g.memory_mib * u64::from(g.count)
            )
        })
        .unwrap_or_default();
    format!(
        "<item><instanceType>{name}</instanceType><currentGeneration>true</currentGeneration><freeTierEligible>{free}</freeTierEligible><supportedUsageClasses><item>on-demand</item><item>spot</item></supportedUsageClasses><supportedRootDeviceTypes><item>ebs</item></supportedRootDeviceTypes><supportedVirtualizationTypes><item>hvm</item></supportedVirtualizationTypes><bareMetal>false</bareMetal><hypervisor>nitro</hypervisor><processorInfo><supportedArchitectures><item>{arch}</item></supportedArchitectures></processorInfo><vCpuInfo><defaultVCpus>{vcpus}</defaultVCpus><defaultCores>{cores}</defaultCores><defaultThreadsPerCore>{threads}</defaultThreadsPerCore></vCpuInfo><memoryInfo><sizeInMiB>{mem}</sizeInMiB></memoryInfo><instanceStorageSupported>false</instanceStorageSupported><ebsInfo><ebsOptimizedSupport>default</ebsOptimizedSupport><encryptionSupport>supported</encryptionSupport><nvmeSupport>required</nvmeSupport></ebsInfo><networkInfo><maximumNetworkInterfaces>{enis}</maximumNetworkInterfaces><maximumNetworkCards>1</maximumNetworkCards><defaultNetworkCardIndex>0</defaultNetworkCardIndex><networkCards><item><networkCardIndex>0</networkCardIndex><maximumNetworkInterfaces>{enis}</maximumNetworkInterfaces></item></networkCards><ipv4AddressesPerInterface>{ips}</ipv4AddressesPerInterface><ipv6AddressesPerInterface>{ips}</ipv6AddressesPerInterface><ipv6Supported>true</ipv6Supported><enaSupport>required</enaSupport></networkInfo>{gpu}<burstablePerformanceSupported>{burst}</burstablePerformanceSupported><autoRecoverySupported>true</autoRecoverySupported></item>",
        name = t.name,
        free = t.name == "t3.micro",
        arch = t.arch.as_str(),
        vcpus = t.vcpus,
        mem = t.memory_mib,
        enis = t.enis,
        ips = t.ipv4_per_eni,
        burst = t.burstable(),
    )
}

pub(super) fn describe_instance_types(req: &QueryRequest) -> Result<String, Ec2Error> {
    let wanted = req.list("InstanceType");
    let unknown: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|n| catalog::lookup(n).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(Ec2Error::new(
            "InvalidInstanceType",
            format!(
                "The following supplied instance types do not exist: [{}]",
                unknown.join(", ")
            ),
        ));
    }
    let all: Vec<TypeItem> = catalog::all().iter().map(TypeItem).collect();
    let sample = all.first().cloned();
    let (types, next) = select(
        req,
        all,
        |t| t.0.name,
        &wanted,
        |m| not_found("InvalidInstanceType", "instance type", m),
        sample.as_ref(),
        "instanceTypes",
        Some(100),
    )?;
    let items: String = types.iter().map(|t| type_xml(t.0)).collect();
    Ok(format!(
        "<instanceTypeSet>{items}</instanceTypeSet>{}",
        next_token_xml(next)
    ))
}

pub(super) async fn run_instances(fleet: &Fleet, req: &QueryRequest) -> Result<String, Ec2Error> {
    let count = |name: &str| -> Result<usize, Ec2Error> {
        let text = req.get(name).ok_or_else(|| {
            Ec2Error::new(
                "MissingParameter",
                format!("The request must contain the parameter {name}"),
            )
        })?;
        text.parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                Ec2Error::new(
                    "InvalidParameterValue",
                    format!("Value ({text}) for parameter {name} is invalid."),
                )
            })
    };
    let (min, max) = (count("MinCount")?, count("MaxCount")?);
    if min > max {
        return Err(Ec2Error::new(
            "InvalidParameterValue",
            format!("MinCount ({min}) must not be greater than MaxCount ({max})"),
        ));
    }
    let instance_type = req.get("InstanceType").unwrap_or("t3.micro");
    let network = fleet.network();
    let subnet_id = match (req.get("SubnetId"), req.get("Placement.AvailabilityZone")) {
        (Some(s), _) => s.to_string(),
        (None, zone) => network
            .subnets()
            .into_iter()
            .find(|s| s.default_for_az && zone.is_none_or(|z| s.availability_zone == z))
            .map(|s| s.id)
            .ok_or_else(|| {
                Ec2Error::new(
                    "InvalidParameterValue",
                    format!("Invalid availability zone: [{}]", zone.unwrap_or_default()),
                )
            })?,
    };
    let capacity_type = match req.get("InstanceMarketOptions.MarketType") {
        Some("spot") => CapacityType::Spot,
        _ => CapacityType::OnDemand,
    };
    let mut tags = Vec::new();
    for i in 1.. {
        let Some(kind) = req.get(&format!("TagSpecification.{i}.ResourceType")) else {
            break;
        };
        if kind == "instance" {
            tags.extend(
                req.tags(&format!("TagSpecification.{i}.Tag"))
                    .into_iter()
                    .map(|(k, v)| Tag::new(k, v)),
            );
        }
    }
    let launched = fleet
        .run_instances(LaunchRequest {
            instance_type: instance_type.to_string(),
            subnet_id,
            count: max,
            capacity_type,
            tags,
            ..LaunchRequest::default()
        })
        .await
        .map_err(|e| ec2_error(&e))?;
    let first = &launched[0];
    let groups = group_set(fleet, &first.vpc_id);
    let items: String = launched.iter().map(|i| instance_xml(i, &groups)).collect();
    Ok(format!(
        "<reservationId>{}</reservationId><ownerId>{}</ownerId>{groups}<instancesSet>{items}</instancesSet>",
        first.reservation_id,
        network.account_id()
    ))
}

pub(super) async fn terminate_instances(
    fleet: &Fleet,
    req: &QueryRequest,
) -> Result<String, Ec2Error> {
    let wanted: Vec<String> = ids(req, "InstanceId", "i", "InvalidInstanceID.Malformed")?
        .into_iter()
        .map(str::to_string)
        .collect();
    if wanted.is_empty() {
        return Err(Ec2Error::new(
            "MissingParameter",
            "The request must contain the parameter InstanceId",
        ));
    }
    let changes = fleet
        .terminate_instances(&wanted)
        .await
        .map_err(|e| ec2_error(&e))?;
    let items: String = changes
        .iter()
        .map(|c| {
            format!(
                "<item><instanceId>{}</instanceId>{}{}</item>",
                c.instance_id,
                state_xml("currentState", c.current),
                state_xml("previousState", c.previous)
            )
        })
        .collect();
    Ok(format!("<instancesSet>{items}</instancesSet>"))
}
