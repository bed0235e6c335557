//! Request attributes: what a Kubernetes API path and method ask for (verb, API group and
//! version, namespace, resource, name, subresource), resolved as kube-apiserver's
//! RequestInfoFactory does, so authorization and handlers see the same attributes it would.

/// The attributes of one request below a cluster's prefix.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RequestInfo {
    /// False for non-resource URLs (`/version`, `/healthz`, `/api`, `/apis/apps`, ...).
    pub is_resource_request: bool,
    /// The path below the cluster prefix, e.g. `/api/v1/namespaces/default/pods`.
    pub path: String,
    /// Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection;
    /// for non-resource URLs the lowercased HTTP method.
    pub verb: String,
    /// `api` or `apis`.
    pub api_prefix: String,
    /// Empty for the core group.
    pub api_group: String,
    pub api_version: String,
    pub namespace: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    /// Path segments past the subresource (proxy paths); rarely used.
    pub parts: Vec<String>,
}

/// Subresources of a namespace object itself, which stay on the `namespaces` resource.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

impl RequestInfo {
    /// Resolves `method` and `path` (without the query) with the request's query flags.
    /// `watch_param` is true when the query has `watch=true|1`.
    pub fn resolve(method: &str, path: &str, watch_param: bool) -> Self {
        let mut info = RequestInfo {
            path: path.to_string(),
            verb: method.to_ascii_lowercase(),
            ..Default::default()
        };
        let segments: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let mut parts = segments.as_slice();
        let Some((&prefix, rest)) = parts.split_first() else {
            return info;
        };
        if prefix != "api" && prefix != "apis" {
            return info;
        }
        info.api_prefix = prefix.to_string();
        parts = rest;
        if prefix == "apis" {
            let Some((&group, rest)) = parts.split_first() else {
                return info;
            };
            info.api_group = group.to_string();
            parts = rest;
        }
        let Some((&version, rest)) = parts.split_first() else {
            return info;
        };
        info.api_version = version.to_string();
        parts = rest;
        if parts.is_empty() {
            return info; // the group-version's resource list: a discovery request
        }
        info.is_resource_request = true;

        // The deprecated `/watch/` form: /api/v1/watch/namespaces/x/pods.
        let mut legacy_watch = false;
        if parts[0] == "watch" {
            legacy_watch = true;
            parts = &parts[1..];
        }
        if parts.first() == Some(&"namespaces") {
            if let Some(&ns) = parts.get(1) {
                info.namespace = ns.to_string();
                if parts.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&parts[2]) {
                    parts = &parts[2..];
                }
            }
        }
        if let Some(&resource) = parts.first() {
            info.resource = resource.to_string();
        }
        if let Some(&name) = parts.get(1) {
            info.name = name.to_string();
        }
        if let Some(&sub) = parts.get(2) {
            info.subresource = sub.to_string();
        }
        info.parts = parts.iter().skip(3).map(|s| s.to_string()).collect();
        // A namespace object itself: /api/v1/namespaces/NAME[/status].
        if info.resource == "namespaces" && info.name.is_empty() && !info.namespace.is_empty() {
            info.name = std::mem::take(&mut info.namespace);
            if let Some(&sub) = parts.get(2) {
                info.subresource = sub.to_string();
            }
        }
        if info.resource == "namespaces" {
            // A namespace is cluster-scoped; its "namespace" attribute is its own name, as
            // kube-apiserver reports it for authorization.
            info.namespace = info.name.clone();
        }

        info.verb = match method {
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "GET" | "HEAD" if legacy_watch || watch_param => "watch",
            "GET" | "HEAD" if info.name.is_empty() => "list",
            "GET" | "HEAD" => "get",
            "DELETE" if info.name.is_empty() => "deletecollection",
            "DELETE" => "delete",
            other => {
                return Self {
                    verb: other.to_ascii_lowercase(),
                    ..info
                }
            }
        }
        .to_string();
        info
    }

    /// `resource/subresource`, as RBAC rules name it.
    pub fn resource_and_subresource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(method: &str, path: &str) -> RequestInfo {
        RequestInfo::resolve(method, path, false)
    }

    #[test]
    fn namespaced_resources() {
        let i = r("GET", "/api/v1/namespaces/default/pods/web-1");
        assert!(i.is_resource_request);
        assert_eq!(
            (
                i.verb.as_str(),
                i.api_group.as_str(),
                i.api_version.as_str()
            ),
            ("get", "", "v1")
        );
        assert_eq!(
            (i.namespace.as_str(), i.resource.as_str(), i.name.as_str()),
            ("default", "pods", "web-1")
        );
        let i = r("GET", "/apis/apps/v1/namespaces/ns/deployments");
        assert_eq!(
            (i.verb.as_str(), i.api_group.as_str(), i.resource.as_str()),
            ("list", "apps", "deployments")
        );
        let i = r("PUT", "/apis/apps/v1/namespaces/ns/deployments/web/scale");
        assert_eq!(
            (i.verb.as_str(), i.subresource.as_str()),
            ("update", "scale")
        );
        let i = r("DELETE", "/api/v1/namespaces/ns/pods");
        assert_eq!(i.verb, "deletecollection");
        let i = RequestInfo::resolve("GET", "/api/v1/namespaces/ns/pods", true);
        assert_eq!(i.verb, "watch");
        let i = r("GET", "/api/v1/watch/namespaces/ns/pods/p");
        assert_eq!((i.verb.as_str(), i.name.as_str()), ("watch", "p"));
        let i = r("POST", "/api/v1/namespaces/ns/pods/p/binding");
        assert_eq!(
            (i.verb.as_str(), i.subresource.as_str()),
            ("create", "binding")
        );
    }

    #[test]
    fn cluster_scoped_and_namespaces() {
        let i = r("GET", "/api/v1/nodes");
        assert_eq!(
            (i.verb.as_str(), i.resource.as_str(), i.namespace.as_str()),
            ("list", "nodes", "")
        );
        let i = r("GET", "/api/v1/namespaces");
        assert_eq!(
            (i.verb.as_str(), i.resource.as_str(), i.name.as_str()),
            ("list", "namespaces", "")
        );
        let i = r("GET", "/api/v1/namespaces/kube-system");
        assert_eq!(
            (
                i.verb.as_str(),
                i.resource.as_str(),
                i.name.as_str(),
                i.namespace.as_str()
            ),
            ("get", "namespaces", "kube-system", "kube-system")
        );
        let i = r("PUT", "/api/v1/namespaces/x/finalize");
        assert_eq!(
            (i.resource.as_str(), i.name.as_str(), i.subresource.as_str()),
            ("namespaces", "x", "finalize")
        );
        let i = r("PUT", "/api/v1/namespaces/x/status");
        assert_eq!(
            (i.resource.as_str(), i.name.as_str(), i.subresource.as_str()),
            ("namespaces", "x", "status")
        );
    }

    #[test]
    fn non_resource_urls() {
        for path in [
            "/version",
            "/healthz",
            "/api",
            "/apis",
            "/apis/apps",
            "/apis/apps/v1",
            "/api/v1",
            "/openapi/v2",
        ] {
            let i = r("GET", path);
            assert!(!i.is_resource_request, "{path}");
            assert_eq!(i.verb, "get");
        }
    }
}
