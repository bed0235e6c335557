//! RBAC rule matching, as Kubernetes' `rbac/validation` does: verbs, API groups, resources
//! (with `resource/subresource` and `*/subresource`), resource names, non-resource URLs.

use serde_json::Value;

use crate::request::RequestInfo;

/// One `PolicyRule`, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

fn strings(v: &Value, field: &str) -> Vec<String> {
    v.get(field)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Rule {
    pub fn from_json(v: &Value) -> Self {
        Self {
            verbs: strings(v, "verbs"),
            api_groups: strings(v, "apiGroups"),
            resources: strings(v, "resources"),
            resource_names: strings(v, "resourceNames"),
            non_resource_urls: strings(v, "nonResourceURLs"),
        }
    }

    /// Parses a role's `rules`.
    pub fn list(role: &Value) -> Vec<Rule> {
        role.get("rules")
            .and_then(Value::as_array)
            .map(|r| r.iter().map(Rule::from_json).collect())
            .unwrap_or_default()
    }

    /// Whether this rule allows the request.
    pub fn allows(&self, info: &RequestInfo) -> bool {
        if !self.verbs.iter().any(|v| v == "*" || *v == info.verb) {
            return false;
        }
        if !info.is_resource_request {
            return self
                .non_resource_urls
                .iter()
                .any(|u| url_matches(u, &info.path));
        }
        self.api_groups
            .iter()
            .any(|g| g == "*" || *g == info.api_group)
            && self.resources_match(info)
            && (self.resource_names.is_empty()
                || (!info.name.is_empty() && self.resource_names.contains(&info.name)))
    }

    fn resources_match(&self, info: &RequestInfo) -> bool {
        let combined = info.resource_and_subresource();
        self.resources.iter().any(|r| {
            r == "*"
                || *r == combined
                || (info.subresource.is_empty() && *r == info.resource)
                || (!info.subresource.is_empty()
                    && r.strip_prefix("*/") == Some(info.subresource.as_str()))
        })
    }
}

fn url_matches(rule: &str, path: &str) -> bool {
    match rule.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => rule == path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> RequestInfo {
        RequestInfo {
            is_resource_request: true,
            verb: verb.into(),
            api_group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn matching() {
        let r = Rule::from_json(
            &json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"]}),
        );
        assert!(r.allows(&req("get", "", "pods", "", "p")));
        assert!(r.allows(&req("get", "", "pods", "log", "p")));
        assert!(!r.allows(&req("get", "", "pods", "status", "p")));
        assert!(!r.allows(&req("delete", "", "pods", "", "p")));
        assert!(!r.allows(&req("get", "apps", "pods", "", "p")));
        let named = Rule::from_json(
            &json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["configmaps"], "resourceNames": ["one"]}),
        );
        assert!(named.allows(&req("update", "", "configmaps", "", "one")));
        assert!(!named.allows(&req("list", "", "configmaps", "", "")));
        let scale = Rule::from_json(
            &json!({"verbs": ["update"], "apiGroups": ["apps"], "resources": ["*/scale"]}),
        );
        assert!(scale.allows(&req("update", "apps", "deployments", "scale", "d")));
        let urls =
            Rule::from_json(&json!({"verbs": ["get"], "nonResourceURLs": ["/healthz", "/api/*"]}));
        let mut info = RequestInfo {
            verb: "get".into(),
            path: "/api/v1".into(),
            ..Default::default()
        };
        assert!(urls.allows(&info));
        info.path = "/version".into();
        assert!(!urls.allows(&info));
    }
}
