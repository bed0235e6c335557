//! managedFields and server-side apply, as kube-apiserver's fieldmanager and
//! structured-merge-diff do them: every write records which manager owns which fields
//! (`metadata.managedFields`, `FieldsV1` sets), and an apply merges a manager's
//! configuration into the object, removes what it no longer applies, and refuses to change
//! fields other managers own unless forced.

mod apply;
mod created;
mod entries;
mod path;
mod schema;
mod set;
#[cfg(test)]
mod tests;
mod update;
mod walk;

use serde_json::{json, Value};

pub(crate) use apply::apply;
pub use apply::Conflict;
pub use entries::{Entry, Operation};
pub use path::PathElement;
pub(crate) use schema::Schema;
pub use set::FieldSet;
pub(crate) use update::record_update;

/// Why managed fields could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ManagedFieldsError {
    #[error("invalid FieldsV1: {0}")]
    FieldsV1(String),
    #[error("invalid managedFields entry: {0}")]
    Entry(String),
    #[error("{0}")]
    Schema(String),
}

/// The annotation client-side `kubectl apply` keeps its last configuration in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Who writes and through what: the frame of one write's bookkeeping.
#[derive(Clone, Debug)]
pub(crate) struct Writer<'a> {
    /// The field manager (`fieldManager`, else the User-Agent's prefix).
    pub manager: &'a str,
    /// The object's `group/version`.
    pub api_version: String,
    /// "" for the main resource, else `status`, `scale`, ...
    pub subresource: &'a str,
    /// RFC 3339 seconds, from the clock.
    pub now: String,
    pub schema: Schema<'a>,
    /// The kind has a status subresource: writes to the main resource own no status.
    pub status_split: bool,
}

/// The manager kube-apiserver records for a write: the `fieldManager` parameter, else the
/// User-Agent up to its first `/`, printable characters only, at most 128 bytes.
pub fn manager_or_user_agent(field_manager: Option<&str>, user_agent: &str) -> String {
    if let Some(m) = field_manager.filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    let mut out = String::new();
    for c in user_agent.split('/').next().unwrap_or_default().chars() {
        if c.is_control() {
            continue;
        }
        if out.len() >= 128 {
            break;
        }
        out.push(c);
    }
    out
}

/// Fields no manager owns: the type, the object's identity and the server's bookkeeping
/// (kube's stripMetaManager), status on main-resource writes of kinds with a status
/// subresource and everything but status through `status` (the strategies' reset fields).
fn owned_part(w: &Writer<'_>, mut set: FieldSet) -> FieldSet {
    for f in ["apiVersion", "kind", "metadata"] {
        set.members.remove(&PathElement::Field(f.into()));
    }
    let meta = PathElement::Field("metadata".into());
    if let Some(m) = set.children.get_mut(&meta) {
        for f in [
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        ] {
            let pe = PathElement::Field(f.into());
            m.members.remove(&pe);
            m.children.remove(&pe);
        }
        if m.is_empty() {
            set.children.remove(&meta);
        }
    }
    let status = PathElement::Field("status".into());
    match w.subresource {
        "" if w.status_split => {
            set.members.remove(&status);
            set.children.remove(&status);
        }
        "status" => {
            set.members.retain(|pe| *pe == status);
            set.children.retain(|pe, _| *pe == status);
        }
        _ => {}
    }
    set
}

/// What kube-apiserver compares a created object against: the kind's empty Go object, whose
/// non-pointer struct fields (`spec`, `status`, a pod template's `metadata` and `spec`, a
/// Deployment's `strategy`) are present, so creating them records no `.` for them. Custom
/// resources start from nothing.
fn zero_object(schema: Schema<'_>) -> Value {
    fn zero(schema: Schema<'_>, names: &[&str], depth: usize) -> Value {
        let mut out = serde_json::Map::new();
        if depth > 4 {
            return Value::Object(out);
        }
        for name in names {
            if !schema.declares(name) {
                continue;
            }
            let child = schema.child(name);
            if child.object_type() == schema::ObjectType::Atomic {
                continue;
            }
            let inner: &[&str] = match *name {
                "spec" => &["template", "strategy", "updateStrategy", "jobTemplate"],
                "template" | "jobTemplate" => &["metadata", "spec"],
                _ => &[],
            };
            out.insert(name.to_string(), zero(child, inner, depth + 1));
        }
        // A pod spec's `containers` has no omitempty: the empty object holds a null.
        if schema.declares("containers") && schema.declares("volumes") {
            out.insert("containers".into(), Value::Null);
        }
        Value::Object(out)
    }
    match schema {
        Schema::Builtin { .. } => zero(schema, &["spec", "status"], 0),
        _ => json!({}),
    }
}

/// The frame of a write to a resource of `d` by `manager` at `now`.
pub(crate) fn writer<'a>(
    d: &'a crate::registry::ResourceDescriptor,
    manager: &'a str,
    subresource: &'a str,
    now: std::time::SystemTime,
) -> Writer<'a> {
    Writer {
        manager,
        api_version: d.api_version(),
        subresource,
        now: crate::rest::meta::timestamp(now),
        schema: Schema::of_kind(
            &d.group,
            &d.version,
            &d.kind,
            d.strategy.structural_schema(),
        ),
        status_split: d.strategy.has_status_subresource(),
    }
}
