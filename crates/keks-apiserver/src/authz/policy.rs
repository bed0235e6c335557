//! One cluster's RBAC policy in memory (roles, cluster roles and their bindings) and the
//! decision for one request, as Kubernetes' RBAC authorizer makes it: allowed if any rule of
//! any role bound to the user (directly, through a group, or as a service account) allows
//! it; denied otherwise. ClusterRole aggregation is resolved here.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::rules::Rule;
use crate::authn::UserInfo;
use crate::request::RequestInfo;
use crate::selector::LabelSelector;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Subject {
    kind: String,
    name: String,
    namespace: String,
}

#[derive(Clone, Debug)]
struct Binding {
    name: String,
    /// `ClusterRole` or `Role`.
    role_kind: String,
    role_name: String,
    subjects: Vec<Subject>,
}

impl Binding {
    fn from_json(obj: &Value) -> Self {
        let text = |v: &Value, f: &str| {
            v.get(f)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Self {
            name: obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            role_kind: obj
                .get("roleRef")
                .map(|r| text(r, "kind"))
                .unwrap_or_default(),
            role_name: obj
                .get("roleRef")
                .map(|r| text(r, "name"))
                .unwrap_or_default(),
            subjects: obj
                .get("subjects")
                .and_then(Value::as_array)
                .map(|s| {
                    s.iter()
                        .map(|s| Subject {
                            kind: text(s, "kind"),
                            name: text(s, "name"),
                            namespace: text(s, "namespace"),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    fn applies_to(&self, user: &UserInfo) -> bool {
        self.subjects.iter().any(|s| match s.kind.as_str() {
            "User" => s.name == user.username,
            "Group" => user.in_group(&s.name),
            "ServiceAccount" => {
                user.username == format!("system:serviceaccount:{}:{}", s.namespace, s.name)
            }
            _ => false,
        })
    }
}

/// The RBAC objects of one cluster, keyed as they are stored.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    cluster_roles: BTreeMap<String, Value>,
    roles: HashMap<(String, String), Vec<Rule>>,
    cluster_role_bindings: BTreeMap<String, Binding>,
    role_bindings: HashMap<String, BTreeMap<String, Binding>>,
    /// Effective rules of every ClusterRole, aggregation resolved; rebuilt on change.
    effective: HashMap<String, Vec<Rule>>,
}

/// Which RBAC object a stored key holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Role,
    ClusterRole,
    RoleBinding,
    ClusterRoleBinding,
}

impl Kind {
    pub fn from_plural(plural: &str) -> Option<Self> {
        match plural {
            "roles" => Some(Self::Role),
            "clusterroles" => Some(Self::ClusterRole),
            "rolebindings" => Some(Self::RoleBinding),
            "clusterrolebindings" => Some(Self::ClusterRoleBinding),
            _ => None,
        }
    }
}

/// The outcome of authorization, with kube's reason text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow(String),
    Deny,
}

impl Policy {
    /// Adds or replaces an object (`None` removes it).
    pub fn apply(&mut self, kind: Kind, namespace: &str, name: &str, obj: Option<&Value>) {
        match (kind, obj) {
            (Kind::ClusterRole, Some(o)) => {
                self.cluster_roles.insert(name.to_string(), o.clone());
            }
            (Kind::ClusterRole, None) => {
                self.cluster_roles.remove(name);
            }
            (Kind::Role, Some(o)) => {
                self.roles
                    .insert((namespace.to_string(), name.to_string()), Rule::list(o));
            }
            (Kind::Role, None) => {
                self.roles
                    .remove(&(namespace.to_string(), name.to_string()));
            }
            (Kind::ClusterRoleBinding, Some(o)) => {
                self.cluster_role_bindings
                    .insert(name.to_string(), Binding::from_json(o));
            }
            (Kind::ClusterRoleBinding, None) => {
                self.cluster_role_bindings.remove(name);
            }
            (Kind::RoleBinding, Some(o)) => {
                self.role_bindings
                    .entry(namespace.to_string())
                    .or_default()
                    .insert(name.to_string(), Binding::from_json(o));
            }
            (Kind::RoleBinding, None) => {
                if let Some(ns) = self.role_bindings.get_mut(namespace) {
                    ns.remove(name);
                }
            }
        }
        if kind == Kind::ClusterRole {
            self.resolve_aggregation();
        }
    }

    /// Rules of every ClusterRole with the aggregated ones filled in.
    fn resolve_aggregation(&mut self) {
        let mut effective = HashMap::new();
        for (name, role) in &self.cluster_roles {
            let mut rules = Rule::list(role);
            if let Some(selectors) = role
                .pointer("/aggregationRule/clusterRoleSelectors")
                .and_then(Value::as_array)
            {
                let selectors: Vec<LabelSelector> = selectors
                    .iter()
                    .filter_map(|s| LabelSelector::from_object(s).ok())
                    .collect();
                for (other_name, other) in &self.cluster_roles {
                    if other_name != name
                        && selectors
                            .iter()
                            .any(|s| s.matches(other.pointer("/metadata/labels")))
                    {
                        for rule in Rule::list(other) {
                            if !rules.contains(&rule) {
                                rules.push(rule);
                            }
                        }
                    }
                }
            }
            effective.insert(name.clone(), rules);
        }
        self.effective = effective;
    }

    /// The effective rules of a ClusterRole (aggregation resolved), for writing them back
    /// into aggregated roles.
    pub fn cluster_role_rules(&self, name: &str) -> Option<&[Rule]> {
        self.effective.get(name).map(Vec::as_slice)
    }

    /// Names of the ClusterRoles that aggregate others.
    pub fn aggregated_cluster_roles(&self) -> Vec<String> {
        self.cluster_roles
            .iter()
            .filter(|(_, r)| r.get("aggregationRule").is_some())
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Every rule that applies to `user` in `namespace` (cluster-wide bindings, and the
    /// namespace's bindings when one is given), for SelfSubjectRulesReview.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> Vec<Rule> {
        let mut rules = Vec::new();
        for binding in self
            .cluster_role_bindings
            .values()
            .filter(|b| b.applies_to(user))
        {
            if binding.role_kind == "ClusterRole" {
                rules.extend(
                    self.effective
                        .get(&binding.role_name)
                        .cloned()
                        .unwrap_or_default(),
                );
            }
        }
        if !namespace.is_empty() {
            if let Some(bindings) = self.role_bindings.get(namespace) {
                for binding in bindings.values().filter(|b| b.applies_to(user)) {
                    let found = match binding.role_kind.as_str() {
                        "ClusterRole" => self.effective.get(&binding.role_name),
                        _ => self
                            .roles
                            .get(&(namespace.to_string(), binding.role_name.clone())),
                    };
                    rules.extend(found.cloned().unwrap_or_default());
                }
            }
        }
        rules
    }

    pub fn decide(&self, user: &UserInfo, info: &RequestInfo) -> Decision {
        for binding in self
            .cluster_role_bindings
            .values()
            .filter(|b| b.applies_to(user))
        {
            if binding.role_kind == "ClusterRole"
                && self
                    .effective
                    .get(&binding.role_name)
                    .is_some_and(|rules| rules.iter().any(|r| r.allows(info)))
            {
                return Decision::Allow(format!("RBAC: allowed by ClusterRoleBinding \"{}\" of ClusterRole \"{}\" to User \"{}\"", binding.name, binding.role_name, user.username));
            }
        }
        if info.is_resource_request && !info.namespace.is_empty() {
            if let Some(bindings) = self.role_bindings.get(&info.namespace) {
                for binding in bindings.values().filter(|b| b.applies_to(user)) {
                    let rules = match binding.role_kind.as_str() {
                        "ClusterRole" => self.effective.get(&binding.role_name),
                        _ => self
                            .roles
                            .get(&(info.namespace.clone(), binding.role_name.clone())),
                    };
                    if rules.is_some_and(|rules| rules.iter().any(|r| r.allows(info))) {
                        return Decision::Allow(format!(
                            "RBAC: allowed by RoleBinding \"{}/{}\" of {} \"{}\" to User \"{}\"",
                            binding.name,
                            info.namespace,
                            binding.role_kind,
                            binding.role_name,
                            user.username
                        ));
                    }
                }
            }
        }
        Decision::Deny
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            username: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        }
    }

    fn get(ns: &str, resource: &str) -> RequestInfo {
        RequestInfo {
            is_resource_request: true,
            verb: "get".into(),
            namespace: ns.into(),
            resource: resource.into(),
            name: "x".into(),
            ..Default::default()
        }
    }

    #[test]
    fn bindings_and_aggregation() {
        let mut p = Policy::default();
        p.apply(Kind::ClusterRole, "", "view", Some(&json!({"metadata": {"name": "view"}, "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "view"}}]}})));
        p.apply(Kind::ClusterRole, "", "pods-reader", Some(&json!({"metadata": {"name": "pods-reader", "labels": {"agg": "view"}}, "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]})));
        p.apply(Kind::RoleBinding, "team", "b", Some(&json!({"roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": [{"kind": "Group", "name": "devs"}]})));
        assert!(matches!(
            p.decide(&user("ann", &["devs"]), &get("team", "pods")),
            Decision::Allow(_)
        ));
        assert_eq!(
            p.decide(&user("ann", &["devs"]), &get("other", "pods")),
            Decision::Deny
        );
        assert_eq!(
            p.decide(&user("bob", &[]), &get("team", "pods")),
            Decision::Deny
        );
        assert_eq!(
            p.decide(&user("ann", &["devs"]), &get("team", "secrets")),
            Decision::Deny
        );
        p.apply(Kind::Role, "team", "secrets", Some(&json!({"rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}]})));
        p.apply(Kind::RoleBinding, "team", "s", Some(&json!({"roleRef": {"kind": "Role", "name": "secrets"}, "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "team"}]})));
        assert!(matches!(
            p.decide(
                &user("system:serviceaccount:team:robot", &[]),
                &get("team", "secrets")
            ),
            Decision::Allow(_)
        ));
        p.apply(Kind::ClusterRole, "", "pods-reader", None);
        assert_eq!(
            p.decide(&user("ann", &["devs"]), &get("team", "pods")),
            Decision::Deny
        );
    }
}
