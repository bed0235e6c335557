//! `metadata.managedFields`: the entries (manager, operation, apiVersion, time,
//! subresource, fieldsV1) decoded into field sets per manager and encoded back in
//! kube-apiserver's order.

use serde_json::{json, Map, Value};

use super::set::FieldSet;
use super::ManagedFieldsError;

/// `Apply` or `Update`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "Apply",
            Self::Update => "Update",
        }
    }
}

/// One manager's fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    /// RFC 3339 seconds; `None` when the entry has none.
    pub time: Option<String>,
    pub subresource: String,
    pub set: FieldSet,
}

impl Entry {
    /// Whether this entry belongs to the same manager identity: manager, operation,
    /// subresource and, for updates, apiVersion (an applier's entry follows its version).
    pub fn same_manager(&self, manager: &str, op: Operation, api_version: &str, sub: &str) -> bool {
        self.manager == manager
            && self.operation == op
            && self.subresource == sub
            && (op == Operation::Apply || self.api_version == api_version)
    }

    /// How conflict messages name the manager: `"kubectl"`, `"kubectl" with subresource
    /// "scale" using apps/v1` (updates say their apiVersion; appliers do not).
    pub fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }
}

/// The entries of an object's `metadata.managedFields`.
pub fn decode(obj: &Value) -> Result<Vec<Entry>, ManagedFieldsError> {
    let Some(list) = obj.pointer("/metadata/managedFields") else {
        return Ok(Vec::new());
    };
    let Some(list) = list.as_array() else {
        return Err(ManagedFieldsError::Entry(
            "managedFields is not a list".into(),
        ));
    };
    list.iter().map(decode_entry).collect()
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn decode_entry(v: &Value) -> Result<Entry, ManagedFieldsError> {
    let operation = match v.get("operation").and_then(Value::as_str) {
        Some("Apply") => Operation::Apply,
        Some("Update") => Operation::Update,
        other => {
            return Err(ManagedFieldsError::Entry(format!(
                "unsupported operation {other:?}"
            )))
        }
    };
    match v.get("fieldsType").and_then(Value::as_str) {
        Some("FieldsV1") => {}
        other => {
            return Err(ManagedFieldsError::Entry(format!(
                "cannot decode fieldsType {other:?}"
            )))
        }
    }
    let set = match v.get("fieldsV1") {
        Some(f) => FieldSet::from_fields_v1(f)?,
        None => FieldSet::new(),
    };
    Ok(Entry {
        manager: text(v, "manager"),
        operation,
        api_version: text(v, "apiVersion"),
        time: v.get("time").and_then(Value::as_str).map(str::to_string),
        subresource: text(v, "subresource"),
        set,
    })
}

/// Whether the list is the "reset" value: a single empty entry (`[{}]`) strips every entry,
/// as kube-apiserver documents. An empty list does not: clients unaware of managedFields
/// send none and must not wipe them.
pub fn is_reset(obj: &Value) -> bool {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|l| l.len() == 1 && l[0].as_object().is_some_and(Map::is_empty))
}

/// Writes the entries into `obj`, sorted as kube-apiserver sorts them (Apply before
/// Update, then by time, manager, apiVersion, subresource); entries owning nothing go.
pub fn encode(obj: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.set.is_empty());
    entries.sort_by(|a, b| {
        (
            a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if entries.is_empty() {
        meta.remove("managedFields");
        return;
    }
    let list: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation.as_str(),
                "apiVersion": e.api_version,
                "fieldsType": "FieldsV1",
                "fieldsV1": e.set.to_fields_v1(),
            });
            if let Some(t) = e.time {
                v["time"] = Value::String(t);
            }
            if !e.subresource.is_empty() {
                v["subresource"] = Value::String(e.subresource);
            }
            v
        })
        .collect();
    meta.insert("managedFields".into(), Value::Array(list));
}
