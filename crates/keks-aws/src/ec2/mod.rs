//! EC2 (the `ec2` protocol, version 2016-11-15): form-encoded `Action=…` requests, XML
//! responses with `<requestId>` and `<xxxSet><item>` lists, errors as
//! `<Response><Errors><Error>`. Serves the network of [`keks_cloud::Network`]:
//! DescribeVpcs, DescribeSubnets, DescribeAvailabilityZones, DescribeSecurityGroups,
//! DescribeRouteTables, DescribeInternetGateways, with id lists, filters and pagination;
//! and the instances of [`keks_cloud::Fleet`]: DescribeInstances, DescribeInstanceTypes,
//! RunInstances, TerminateInstances (`instances.rs`). Other actions answer 501
//! `NotImplemented`.

pub mod filters;
mod instances;
mod launch_templates;
mod xml;

use keks_cloud::network::is_well_formed_id;
use keks_cloud::{
    AutoScaling, AvailabilityZone, InternetGateway, Network, RouteTable, SecurityGroup, Subnet,
    Tag, Vpc,
};

use crate::front::Response;
use crate::query::{xml_escape, QueryRequest};
use crate::sigv4::SigV4Error;
use filters::{Filter, Filterable};

pub const NAMESPACE: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// The actions that change the fleet (answered asynchronously).
macro_rules! WRITES {
    () => {
        "RunInstances"
            | "TerminateInstances"
            | "CreateLaunchTemplate"
            | "CreateLaunchTemplateVersion"
            | "DeleteLaunchTemplate"
    };
}

/// An EC2 error: `<Code>` and `<Message>`, HTTP 400 unless said otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ec2Error {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl Ec2Error {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: code.into(),
            message: message.into(),
        }
    }

    fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn to_response(&self, request_id: &str) -> Response {
        Response::xml(
            self.status,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>",
                xml_escape(&self.code),
                xml_escape(&self.message)
            ),
        )
    }
}

/// A signature failure as EC2 words it.
pub fn auth_error(e: &SigV4Error, request_id: &str) -> Response {
    let (status, code, message) = match e {
        SigV4Error::Missing => (
            401,
            "AuthFailure",
            "AWS was not able to validate the provided access credentials".to_string(),
        ),
        SigV4Error::Incomplete(m) => (400, "IncompleteSignature", m.clone()),
        SigV4Error::UnknownAccessKey => (
            401,
            "AuthFailure",
            "AWS was not able to validate the provided access credentials".to_string(),
        ),
        SigV4Error::ExpiredToken => (400, "RequestExpired", "Request has expired.".to_string()),
        SigV4Error::Mismatch => (403, "SignatureDoesNotMatch", e.to_string()),
        SigV4Error::Expired { .. } | SigV4Error::NotYetCurrent { .. } => {
            (400, "RequestExpired", "Request has expired.".to_string())
        }
        SigV4Error::PresignExpired => (400, "RequestExpired", "Request has expired.".to_string()),
    };
    Ec2Error::new(code, message)
        .with_status(status)
        .to_response(request_id)
}

/// Answers an EC2 request signed for `region` (keks' network is in one region only),
/// including the actions that change the fleet.
pub async fn handle_request(
    network: &Network,
    asg: Option<&AutoScaling>,
    now: f64,
    region: &str,
    req: &QueryRequest,
    request_id: &str,
) -> Response {
    let action = req.action();
    let (Some(asg), Some(action @ WRITES!())) = (asg, action) else {
        return handle(network, asg, region, req, request_id);
    };
    if region != network.region() || req.get("DryRun").is_some_and(|v| v == "true") {
        return handle(network, Some(asg), region, req, request_id);
    }
    let fleet = asg.fleet();
    let lts = asg.launch_templates();
    let account = network.account_id();
    let result = match action {
        "RunInstances" => instances::run_instances(fleet, req).await,
        "TerminateInstances" => instances::terminate_instances(fleet, req).await,
        "CreateLaunchTemplate" => launch_templates::create(lts, account, now, req).await,
        "CreateLaunchTemplateVersion" => {
            launch_templates::create_version(lts, account, now, req).await
        }
        _ => launch_templates::delete(lts, account, req).await,
    };
    respond(action, result, request_id)
}

fn respond(action: &str, result: Result<String, Ec2Error>, request_id: &str) -> Response {
    match result {
        Ok(body) => Response::xml(
            200,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{NAMESPACE}\"><requestId>{request_id}</requestId>{body}</{action}Response>"
            ),
        ),
        Err(e) => e.to_response(request_id),
    }
}

/// Answers the EC2 requests that only read (and DryRun requests).
pub fn handle(
    network: &Network,
    asg: Option<&AutoScaling>,
    region: &str,
    req: &QueryRequest,
    request_id: &str,
) -> Response {
    if region != network.region() {
        return Ec2Error::new(
            "UnsupportedOperation",
            format!(
                "keks serves EC2 in region {} only; this request is for {region}.",
                network.region()
            ),
        )
        .to_response(request_id);
    }
    let Some(action) = req.action() else {
        return Ec2Error::new(
            "MissingAction",
            "The request must contain the parameter Action",
        )
        .to_response(request_id);
    };
    let result = match action {
        "DescribeVpcs" => describe_vpcs(network, req),
        "DescribeSubnets" => describe_subnets(network, req),
        "DescribeAvailabilityZones" => describe_zones(network, req),
        "DescribeSecurityGroups" => describe_security_groups(network, req),
        "DescribeRouteTables" => describe_route_tables(network, req),
        "DescribeInternetGateways" => describe_internet_gateways(network, req),
        "DescribeInstanceTypes" => instances::describe_instance_types(req),
        "DescribeInstances" | "DescribeLaunchTemplates" | WRITES!() if asg.is_some() => {
            match (action, asg) {
                ("DescribeInstances", Some(asg)) => instances::describe_instances(asg.fleet(), req),
                ("DescribeLaunchTemplates", Some(asg)) => {
                    launch_templates::describe(asg.launch_templates(), network.account_id(), req)
                }
                // Reached only with DryRun: the checks pass, DryRunOperation follows.
                _ => Ok(String::new()),
            }
        }
        other => Err(Ec2Error::new(
            "NotImplemented",
            format!("EC2 action {other} is not implemented by keks yet"),
        )
        .with_status(501)),
    };
    let result = result.and_then(|body| {
        if req.get("DryRun").is_some_and(|v| v == "true") {
            Err(Ec2Error::new(
                "DryRunOperation",
                "Request would have succeeded, but DryRun flag is set.",
            )
            .with_status(412))
        } else {
            Ok(body)
        }
    });
    respond(action, result, request_id)
}

/// Ids named in the request, checked for form (`<Kind>.Malformed`).
fn ids<'a>(
    req: &'a QueryRequest,
    param: &str,
    prefix: &str,
    malformed_code: &str,
) -> Result<Vec<&'a str>, Ec2Error> {
    let ids = req.list(param);
    for id in &ids {
        if !is_well_formed_id(prefix, id) {
            return Err(Ec2Error::new(
                malformed_code,
                format!("Invalid id: \"{id}\" (expecting \"{prefix}-...\")"),
            ));
        }
    }
    Ok(ids)
}

/// `The vpc ID 'vpc-1' does not exist` / `The vpc IDs 'vpc-1, vpc-2' do not exist`.
fn not_found(code: &str, kind: &str, missing: &[&str]) -> Ec2Error {
    let message = if missing.len() == 1 {
        format!("The {kind} ID '{}' does not exist", missing[0])
    } else {
        format!("The {kind} IDs '{}' do not exist", missing.join(", "))
    };
    Ec2Error::new(code, message)
}

/// Selects by ids (all must exist), then filters, then pages.
#[allow(clippy::too_many_arguments)]
fn select<T: Filterable + Clone>(
    req: &QueryRequest,
    all: Vec<T>,
    id_of: impl Fn(&T) -> &str,
    wanted: &[&str],
    missing: impl Fn(&[&str]) -> Ec2Error,
    sample: Option<&T>,
    id_param: &str,
    max_results_limit: Option<usize>,
) -> Result<(Vec<T>, Option<String>), Ec2Error> {
    let filters: Vec<Filter> = filters::parse(req);
    if let Some(sample) = sample {
        filters::check_names(&filters, sample)?;
    }
    let absent: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|id| !all.iter().any(|item| id_of(item) == *id))
        .collect();
    if !absent.is_empty() {
        return Err(missing(&absent));
    }
    let selected: Vec<T> = all
        .into_iter()
        .filter(|item| wanted.is_empty() || wanted.contains(&id_of(item)))
        .filter(|item| filters::matches(item, &filters))
        .collect();
    let Some(limit) = max_results_limit else {
        return Ok((selected, None));
    };
    let max = match req.get("MaxResults") {
        None => None,
        Some(_) if !wanted.is_empty() => {
            return Err(Ec2Error::new(
                "InvalidParameterCombination",
                format!("The parameter {id_param} cannot be used with the parameter maxResults"),
            ))
        }
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (5..=limit).contains(&n) => Some(n),
            _ => {
                return Err(Ec2Error::new(
                    "InvalidParameterValue",
                    format!("Value ( {text} ) for parameter maxResults is invalid. Parameter must be between 5 and {limit}."),
                ))
            }
        },
    };
    let start = match req.get("NextToken") {
        None => 0,
        Some(token) => token
            .strip_prefix("keks-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= selected.len())
            .ok_or_else(|| {
                Ec2Error::new(
                    "InvalidParameterValue",
                    format!("Invalid value '{token}' for nextToken"),
                )
            })?,
    };
    let end = max.map_or(selected.len(), |m| (start + m).min(selected.len()));
    let next = (end < selected.len()).then(|| format!("keks-{end}"));
    Ok((selected[start..end].to_vec(), next))
}

fn next_token_xml(next: Option<String>) -> String {
    next.map(|t| format!("<nextToken>{t}</nextToken>"))
        .unwrap_or_default()
}

fn describe_vpcs(network: &Network, req: &QueryRequest) -> Result<String, Ec2Error> {
    let wanted = ids(req, "VpcId", "vpc", "InvalidVpcID.Malformed")?;
    let all = network.vpcs();
    let sample = all.first().cloned();
    let (vpcs, next) = select(
        req,
        all,
        |v| v.id.as_str(),
        &wanted,
        |m| not_found("InvalidVpcID.NotFound", "vpc", m),
        sample.as_ref(),
        "vpcIds",
        Some(1000),
    )?;
    let items: String = vpcs.iter().map(xml::vpc).collect();
    Ok(format!("<vpcSet>{items}</vpcSet>{}", next_token_xml(next)))
}

fn describe_subnets(network: &Network, req: &QueryRequest) -> Result<String, Ec2Error> {
    let wanted = ids(req, "SubnetId", "subnet", "InvalidSubnetID.Malformed")?;
    let all = network.subnets();
    let sample = all.first().cloned();
    let (subnets, next) = select(
        req,
        all,
        |s| s.id.as_str(),
        &wanted,
        |m| not_found("InvalidSubnetID.NotFound", "subnet", m),
        sample.as_ref(),
        "subnetIds",
        Some(1000),
    )?;
    let items: String = subnets
        .iter()
        .map(|s| xml::subnet(s, network.region()))
        .collect();
    Ok(format!(
        "<subnetSet>{items}</subnetSet>{}",
        next_token_xml(next)
    ))
}

fn describe_zones(network: &Network, req: &QueryRequest) -> Result<String, Ec2Error> {
    let names = req.list("ZoneName");
    let zone_ids = req.list("ZoneId");
    let all: Vec<AvailabilityZone> = network.availability_zones().to_vec();
    let unknown: Vec<&str> = names
        .iter()
        .filter(|n| !all.iter().any(|z| z.name == **n))
        .chain(
            zone_ids
                .iter()
                .filter(|n| !all.iter().any(|z| z.zone_id == **n)),
        )
        .copied()
        .collect();
    if !unknown.is_empty() {
        return Err(Ec2Error::new(
            "InvalidParameterValue",
            format!("Invalid availability zone: [{}]", unknown.join(", ")),
        ));
    }
    let wrapped: Vec<Zone> = all
        .iter()
        .filter(|z| names.is_empty() || names.contains(&z.name.as_str()))
        .filter(|z| zone_ids.is_empty() || zone_ids.contains(&z.zone_id.as_str()))
        .cloned()
        .map(Zone)
        .collect();
    let (zones, _) = select(
        req,
        wrapped.clone(),
        |z| z.0.name.as_str(),
        &[],
        |m| not_found("InvalidParameterValue", "zone", m),
        wrapped.first(),
        "zoneNames",
        None,
    )?;
    let items: String = zones.iter().map(|z| xml::zone(&z.0)).collect();
    Ok(format!(
        "<availabilityZoneInfo>{items}</availabilityZoneInfo>"
    ))
}

fn describe_security_groups(network: &Network, req: &QueryRequest) -> Result<String, Ec2Error> {
    let wanted = ids(req, "GroupId", "sg", "InvalidGroupId.Malformed")?;
    let names = req.list("GroupName");
    let all = network.security_groups();
    let default_vpc = network.default_vpc();
    let mut named: Vec<&str> = Vec::new();
    for name in &names {
        match all
            .iter()
            .find(|g| g.vpc_id == default_vpc.id && g.name == *name)
        {
            Some(g) => named.push(g.id.as_str()),
            None => {
                return Err(Ec2Error::new(
                    "InvalidGroup.NotFound",
                    format!(
                        "The security group '{name}' does not exist in default VPC '{}'",
                        default_vpc.id
                    ),
                ))
            }
        }
    }
    let mut wanted_all: Vec<&str> = wanted.clone();
    let named_owned: Vec<String> = named.iter().map(|s| s.to_string()).collect();
    wanted_all.extend(named_owned.iter().map(String::as_str));
    let sample = all.first().cloned();
    let (groups, next) = select(
        req,
        all.clone(),
        |g| g.id.as_str(),
        &wanted_all,
        |m| {
            let message = if m.len() == 1 {
                format!("The security group '{}' does not exist", m[0])
            } else {
                format!("The security groups '{}' do not exist", m.join(", "))
            };
            Ec2Error::new("InvalidGroup.NotFound", message)
        },
        sample.as_ref(),
        "groupIds",
        Some(1000),
    )?;
    let items: String = groups
        .iter()
        .map(|g| xml::security_group(g, network.region()))
        .collect();
    Ok(format!(
        "<securityGroupInfo>{items}</securityGroupInfo>{}",
        next_token_xml(next)
    ))
}

fn describe_route_tables(network: &Network, req: &QueryRequest) -> Result<String, Ec2Error> {
    let wanted = ids(req, "RouteTableId", "rtb", "InvalidRouteTableId.Malformed")?;
    let all = network.route_tables();
    let sample = all.first().cloned();
    let (tables, next) = select(
        req,
        all,
        |t| t.id.as_str(),
        &wanted,
        |m| not_found("InvalidRouteTableID.NotFound", "routeTable", m),
        sample.as_ref(),
        "routeTableIds",
        Some(100),
    )?;
    let items: String = tables.iter().map(xml::route_table).collect();
    Ok(format!(
        "<routeTableSet>{items}</routeTableSet>{}",
        next_token_xml(next)
    ))
}

fn describe_internet_gateways(network: &Network, req: &QueryRequest) -> Result<String, Ec2Error> {
    let wanted = ids(
        req,
        "InternetGatewayId",
        "igw",
        "InvalidInternetGatewayId.Malformed",
    )?;
    let all = network.internet_gateways();
    let sample = all.first().cloned();
    let (gateways, next) = select(
        req,
        all,
        |g| g.id.as_str(),
        &wanted,
        |m| not_found("InvalidInternetGatewayID.NotFound", "internetGateway", m),
        sample.as_ref(),
        "internetGatewayIds",
        Some(1000),
    )?;
    let items: String = gateways.iter().map(xml::internet_gateway).collect();
    Ok(format!(
        "<internetGatewaySet>{items}</internetGatewaySet>{}",
        next_token_xml(next)
    ))
}

fn bool_text(b: bool) -> String {
    b.to_string()
}

impl Filterable for Vpc {
    fn values(&self, filter: &str) -> Option<Vec<String>> {
        Some(match filter {
            "vpc-id" => vec![self.id.clone()],
            "state" => vec!["available".into()],
            "is-default" => vec![bool_text(self.is_default)],
            "cidr" | "cidr-block-association.cidr-block" => vec![self.cidr_block.clone()],
            "cidr-block-association.association-id" => {
                vec![self.cidr_block_association_id.clone()]
            }
            "cidr-block-association.state" => vec!["associated".into()],
            "dhcp-options-id" => vec![self.dhcp_options_id.clone()],
            "owner-id" => vec![self.owner_id.clone()],
            _ => return None,
        })
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

impl Filterable for Subnet {
    fn values(&self, filter: &str) -> Option<Vec<String>> {
        Some(match filter {
            "subnet-id" => vec![self.id.clone()],
            "vpc-id" => vec![self.vpc_id.clone()],
            "availability-zone" | "availabilityZone" => vec![self.availability_zone.clone()],
            "availability-zone-id" | "availabilityZoneId" => {
                vec![self.availability_zone_id.clone()]
            }
            "available-ip-address-count" => vec![self.available_ip_address_count.to_string()],
            "cidr-block" | "cidr" | "cidrBlock" => vec![self.cidr_block.clone()],
            "default-for-az" | "defaultForAz" => vec![bool_text(self.default_for_az)],
            "map-public-ip-on-launch" => vec![bool_text(self.map_public_ip_on_launch)],
            "state" => vec!["available".into()],
            "owner-id" => vec![self.owner_id.clone()],
            _ => return None,
        })
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

impl Filterable for SecurityGroup {
    fn values(&self, filter: &str) -> Option<Vec<String>> {
        Some(match filter {
            "group-id" => vec![self.id.clone()],
            "group-name" => vec![self.name.clone()],
            "vpc-id" => vec![self.vpc_id.clone()],
            "description" => vec![self.description.clone()],
            "owner-id" => vec![self.owner_id.clone()],
            _ => return None,
        })
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

impl Filterable for RouteTable {
    fn values(&self, filter: &str) -> Option<Vec<String>> {
        Some(match filter {
            "route-table-id" => vec![self.id.clone()],
            "vpc-id" => vec![self.vpc_id.clone()],
            "owner-id" => vec![self.owner_id.clone()],
            "association.main" => self
                .associations
                .iter()
                .map(|a| bool_text(a.main))
                .collect(),
            "association.subnet-id" => self
                .associations
                .iter()
                .filter_map(|a| a.subnet_id.clone())
                .collect(),
            "association.route-table-association-id" => {
                self.associations.iter().map(|a| a.id.clone()).collect()
            }
            "association.route-table-id" => vec![self.id.clone()],
            "route.gateway-id" => self.routes.iter().map(|r| r.gateway_id.clone()).collect(),
            "route.destination-cidr-block" => self
                .routes
                .iter()
                .map(|r| r.destination_cidr_block.clone())
                .collect(),
            "route.state" => vec!["active".into()],
            "route.origin" => self.routes.iter().map(|r| r.origin.to_string()).collect(),
            _ => return None,
        })
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

impl Filterable for InternetGateway {
    fn values(&self, filter: &str) -> Option<Vec<String>> {
        Some(match filter {
            "internet-gateway-id" => vec![self.id.clone()],
            "attachment.vpc-id" => vec![self.vpc_id.clone()],
            "attachment.state" => vec!["available".into()],
            "owner-id" => vec![self.owner_id.clone()],
            _ => return None,
        })
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

/// An availability zone, for filtering.
#[derive(Clone)]
struct Zone(AvailabilityZone);

impl Filterable for Zone {
    fn values(&self, filter: &str) -> Option<Vec<String>> {
        let z = &self.0;
        Some(match filter {
            "zone-name" => vec![z.name.clone()],
            "zone-id" => vec![z.zone_id.clone()],
            "region-name" | "group-name" | "network-border-group" => vec![z.region.clone()],
            "state" => vec!["available".into()],
            "zone-type" => vec!["availability-zone".into()],
            "opt-in-status" => vec!["opt-in-not-required".into()],
            _ => return None,
        })
    }

    fn tags(&self) -> &[Tag] {
        &[]
    }
}

#[cfg(test)]
mod tests;
