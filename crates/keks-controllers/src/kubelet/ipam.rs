//! Pod IP addresses: one cluster-wide pool (10.64.0.0/10), as the VPC CNI hands out subnet
//! addresses, seeded from the pods that already hold one so a restart never hands out an
//! address twice.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use serde_json::Value;

const BASE: u32 = u32::from_be_bytes([10, 64, 0, 0]);
const SIZE: u32 = 1 << 22;

#[derive(Default)]
pub struct Ipam {
    used: HashSet<u32>,
    next: u32,
    seeded: bool,
}

impl Ipam {
    /// Marks the addresses of existing pods as taken (once, before the first allocation).
    pub fn seed<'a>(&mut self, pods: impl Iterator<Item = &'a Value>) {
        if self.seeded {
            return;
        }
        self.seeded = true;
        for pod in pods {
            if let Some(ip) = pod_ip(pod) {
                self.used.insert(ip);
            }
        }
    }

    pub fn is_seeded(&self) -> bool {
        self.seeded
    }

    pub fn allocate(&mut self) -> Option<Ipv4Addr> {
        for _ in 0..SIZE {
            let offset = self.next % SIZE;
            self.next = self.next.wrapping_add(1);
            // Skip network-style addresses ending in .0 and .255.
            let ip = BASE + offset;
            if matches!(ip & 0xff, 0 | 255) || !self.used.insert(ip) {
                continue;
            }
            return Some(Ipv4Addr::from(ip));
        }
        None
    }

    pub fn reserve(&mut self, pod: &Value) {
        if let Some(ip) = pod_ip(pod) {
            self.used.insert(ip);
        }
    }

    pub fn release(&mut self, pod: &Value) {
        if pod["spec"]["hostNetwork"] == true {
            return;
        }
        if let Some(ip) = pod_ip(pod) {
            self.used.remove(&ip);
        }
    }
}

fn pod_ip(pod: &Value) -> Option<u32> {
    let ip: Ipv4Addr = pod["status"]["podIP"].as_str()?.parse().ok()?;
    let ip = u32::from(ip);
    (BASE..BASE + SIZE).contains(&ip).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hands_out_each_address_once() {
        let mut ipam = Ipam::default();
        let existing = json!({"status": {"podIP": "10.64.0.1"}});
        ipam.seed(std::iter::once(&existing));
        let a = ipam.allocate().unwrap();
        assert_eq!(a.to_string(), "10.64.0.2");
        ipam.release(&existing);
        assert_eq!(ipam.allocate().unwrap().to_string(), "10.64.0.3");
    }
}
