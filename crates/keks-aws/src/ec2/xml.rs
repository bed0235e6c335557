//! EC2's XML for the network's resources (element names are the model's `locationName`s).

use keks_cloud::{AvailabilityZone, InternetGateway, RouteTable, SecurityGroup, Subnet, Tag, Vpc};

use crate::query::xml_escape;

/// `<tagSet>`, left out when there are no tags (as EC2 does).
pub(crate) fn tag_set(tags: &[Tag]) -> String {
    if tags.is_empty() {
        return String::new();
    }
    let items: String = tags
        .iter()
        .map(|t| {
            format!(
                "<item><key>{}</key><value>{}</value></item>",
                xml_escape(&t.key),
                xml_escape(&t.value)
            )
        })
        .collect();
    format!("<tagSet>{items}</tagSet>")
}

pub fn vpc(v: &Vpc) -> String {
    format!(
        "<item><vpcId>{id}</vpcId><ownerId>{owner}</ownerId><state>available</state><cidrBlock>{cidr}</cidrBlock><cidrBlockAssociationSet><item><cidrBlock>{cidr}</cidrBlock><associationId>{assoc}</associationId><cidrBlockState><state>associated</state></cidrBlockState></item></cidrBlockAssociationSet><ipv6CidrBlockAssociationSet/><dhcpOptionsId>{dhcp}</dhcpOptionsId><instanceTenancy>default</instanceTenancy><isDefault>{default}</isDefault>{tags}</item>",
        id = v.id,
        owner = v.owner_id,
        cidr = v.cidr_block,
        assoc = v.cidr_block_association_id,
        dhcp = v.dhcp_options_id,
        default = v.is_default,
        tags = tag_set(&v.tags),
    )
}

pub fn subnet(s: &Subnet, region: &str) -> String {
    format!(
        "<item><subnetId>{id}</subnetId><subnetArn>{arn}</subnetArn><state>available</state><ownerId>{owner}</ownerId><vpcId>{vpc}</vpcId><cidrBlock>{cidr}</cidrBlock><ipv6CidrBlockAssociationSet/><availableIpAddressCount>{free}</availableIpAddressCount><availabilityZone>{az}</availabilityZone><availabilityZoneId>{azid}</availabilityZoneId><defaultForAz>{default}</defaultForAz><mapPublicIpOnLaunch>{public}</mapPublicIpOnLaunch><mapCustomerOwnedIpOnLaunch>false</mapCustomerOwnedIpOnLaunch><assignIpv6AddressOnCreation>false</assignIpv6AddressOnCreation><ipv6Native>false</ipv6Native><enableDns64>false</enableDns64><privateDnsNameOptionsOnLaunch><hostnameType>ip-name</hostnameType><enableResourceNameDnsARecord>false</enableResourceNameDnsARecord><enableResourceNameDnsAAAARecord>false</enableResourceNameDnsAAAARecord></privateDnsNameOptionsOnLaunch>{tags}</item>",
        id = s.id,
        arn = xml_escape(&s.arn(region)),
        owner = s.owner_id,
        vpc = s.vpc_id,
        cidr = s.cidr_block,
        free = s.available_ip_address_count,
        az = s.availability_zone,
        azid = s.availability_zone_id,
        default = s.default_for_az,
        public = s.map_public_ip_on_launch,
        tags = tag_set(&s.tags),
    )
}

pub fn zone(z: &AvailabilityZone) -> String {
    format!(
        "<item><optInStatus>opt-in-not-required</optInStatus><zoneName>{name}</zoneName><zoneId>{id}</zoneId><zoneState>available</zoneState><regionName>{region}</regionName><groupName>{region}</groupName><networkBorderGroup>{region}</networkBorderGroup><zoneType>availability-zone</zoneType><messageSet/></item>",
        name = z.name,
        id = z.zone_id,
        region = z.region,
    )
}

pub fn security_group(g: &SecurityGroup, region: &str) -> String {
    // A VPC's default group admits all traffic from its own members; every group lets all
    // traffic out.
    let ingress = if g.name == "default" {
        format!(
            "<item><ipProtocol>-1</ipProtocol><groups><item><userId>{}</userId><groupId>{}</groupId></item></groups><ipRanges/><ipv6Ranges/><prefixListIds/></item>",
            g.owner_id, g.id
        )
    } else {
        String::new()
    };
    format!(
        "<item><ownerId>{owner}</ownerId><groupId>{id}</groupId><groupName>{name}</groupName><groupDescription>{description}</groupDescription><vpcId>{vpc}</vpcId><securityGroupArn>arn:aws:ec2:{region}:{owner}:security-group/{id}</securityGroupArn><ipPermissions>{ingress}</ipPermissions><ipPermissionsEgress><item><ipProtocol>-1</ipProtocol><groups/><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges><ipv6Ranges/><prefixListIds/></item></ipPermissionsEgress>{tags}</item>",
        owner = g.owner_id,
        id = g.id,
        name = xml_escape(&g.name),
        description = xml_escape(&g.description),
        vpc = g.vpc_id,
        tags = tag_set(&g.tags),
    )
}

pub fn route_table(t: &RouteTable) -> String {
    let routes: String = t
        .routes
        .iter()
        .map(|r| {
            format!(
                "<item><destinationCidrBlock>{}</destinationCidrBlock><gatewayId>{}</gatewayId><state>active</state><origin>{}</origin></item>",
                r.destination_cidr_block, r.gateway_id, r.origin
            )
        })
        .collect();
    let associations: String = t
        .associations
        .iter()
        .map(|a| {
            let subnet = a
                .subnet_id
                .as_deref()
                .map(|s| format!("<subnetId>{s}</subnetId>"))
                .unwrap_or_default();
            format!(
                "<item><routeTableAssociationId>{}</routeTableAssociationId><routeTableId>{}</routeTableId>{subnet}<main>{}</main><associationState><state>associated</state></associationState></item>",
                a.id, a.route_table_id, a.main
            )
        })
        .collect();
    format!(
        "<item><routeTableId>{}</routeTableId><vpcId>{}</vpcId><ownerId>{}</ownerId><routeSet>{routes}</routeSet><associationSet>{associations}</associationSet><propagatingVgwSet/>{}</item>",
        t.id,
        t.vpc_id,
        t.owner_id,
        tag_set(&t.tags)
    )
}

pub fn internet_gateway(g: &InternetGateway) -> String {
    format!(
        "<item><internetGatewayId>{}</internetGatewayId><ownerId>{}</ownerId><attachmentSet><item><vpcId>{}</vpcId><state>available</state></item></attachmentSet>{}</item>",
        g.id,
        g.owner_id,
        g.vpc_id,
        tag_set(&g.tags)
    )
}
