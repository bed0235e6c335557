//! The bookkeeping of a create, update or non-apply patch: the writer's `Update` entry gains
//! the fields the write added or changed, and every other manager loses those fields and the
//! ones the write removed (kube's fieldmanager `Update` with the managedFieldsUpdater).

use serde_json::Value;

use super::entries::{self, Entry, Operation};
use super::walk::compare;
use super::{created, owned_part, zero_object, Writer};

/// Records a write of `new` over `old` (`None` for a create) in `new`'s managedFields.
/// Entries the client sent in `new` replace the stored ones (main resource only); a single
/// empty entry (`[{}]`) strips them all. Undecodable entries are dropped, as
/// kube-apiserver's `UpdateNoErrors` does.
pub(crate) fn record_update(w: &Writer<'_>, old: Option<&Value>, new: &mut Value) {
    if entries::is_reset(new) {
        entries::encode(new, Vec::new());
        return;
    }
    let sent = if w.subresource.is_empty() {
        entries::decode(new).ok().filter(|e| !e.is_empty())
    } else {
        None
    };
    if sent.is_none() && old.is_none() {
        return record_create(w, new);
    }
    let mut list = match sent {
        Some(e) => e,
        None => old
            .map(entries::decode)
            .transpose()
            .ok()
            .flatten()
            .unwrap_or_default(),
    };
    // The entries themselves are not compared: they are nobody's fields.
    let taken = new
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .and_then(|m| m.remove("managedFields"));
    drop(taken);
    let zero;
    let before = match old {
        Some(o) => o,
        None => {
            zero = zero_object(w.schema);
            &zero
        }
    };
    let c = compare(w.schema, Some(before), Some(new));
    let mut changed = c.modified;
    changed.union_with(&c.added);
    for e in &mut list {
        e.set = e.set.difference(&changed).difference(&c.removed);
    }
    let mine = owned_part(w, changed);
    if !mine.is_empty() {
        let at = list.iter().position(|e| {
            e.same_manager(w.manager, Operation::Update, &w.api_version, w.subresource)
        });
        match at {
            Some(i) => {
                list[i].set.union_with(&mine);
                list[i].time = Some(w.now.clone());
            }
            None => list.push(Entry {
                manager: w.manager.to_string(),
                operation: Operation::Update,
                api_version: w.api_version.clone(),
                time: Some(w.now.clone()),
                subresource: w.subresource.to_string(),
                set: mine,
            }),
        }
    }
    entries::encode(new, list);
}

/// A create without client-sent entries: one `Update` entry of the writer, built straight
/// as JSON (the same result as the general path, which the tests check).
fn record_create(w: &Writer<'_>, new: &mut Value) {
    if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    let zero = zero_object(w.schema);
    let fields = created::added_fields_v1(w.schema, Some(&zero), new)
        .map(|f| created::owned_json(f, w.status_split && w.subresource.is_empty()));
    let Some(fields) = fields.filter(|f| f.as_object().is_some_and(|m| !m.is_empty())) else {
        return;
    };
    let entry = serde_json::json!({
        "manager": w.manager,
        "operation": "Update",
        "apiVersion": w.api_version,
        "time": w.now,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    });
    if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("managedFields".into(), Value::Array(vec![entry]));
    }
}

/// The general path of a create, for the tests to hold the fast path to.
#[cfg(test)]
pub(super) fn record_create_slowly(w: &Writer<'_>, new: &mut Value) {
    let zero = zero_object(w.schema);
    let c = compare(w.schema, Some(&zero), Some(new));
    let mut changed = c.modified;
    changed.union_with(&c.added);
    let mine = owned_part(w, changed);
    let mut list = Vec::new();
    if !mine.is_empty() {
        list.push(Entry {
            manager: w.manager.to_string(),
            operation: Operation::Update,
            api_version: w.api_version.clone(),
            time: Some(w.now.clone()),
            subresource: w.subresource.to_string(),
            set: mine,
        });
    }
    entries::encode(new, list);
}
