//! Fargate pod sizing and price, as EKS documents them: per resource, the larger of the
//! largest init container request and the sum of the regular containers' requests; 256 MiB
//! more memory for the node's own components; then the first vCPU/memory combination of
//! the menu that holds both (0.25 vCPU / 0.5 GB up to 16 vCPU / 120 GB; Fargate's "GB" are
//! GiB). A pod that requests nothing gets the smallest combination. Ephemeral storage is 20
//! GiB unless the containers ask for more (up to 175 GiB). The price is per vCPU-hour and
//! per GB-hour of the provisioned size, plus storage above the included 20 GB.

/// Requests of one container (or of a whole pod).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requests {
    pub millicpu: u64,
    pub memory_bytes: u64,
    pub ephemeral_bytes: u64,
}

/// A provisioned Fargate size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// In thousandths of a vCPU: 250, 500, 1000, ...
    pub millicpu: u64,
    pub memory_mib: u64,
    pub ephemeral_gib: u64,
}

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;
/// What Fargate adds to every pod's memory for kubelet, kube-proxy and containerd.
pub const SYSTEM_MEMORY_MIB: u64 = 256;
pub const DEFAULT_EPHEMERAL_GIB: u64 = 20;
pub const MAX_EPHEMERAL_GIB: u64 = 175;

/// The menu: (millicpu, memory choices in MiB).
fn menu() -> Vec<(u64, Vec<u64>)> {
    let gib = |from: u64, to: u64, step: u64| {
        (from..=to)
            .step_by(step as usize)
            .map(|g| g * 1024)
            .collect()
    };
    vec![
        (250, vec![512, 1024, 2048]),
        (500, vec![1024, 2048, 3072, 4096]),
        (1000, gib(2, 8, 1)),
        (2000, gib(4, 16, 1)),
        (4000, gib(8, 30, 1)),
        (8000, gib(16, 60, 4)),
        (16000, gib(32, 120, 8)),
    ]
}

/// Why a pod cannot get a Fargate size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizingError {
    #[error("Pod resource requests exceed the largest Fargate configuration (16 vCPU, 120 GB): requested {millicpu}m vCPU and {memory_mib} MiB memory (with 256 MiB for Kubernetes components)")]
    TooLarge { millicpu: u64, memory_mib: u64 },
    #[error("ephemeral storage request of {0} GiB exceeds Fargate's maximum of 175 GiB")]
    TooMuchStorage(u64),
}

/// The pod's effective request: per resource, max(largest init container, sum of regular).
pub fn pod_requests(init: &[Requests], regular: &[Requests]) -> Requests {
    let sum = regular.iter().fold(Requests::default(), |a, r| Requests {
        millicpu: a.millicpu + r.millicpu,
        memory_bytes: a.memory_bytes + r.memory_bytes,
        ephemeral_bytes: a.ephemeral_bytes + r.ephemeral_bytes,
    });
    let largest = |f: fn(&Requests) -> u64| init.iter().map(f).max().unwrap_or(0);
    Requests {
        millicpu: sum.millicpu.max(largest(|r| r.millicpu)),
        memory_bytes: sum.memory_bytes.max(largest(|r| r.memory_bytes)),
        ephemeral_bytes: sum.ephemeral_bytes.max(largest(|r| r.ephemeral_bytes)),
    }
}

/// The size Fargate provisions for a pod's effective request.
pub fn provision(req: Requests) -> Result<Size, SizingError> {
    let memory_mib = req.memory_bytes.div_ceil(MIB) + SYSTEM_MEMORY_MIB;
    let fits = menu().into_iter().find_map(|(cpu, memories)| {
        if cpu < req.millicpu {
            return None;
        }
        memories
            .into_iter()
            .find(|m| *m >= memory_mib)
            .map(|m| (cpu, m))
    });
    let Some((millicpu, memory_mib)) = fits else {
        return Err(SizingError::TooLarge {
            millicpu: req.millicpu,
            memory_mib,
        });
    };
    let requested_gib = req.ephemeral_bytes.div_ceil(GIB);
    if requested_gib > MAX_EPHEMERAL_GIB {
        return Err(SizingError::TooMuchStorage(requested_gib));
    }
    Ok(Size {
        millicpu,
        memory_mib,
        ephemeral_gib: requested_gib.max(DEFAULT_EPHEMERAL_GIB),
    })
}

fn trim(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl Size {
    /// The `CapacityProvisioned` annotation: `0.25vCPU 0.5GB`, `2vCPU 9GB`.
    pub fn annotation(&self) -> String {
        format!(
            "{}vCPU {}GB",
            trim(self.millicpu as f64 / 1000.0),
            trim(self.memory_mib as f64 / 1024.0)
        )
    }

    /// US dollars per hour in us-east-1: $0.04048 per vCPU-hour, $0.004445 per GB-hour,
    /// $0.000111 per GB-hour of ephemeral storage above the included 20 GB.
    pub fn hourly_usd(&self) -> f64 {
        let vcpu = self.millicpu as f64 / 1000.0;
        let gb = self.memory_mib as f64 / 1024.0;
        let extra_storage = self.ephemeral_gib.saturating_sub(DEFAULT_EPHEMERAL_GIB) as f64;
        vcpu * 0.04048 + gb * 0.004445 + extra_storage * 0.000111
    }
}

/// The cost of running `size` for `seconds`: per second, with a one-minute minimum.
pub fn cost_usd(size: &Size, seconds: f64) -> f64 {
    size.hourly_usd() * seconds.max(60.0) / 3600.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(millicpu: u64, memory_mib: u64) -> Requests {
        Requests {
            millicpu,
            memory_bytes: memory_mib * MIB,
            ephemeral_bytes: 0,
        }
    }

    #[test]
    fn the_documented_example_rounds_up_to_2_vcpu_9_gb() {
        let size = provision(req(1000, 8 * 1024)).unwrap();
        assert_eq!(size.annotation(), "2vCPU 9GB");
    }

    #[test]
    fn nothing_requested_is_the_smallest_size() {
        let size = provision(Requests::default()).unwrap();
        assert_eq!(size.annotation(), "0.25vCPU 0.5GB");
        assert_eq!(size.ephemeral_gib, 20);
    }

    #[test]
    fn memory_gets_256_mib_more() {
        assert_eq!(
            provision(req(250, 256)).unwrap().annotation(),
            "0.25vCPU 0.5GB"
        );
        assert_eq!(
            provision(req(250, 257)).unwrap().annotation(),
            "0.25vCPU 1GB"
        );
        assert_eq!(
            provision(req(500, 3 * 1024)).unwrap().annotation(),
            "0.5vCPU 4GB"
        );
        assert_eq!(
            provision(req(1000, 4 * 1024)).unwrap().annotation(),
            "1vCPU 5GB"
        );
        assert_eq!(
            provision(req(8000, 17 * 1024)).unwrap().annotation(),
            "8vCPU 20GB"
        );
    }

    #[test]
    fn init_containers_count_by_their_largest() {
        let init = [req(2000, 512), req(500, 4096)];
        let regular = [req(250, 512), req(250, 512)];
        let pod = pod_requests(&init, &regular);
        assert_eq!(pod.millicpu, 2000);
        assert_eq!(pod.memory_bytes, 4096 * MIB);
        assert_eq!(provision(pod).unwrap().annotation(), "2vCPU 5GB");
    }

    #[test]
    fn beyond_the_largest_size_is_refused() {
        assert!(matches!(
            provision(req(17000, 1024)),
            Err(SizingError::TooLarge { .. })
        ));
        assert!(matches!(
            provision(req(16000, 120 * 1024)),
            Err(SizingError::TooLarge { .. })
        ));
        let storage = Requests {
            ephemeral_bytes: 200 * GIB,
            ..Requests::default()
        };
        assert_eq!(provision(storage), Err(SizingError::TooMuchStorage(200)));
    }

    #[test]
    fn prices_follow_the_provisioned_size() {
        let small = provision(Requests::default()).unwrap();
        assert!((small.hourly_usd() - (0.25 * 0.04048 + 0.5 * 0.004445)).abs() < 1e-12);
        // One minute minimum.
        assert!((cost_usd(&small, 1.0) - small.hourly_usd() / 60.0).abs() < 1e-12);
        let big_disk = Size {
            ephemeral_gib: 30,
            ..small
        };
        assert!((big_disk.hourly_usd() - small.hourly_usd() - 10.0 * 0.000111).abs() < 1e-12);
    }
}
