//! The small core resources with a rule or a column of their own: ConfigMap, Secret, Event,
//! Node.

use base64::Engine as _;
use serde_json::{json, Value};

use crate::field::{FieldError, FieldPath};
use crate::registry::{PrinterColumn, Strategy};
use crate::table::{AGE, NAME};

pub struct ConfigMapStrategy;

pub fn configmap_columns() -> Vec<PrinterColumn> {
    vec![
        NAME,
        PrinterColumn::new("Data", "string", 0).described("", "Number of data entries"),
        AGE,
    ]
}

fn count(obj: &Value, field: &str) -> usize {
    obj.get(field)
        .and_then(Value::as_object)
        .map_or(0, |m| m.len())
}

impl Strategy for ConfigMapStrategy {
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        for field in ["data", "binaryData"] {
            for key in obj
                .get(field)
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|m| m.keys())
            {
                if let Err(e) = crate::validation::config_map_key(key) {
                    errs.push(FieldError::invalid(FieldPath::root(field), json!(key), e));
                }
            }
        }
        if let (Some(data), Some(binary)) = (
            obj.get("data").and_then(Value::as_object),
            obj.get("binaryData").and_then(Value::as_object),
        ) {
            for key in data.keys().filter(|k| binary.contains_key(*k)) {
                errs.push(FieldError::invalid(
                    FieldPath::root("data").key(key),
                    json!(key),
                    "duplicate of key present in binaryData",
                ));
            }
        }
        errs
    }

    fn table_cells(&self, obj: &Value, _now: std::time::SystemTime) -> Vec<Value> {
        vec![json!(count(obj, "data") + count(obj, "binaryData"))]
    }
}

pub struct SecretStrategy;

pub fn secret_columns() -> Vec<PrinterColumn> {
    vec![
        NAME,
        PrinterColumn::new("Type", "string", 0).described("", "The type of the secret"),
        PrinterColumn::new("Data", "string", 0).described("", "Number of data entries"),
        AGE,
    ]
}

impl Strategy for SecretStrategy {
    fn default(&self, obj: &mut Value) {
        if obj
            .get("type")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            obj["type"] = json!("Opaque");
        }
        fold_string_data(obj);
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if let Some(data) = obj.get("data").and_then(Value::as_object) {
            for (key, value) in data {
                let path = FieldPath::root("data").key(key);
                let decodes = value
                    .as_str()
                    .is_some_and(|v| base64::engine::general_purpose::STANDARD.decode(v).is_ok());
                if !decodes {
                    errs.push(FieldError::invalid(
                        path,
                        value.clone(),
                        "illegal base64 data",
                    ));
                }
                if let Err(e) = crate::validation::config_map_key(key) {
                    errs.push(FieldError::invalid(FieldPath::root("data"), json!(key), e));
                }
            }
        }
        errs
    }

    fn table_cells(&self, obj: &Value, _now: std::time::SystemTime) -> Vec<Value> {
        vec![
            obj.get("type").cloned().unwrap_or(json!("")),
            json!(count(obj, "data")),
        ]
    }

    fn selectable_field(&self, obj: &Value, field: &str) -> Option<String> {
        (field == "type").then(|| {
            obj.get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        })
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &["type"]
    }
}

/// Moves `stringData` into `data` (base64), as the API server does on every write: a
/// `stringData` key wins over the same key in `data`, and `stringData` is never stored.
fn fold_string_data(obj: &mut Value) {
    let Some(string_data) = obj.as_object_mut().and_then(|o| o.remove("stringData")) else {
        return;
    };
    let Some(entries) = string_data.as_object() else {
        return;
    };
    if !obj.get("data").is_some_and(Value::is_object) {
        obj["data"] = json!({});
    }
    let data = obj["data"].as_object_mut().expect("data is an object");
    for (key, value) in entries {
        let text = value.as_str().unwrap_or_default();
        data.insert(
            key.clone(),
            json!(base64::engine::general_purpose::STANDARD.encode(text)),
        );
    }
}

pub struct EventStrategy;

const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

pub fn event_columns() -> Vec<PrinterColumn> {
    let col = |name, priority| PrinterColumn::new(name, "string", priority);
    vec![
        col("Last Seen", 0),
        col("Type", 0),
        col("Reason", 0),
        col("Object", 0),
        col("Subobject", 1),
        col("Source", 1),
        col("Message", 0),
        col("First Seen", 1),
        col("Count", 1),
        PrinterColumn::new("Name", "string", 1).described("name", ""),
    ]
}

impl Strategy for EventStrategy {
    fn table_cells(&self, e: &Value, now: std::time::SystemTime) -> Vec<Value> {
        let text = |p: &str| {
            e.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let last = ["/lastTimestamp", "/series/lastObservedTime", "/eventTime"]
            .iter()
            .find_map(|p| e.pointer(p).and_then(Value::as_str));
        let first = ["/firstTimestamp", "/eventTime"]
            .iter()
            .find_map(|p| e.pointer(p).and_then(Value::as_str));
        let source = [text("/source/component"), text("/source/host")]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        vec![
            json!(crate::table::since(last, now)),
            json!(text("/type")),
            json!(text("/reason")),
            json!(format!(
                "{}/{}",
                text("/involvedObject/kind").to_lowercase(),
                text("/involvedObject/name")
            )),
            json!(text("/involvedObject/fieldPath")),
            json!(source),
            json!(text("/message").trim()),
            json!(crate::table::since(first, now)),
            json!(e
                .get("count")
                .and_then(Value::as_i64)
                .unwrap_or(1)
                .to_string()),
        ]
    }

    fn selectable_field(&self, obj: &Value, field: &str) -> Option<String> {
        let pointer = match field {
            "source" => "/source/component".to_string(),
            other => format!("/{}", other.replace('.', "/")),
        };
        Some(
            obj.pointer(&pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        )
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        EVENT_FIELDS
    }
}

/// Services: names are DNS labels; ClusterIP allocation comes with the service controller
/// work (not yet).
pub struct ServiceStrategy;

pub fn service_columns() -> Vec<PrinterColumn> {
    let col = |name, priority| PrinterColumn::new(name, "string", priority);
    vec![
        NAME,
        col("Type", 0),
        col("Cluster-IP", 0),
        col("External-IP", 0),
        col("Port(s)", 0),
        AGE,
        col("Selector", 1),
    ]
}

const SERVICE_TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

impl Strategy for ServiceStrategy {
    fn default(&self, svc: &mut Value) {
        let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) else {
            return;
        };
        let kind = spec
            .entry("type")
            .or_insert(json!("ClusterIP"))
            .as_str()
            .unwrap_or("ClusterIP")
            .to_string();
        spec.entry("sessionAffinity").or_insert(json!("None"));
        if kind != "ExternalName" {
            spec.entry("internalTrafficPolicy")
                .or_insert(json!("Cluster"));
        }
        if kind == "NodePort" || kind == "LoadBalancer" {
            spec.entry("externalTrafficPolicy")
                .or_insert(json!("Cluster"));
        }
        if kind == "LoadBalancer" {
            spec.entry("allocateLoadBalancerNodePorts")
                .or_insert(json!(true));
        }
        for port in spec
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            port.entry("protocol").or_insert(json!("TCP"));
            if let Some(p) = port.get("port").cloned() {
                port.entry("targetPort").or_insert(p);
            }
        }
    }

    /// Addresses are allocated once: an update that leaves them out keeps them.
    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else {
            return;
        };
        for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            let unset = spec
                .get(field)
                .is_none_or(|v| v.is_null() || v == "" || v.as_array().is_some_and(Vec::is_empty));
            if unset {
                if let Some(v) = old.pointer(&format!("/spec/{field}")) {
                    spec.insert(field.into(), v.clone());
                }
            }
        }
        let old_ports = old
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for port in spec
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if port.get("nodePort").and_then(Value::as_i64).unwrap_or(0) == 0 {
                let same = old_ports.iter().find(|o| {
                    o.get("port") == port.get("port") && o.get("protocol") == port.get("protocol")
                });
                if let Some(node_port) = same.and_then(|o| o.get("nodePort")) {
                    port["nodePort"] = node_port.clone();
                }
            }
        }
    }

    fn validate(&self, svc: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let spec = FieldPath::root("spec");
        let kind = svc
            .pointer("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP");
        if !SERVICE_TYPES.contains(&kind) {
            errs.push(FieldError::not_supported(
                spec.child("type"),
                json!(kind),
                SERVICE_TYPES,
            ));
        }
        let headless = svc.pointer("/spec/clusterIP").and_then(Value::as_str) == Some("None");
        let ports = svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if ports.is_empty() && kind != "ExternalName" && !headless {
            errs.push(FieldError::required(spec.child("ports"), ""));
        }
        for (i, p) in ports.iter().enumerate() {
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            if !(1..=65535).contains(&port) {
                errs.push(FieldError::invalid(
                    spec.child("ports").index(i).child("port"),
                    json!(port),
                    "must be between 1 and 65535, inclusive",
                ));
            }
        }
        if kind == "ExternalName"
            && svc
                .pointer("/spec/externalName")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            errs.push(FieldError::required(spec.child("externalName"), ""));
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errs = self.validate(new);
        let (was, is) = (
            old.pointer("/spec/clusterIP"),
            new.pointer("/spec/clusterIP"),
        );
        if was.is_some_and(|w| w != "") && was != is {
            errs.push(FieldError::invalid(
                FieldPath::root("spec").child("clusterIPs").index(0),
                is.cloned().unwrap_or(Value::Null),
                "may not change once set",
            ));
        }
        errs
    }

    fn table_cells(&self, svc: &Value, _now: std::time::SystemTime) -> Vec<Value> {
        let kind = svc
            .pointer("/spec/type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP");
        let cluster_ip = svc
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("<none>");
        let strings = |p: &str| -> Vec<String> {
            svc.pointer(p)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let external = match kind {
            "ExternalName" => svc
                .pointer("/spec/externalName")
                .and_then(Value::as_str)
                .unwrap_or("<none>")
                .to_string(),
            "LoadBalancer" => {
                let ingress: Vec<String> = svc
                    .pointer("/status/loadBalancer/ingress")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|i| {
                        i.get("ip")
                            .or_else(|| i.get("hostname"))
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .collect();
                let all: Vec<String> = ingress
                    .into_iter()
                    .chain(strings("/spec/externalIPs"))
                    .collect();
                if all.is_empty() {
                    "<pending>".into()
                } else {
                    all.join(",")
                }
            }
            _ => {
                let ips = strings("/spec/externalIPs");
                if ips.is_empty() {
                    "<none>".into()
                } else {
                    ips.join(",")
                }
            }
        };
        let ports: Vec<String> = svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| {
                let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
                let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
                match p.get("nodePort").and_then(Value::as_i64) {
                    Some(node) if node > 0 => format!("{port}:{node}/{proto}"),
                    _ => format!("{port}/{proto}"),
                }
            })
            .collect();
        let selector: Vec<String> = svc
            .pointer("/spec/selector")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect();
        vec![
            json!(kind),
            json!(cluster_ip),
            json!(external),
            json!(if ports.is_empty() {
                "<none>".to_string()
            } else {
                ports.join(",")
            }),
            json!(if selector.is_empty() {
                "<none>".to_string()
            } else {
                selector.join(",")
            }),
        ]
    }

    fn name_rule(&self) -> crate::registry::NameRule {
        crate::registry::NameRule::Label
    }

    fn has_status_subresource(&self) -> bool {
        true
    }
}

pub struct NodeStrategy;

pub fn node_columns() -> Vec<PrinterColumn> {
    let col = |name, priority| PrinterColumn::new(name, "string", priority);
    vec![
        NAME,
        col("Status", 0),
        col("Roles", 0),
        AGE,
        col("Version", 0),
        col("Internal-IP", 1),
        col("External-IP", 1),
        col("OS-Image", 1),
        col("Kernel-Version", 1),
        col("Container-Runtime", 1),
    ]
}

impl Strategy for NodeStrategy {
    fn table_cells(&self, node: &Value, _now: std::time::SystemTime) -> Vec<Value> {
        let ready = node
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Ready")
            .and_then(|c| c["status"].as_str());
        // As kube's printer: a Ready condition that is not True (False or Unknown) reads
        // NotReady; no Ready condition at all, Unknown.
        let mut status = match ready {
            Some("True") => "Ready".to_string(),
            Some(_) => "NotReady".to_string(),
            None => "Unknown".to_string(),
        };
        if node.pointer("/spec/unschedulable") == Some(&json!(true)) {
            status.push_str(",SchedulingDisabled");
        }
        let mut roles: Vec<String> = node
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| {
                k.strip_prefix("node-role.kubernetes.io/")
                    .map(str::to_string)
                    .or_else(|| {
                        (k == "kubernetes.io/role")
                            .then(|| v.as_str().unwrap_or_default().to_string())
                    })
            })
            .filter(|r| !r.is_empty())
            .collect();
        roles.sort();
        let address = |kind: &str| {
            node.pointer("/status/addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|a| a["type"] == kind)
                .and_then(|a| a["address"].as_str())
                .unwrap_or("<none>")
                .to_string()
        };
        let info = |f: &str| {
            node.pointer(&format!("/status/nodeInfo/{f}"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or("<unknown>")
                .to_string()
        };
        vec![
            json!(status),
            json!(if roles.is_empty() {
                "<none>".to_string()
            } else {
                roles.join(",")
            }),
            json!(node
                .pointer("/status/nodeInfo/kubeletVersion")
                .and_then(Value::as_str)
                .unwrap_or("")),
            json!(address("InternalIP")),
            json!(address("ExternalIP")),
            json!(info("osImage")),
            json!(info("kernelVersion")),
            json!(info("containerRuntimeVersion")),
        ]
    }

    fn has_status_subresource(&self) -> bool {
        true
    }

    /// Nodes may be created with their status (a kubelet registers that way).
    fn drops_status_on_create(&self) -> bool {
        false
    }

    fn selectable_field(&self, obj: &Value, field: &str) -> Option<String> {
        (field == "spec.unschedulable").then(|| {
            obj.pointer("/spec/unschedulable")
                .and_then(Value::as_bool)
                .unwrap_or(false)
                .to_string()
        })
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &["spec.unschedulable"]
    }
}
