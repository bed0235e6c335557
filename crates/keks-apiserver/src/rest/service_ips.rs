//! Service address allocation, as kube-apiserver's service REST storage does it: a
//! ClusterIP from the cluster's service CIDR and node ports from 30000-32767, reserved in the
//! same transaction that creates the Service (keys under `/k8s/<cluster>/keks/`) and released
//! in the one that deletes it, so nothing leaks or is handed out twice.

use std::net::Ipv4Addr;

use bytes::Bytes;
use rand::Rng;
use serde_json::{json, Value};

use crate::field::{FieldError, FieldPath};
use crate::registry::ResourceDescriptor;
use crate::status::ApiError;

/// EKS's default service CIDR (the other choice, 172.20.0.0/16, comes with the EKS API).
pub const DEFAULT_SERVICE_CIDR: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 100, 0, 0), 16);
const NODE_PORTS: std::ops::RangeInclusive<u16> = 30000..=32767;

pub(crate) fn is_service(d: &ResourceDescriptor) -> bool {
    d.group.is_empty() && d.plural == "services"
}

fn ip_key(cluster: &str, ip: &str) -> Bytes {
    Bytes::from(format!("/k8s/{cluster}/keks/clusterips/{ip}"))
}

fn port_key(cluster: &str, port: i64) -> Bytes {
    Bytes::from(format!("/k8s/{cluster}/keks/nodeports/{port}"))
}

/// Parses `a.b.c.d/n`.
pub fn parse_cidr(text: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, bits) = text.split_once('/')?;
    let bits: u8 = bits.parse().ok().filter(|b| *b <= 32)?;
    Some((addr.parse().ok()?, bits))
}

/// The first address of a range: the `kubernetes` Service's.
pub fn first_address((net, _): (Ipv4Addr, u8)) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net) + 1)
}

fn in_cidr(ip: Ipv4Addr, (net, bits): (Ipv4Addr, u8)) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    u32::from(ip) & mask == u32::from(net) & mask
}

fn cluster_ips_error(ip: &str, why: &str) -> FieldError {
    FieldError::invalid(
        FieldPath::root("spec").child("clusterIPs"),
        json!([ip]),
        format!("failed to allocate IP {ip}: {why}"),
    )
}

/// Fills in the Service's addresses (random ones where the client left them empty) and
/// returns the keys that reserve them. `explicit` reports whether the client chose them.
pub(crate) fn allocate(
    cluster: &str,
    range: (Ipv4Addr, u8),
    svc: &mut Value,
) -> Result<(Vec<Bytes>, bool), ApiError> {
    let name = svc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let kind = svc
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    let mut keys = Vec::new();
    let mut explicit = false;
    if kind != "ExternalName" {
        let requested = svc
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let ip = match requested.as_str() {
            "None" => None,
            "" => {
                let (net, bits) = range;
                let size = 1u32 << (32 - bits);
                // Skip the network address, .1 (the `kubernetes` service) and broadcast.
                let offset = rand::thread_rng().gen_range(2..size - 1);
                Some(Ipv4Addr::from(u32::from(net) + offset).to_string())
            }
            text => {
                explicit = true;
                let parsed: Ipv4Addr = text.parse().map_err(|_| {
                    ApiError::invalid(
                        "",
                        "Service",
                        &name,
                        vec![FieldError::invalid(
                            FieldPath::root("spec").child("clusterIPs").index(0),
                            json!(text),
                            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                        )],
                    )
                })?;
                if !in_cidr(parsed, range) {
                    let why = format!("the provided IP ({text}) is not in the valid range. The range of valid IPs is {}/{}", range.0, range.1);
                    return Err(ApiError::invalid(
                        "",
                        "Service",
                        &name,
                        vec![cluster_ips_error(text, &why)],
                    ));
                }
                Some(text.to_string())
            }
        };
        let spec = svc["spec"]
            .as_object_mut()
            .expect("validated: spec is an object");
        match ip {
            Some(ip) => {
                keys.push(ip_key(cluster, &ip));
                spec.insert("clusterIP".into(), json!(ip));
                spec.insert("clusterIPs".into(), json!([ip]));
            }
            None => {
                spec.insert("clusterIPs".into(), json!(["None"]));
            }
        }
        spec.insert("ipFamilies".into(), json!(["IPv4"]));
        spec.insert("ipFamilyPolicy".into(), json!("SingleStack"));
    }
    if kind == "NodePort" || kind == "LoadBalancer" {
        let mut rng = rand::thread_rng();
        for port in svc
            .pointer_mut("/spec/ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let node_port = match port.get("nodePort").and_then(Value::as_i64) {
                Some(p) if p != 0 => {
                    explicit = true;
                    p
                }
                _ => i64::from(rng.gen_range(NODE_PORTS)),
            };
            port["nodePort"] = json!(node_port);
            keys.push(port_key(cluster, node_port));
        }
    }
    Ok((keys, explicit))
}

/// The reservation keys a stored Service holds, released when it is deleted.
pub(crate) fn reserved(cluster: &str, d: &ResourceDescriptor, svc: &Value) -> Vec<Bytes> {
    if !is_service(d) {
        return Vec::new();
    }
    let mut keys: Vec<Bytes> = svc
        .pointer("/spec/clusterIPs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|ip| *ip != "None")
        .map(|ip| ip_key(cluster, ip))
        .collect();
    keys.extend(
        svc.pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
            .map(|p| port_key(cluster, p)),
    );
    keys
}

/// The error for an address the client chose that another Service holds.
pub(crate) fn taken(svc: &Value) -> ApiError {
    let name = svc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ip = svc
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .unwrap_or_default();
    ApiError::invalid(
        "",
        "Service",
        name,
        vec![cluster_ips_error(ip, "provided IP is already allocated")],
    )
}
