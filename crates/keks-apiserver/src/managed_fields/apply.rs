//! Server-side apply of one manager's configuration (structured-merge-diff's
//! `Updater.Apply` under kube-apiserver's fieldmanager): merge into the live object, prune
//! what the manager applied last time and no longer applies (unless another manager owns
//! it), refuse changes to fields other managers own unless forced, and take over from
//! client-side `kubectl apply` through its last-applied annotation.

use serde_json::Value;

use super::entries::{self, Entry, Operation};
use super::path::Path;
use super::set::FieldSet;
use super::walk::{compare, ensure_named_fields_are_members, merge, remove_items, to_field_set};
use super::{owned_part, zero_object, ManagedFieldsError, Writer, LAST_APPLIED};

/// Why an apply failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Conflict {
    /// Other managers own fields the apply changes: (manager description, path) pairs and
    /// kube-apiserver's message.
    Fields {
        message: String,
        causes: Vec<(String, String)>,
    },
    /// The configuration cannot be merged (its lists' keys, ...).
    Invalid(ManagedFieldsError),
}

/// The object `live` (`None`: it is being created) becomes with `config` applied by
/// `w.manager`, with its managedFields.
pub(crate) fn apply(
    w: &Writer<'_>,
    live: Option<&Value>,
    config: &Value,
    force: bool,
) -> Result<Value, Conflict> {
    let mut list = live
        .map(entries::decode)
        .transpose()
        .ok()
        .flatten()
        .unwrap_or_default();
    let live_clean = live.map(|l| {
        let mut l = l.clone();
        if let Some(m) = l.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("managedFields");
        }
        l
    });
    let config_set = owned_part(
        w,
        to_field_set(w.schema, config).map_err(Conflict::Invalid)?,
    );
    let base = live_clean
        .clone()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let mut merged = merge(w.schema, &base, config).map_err(Conflict::Invalid)?;
    let mine = list
        .iter()
        .position(|e| e.same_manager(w.manager, Operation::Apply, "", w.subresource));
    if let Some(i) = mine {
        let mut owned = config_set.clone();
        for (j, e) in list.iter().enumerate() {
            if j != i {
                owned.union_with(&e.set);
            }
        }
        prune(w, &mut merged, &list[i].set, &owned);
    }
    if let Some(live) = &live_clean {
        keep_reset_fields(w, live, &mut merged);
    }
    let zero;
    let before = match &live_clean {
        Some(l) => l,
        None => {
            zero = zero_object(w.schema);
            &zero
        }
    };
    let c = compare(w.schema, Some(before), Some(&merged));
    let mut changed = c.modified;
    changed.union_with(&c.added);
    let mut conflicts: Vec<(&Entry, FieldSet)> = list
        .iter()
        .enumerate()
        .filter(|(j, _)| Some(*j) != mine)
        .map(|(_, e)| (e, e.set.intersection(&changed)))
        .filter(|(_, s)| !s.is_empty())
        .collect();
    if !force && !conflicts.is_empty() {
        // kubectl taking over from client-side apply: fields the last-applied
        // configuration still describes are the applier's to change.
        if w.manager == "kubectl" {
            if let Some(allowed) = live_clean.as_ref().and_then(|l| last_applied_fields(w, l)) {
                for (_, s) in &mut conflicts {
                    *s = s.difference(&allowed);
                }
                conflicts.retain(|(_, s)| !s.is_empty());
            }
        }
        if !conflicts.is_empty() {
            return Err(conflict_error(&conflicts));
        }
    }
    for e in &mut list {
        e.set = e.set.difference(&changed).difference(&c.removed);
    }
    let noop = live_clean.as_ref() == Some(&merged);
    let previous_time = mine.and_then(|i| list[i].time.clone());
    let entry = Entry {
        manager: w.manager.to_string(),
        operation: Operation::Apply,
        api_version: w.api_version.clone(),
        time: match previous_time {
            Some(t) if noop => Some(t),
            _ => Some(w.now.clone()),
        },
        subresource: w.subresource.to_string(),
        set: config_set,
    };
    match mine {
        Some(i) => list[i] = entry,
        None => list.push(entry),
    }
    if w.manager == "kubectl" && has_last_applied(&merged) {
        set_last_applied(&mut merged, config);
    }
    entries::encode(&mut merged, list);
    Ok(merged)
}

/// Puts back what the write cannot change (the strategies' reset fields): status through
/// the main resource of a kind with a status subresource, all but status through `status`.
/// The store would do it anyway; here it keeps those fields out of conflicts.
fn keep_reset_fields(w: &Writer<'_>, live: &Value, merged: &mut Value) {
    let (Some(l), Some(m)) = (live.as_object(), merged.as_object_mut()) else {
        return;
    };
    let restore = |m: &mut serde_json::Map<String, Value>, key: &str| match l.get(key) {
        Some(v) => {
            m.insert(key.to_string(), v.clone());
        }
        None => {
            m.remove(key);
        }
    };
    match w.subresource {
        "" if w.status_split => restore(m, "status"),
        "status" => {
            let keys: Vec<String> = l.keys().chain(m.keys()).cloned().collect();
            for k in keys.iter().filter(|k| *k != "status") {
                restore(m, k);
            }
        }
        _ => {}
    }
}

/// Removes from `merged` what `last` (the manager's previous apply) held and nobody owns
/// now, `owned` being every manager's fields with the new configuration's.
fn prune(w: &Writer<'_>, merged: &mut Value, last: &FieldSet, owned: &FieldSet) {
    if last.is_empty() {
        return;
    }
    let Ok(present) = to_field_set(w.schema, merged) else {
        return;
    };
    let present = ensure_named_fields_are_members(w.schema, &present);
    let last = ensure_named_fields_are_members(w.schema, last);
    let owned = ensure_named_fields_are_members(w.schema, owned);
    let gone = present.intersection(&last).difference(&owned);
    remove_items(w.schema, merged, &gone);
}

/// The fields the live object's last-applied annotation describes and still holds as it
/// says (kube's lastAppliedManager): `None` without a usable annotation.
fn last_applied_fields(w: &Writer<'_>, live: &Value) -> Option<FieldSet> {
    let text = live
        .pointer("/metadata/annotations")?
        .get(LAST_APPLIED)?
        .as_str()?;
    let last: Value = serde_json::from_str(text).ok()?;
    let set = to_field_set(w.schema, &last).ok()?;
    let c = compare(w.schema, Some(&last), Some(live));
    Some(
        set.difference(&c.modified)
            .difference(&c.added)
            .difference(&c.removed),
    )
}

fn has_last_applied(obj: &Value) -> bool {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()))
}

/// Keeps client-side apply's annotation in step with what kubectl applies server-side, so
/// a later client-side apply diffs against it (kube's lastAppliedUpdater).
fn set_last_applied(obj: &mut Value, config: &Value) {
    let mut applied = config.clone();
    if let Some(ann) = applied
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        ann.remove(LAST_APPLIED);
        if ann.is_empty() {
            if let Some(m) = applied.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("annotations");
            }
        }
    }
    let text = applied.to_string();
    if let Some(ann) = obj
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        ann.insert(LAST_APPLIED.into(), Value::String(text));
    }
}

/// kube-apiserver's conflict Status message and causes.
fn conflict_error(conflicts: &[(&Entry, FieldSet)]) -> Conflict {
    let mut by_manager: Vec<(String, Vec<String>)> = conflicts
        .iter()
        .map(|(e, s)| {
            let paths = s.paths().iter().map(|p| Path(p).to_string()).collect();
            (e.describe(), paths)
        })
        .collect();
    by_manager.sort();
    let causes: Vec<(String, String)> = by_manager
        .iter()
        .flat_map(|(m, paths)| paths.iter().map(move |p| (m.clone(), p.clone())))
        .collect();
    let message = if let [(m, p)] = causes.as_slice() {
        format!("Apply failed with 1 conflict: conflict with {m}: {p}")
    } else {
        let mut lines = Vec::new();
        for (m, paths) in &by_manager {
            lines.push(format!("conflicts with {m}:"));
            lines.extend(paths.iter().map(|p| format!("- {p}")));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            causes.len(),
            lines.join("\n")
        )
    };
    Conflict::Fields { message, causes }
}
