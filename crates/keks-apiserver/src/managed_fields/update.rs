//! The bookkeeping of a create, update or non-apply patch: the writer's `Update` entry gains
//! the fields the write added or changed, and every other manager loses those fields and the
//! ones the write removed (kube's fieldmanager `Update` with the managedFieldsUpdater).

use serde_json::Value;

use super::entries::{self, Entry, Operation};
use super::walk::compare;
use super::{owned_part, zero_object, Writer};

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
