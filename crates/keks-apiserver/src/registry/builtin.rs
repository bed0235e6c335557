//! The built-in resources and their discovery facts (kinds, scope, short names, categories,
//! subresources) as kube-apiserver 1.3x publishes them.

use super::descriptor::{ResourceDescriptor, Scope, ALL_VERBS};
use crate::resources;

/// One row of the table below.
struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    scope: Scope,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    subresources: &'static [&'static str],
}

const N: Scope = Scope::Namespaced;
const C: Scope = Scope::Cluster;
const ALL: &[&str] = &["all"];

#[rustfmt::skip]
const BUILTINS: &[Builtin] = &[
    b("", "v1", "Namespace", "namespaces", C, &["ns"], &[], &["status", "finalize"]),
    b("", "v1", "Pod", "pods", N, &["po"], ALL, &["status", "binding", "eviction", "log", "ephemeralcontainers"]),
    b("", "v1", "Node", "nodes", C, &["no"], &[], &["status"]),
    b("", "v1", "Service", "services", N, &["svc"], ALL, &["status"]),
    b("", "v1", "Endpoints", "endpoints", N, &["ep"], &[], &[]),
    b("", "v1", "ConfigMap", "configmaps", N, &["cm"], &[], &[]),
    b("", "v1", "Secret", "secrets", N, &[], &[], &[]),
    b("", "v1", "ServiceAccount", "serviceaccounts", N, &["sa"], &[], &["token"]),
    b("", "v1", "Event", "events", N, &["ev"], &[], &[]),
    b("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", N, &["pvc"], &[], &["status"]),
    b("", "v1", "PersistentVolume", "persistentvolumes", C, &["pv"], &[], &["status"]),
    b("", "v1", "ResourceQuota", "resourcequotas", N, &["quota"], &[], &["status"]),
    b("", "v1", "LimitRange", "limitranges", N, &["limits"], &[], &[]),
    b("apps", "v1", "Deployment", "deployments", N, &["deploy"], ALL, &["scale", "status"]),
    b("apps", "v1", "ReplicaSet", "replicasets", N, &["rs"], ALL, &["scale", "status"]),
    b("apps", "v1", "StatefulSet", "statefulsets", N, &["sts"], ALL, &["scale", "status"]),
    b("apps", "v1", "DaemonSet", "daemonsets", N, &["ds"], ALL, &["status"]),
    b("apps", "v1", "ControllerRevision", "controllerrevisions", N, &[], &[], &[]),
    b("batch", "v1", "Job", "jobs", N, &[], ALL, &["status"]),
    b("batch", "v1", "CronJob", "cronjobs", N, &["cj"], ALL, &["status"]),
    b("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", N, &["pdb"], &[], &["status"]),
    b("coordination.k8s.io", "v1", "Lease", "leases", N, &[], &[], &[]),
    b("rbac.authorization.k8s.io", "v1", "Role", "roles", N, &[], &[], &[]),
    b("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", N, &[], &[], &[]),
    b("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", C, &[], &[], &[]),
    b("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", C, &[], &[], &[]),
    b("storage.k8s.io", "v1", "StorageClass", "storageclasses", C, &["sc"], &[], &[]),
    b("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", N, &["hpa"], ALL, &["status"]),
    b("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", N, &[], &[], &[]),
    b("events.k8s.io", "v1", "Event", "events", N, &["ev"], &[], &[]),
    b("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", C, &["pc"], &[], &[]),
    b("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", C, &["crd", "crds"], &["api-extensions"], &["status"]),
    b("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", C, &[], &[], &[]),
    b("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", C, &[], &[], &[]),
    b("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", C, &[], &[], &[]),
    b("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", N, &[], &[], &[]),
    b("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", C, &[], &[], &[]),
    b("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", C, &[], &[], &[]),
];

/// Groups whose resources are reviews: created and answered, never stored.
const CREATE_ONLY_GROUPS: &[&str] = &["authorization.k8s.io", "authentication.k8s.io"];

#[allow(clippy::too_many_arguments)]
const fn b(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    scope: Scope,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    subresources: &'static [&'static str],
) -> Builtin {
    Builtin {
        group,
        version,
        kind,
        plural,
        scope,
        short_names,
        categories,
        subresources,
    }
}

/// Every built-in resource's descriptor.
pub fn descriptors() -> Vec<ResourceDescriptor> {
    BUILTINS
        .iter()
        .map(|b| {
            let (strategy, printer_columns) = resources::strategy_for(b.group, b.plural);
            ResourceDescriptor {
                group: b.group.to_string(),
                version: b.version.to_string(),
                kind: b.kind.to_string(),
                plural: b.plural.to_string(),
                singular: b.kind.to_ascii_lowercase(),
                scope: b.scope,
                short_names: b.short_names.iter().map(|s| s.to_string()).collect(),
                categories: b.categories.iter().map(|s| s.to_string()).collect(),
                verbs: if CREATE_ONLY_GROUPS.contains(&b.group) {
                    vec!["create"]
                } else {
                    ALL_VERBS.to_vec()
                },
                subresources: b.subresources.iter().map(|s| s.to_string()).collect(),
                printer_columns,
                strategy,
            }
        })
        .collect()
}
