//! The account's network in its region: three availability zones, the default VPC
//! (`172.31.0.0/16`) with a public and a private `/20` subnet per zone, the VPC's default
//! security group, security groups created later, and the private IPs allocated from each
//! subnet.
//!
//! Everything is kept in the store (under `/keks/cloud/<region>/`) and cached in memory;
//! every change is written through the store before it is acknowledged.

mod model;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;

use bytes::Bytes;
use keks_store::{Compare, KeyRange, RangeRequest, Store, StoreError, Txn, TxnOp};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

pub use model::{
    default_subnet_cidr, derived_id, is_well_formed_id, new_id, parse_cidr, region_abbreviation,
    zones_of, AvailabilityZone, InternetGateway, Route, RouteTable, RouteTableAssociation,
    SecurityGroup, Subnet, Tag, Vpc, DEFAULT_VPC_CIDR, RESERVED_PER_SUBNET,
};

/// The network as stored: created once, in one transaction, on first start.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NetworkRecord {
    region: String,
    account_id: String,
    zones: Vec<AvailabilityZone>,
    vpcs: Vec<Vpc>,
    /// With `available_ip_address_count` at the subnet's capacity; allocations are kept
    /// apart.
    subnets: Vec<Subnet>,
}

/// One allocated private IP, as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IpRecord {
    owner: String,
}

/// A handle to the region's network; clones share it.
#[derive(Clone)]
pub struct Network {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    record: NetworkRecord,
    groups: RwLock<BTreeMap<String, SecurityGroup>>,
    /// Allocated addresses per subnet id.
    ips: RwLock<HashMap<String, BTreeSet<u32>>>,
    /// Serializes changes (security groups, IP allocation) within this process.
    writes: tokio::sync::Mutex<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("a stored network record is damaged: {0}")]
    Damaged(#[from] serde_json::Error),
    #[error("the network record vanished while it was being created")]
    Vanished,
    #[error("The vpc ID '{0}' does not exist")]
    NoSuchVpc(String),
    #[error("The subnet ID '{0}' does not exist")]
    NoSuchSubnet(String),
    #[error("The security group '{0}' does not exist")]
    NoSuchSecurityGroup(String),
    #[error("The security group '{name}' already exists for VPC '{vpc_id}'")]
    DuplicateGroupName { name: String, vpc_id: String },
    #[error("There are not enough free addresses in subnet '{0}' to satisfy the requested number of instances.")]
    SubnetFull(String),
    #[error("the address {ip} is not in subnet {subnet_id}")]
    NotInSubnet { subnet_id: String, ip: Ipv4Addr },
}

fn prefix(region: &str) -> String {
    format!("/keks/cloud/{region}/")
}

impl Network {
    /// Loads the region's network, creating the default VPC, its subnets and its default
    /// security group on first start (once, even with several processes racing).
    pub async fn load_or_create(
        store: Arc<dyn Store>,
        region: &str,
        account_id: &str,
    ) -> Result<Self, NetworkError> {
        let base = prefix(region);
        let network_key = format!("{base}network");
        let record = match store.get(network_key.as_bytes()).await? {
            Some(kv) => serde_json::from_slice(&kv.value)?,
            None => {
                let (record, default_group) = default_network(region, account_id);
                let created = store
                    .txn(
                        Txn::new()
                            .when([Compare::absent(network_key.clone())])
                            .and_then([
                                TxnOp::put(
                                    network_key.clone(),
                                    Bytes::from(serde_json::to_vec(&record)?),
                                ),
                                TxnOp::put(
                                    format!("{base}security-groups/{}", default_group.id),
                                    Bytes::from(serde_json::to_vec(&default_group)?),
                                ),
                            ]),
                    )
                    .await?;
                if created.succeeded {
                    record
                } else {
                    let kv = store
                        .get(network_key.as_bytes())
                        .await?
                        .ok_or(NetworkError::Vanished)?;
                    serde_json::from_slice(&kv.value)?
                }
            }
        };
        let mut groups = BTreeMap::new();
        let listed = store
            .range(RangeRequest::new(KeyRange::prefix(format!(
                "{base}security-groups/"
            ))))
            .await?;
        for kv in listed.kvs {
            let group: SecurityGroup = serde_json::from_slice(&kv.value)?;
            groups.insert(group.id.clone(), group);
        }
        let mut ips: HashMap<String, BTreeSet<u32>> = HashMap::new();
        let ip_prefix = format!("{base}ips/");
        let listed = store
            .range(RangeRequest::new(KeyRange::prefix(ip_prefix.clone())).keys_only())
            .await?;
        for kv in listed.kvs {
            let key = String::from_utf8_lossy(&kv.key);
            if let Some((subnet, ip)) = key
                .strip_prefix(&ip_prefix)
                .and_then(|rest| rest.split_once('/'))
            {
                if let Ok(ip) = ip.parse::<Ipv4Addr>() {
                    ips.entry(subnet.to_string())
                        .or_default()
                        .insert(u32::from(ip));
                }
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                record,
                groups: RwLock::new(groups),
                ips: RwLock::new(ips),
                writes: tokio::sync::Mutex::new(()),
            }),
        })
    }

    pub fn region(&self) -> &str {
        &self.inner.record.region
    }

    pub fn account_id(&self) -> &str {
        &self.inner.record.account_id
    }

    /// The region's availability zones, in name order.
    pub fn availability_zones(&self) -> &[AvailabilityZone] {
        &self.inner.record.zones
    }

    pub fn vpcs(&self) -> Vec<Vpc> {
        self.inner.record.vpcs.clone()
    }

    pub fn vpc(&self, id: &str) -> Option<Vpc> {
        self.inner.record.vpcs.iter().find(|v| v.id == id).cloned()
    }

    pub fn default_vpc(&self) -> Vpc {
        self.inner
            .record
            .vpcs
            .iter()
            .find(|v| v.is_default)
            .cloned()
            .expect("the network is created with a default VPC")
    }

    /// Every subnet, with its current free address count.
    pub fn subnets(&self) -> Vec<Subnet> {
        let ips = self.inner.ips.read();
        self.inner
            .record
            .subnets
            .iter()
            .map(|s| with_free_count(s, &ips))
            .collect()
    }

    pub fn subnet(&self, id: &str) -> Option<Subnet> {
        let ips = self.inner.ips.read();
        self.inner
            .record
            .subnets
            .iter()
            .find(|s| s.id == id)
            .map(|s| with_free_count(s, &ips))
    }

    /// The internet gateways (one per VPC).
    pub fn internet_gateways(&self) -> Vec<InternetGateway> {
        self.inner
            .record
            .vpcs
            .iter()
            .map(|v| InternetGateway {
                id: v.internet_gateway_id.clone(),
                vpc_id: v.id.clone(),
                owner_id: v.owner_id.clone(),
                tags: Vec::new(),
            })
            .collect()
    }

    /// The route tables: per VPC the main table (local route only; the private subnets use
    /// it implicitly) and, if the VPC has public subnets, the public table (local plus
    /// `0.0.0.0/0` to the internet gateway) associated with each public subnet. Their ids
    /// are derived from the VPC's, so they are stable without being stored.
    pub fn route_tables(&self) -> Vec<RouteTable> {
        let mut tables = Vec::new();
        for vpc in &self.inner.record.vpcs {
            let local = Route {
                destination_cidr_block: vpc.cidr_block.clone(),
                gateway_id: "local".into(),
                origin: "CreateRouteTable",
            };
            let main_id = derived_id("rtb", &[&vpc.id, "main"]);
            tables.push(RouteTable {
                id: main_id.clone(),
                vpc_id: vpc.id.clone(),
                owner_id: vpc.owner_id.clone(),
                routes: vec![local.clone()],
                associations: vec![RouteTableAssociation {
                    id: derived_id("rtbassoc", &[&main_id, "main"]),
                    route_table_id: main_id.clone(),
                    subnet_id: None,
                    main: true,
                }],
                tags: vec![Tag::new("Name", "default-private")],
            });
            let public: Vec<&Subnet> = self
                .inner
                .record
                .subnets
                .iter()
                .filter(|s| s.vpc_id == vpc.id && s.internet_gateway_id.is_some())
                .collect();
            if public.is_empty() {
                continue;
            }
            let public_id = derived_id("rtb", &[&vpc.id, "public"]);
            tables.push(RouteTable {
                id: public_id.clone(),
                vpc_id: vpc.id.clone(),
                owner_id: vpc.owner_id.clone(),
                routes: vec![
                    local,
                    Route {
                        destination_cidr_block: "0.0.0.0/0".into(),
                        gateway_id: vpc.internet_gateway_id.clone(),
                        origin: "CreateRoute",
                    },
                ],
                associations: public
                    .iter()
                    .map(|s| RouteTableAssociation {
                        id: derived_id("rtbassoc", &[&public_id, &s.id]),
                        route_table_id: public_id.clone(),
                        subnet_id: Some(s.id.clone()),
                        main: false,
                    })
                    .collect(),
                tags: vec![Tag::new("Name", "default-public")],
            });
        }
        tables
    }

    /// Every security group, in id order.
    pub fn security_groups(&self) -> Vec<SecurityGroup> {
        self.inner.groups.read().values().cloned().collect()
    }

    pub fn security_group(&self, id: &str) -> Option<SecurityGroup> {
        self.inner.groups.read().get(id).cloned()
    }

    /// The VPC's `default` security group.
    pub fn default_security_group(&self, vpc_id: &str) -> Option<SecurityGroup> {
        self.inner
            .groups
            .read()
            .values()
            .find(|g| g.vpc_id == vpc_id && g.name == "default")
            .cloned()
    }

    /// Creates a security group in a VPC; names are unique per VPC.
    pub async fn create_security_group(
        &self,
        vpc_id: &str,
        name: &str,
        description: &str,
        tags: Vec<Tag>,
    ) -> Result<SecurityGroup, NetworkError> {
        let _writing = self.inner.writes.lock().await;
        if self.vpc(vpc_id).is_none() {
            return Err(NetworkError::NoSuchVpc(vpc_id.to_string()));
        }
        if self
            .inner
            .groups
            .read()
            .values()
            .any(|g| g.vpc_id == vpc_id && g.name == name)
        {
            return Err(NetworkError::DuplicateGroupName {
                name: name.to_string(),
                vpc_id: vpc_id.to_string(),
            });
        }
        let group = SecurityGroup {
            id: new_id("sg"),
            name: name.to_string(),
            description: description.to_string(),
            vpc_id: vpc_id.to_string(),
            owner_id: self.account_id().to_string(),
            tags,
        };
        let key = format!("{}security-groups/{}", prefix(self.region()), group.id);
        self.inner
            .store
            .txn(
                Txn::new()
                    .when([Compare::absent(key.clone())])
                    .and_then([TxnOp::put(key, Bytes::from(serde_json::to_vec(&group)?))]),
            )
            .await?;
        self.inner
            .groups
            .write()
            .insert(group.id.clone(), group.clone());
        Ok(group)
    }

    /// Deletes a security group (not a VPC's `default` one).
    pub async fn delete_security_group(&self, id: &str) -> Result<(), NetworkError> {
        let _writing = self.inner.writes.lock().await;
        match self.security_group(id) {
            Some(g) if g.name != "default" => {}
            _ => return Err(NetworkError::NoSuchSecurityGroup(id.to_string())),
        }
        let key = format!("{}security-groups/{id}", prefix(self.region()));
        self.inner.store.delete(Bytes::from(key)).await?;
        self.inner.groups.write().remove(id);
        Ok(())
    }

    /// Allocates the lowest free private IP of a subnet for `owner` (an instance, a Fargate
    /// pod, …), durably.
    pub async fn allocate_ip(
        &self,
        subnet_id: &str,
        owner: &str,
    ) -> Result<Ipv4Addr, NetworkError> {
        let ips = self.allocate_ips(subnet_id, &[owner]).await?;
        Ok(ips[0])
    }

    /// Allocates one free private IP of a subnet per owner, in one store transaction (a
    /// fleet launch of many instances writes once). All or nothing: `SubnetFull` if the
    /// subnet has fewer free addresses than owners.
    pub async fn allocate_ips(
        &self,
        subnet_id: &str,
        owners: &[&str],
    ) -> Result<Vec<Ipv4Addr>, NetworkError> {
        if owners.is_empty() {
            return Ok(Vec::new());
        }
        let _writing = self.inner.writes.lock().await;
        let subnet = self
            .inner
            .record
            .subnets
            .iter()
            .find(|s| s.id == subnet_id)
            .ok_or_else(|| NetworkError::NoSuchSubnet(subnet_id.to_string()))?;
        let (network, prefix_len) = subnet.cidr();
        let first = u32::from(network) + 4;
        let last = u32::from(network) + (1u32 << (32 - prefix_len)) - 2;
        loop {
            let candidates: Vec<u32> = {
                let ips = self.inner.ips.read();
                let taken = ips.get(subnet_id);
                (first..=last)
                    .filter(|ip| !taken.is_some_and(|t| t.contains(ip)))
                    .take(owners.len())
                    .collect()
            };
            if candidates.len() < owners.len() {
                return Err(NetworkError::SubnetFull(subnet_id.to_string()));
            }
            let mut compares = Vec::with_capacity(owners.len());
            let mut puts = Vec::with_capacity(owners.len());
            for (ip, owner) in candidates.iter().zip(owners) {
                let key = ip_key(self.region(), subnet_id, Ipv4Addr::from(*ip));
                let value = serde_json::to_vec(&IpRecord {
                    owner: owner.to_string(),
                })?;
                compares.push(Compare::absent(key.clone()));
                puts.push(TxnOp::put(key, Bytes::from(value)));
            }
            let done = self
                .inner
                .store
                .txn(Txn::new().when(compares).and_then(puts))
                .await?;
            if done.succeeded {
                self.inner
                    .ips
                    .write()
                    .entry(subnet_id.to_string())
                    .or_default()
                    .extend(candidates.iter().copied());
                return Ok(candidates.into_iter().map(Ipv4Addr::from).collect());
            }
            // Another process sharing the store took some of them: learn which, retry.
            for ip in &candidates {
                let key = ip_key(self.region(), subnet_id, Ipv4Addr::from(*ip));
                if self.inner.store.get(key.as_bytes()).await?.is_some() {
                    self.inner
                        .ips
                        .write()
                        .entry(subnet_id.to_string())
                        .or_default()
                        .insert(*ip);
                }
            }
        }
    }

    /// Releases allocated IPs of one subnet in one store transaction; those not allocated
    /// are ignored.
    pub async fn release_ips(&self, subnet_id: &str, ips: &[Ipv4Addr]) -> Result<(), NetworkError> {
        if ips.is_empty() {
            return Ok(());
        }
        let _writing = self.inner.writes.lock().await;
        if self.subnet(subnet_id).is_none() {
            return Err(NetworkError::NoSuchSubnet(subnet_id.to_string()));
        }
        let ops: Vec<TxnOp> = ips
            .iter()
            .map(|ip| TxnOp::delete(Bytes::from(ip_key(self.region(), subnet_id, *ip))))
            .collect();
        self.inner.store.txn(Txn::new().and_then(ops)).await?;
        if let Some(set) = self.inner.ips.write().get_mut(subnet_id) {
            for ip in ips {
                set.remove(&u32::from(*ip));
            }
        }
        Ok(())
    }

    /// Releases the addresses of one subnet still held by their owners: for each
    /// `(address, owner)`, only if the stored allocation names that owner (an address freed
    /// and taken again by someone else is left alone). Returns how many were released.
    /// For recovery: addresses left behind by a crash between two writes.
    pub async fn release_ips_owned(
        &self,
        subnet_id: &str,
        held: &[(Ipv4Addr, &str)],
    ) -> Result<usize, NetworkError> {
        let _writing = self.inner.writes.lock().await;
        let mut released = 0;
        for (ip, owner) in held {
            let key = ip_key(self.region(), subnet_id, *ip);
            let Some(kv) = self.inner.store.get(key.as_bytes()).await? else {
                continue;
            };
            let record: IpRecord = serde_json::from_slice(&kv.value)?;
            if record.owner != *owner {
                continue;
            }
            let done = self
                .inner
                .store
                .txn(
                    Txn::new()
                        .when([Compare::mod_revision_is(key.clone(), kv.mod_revision)])
                        .and_then([TxnOp::delete(Bytes::from(key))]),
                )
                .await?;
            if done.succeeded {
                released += 1;
                if let Some(set) = self.inner.ips.write().get_mut(subnet_id) {
                    set.remove(&u32::from(*ip));
                }
            }
        }
        Ok(released)
    }

    /// Releases an allocated IP; `false` if it was not allocated.
    pub async fn release_ip(&self, subnet_id: &str, ip: Ipv4Addr) -> Result<bool, NetworkError> {
        let _writing = self.inner.writes.lock().await;
        let subnet = self
            .subnet(subnet_id)
            .ok_or_else(|| NetworkError::NoSuchSubnet(subnet_id.to_string()))?;
        let (network, prefix_len) = subnet.cidr();
        let mask = u32::MAX << (32 - prefix_len);
        if u32::from(ip) & mask != u32::from(network) {
            return Err(NetworkError::NotInSubnet {
                subnet_id: subnet_id.to_string(),
                ip,
            });
        }
        let removed = self
            .inner
            .store
            .delete(Bytes::from(ip_key(self.region(), subnet_id, ip)))
            .await?;
        if let Some(set) = self.inner.ips.write().get_mut(subnet_id) {
            set.remove(&u32::from(ip));
        }
        Ok(removed.is_some())
    }
}

fn ip_key(region: &str, subnet_id: &str, ip: Ipv4Addr) -> String {
    format!("{}ips/{subnet_id}/{ip}", prefix(region))
}

fn with_free_count(subnet: &Subnet, ips: &HashMap<String, BTreeSet<u32>>) -> Subnet {
    let used = ips.get(&subnet.id).map_or(0, |s| s.len() as u32);
    let mut s = subnet.clone();
    s.available_ip_address_count = subnet.capacity().saturating_sub(used);
    s
}

/// The default network of a new account: the default VPC, a public and a private `/20` per
/// zone, and the VPC's default security group.
fn default_network(region: &str, account_id: &str) -> (NetworkRecord, SecurityGroup) {
    let zones = zones_of(region);
    let vpc = Vpc {
        id: new_id("vpc"),
        cidr_block: DEFAULT_VPC_CIDR.to_string(),
        cidr_block_association_id: new_id("vpc-cidr-assoc"),
        dhcp_options_id: new_id("dopt"),
        internet_gateway_id: new_id("igw"),
        is_default: true,
        owner_id: account_id.to_string(),
        tags: Vec::new(),
    };
    let mut subnets = Vec::new();
    for (public, zone_offset) in [(true, 0), (false, zones.len())] {
        for (i, zone) in zones.iter().enumerate() {
            let kind = if public { "public" } else { "private" };
            let role_tag = if public {
                Tag::new("kubernetes.io/role/elb", "1")
            } else {
                Tag::new("kubernetes.io/role/internal-elb", "1")
            };
            let mut subnet = Subnet {
                id: new_id("subnet"),
                vpc_id: vpc.id.clone(),
                availability_zone: zone.name.clone(),
                availability_zone_id: zone.zone_id.clone(),
                cidr_block: default_subnet_cidr((zone_offset + i) as u32),
                available_ip_address_count: 0,
                map_public_ip_on_launch: public,
                default_for_az: public,
                internet_gateway_id: public.then(|| vpc.internet_gateway_id.clone()),
                owner_id: account_id.to_string(),
                tags: vec![
                    Tag::new("Name", format!("default-{kind}-{}", zone.name)),
                    role_tag,
                ],
            };
            subnet.available_ip_address_count = subnet.capacity();
            subnets.push(subnet);
        }
    }
    let group = SecurityGroup {
        id: new_id("sg"),
        name: "default".into(),
        description: "default VPC security group".into(),
        vpc_id: vpc.id.clone(),
        owner_id: account_id.to_string(),
        tags: Vec::new(),
    };
    (
        NetworkRecord {
            region: region.to_string(),
            account_id: account_id.to_string(),
            zones,
            vpcs: vec![vpc],
            subnets,
        },
        group,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use keks_store::MemoryStore;

    #[tokio::test]
    async fn default_network_is_created_once() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let a = Network::load_or_create(store.clone(), "us-east-1", "123456789012")
            .await
            .unwrap();
        let b = Network::load_or_create(store.clone(), "us-east-1", "123456789012")
            .await
            .unwrap();
        assert_eq!(a.default_vpc(), b.default_vpc());
        assert_eq!(a.subnets(), b.subnets());
        let vpc = a.default_vpc();
        assert_eq!(vpc.cidr_block, "172.31.0.0/16");
        let subnets = a.subnets();
        assert_eq!(subnets.len(), 6);
        assert_eq!(subnets.iter().filter(|s| s.is_private()).count(), 3);
        let cidrs: BTreeSet<_> = subnets.iter().map(|s| s.cidr_block.clone()).collect();
        assert_eq!(cidrs.len(), 6);
        assert!(cidrs.contains("172.31.80.0/20"));
        for s in &subnets {
            assert_eq!(s.available_ip_address_count, 4091);
            assert_eq!(s.map_public_ip_on_launch, !s.is_private());
            let role = if s.is_private() {
                "kubernetes.io/role/internal-elb"
            } else {
                "kubernetes.io/role/elb"
            };
            assert_eq!(s.tag(role), Some("1"));
        }
        assert!(a.default_security_group(&vpc.id).is_some());
        assert_eq!(b.security_groups().len(), 1);

        // Public subnets route to the internet gateway; private ones use the main table.
        let tables = a.route_tables();
        assert_eq!(tables, b.route_tables());
        assert_eq!(tables.len(), 2);
        let public = tables.iter().find(|t| !t.associations[0].main).unwrap();
        assert!(public
            .routes
            .iter()
            .any(|r| r.gateway_id == vpc.internet_gateway_id
                && r.destination_cidr_block == "0.0.0.0/0"));
        let associated: BTreeSet<_> = public
            .associations
            .iter()
            .filter_map(|a| a.subnet_id.clone())
            .collect();
        let public_subnets: BTreeSet<_> = subnets
            .iter()
            .filter(|s| !s.is_private())
            .map(|s| s.id.clone())
            .collect();
        assert_eq!(associated, public_subnets);
        assert_eq!(a.internet_gateways()[0].id, vpc.internet_gateway_id);
    }

    #[tokio::test]
    async fn ips_are_allocated_durably_and_released() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let net = Network::load_or_create(store.clone(), "us-east-1", "123456789012")
            .await
            .unwrap();
        let subnet = net.subnets()[0].clone();
        let first = net.allocate_ip(&subnet.id, "i-1").await.unwrap();
        let second = net.allocate_ip(&subnet.id, "i-2").await.unwrap();
        assert_eq!(first, Ipv4Addr::new(172, 31, 0, 4));
        assert_eq!(second, Ipv4Addr::new(172, 31, 0, 5));
        assert_eq!(
            net.subnet(&subnet.id).unwrap().available_ip_address_count,
            4089
        );
        let reloaded = Network::load_or_create(store.clone(), "us-east-1", "123456789012")
            .await
            .unwrap();
        assert_eq!(
            reloaded
                .subnet(&subnet.id)
                .unwrap()
                .available_ip_address_count,
            4089
        );
        assert!(reloaded.release_ip(&subnet.id, first).await.unwrap());
        assert!(!reloaded.release_ip(&subnet.id, first).await.unwrap());
        assert_eq!(
            reloaded.allocate_ip(&subnet.id, "i-3").await.unwrap(),
            first
        );
        assert!(matches!(
            reloaded
                .release_ip(&subnet.id, Ipv4Addr::new(10, 0, 0, 1))
                .await,
            Err(NetworkError::NotInSubnet { .. })
        ));
    }

    #[tokio::test]
    async fn security_groups_are_unique_per_vpc() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let net = Network::load_or_create(store.clone(), "eu-west-1", "123456789012")
            .await
            .unwrap();
        let vpc = net.default_vpc();
        let sg = net
            .create_security_group(&vpc.id, "eks-cluster-sg-a", "cluster", vec![])
            .await
            .unwrap();
        assert!(matches!(
            net.create_security_group(&vpc.id, "eks-cluster-sg-a", "again", vec![])
                .await,
            Err(NetworkError::DuplicateGroupName { .. })
        ));
        let reloaded = Network::load_or_create(store, "eu-west-1", "123456789012")
            .await
            .unwrap();
        assert_eq!(reloaded.security_group(&sg.id), Some(sg.clone()));
        reloaded.delete_security_group(&sg.id).await.unwrap();
        assert_eq!(reloaded.security_groups().len(), 1);
        assert_eq!(reloaded.availability_zones()[0].zone_id, "euw1-az1");
    }
}
