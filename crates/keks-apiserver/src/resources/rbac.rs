//! RBAC objects: names are path segments (`system:node`), a binding's `roleRef` is required
//! and cannot change, rules need verbs.

use serde_json::{json, Value};

use crate::field::{FieldError, FieldPath};
use crate::registry::{NameRule, Strategy};

pub struct RoleStrategy;

impl Strategy for RoleStrategy {
    fn table_cells(&self, role: &Value, now: std::time::SystemTime) -> Vec<Value> {
        super::columns::table("rbac.authorization.k8s.io", "roles")
            .map(|(_, cells)| cells(role, now))
            .unwrap_or_default()
    }

    fn name_rule(&self) -> NameRule {
        NameRule::PathSegment
    }

    fn validate(&self, role: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        for (i, rule) in role
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let path = FieldPath::root("rules").index(i);
            if rule
                .get("verbs")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
            {
                errs.push(FieldError::required(
                    path.child("verbs"),
                    "verbs must contain at least one value",
                ));
            }
            let has_urls = rule
                .get("nonResourceURLs")
                .and_then(Value::as_array)
                .is_some_and(|u| !u.is_empty());
            let has_resources = rule
                .get("resources")
                .and_then(Value::as_array)
                .is_some_and(|r| !r.is_empty());
            if has_urls && has_resources {
                errs.push(FieldError::invalid(
                    path.child("nonResourceURLs"),
                    json!(rule["nonResourceURLs"]),
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
        }
        errs
    }
}

pub struct BindingStrategy;

impl Strategy for BindingStrategy {
    fn table_cells(&self, binding: &Value, now: std::time::SystemTime) -> Vec<Value> {
        super::columns::table("rbac.authorization.k8s.io", "rolebindings")
            .map(|(_, cells)| cells(binding, now))
            .unwrap_or_default()
    }

    fn name_rule(&self) -> NameRule {
        NameRule::PathSegment
    }

    fn validate(&self, binding: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let role_ref = FieldPath::root("roleRef");
        let kind = binding
            .pointer("/roleRef/kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !matches!(kind, "Role" | "ClusterRole") {
            errs.push(FieldError::not_supported(
                role_ref.child("kind"),
                json!(kind),
                &["ClusterRole", "Role"],
            ));
        }
        if binding
            .pointer("/roleRef/name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            errs.push(FieldError::required(role_ref.child("name"), ""));
        }
        if binding.get("kind").and_then(Value::as_str) == Some("ClusterRoleBinding")
            && kind == "Role"
        {
            errs.push(FieldError::not_supported(
                role_ref.child("kind"),
                json!(kind),
                &["ClusterRole"],
            ));
        }
        for (i, subject) in binding
            .get("subjects")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let path = FieldPath::root("subjects").index(i);
            let kind = subject
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !matches!(kind, "User" | "Group" | "ServiceAccount") {
                errs.push(FieldError::not_supported(
                    path.child("kind"),
                    json!(kind),
                    &["ServiceAccount", "User", "Group"],
                ));
            }
            if subject
                .get("name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                errs.push(FieldError::required(path.child("name"), ""));
            }
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errs = self.validate(new);
        if new.get("roleRef") != old.get("roleRef") {
            errs.push(FieldError::invalid(
                FieldPath::root("roleRef"),
                new.get("roleRef").cloned().unwrap_or(Value::Null),
                "cannot change roleRef",
            ));
        }
        errs
    }
}
