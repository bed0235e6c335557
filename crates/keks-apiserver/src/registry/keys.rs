//! Where objects live in the store: `/k8s/<cluster>/<group or core>/<resource>/<namespace>/<name>`
//! (cluster-scoped: no namespace segment). One prefix per cluster keeps clusters apart and
//! lets a list or watch of one resource be a single prefix range.

use bytes::Bytes;

use super::descriptor::ResourceDescriptor;

/// The store prefix of every object of `cluster`.
pub fn cluster_prefix(cluster: &str) -> String {
    format!("/k8s/{cluster}/")
}

/// The prefix of every object of a resource, optionally in one namespace.
pub fn resource_prefix(cluster: &str, d: &ResourceDescriptor, namespace: Option<&str>) -> Bytes {
    let group = if d.group.is_empty() {
        "core"
    } else {
        d.group.as_str()
    };
    let mut key = format!("/k8s/{cluster}/{group}/{}/", d.plural);
    if let (true, Some(ns)) = (d.namespaced(), namespace.filter(|ns| !ns.is_empty())) {
        key.push_str(ns);
        key.push('/');
    }
    Bytes::from(key)
}

/// The key of one object.
pub fn object_key(cluster: &str, d: &ResourceDescriptor, namespace: &str, name: &str) -> Bytes {
    let mut key = resource_prefix(cluster, d, Some(namespace)).to_vec();
    key.extend_from_slice(name.as_bytes());
    Bytes::from(key)
}
