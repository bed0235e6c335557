//! The network's types (availability zones, VPCs, subnets, security groups, tags) and the
//! layout of the default network an account gets in its region.

use std::net::Ipv4Addr;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// The default VPC's CIDR block, as AWS gives every account.
pub const DEFAULT_VPC_CIDR: &str = "172.31.0.0/16";
/// Addresses AWS reserves in every subnet: the first four and the last.
pub const RESERVED_PER_SUBNET: u32 = 5;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AvailabilityZone {
    /// `us-east-1a`.
    pub name: String,
    /// `use1-az1`.
    pub zone_id: String,
    pub region: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Vpc {
    pub id: String,
    pub cidr_block: String,
    /// `vpc-cidr-assoc-…` of the primary CIDR block.
    pub cidr_block_association_id: String,
    pub dhcp_options_id: String,
    pub internet_gateway_id: String,
    pub is_default: bool,
    pub owner_id: String,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Subnet {
    pub id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    pub availability_zone_id: String,
    pub cidr_block: String,
    /// Free addresses: the subnet's size minus AWS's 5 reserved minus those allocated.
    pub available_ip_address_count: u32,
    pub map_public_ip_on_launch: bool,
    pub default_for_az: bool,
    /// The internet gateway the subnet's route table sends `0.0.0.0/0` to; none for a
    /// private subnet.
    pub internet_gateway_id: Option<String>,
    pub owner_id: String,
    pub tags: Vec<Tag>,
}

impl Subnet {
    /// A private subnet has no route to an internet gateway.
    pub fn is_private(&self) -> bool {
        self.internet_gateway_id.is_none()
    }

    /// `arn:aws:ec2:<region>:<account>:subnet/<id>`.
    pub fn arn(&self, region: &str) -> String {
        format!("arn:aws:ec2:{region}:{}:subnet/{}", self.owner_id, self.id)
    }

    /// The tag's value, if the subnet has it.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }

    /// (network address, prefix length) of the CIDR block.
    pub fn cidr(&self) -> (Ipv4Addr, u8) {
        parse_cidr(&self.cidr_block).expect("subnets are created with valid CIDR blocks")
    }

    /// How many addresses the subnet has for hosts: its size minus the 5 reserved.
    pub fn capacity(&self) -> u32 {
        let (_, prefix) = self.cidr();
        (1u32 << (32 - prefix)).saturating_sub(RESERVED_PER_SUBNET)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    pub vpc_id: String,
    pub owner_id: String,
    pub tags: Vec<Tag>,
}

/// A route table of a VPC. keks' default VPC has two: the main table (the local route only,
/// implicitly used by the private subnets) and a public one (local plus `0.0.0.0/0` to the
/// internet gateway) associated with each public subnet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteTable {
    pub id: String,
    pub vpc_id: String,
    pub owner_id: String,
    pub routes: Vec<Route>,
    pub associations: Vec<RouteTableAssociation>,
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub destination_cidr_block: String,
    /// `local` or an internet gateway id.
    pub gateway_id: String,
    /// `CreateRouteTable` for the local route, `CreateRoute` for others.
    pub origin: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteTableAssociation {
    /// `rtbassoc-…`.
    pub id: String,
    pub route_table_id: String,
    /// The associated subnet; `None` for the main association.
    pub subnet_id: Option<String>,
    pub main: bool,
}

/// An internet gateway and the VPC it is attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InternetGateway {
    pub id: String,
    pub vpc_id: String,
    pub owner_id: String,
    pub tags: Vec<Tag>,
}

/// An id derived from other ids (stable across restarts without being stored): `prefix-`
/// and 17 hex digits of a hash of `parts`.
pub fn derived_id(prefix: &str, parts: &[&str]) -> String {
    let mut hashes = [0xcbf2_9ce4_8422_2325u64, 0x8422_2325_cbf2_9ce4u64];
    for (i, h) in hashes.iter_mut().enumerate() {
        for part in parts {
            for b in part.bytes().chain([0xffu8, i as u8]) {
                *h ^= u64::from(b);
                *h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    }
    let hex = format!("{:016x}{:016x}", hashes[0], hashes[1]);
    format!("{prefix}-{}", &hex[..17])
}

/// `10.0.0.0/16` → (10.0.0.0, 16); `None` if malformed or not a network address.
pub fn parse_cidr(text: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, prefix) = text.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    if prefix > 32 {
        return None;
    }
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(addr) & !mask == 0).then_some((addr, prefix))
}

/// A resource id as EC2 issues them: `prefix-` and 17 lowercase hex digits.
pub fn new_id(prefix: &str) -> String {
    let mut rng = rand::thread_rng();
    let hex: String = (0..17)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).expect("digit below 16"))
        .collect();
    format!("{prefix}-{hex}")
}

/// True when `id` has EC2's form for `prefix`: `prefix-` and 8 or 17 lowercase hex digits.
pub fn is_well_formed_id(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            (hex.len() == 8 || hex.len() == 17)
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// The three availability zones keks offers in a region: `<region>a/b/c`, with AWS's zone
/// ids (`use1-az1`, `use1-az2`, `use1-az4` in us-east-1; `<abbr>-az1..3` elsewhere).
pub fn zones_of(region: &str) -> Vec<AvailabilityZone> {
    let abbr = region_abbreviation(region);
    let numbers: [u8; 3] = if region == "us-east-1" {
        [1, 2, 4]
    } else {
        [1, 2, 3]
    };
    ['a', 'b', 'c']
        .iter()
        .zip(numbers)
        .map(|(letter, n)| AvailabilityZone {
            name: format!("{region}{letter}"),
            zone_id: format!("{abbr}-az{n}"),
            region: region.to_string(),
        })
        .collect()
}

/// `us-east-1` → `use1`, `ap-southeast-2` → `apse2`, `eu-central-1` → `euc1`.
pub fn region_abbreviation(region: &str) -> String {
    let parts: Vec<&str> = region.split('-').collect();
    match parts.as_slice() {
        [geo, direction, number] => {
            let dir = match *direction {
                "east" => "e",
                "west" => "w",
                "north" => "n",
                "south" => "s",
                "central" => "c",
                "northeast" => "ne",
                "northwest" => "nw",
                "southeast" => "se",
                "southwest" => "sw",
                other => &other[..1.min(other.len())],
            };
            format!("{geo}{dir}{number}")
        }
        _ => region.replace('-', ""),
    }
}

/// The `/20` blocks of the default VPC in order: `172.31.0.0/20`, `172.31.16.0/20`, ….
pub fn default_subnet_cidr(index: u32) -> String {
    let base = u32::from(Ipv4Addr::new(172, 31, 0, 0)) + index * 4096;
    format!("{}/20", Ipv4Addr::from(base))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names_and_ids() {
        let zones = zones_of("us-east-1");
        let names: Vec<_> = zones
            .iter()
            .map(|z| (z.name.as_str(), z.zone_id.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("us-east-1a", "use1-az1"),
                ("us-east-1b", "use1-az2"),
                ("us-east-1c", "use1-az4")
            ]
        );
        assert_eq!(zones_of("ap-southeast-2")[2].zone_id, "apse2-az3");
        assert_eq!(region_abbreviation("eu-central-1"), "euc1");
    }

    #[test]
    fn cidrs_and_ids() {
        assert_eq!(default_subnet_cidr(0), "172.31.0.0/20");
        assert_eq!(default_subnet_cidr(1), "172.31.16.0/20");
        assert_eq!(default_subnet_cidr(5), "172.31.80.0/20");
        assert_eq!(
            parse_cidr("172.31.16.0/20"),
            Some((Ipv4Addr::new(172, 31, 16, 0), 20))
        );
        assert_eq!(parse_cidr("172.31.16.1/20"), None);
        let id = new_id("subnet");
        assert!(is_well_formed_id("subnet", &id), "{id}");
        assert!(is_well_formed_id("vpc", "vpc-1a2b3c4d"));
        assert!(!is_well_formed_id("vpc", "vpc-xyz"));
        assert!(!is_well_formed_id("vpc", "subnet-1a2b3c4d"));
        let rtb = derived_id("rtb", &["vpc-0123", "main"]);
        assert!(is_well_formed_id("rtb", &rtb), "{rtb}");
        assert_eq!(rtb, derived_id("rtb", &["vpc-0123", "main"]));
        assert_ne!(rtb, derived_id("rtb", &["vpc-0123", "public"]));
    }
}
