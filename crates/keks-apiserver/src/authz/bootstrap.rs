//! The default RBAC policy every cluster starts with, as kube-apiserver's bootstrap policy:
//! `cluster-admin`, the user-facing `admin`/`edit`/`view` roles built by aggregation from
//! `system:aggregate-to-*`, the discovery and self-review roles, and their bindings.

use serde_json::{json, Value};

const BOOTSTRAP_LABELS: &str = "rbac-defaults";
const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];
const ALL: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

fn urls(paths: &[&str], verbs: &[&str]) -> Value {
    json!({"nonResourceURLs": paths, "verbs": verbs})
}

fn meta(name: &str, extra_labels: &[(&str, &str)]) -> Value {
    let mut labels = serde_json::Map::new();
    labels.insert(
        "kubernetes.io/bootstrapping".into(),
        json!(BOOTSTRAP_LABELS),
    );
    for (k, v) in extra_labels {
        labels.insert((*k).into(), json!(v));
    }
    json!({"name": name, "labels": labels, "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}})
}

fn cluster_role(name: &str, labels: &[(&str, &str)], rules: Vec<Value>) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta(name, labels), "rules": rules})
}

fn aggregated(
    name: &str,
    labels: &[(&str, &str)],
    selector_label: &str,
    rules: Vec<Value>,
) -> Value {
    let mut role = cluster_role(name, labels, rules);
    role["aggregationRule"] =
        json!({"clusterRoleSelectors": [{"matchLabels": {selector_label: "true"}}]});
    role
}

fn binding(name: &str, role: &str, groups: &[&str]) -> Value {
    let subjects: Vec<Value> = groups
        .iter()
        .map(|g| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g}))
        .collect();
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": meta(name, &[]),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    })
}

fn view_rules() -> Vec<Value> {
    vec![
        rule(
            &[""],
            &[
                "configmaps",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
            ],
            READ,
        ),
        rule(
            &[""],
            &[
                "bindings",
                "events",
                "limitranges",
                "namespaces/status",
                "pods/log",
                "pods/status",
                "replicationcontrollers/status",
                "resourcequotas",
                "resourcequotas/status",
            ],
            READ,
        ),
        rule(&[""], &["namespaces"], READ),
        rule(&["discovery.k8s.io"], &["endpointslices"], READ),
        rule(
            &["apps"],
            &[
                "controllerrevisions",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/scale",
                "deployments/status",
                "replicasets",
                "replicasets/scale",
                "replicasets/status",
                "statefulsets",
                "statefulsets/scale",
                "statefulsets/status",
            ],
            READ,
        ),
        rule(
            &["autoscaling"],
            &[
                "horizontalpodautoscalers",
                "horizontalpodautoscalers/status",
            ],
            READ,
        ),
        rule(
            &["batch"],
            &["cronjobs", "cronjobs/status", "jobs", "jobs/status"],
            READ,
        ),
        rule(
            &["policy"],
            &["poddisruptionbudgets", "poddisruptionbudgets/status"],
            READ,
        ),
        rule(
            &["networking.k8s.io"],
            &["ingresses", "ingresses/status", "networkpolicies"],
            READ,
        ),
    ]
}

fn edit_rules() -> Vec<Value> {
    vec![
        rule(
            &[""],
            &[
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
                "secrets",
                "services/proxy",
            ],
            READ,
        ),
        rule(&[""], &["serviceaccounts"], &["impersonate"]),
        rule(
            &[""],
            &[
                "pods",
                "pods/attach",
                "pods/exec",
                "pods/portforward",
                "pods/proxy",
            ],
            WRITE,
        ),
        rule(&[""], &["pods/eviction"], &["create"]),
        rule(
            &[""],
            &[
                "configmaps",
                "events",
                "persistentvolumeclaims",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "secrets",
                "serviceaccounts",
                "services",
                "services/proxy",
            ],
            WRITE,
        ),
        rule(&[""], &["serviceaccounts/token"], &["create"]),
        rule(
            &["apps"],
            &[
                "daemonsets",
                "deployments",
                "deployments/rollback",
                "deployments/scale",
                "replicasets",
                "replicasets/scale",
                "statefulsets",
                "statefulsets/scale",
            ],
            WRITE,
        ),
        rule(&["autoscaling"], &["horizontalpodautoscalers"], WRITE),
        rule(&["batch"], &["cronjobs", "jobs"], WRITE),
        rule(&["policy"], &["poddisruptionbudgets"], WRITE),
        rule(
            &["networking.k8s.io"],
            &["ingresses", "networkpolicies"],
            WRITE,
        ),
        rule(&["coordination.k8s.io"], &["leases"], ALL),
    ]
}

fn admin_rules() -> Vec<Value> {
    vec![
        rule(
            &["authorization.k8s.io"],
            &["localsubjectaccessreviews"],
            &["create"],
        ),
        rule(
            &["rbac.authorization.k8s.io"],
            &["rolebindings", "roles"],
            ALL,
        ),
    ]
}

/// `(plural, object)` of every default RBAC object, with aggregated roles' rules resolved.
pub fn objects() -> Vec<(&'static str, Value)> {
    let to_admin = ("rbac.authorization.k8s.io/aggregate-to-admin", "true");
    let to_edit = ("rbac.authorization.k8s.io/aggregate-to-edit", "true");
    let to_view = ("rbac.authorization.k8s.io/aggregate-to-view", "true");
    let view = view_rules();
    let edit: Vec<Value> = edit_rules()
        .into_iter()
        .chain(view.iter().cloned())
        .collect();
    let admin: Vec<Value> = admin_rules()
        .into_iter()
        .chain(edit.iter().cloned())
        .collect();
    vec![
        (
            "clusterroles",
            cluster_role(
                "cluster-admin",
                &[],
                vec![rule(&["*"], &["*"], &["*"]), urls(&["*"], &["*"])],
            ),
        ),
        (
            "clusterroles",
            aggregated(
                "admin",
                &[],
                "rbac.authorization.k8s.io/aggregate-to-admin",
                admin,
            ),
        ),
        (
            "clusterroles",
            aggregated(
                "edit",
                &[to_admin],
                "rbac.authorization.k8s.io/aggregate-to-edit",
                edit,
            ),
        ),
        (
            "clusterroles",
            aggregated(
                "view",
                &[to_edit],
                "rbac.authorization.k8s.io/aggregate-to-view",
                view.clone(),
            ),
        ),
        (
            "clusterroles",
            cluster_role("system:aggregate-to-admin", &[to_admin], admin_rules()),
        ),
        (
            "clusterroles",
            cluster_role("system:aggregate-to-edit", &[to_edit], edit_rules()),
        ),
        (
            "clusterroles",
            cluster_role("system:aggregate-to-view", &[to_view], view),
        ),
        (
            "clusterroles",
            cluster_role(
                "system:auth-delegator",
                &[],
                vec![
                    rule(&["authentication.k8s.io"], &["tokenreviews"], &["create"]),
                    rule(
                        &["authorization.k8s.io"],
                        &["subjectaccessreviews"],
                        &["create"],
                    ),
                ],
            ),
        ),
        (
            "clusterroles",
            cluster_role(
                "system:basic-user",
                &[],
                vec![
                    rule(
                        &["authorization.k8s.io"],
                        &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                        &["create"],
                    ),
                    rule(
                        &["authentication.k8s.io"],
                        &["selfsubjectreviews"],
                        &["create"],
                    ),
                ],
            ),
        ),
        (
            "clusterroles",
            cluster_role(
                "system:discovery",
                &[],
                vec![urls(
                    &[
                        "/api",
                        "/api/*",
                        "/apis",
                        "/apis/*",
                        "/healthz",
                        "/livez",
                        "/openapi",
                        "/openapi/*",
                        "/readyz",
                        "/version",
                        "/version/",
                    ],
                    &["get"],
                )],
            ),
        ),
        (
            "clusterroles",
            cluster_role(
                "system:public-info-viewer",
                &[],
                vec![urls(
                    &["/healthz", "/livez", "/readyz", "/version", "/version/"],
                    &["get"],
                )],
            ),
        ),
        (
            "clusterroles",
            cluster_role(
                "system:monitoring",
                &[],
                vec![urls(
                    &[
                        "/healthz",
                        "/healthz/*",
                        "/livez",
                        "/livez/*",
                        "/metrics",
                        "/metrics/slis",
                        "/readyz",
                        "/readyz/*",
                    ],
                    &["get"],
                )],
            ),
        ),
        (
            "clusterrolebindings",
            binding("cluster-admin", "cluster-admin", &["system:masters"]),
        ),
        (
            "clusterrolebindings",
            binding(
                "system:basic-user",
                "system:basic-user",
                &["system:authenticated"],
            ),
        ),
        (
            "clusterrolebindings",
            binding(
                "system:discovery",
                "system:discovery",
                &["system:authenticated"],
            ),
        ),
        (
            "clusterrolebindings",
            binding(
                "system:public-info-viewer",
                "system:public-info-viewer",
                &["system:authenticated", "system:unauthenticated"],
            ),
        ),
        (
            "clusterrolebindings",
            binding(
                "system:monitoring",
                "system:monitoring",
                &["system:monitoring"],
            ),
        ),
    ]
}
