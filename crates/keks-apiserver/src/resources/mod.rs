//! Strategies and table columns of the built-in resources that need rules of their own;
//! every other built-in gets the generic strategy and the default NAME/AGE table.

mod apps;
mod batch;
mod columns;
mod core_misc;
mod layered;
mod namespace;
mod pod;
mod rbac;

use std::sync::Arc;

use crate::registry::{GenericStrategy, PrinterColumn, Strategy};

fn columns_of(group: &str, plural: &str) -> Vec<PrinterColumn> {
    columns::table(group, plural)
        .map(|(c, _)| c)
        .unwrap_or_default()
}

/// The strategy and printer columns of a built-in resource.
pub fn strategy_for(group: &str, plural: &str) -> (Arc<dyn Strategy>, Vec<PrinterColumn>) {
    match (group, plural) {
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            (Arc::new(crate::crd::CrdStrategy), Vec::new())
        }
        ("", "namespaces") => (Arc::new(namespace::NamespaceStrategy), namespace::columns()),
        ("", "pods") => (Arc::new(pod::PodStrategy), pod::columns()),
        ("", "configmaps") => (
            Arc::new(core_misc::ConfigMapStrategy),
            core_misc::configmap_columns(),
        ),
        ("", "secrets") => (
            Arc::new(core_misc::SecretStrategy),
            core_misc::secret_columns(),
        ),
        ("", "events") => (
            Arc::new(core_misc::EventStrategy),
            core_misc::event_columns(),
        ),
        ("", "nodes") => (Arc::new(core_misc::NodeStrategy), core_misc::node_columns()),
        ("", "services") => (
            Arc::new(core_misc::ServiceStrategy),
            core_misc::service_columns(),
        ),
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => {
            (Arc::new(rbac::BindingStrategy), columns_of(group, plural))
        }
        ("rbac.authorization.k8s.io", _) => {
            (Arc::new(rbac::RoleStrategy), columns_of(group, plural))
        }
        (_, _) => {
            let status = matches!(
                plural,
                "deployments"
                    | "replicasets"
                    | "statefulsets"
                    | "daemonsets"
                    | "jobs"
                    | "cronjobs"
                    | "persistentvolumeclaims"
                    | "persistentvolumes"
                    | "resourcequotas"
                    | "poddisruptionbudgets"
                    | "horizontalpodautoscalers"
                    | "customresourcedefinitions"
            );
            let strategy = if status {
                GenericStrategy::SPEC_STATUS
            } else {
                GenericStrategy::PLAIN
            };
            let (inner, columns) = columns::generic(group, plural, strategy);
            let defaulted = match (group, plural) {
                ("apps", "deployments") => Some("deployments"),
                ("apps", "replicasets") => Some("replicasets"),
                ("apps", "daemonsets") => Some("daemonsets"),
                ("apps", "statefulsets") => Some("statefulsets"),
                ("", "persistentvolumeclaims") => Some("persistentvolumeclaims"),
                ("", "persistentvolumes") => Some("persistentvolumes"),
                _ => None,
            };
            match (defaulted, plural) {
                (Some(plural), _) => (
                    Arc::new(layered::Layered {
                        inner,
                        layer: apps::Defaulted { plural },
                    }),
                    columns,
                ),
                (None, "jobs" | "cronjobs") if group == "batch" => {
                    let plural = if plural == "jobs" { "jobs" } else { "cronjobs" };
                    (
                        Arc::new(layered::Layered {
                            inner,
                            layer: batch::Batch { plural },
                        }),
                        columns,
                    )
                }
                (None, _) => (inner, columns),
            }
        }
    }
}
