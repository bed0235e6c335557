//! Table columns and cells of the built-in resources whose strategy is otherwise generic,
//! as kube-apiserver's printers define them (`kubectl get` shows exactly these).

use std::time::SystemTime;

use serde_json::{json, Value};

use crate::registry::{GenericStrategy, PrinterColumn, Strategy};
use crate::table::{since, AGE, NAME};

/// Cells of one row (without Name and Age).
pub type Cells = fn(&Value, SystemTime) -> Vec<Value>;

/// A generic strategy with a table of its own.
pub struct Tabled {
    pub inner: GenericStrategy,
    pub cells: Cells,
}

impl Strategy for Tabled {
    fn has_status_subresource(&self) -> bool {
        self.inner.has_status_subresource()
    }

    fn tracks_generation(&self) -> bool {
        self.inner.tracks_generation()
    }

    fn table_cells(&self, obj: &Value, now: SystemTime) -> Vec<Value> {
        (self.cells)(obj, now)
    }
}

const fn col(name: &'static str, priority: i32) -> PrinterColumn {
    PrinterColumn::new(name, "string", priority)
}

const fn int(name: &'static str, priority: i32) -> PrinterColumn {
    PrinterColumn::new(name, "integer", priority)
}

fn text(obj: &Value, pointer: &str) -> String {
    obj.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("<none>")
        .to_string()
}

fn num(obj: &Value, pointer: &str) -> i64 {
    obj.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn containers(obj: &Value, pointer: &str) -> (String, String) {
    let list = obj
        .pointer(pointer)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = list
        .iter()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    let images: Vec<&str> = list
        .iter()
        .filter_map(|c| c.get("image").and_then(Value::as_str))
        .collect();
    (names.join(","), images.join(","))
}

/// A `metav1.LabelSelector` as kubectl prints it: `app=web,tier in (a,b)`.
fn selector(obj: &Value, pointer: &str) -> String {
    let Some(sel) = obj.pointer(pointer) else {
        return "<none>".into();
    };
    let mut parts: Vec<String> = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        parts.push(
            match e
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or_default()
            {
                "In" => format!("{key} in ({})", values.join(",")),
                "NotIn" => format!("{key} notin ({})", values.join(",")),
                "Exists" => key.to_string(),
                "DoesNotExist" => format!("!{key}"),
                other => format!("{key} {other}"),
            },
        );
    }
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

fn map_selector(obj: &Value, pointer: &str) -> String {
    let parts: Vec<String> = obj
        .pointer(pointer)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

/// The columns and cells of a resource, if it has a table of its own here.
pub fn table(group: &str, plural: &str) -> Option<(Vec<PrinterColumn>, Cells)> {
    let t: (Vec<PrinterColumn>, Cells) = match (group, plural) {
        ("apps", "deployments") => (
            vec![
                NAME,
                col("Ready", 0),
                int("Up-to-date", 0),
                int("Available", 0),
                AGE,
                col("Containers", 1),
                col("Images", 1),
                col("Selector", 1),
            ],
            |d, _| {
                let (names, images) = containers(d, "/spec/template/spec/containers");
                vec![
                    json!(format!(
                        "{}/{}",
                        num(d, "/status/readyReplicas"),
                        d.pointer("/spec/replicas")
                            .and_then(Value::as_i64)
                            .unwrap_or(1)
                    )),
                    json!(num(d, "/status/updatedReplicas")),
                    json!(num(d, "/status/availableReplicas")),
                    json!(names),
                    json!(images),
                    json!(selector(d, "/spec/selector")),
                ]
            },
        ),
        ("apps", "replicasets") => (
            vec![
                NAME,
                int("Desired", 0),
                int("Current", 0),
                int("Ready", 0),
                AGE,
                col("Containers", 1),
                col("Images", 1),
                col("Selector", 1),
            ],
            |rs, _| {
                let (names, images) = containers(rs, "/spec/template/spec/containers");
                vec![
                    json!(rs
                        .pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)),
                    json!(num(rs, "/status/replicas")),
                    json!(num(rs, "/status/readyReplicas")),
                    json!(names),
                    json!(images),
                    json!(selector(rs, "/spec/selector")),
                ]
            },
        ),
        ("apps", "statefulsets") => (
            vec![
                NAME,
                col("Ready", 0),
                AGE,
                col("Containers", 1),
                col("Images", 1),
            ],
            |s, _| {
                let (names, images) = containers(s, "/spec/template/spec/containers");
                vec![
                    json!(format!(
                        "{}/{}",
                        num(s, "/status/readyReplicas"),
                        s.pointer("/spec/replicas")
                            .and_then(Value::as_i64)
                            .unwrap_or(1)
                    )),
                    json!(names),
                    json!(images),
                ]
            },
        ),
        ("apps", "daemonsets") => (
            vec![
                NAME,
                int("Desired", 0),
                int("Current", 0),
                int("Ready", 0),
                int("Up-to-date", 0),
                int("Available", 0),
                col("Node Selector", 0),
                AGE,
                col("Containers", 1),
                col("Images", 1),
                col("Selector", 1),
            ],
            |ds, _| {
                let (names, images) = containers(ds, "/spec/template/spec/containers");
                vec![
                    json!(num(ds, "/status/desiredNumberScheduled")),
                    json!(num(ds, "/status/currentNumberScheduled")),
                    json!(num(ds, "/status/numberReady")),
                    json!(num(ds, "/status/updatedNumberScheduled")),
                    json!(num(ds, "/status/numberAvailable")),
                    json!(map_selector(ds, "/spec/template/spec/nodeSelector")),
                    json!(names),
                    json!(images),
                    json!(selector(ds, "/spec/selector")),
                ]
            },
        ),
        ("batch", "jobs") => (
            vec![
                NAME,
                col("Status", 0),
                col("Completions", 0),
                col("Duration", 0),
                AGE,
                col("Containers", 1),
                col("Images", 1),
                col("Selector", 1),
            ],
            |job, now| {
                let (names, images) = containers(job, "/spec/template/spec/containers");
                let condition = |t: &str| {
                    job.pointer("/status/conditions")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .any(|c| c["type"] == t && c["status"] == "True")
                };
                let status = if condition("Complete") {
                    "Complete"
                } else if condition("Failed") {
                    "Failed"
                } else if job
                    .pointer("/metadata/deletionTimestamp")
                    .is_some_and(|t| !t.is_null())
                {
                    "Terminating"
                } else if condition("Suspended") {
                    "Suspended"
                } else if condition("FailureTarget") {
                    "FailureTarget"
                } else if condition("SuccessCriteriaMet") {
                    "SuccessCriteriaMet"
                } else {
                    "Running"
                };
                let completions = job
                    .pointer("/spec/completions")
                    .and_then(Value::as_i64)
                    .map_or_else(
                        || {
                            format!(
                                "{}/1 of {}",
                                num(job, "/status/succeeded"),
                                job.pointer("/spec/parallelism")
                                    .and_then(Value::as_i64)
                                    .unwrap_or(1)
                            )
                        },
                        |c| format!("{}/{c}", num(job, "/status/succeeded")),
                    );
                let duration = match (
                    job.pointer("/status/startTime").and_then(Value::as_str),
                    job.pointer("/status/completionTime")
                        .and_then(Value::as_str),
                ) {
                    (Some(start), Some(end)) => match (
                        crate::rest::meta::parse(start),
                        crate::rest::meta::parse(end),
                    ) {
                        (Some(s), Some(e)) => {
                            crate::table::human_duration(e.duration_since(s).unwrap_or_default())
                        }
                        _ => String::new(),
                    },
                    (Some(start), None) => since(Some(start), now),
                    _ => String::new(),
                };
                vec![
                    json!(status),
                    json!(completions),
                    json!(duration),
                    json!(names),
                    json!(images),
                    json!(selector(job, "/spec/selector")),
                ]
            },
        ),
        ("batch", "cronjobs") => (
            vec![
                NAME,
                col("Schedule", 0),
                col("Timezone", 0),
                col("Suspend", 0),
                int("Active", 0),
                col("Last Schedule", 0),
                AGE,
                col("Containers", 1),
                col("Images", 1),
                col("Selector", 1),
            ],
            |cj, now| {
                let (names, images) =
                    containers(cj, "/spec/jobTemplate/spec/template/spec/containers");
                let last = cj
                    .pointer("/status/lastScheduleTime")
                    .and_then(Value::as_str)
                    .map_or("<none>".to_string(), |t| since(Some(t), now));
                vec![
                    json!(text(cj, "/spec/schedule")),
                    json!(text(cj, "/spec/timeZone")),
                    json!(if cj.pointer("/spec/suspend") == Some(&json!(true)) {
                        "True"
                    } else {
                        "False"
                    }),
                    json!(cj
                        .pointer("/status/active")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len)),
                    json!(last),
                    json!(names),
                    json!(images),
                    json!(selector(cj, "/spec/jobTemplate/spec/selector")),
                ]
            },
        ),
        ("", "serviceaccounts") => (vec![NAME, int("Secrets", 0), AGE], |sa, _| {
            vec![json!(sa
                .get("secrets")
                .and_then(Value::as_array)
                .map_or(0, Vec::len))]
        }),
        ("", "endpoints") => (vec![NAME, col("Endpoints", 0), AGE], |ep, _| {
            let mut out = Vec::new();
            for subset in ep
                .get("subsets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let ports: Vec<i64> = subset
                    .get("ports")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.get("port").and_then(Value::as_i64))
                    .collect();
                for a in subset
                    .get("addresses")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let ip = a.get("ip").and_then(Value::as_str).unwrap_or_default();
                    if ports.is_empty() {
                        out.push(ip.to_string())
                    } else {
                        out.extend(ports.iter().map(|p| format!("{ip}:{p}")))
                    }
                }
            }
            let shown = if out.len() > 3 {
                format!("{} + {} more...", out[..3].join(","), out.len() - 3)
            } else if out.is_empty() {
                "<none>".into()
            } else {
                out.join(",")
            };
            vec![json!(shown)]
        }),
        ("coordination.k8s.io", "leases") => (vec![NAME, col("Holder", 0), AGE], |l, _| {
            vec![json!(l
                .pointer("/spec/holderIdentity")
                .and_then(Value::as_str)
                .unwrap_or(""))]
        }),
        ("rbac.authorization.k8s.io", "roles" | "clusterroles")
        | ("apiextensions.k8s.io", "customresourcedefinitions")
        | ("", "limitranges") => (
            vec![NAME, PrinterColumn::new("Created At", "date", 0)],
            |r, _| {
                vec![json!(r
                    .pointer("/metadata/creationTimestamp")
                    .and_then(Value::as_str)
                    .unwrap_or(""))]
            },
        ),
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => (
            vec![
                NAME,
                col("Role", 0),
                AGE,
                col("Users", 1),
                col("Groups", 1),
                col("ServiceAccounts", 1),
            ],
            |b, _| {
                let subjects = |kind: &str| -> String {
                    b.get("subjects")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter(|s| s["kind"] == kind)
                        .map(|s| match s.get("namespace").and_then(Value::as_str) {
                            Some(ns) if kind == "ServiceAccount" => {
                                format!("{ns}/{}", s["name"].as_str().unwrap_or_default())
                            }
                            _ => s["name"].as_str().unwrap_or_default().to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                vec![
                    json!(format!(
                        "{}/{}",
                        text(b, "/roleRef/kind"),
                        text(b, "/roleRef/name")
                    )),
                    json!(subjects("User")),
                    json!(subjects("Group")),
                    json!(subjects("ServiceAccount")),
                ]
            },
        ),
        ("policy", "poddisruptionbudgets") => (
            vec![
                NAME,
                col("Min Available", 0),
                col("Max Unavailable", 0),
                int("Allowed Disruptions", 0),
                AGE,
            ],
            |p, _| {
                let value = |ptr: &str| {
                    p.pointer(ptr).map_or("N/A".to_string(), |v| {
                        v.as_str().map_or(v.to_string(), str::to_string)
                    })
                };
                vec![
                    json!(value("/spec/minAvailable")),
                    json!(value("/spec/maxUnavailable")),
                    json!(num(p, "/status/disruptionsAllowed")),
                ]
            },
        ),
        ("scheduling.k8s.io", "priorityclasses") => (
            vec![
                NAME,
                int("Value", 0),
                PrinterColumn::new("Global-Default", "boolean", 0),
                AGE,
                col("PreemptionPolicy", 1),
            ],
            |pc, _| {
                vec![
                    json!(num(pc, "/value")),
                    json!(pc
                        .get("globalDefault")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)),
                    json!(pc
                        .get("preemptionPolicy")
                        .and_then(Value::as_str)
                        .unwrap_or("PreemptLowerPriority")),
                ]
            },
        ),
        ("storage.k8s.io", "storageclasses") => (
            vec![
                NAME,
                col("Provisioner", 0),
                col("ReclaimPolicy", 0),
                col("VolumeBindingMode", 0),
                PrinterColumn::new("AllowVolumeExpansion", "boolean", 0),
                AGE,
            ],
            |sc, _| {
                let mut name = text(sc, "/provisioner");
                let _ = &mut name;
                vec![
                    json!(name),
                    json!(sc
                        .get("reclaimPolicy")
                        .and_then(Value::as_str)
                        .unwrap_or("Delete")),
                    json!(sc
                        .get("volumeBindingMode")
                        .and_then(Value::as_str)
                        .unwrap_or("Immediate")),
                    json!(sc
                        .get("allowVolumeExpansion")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)),
                ]
            },
        ),
        ("autoscaling", "horizontalpodautoscalers") => (
            vec![
                NAME,
                col("Reference", 0),
                col("Targets", 0),
                int("MinPods", 0),
                int("MaxPods", 0),
                int("Replicas", 0),
                AGE,
            ],
            |h, _| {
                vec![
                    json!(format!(
                        "{}/{}",
                        text(h, "/spec/scaleTargetRef/kind"),
                        text(h, "/spec/scaleTargetRef/name")
                    )),
                    json!("<unknown>"),
                    json!(h
                        .pointer("/spec/minReplicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)),
                    json!(num(h, "/spec/maxReplicas")),
                    json!(num(h, "/status/currentReplicas")),
                ]
            },
        ),
        ("apps", "controllerrevisions") => (
            vec![NAME, col("Controller", 0), int("Revision", 0), AGE],
            |cr, _| {
                let owner = cr
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .and_then(|o| o.iter().find(|o| o["controller"] == true))
                    .map_or("<none>".to_string(), |o| {
                        format!(
                            "{}/{}",
                            o["kind"].as_str().unwrap_or_default().to_lowercase(),
                            o["name"].as_str().unwrap_or_default()
                        )
                    });
                vec![json!(owner), json!(num(cr, "/revision"))]
            },
        ),
        _ => return None,
    };
    Some(t)
}

/// The generic strategy of a resource, with its table when it has one.
pub fn generic(
    group: &str,
    plural: &str,
    inner: GenericStrategy,
) -> (std::sync::Arc<dyn Strategy>, Vec<PrinterColumn>) {
    match table(group, plural) {
        Some((columns, cells)) => (std::sync::Arc::new(Tabled { inner, cells }), columns),
        None => (std::sync::Arc::new(inner), Vec::new()),
    }
}
