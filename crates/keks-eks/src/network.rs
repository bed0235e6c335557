//! What the control plane needs to know about the VPC a cluster is placed in. The binary
//! answers it from keks' simulated EC2 network; tests answer it from a table.

/// A subnet as CreateCluster checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubnetInfo {
    pub id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    /// No route to an internet gateway.
    pub private: bool,
}

/// The subnets and VPCs of the account.
pub trait Network: Send + Sync {
    fn subnet(&self, id: &str) -> Option<SubnetInfo>;
    /// The IPv4 CIDR of a VPC (EKS picks the service CIDR so that it does not overlap).
    fn vpc_cidr(&self, vpc_id: &str) -> Option<String>;
    /// A new security group in the VPC (the cluster security group); returns its id.
    fn create_security_group(&self, vpc_id: &str, name: &str, description: &str) -> String;
    /// A security group exists (for `securityGroupIds`).
    fn security_group_exists(&self, id: &str) -> bool;
}

/// A fixed network, for tests.
#[derive(Default)]
pub struct StaticNetwork {
    pub subnets: Vec<SubnetInfo>,
    pub vpcs: Vec<(String, String)>,
}

impl Network for StaticNetwork {
    fn subnet(&self, id: &str) -> Option<SubnetInfo> {
        self.subnets.iter().find(|s| s.id == id).cloned()
    }

    fn vpc_cidr(&self, vpc_id: &str) -> Option<String> {
        self.vpcs
            .iter()
            .find(|(id, _)| id == vpc_id)
            .map(|(_, cidr)| cidr.clone())
    }

    fn create_security_group(&self, _vpc_id: &str, _name: &str, _description: &str) -> String {
        crate::ids::security_group_id()
    }

    fn security_group_exists(&self, id: &str) -> bool {
        id.starts_with("sg-")
    }
}
