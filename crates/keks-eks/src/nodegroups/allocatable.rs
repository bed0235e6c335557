//! A node's capacity and allocatable as the EKS-optimized AMIs configure the kubelet
//! (awslabs/amazon-eks-ami: AL2 `bootstrap.sh` `get_cpu_millicores_to_reserve` and
//! `get_memory_mebibytes_to_reserve`; AL2023 `nodeadm` uses the same rules):
//! kube-reserved CPU is 6% of the first core, 1% of the second, 0.5% of the third and
//! fourth and 0.25% of every core above four; kube-reserved memory is 11 MiB per pod of
//! max pods plus 255 MiB; kube-reserved ephemeral storage is 1 GiB; the hard eviction
//! thresholds are `memory.available<100Mi` and `nodefs.available<10%`.

use serde_json::{json, Value};

/// kube-reserved CPU, millicores, for `vcpus` cores.
pub fn reserved_millicpu(vcpus: u32) -> u64 {
    // Per core, in hundredths of a percent of 1000m: 600, 100, 50, 50, then 25.
    (0..u64::from(vcpus))
        .map(|core| match core {
            0 => 60_000,
            1 => 10_000,
            2 | 3 => 5_000,
            _ => 2_500,
        })
        .sum::<u64>()
        / 1000
}

/// kube-reserved memory, MiB.
pub fn reserved_memory_mib(max_pods: u32) -> u64 {
    11 * u64::from(max_pods) + 255
}

pub const EVICTION_MEMORY_MIB: u64 = 100;
const GIB: u64 = 1024 * 1024 * 1024;

/// Capacity and allocatable, as a kubelet reports them.
pub fn resources(vcpus: u32, memory_mib: u64, max_pods: u32, disk_gib: u32) -> (Value, Value) {
    let disk_bytes = u64::from(disk_gib) * GIB;
    let capacity = json!({
        "cpu": vcpus.to_string(),
        "memory": format!("{}Ki", memory_mib * 1024),
        "pods": max_pods.to_string(),
        "ephemeral-storage": format!("{}Ki", disk_bytes / 1024),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
    });
    let cpu_m = (u64::from(vcpus) * 1000).saturating_sub(reserved_millicpu(vcpus));
    let mem_mib = memory_mib
        .saturating_sub(reserved_memory_mib(max_pods))
        .saturating_sub(EVICTION_MEMORY_MIB);
    let storage = (disk_bytes - disk_bytes / 10).saturating_sub(GIB);
    let allocatable = json!({
        "cpu": format!("{cpu_m}m"),
        "memory": format!("{}Ki", mem_mib * 1024),
        "pods": max_pods.to_string(),
        "ephemeral-storage": storage.to_string(),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
    });
    (capacity, allocatable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_reserved_follows_the_eks_ami() {
        assert_eq!(reserved_millicpu(1), 60);
        assert_eq!(reserved_millicpu(2), 70);
        assert_eq!(reserved_millicpu(4), 80);
        assert_eq!(reserved_millicpu(8), 90);
        assert_eq!(reserved_millicpu(16), 110);
        assert_eq!(reserved_memory_mib(17), 442);
        assert_eq!(reserved_memory_mib(29), 574);
    }

    #[test]
    fn a_t3_medium_node() {
        let (cap, alloc) = resources(2, 4096, 17, 20);
        assert_eq!(cap["cpu"], "2");
        assert_eq!(cap["pods"], "17");
        assert_eq!(alloc["cpu"], "1930m");
        // 4096 − 442 − 100 MiB.
        assert_eq!(alloc["memory"], format!("{}Ki", 3554 * 1024));
        assert_eq!(alloc["pods"], "17");
        assert_eq!(cap["ephemeral-storage"], "20971520Ki");
        assert_eq!(alloc["ephemeral-storage"], (18 * GIB - GIB).to_string());
    }
}
