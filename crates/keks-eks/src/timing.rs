//! How long EKS's asynchronous work takes in keks: the `fast` profile (the default: still
//! asynchronous, so clients see CREATING and poll, but done well under a second) and the
//! `realistic` profile (EKS's usual durations, for rehearsing pipelines and waiters).

use std::time::Duration;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimingProfile {
    #[default]
    Fast,
    Realistic,
}

impl TimingProfile {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "fast" => Some(Self::Fast),
            "realistic" => Some(Self::Realistic),
            _ => None,
        }
    }

    fn pick(self, fast_ms: u64, realistic_s: u64) -> Duration {
        match self {
            Self::Fast => Duration::from_millis(fast_ms),
            Self::Realistic => Duration::from_secs(realistic_s),
        }
    }

    /// CreateCluster: CREATING → ACTIVE (EKS: about 10 minutes).
    pub fn cluster_create(self) -> Duration {
        self.pick(10, 10 * 60)
    }

    /// DeleteCluster: DELETING → gone (EKS: a few minutes).
    pub fn cluster_delete(self) -> Duration {
        self.pick(10, 4 * 60)
    }

    /// UpdateClusterVersion: UPDATING → ACTIVE (EKS: about 25 minutes).
    pub fn version_update(self) -> Duration {
        self.pick(20, 25 * 60)
    }

    /// A Fargate pod, bound to its micro-VM node, until its containers run (EKS: about a
    /// minute — provisioning, image pull).
    pub fn fargate_pod_startup(self) -> Duration {
        self.pick(20, 60)
    }

    /// CreateFargateProfile: CREATING → ACTIVE (EKS: a few minutes).
    pub fn fargate_profile_create(self) -> Duration {
        self.pick(10, 3 * 60)
    }

    /// DeleteFargateProfile: DELETING → gone (EKS: a few minutes).
    pub fn fargate_profile_delete(self) -> Duration {
        self.pick(10, 2 * 60)
    }

    /// UpdateClusterConfig (logging, endpoint access, access config).
    pub fn config_update(self) -> Duration {
        self.pick(10, 3 * 60)
    }

    /// CreateNodegroup: the least time CREATING lasts (then ACTIVE once the nodes are Ready;
    /// EKS: a few minutes).
    pub fn nodegroup_create(self) -> Duration {
        self.pick(10, 2 * 60)
    }

    /// DeleteNodegroup: the least time DELETING lasts (then gone once the instances are).
    pub fn nodegroup_delete(self) -> Duration {
        self.pick(10, 60)
    }

    /// UpdateNodegroupConfig: the least time UPDATING lasts (then ACTIVE once the nodes
    /// match).
    pub fn nodegroup_update(self) -> Duration {
        self.pick(10, 60)
    }

    /// A version update's drain of one node: how long its pods may take to leave before
    /// the update fails with `PodEvictionFailure` (EKS: 15 minutes).
    pub fn drain_timeout(self) -> Duration {
        self.pick(3_000, 15 * 60)
    }

    /// How often a drain tries evicting the pods still on a node again.
    pub fn drain_retry(self) -> Duration {
        self.pick(100, 5)
    }

    /// How long a drained node stays before its instance is terminated (EKS: 60 seconds, so
    /// that load balancers stop sending to it).
    pub fn drained_wait(self) -> Duration {
        self.pick(20, 60)
    }

    /// How long a version update waits for its new nodes to be Ready before it fails with
    /// `NodeCreationFailure` (EKS: 15 minutes, as for a new group).
    pub fn update_join_timeout(self) -> Duration {
        self.pick(60_000, 15 * 60)
    }
}
