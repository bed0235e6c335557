//! The walks structured-merge-diff makes over a value and its schema: the set of fields a
//! value sets (`ToFieldSet`), the comparison of two values (added, modified, removed
//! fields), the merge of an applied configuration into a live object, and the removal of
//! fields (`RemoveItems`).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::path::PathElement;
use super::schema::{ListType, ObjectType, Schema};
use super::set::FieldSet;
use super::ManagedFieldsError;

/// The element naming `item` in a list of this type. `Err` when an item of a keyed list
/// lacks a key (without a default), or a set holds a non-scalar.
fn item_element(
    list: &ListType<'_>,
    item_schema: &Schema<'_>,
    item: &Value,
    index: usize,
) -> Result<PathElement, ManagedFieldsError> {
    match list {
        ListType::Atomic => Ok(PathElement::Index(index)),
        ListType::Set => match item {
            Value::Object(_) | Value::Array(_) => Err(ManagedFieldsError::Schema(
                "set list elements must be scalars".into(),
            )),
            v => Ok(PathElement::value(v)),
        },
        ListType::Map(keys) => {
            let Some(obj) = item.as_object() else {
                return Err(ManagedFieldsError::Schema(
                    "associative list elements must be objects".into(),
                ));
            };
            let mut defaults = Vec::new();
            for k in keys {
                if !obj.contains_key(*k) {
                    match item_schema.key_default(k) {
                        Some(d) => defaults.push((*k, d)),
                        None => {
                            return Err(ManagedFieldsError::Schema(format!(
                                "associative list with keys has an element that omits key field {k:?} (and doesn't have default value)"
                            )))
                        }
                    }
                }
            }
            let pairs: Vec<(&str, &Value)> = keys
                .iter()
                .map(|k| match obj.get(*k) {
                    Some(v) => (*k, v),
                    None => (
                        *k,
                        &defaults.iter().find(|(d, _)| d == k).expect("defaulted").1,
                    ),
                })
                .collect();
            Ok(PathElement::key(pairs))
        }
    }
}

/// The elements of a list's items, or `None` when they cannot all be named uniquely (the
/// list is then treated as atomic).
pub(super) fn elements(
    schema: &Schema<'_>,
    list: &ListType<'_>,
    items: &[Value],
) -> Option<Vec<PathElement>> {
    let item_schema = schema.item();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        out.push(item_element(list, &item_schema, item, i).ok()?);
    }
    let mut seen = std::collections::HashSet::with_capacity(out.len());
    out.iter().all(|pe| seen.insert(pe)).then_some(out)
}

/// The fields `value` sets: its leaves, list items, atomic values, and the map entries that
/// are not declared fields or hold nothing.
pub fn to_field_set(schema: Schema<'_>, value: &Value) -> Result<FieldSet, ManagedFieldsError> {
    let mut set = FieldSet::new();
    let mut path = Vec::new();
    field_set_of(schema, value, &mut path, &mut set)?;
    Ok(set)
}

fn field_set_of(
    schema: Schema<'_>,
    value: &Value,
    path: &mut Vec<PathElement>,
    set: &mut FieldSet,
) -> Result<(), ManagedFieldsError> {
    match value {
        Value::Object(map) => {
            let ObjectType::Granular { .. } = schema.object_type() else {
                set.insert(path);
                return Ok(());
            };
            for (k, v) in map {
                path.push(PathElement::Field(k.clone()));
                field_set_of(schema.child(k), v, path, set)?;
                let empty = v.is_null() || v.as_object().is_some_and(Map::is_empty);
                if empty || !schema.declares(k) {
                    set.insert(path);
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            let list = schema.list_type();
            if list == ListType::Atomic {
                set.insert(path);
                return Ok(());
            }
            let item_schema = schema.item();
            for (i, item) in items.iter().enumerate() {
                path.push(item_element(&list, &item_schema, item, i)?);
                field_set_of(item_schema, item, path, set)?;
                set.insert(path);
                path.pop();
            }
        }
        _ => set.insert(path),
    }
    Ok(())
}

/// What changed from one value to another.
#[derive(Debug, Default)]
pub struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

/// Compares `old` with `new` (either may be absent).
pub fn compare(schema: Schema<'_>, old: Option<&Value>, new: Option<&Value>) -> Comparison {
    let mut c = Comparison::default();
    compare_at(schema, old, new, &mut Vec::new(), &mut c);
    c
}

fn leaf(old: Option<&Value>, new: Option<&Value>, path: &[PathElement], c: &mut Comparison) {
    match (old, new) {
        (None, Some(_)) => c.added.insert(path),
        (Some(_), None) => c.removed.insert(path),
        (Some(a), Some(b)) if a != b => c.modified.insert(path),
        _ => {}
    }
}

fn compare_at(
    schema: Schema<'_>,
    old: Option<&Value>,
    new: Option<&Value>,
    path: &mut Vec<PathElement>,
    c: &mut Comparison,
) {
    // A null facing a map or list is an empty one that is there (Go's nil slice in an empty
    // object): its items are added, it is not.
    let is_object = (old.is_some_and(Value::is_object) || new.is_some_and(Value::is_object))
        && old.is_none_or(|v| v.is_object() || v.is_null())
        && new.is_none_or(|v| v.is_object() || v.is_null());
    let is_array = (old.is_some_and(Value::is_array) || new.is_some_and(Value::is_array))
        && old.is_none_or(|v| v.is_array() || v.is_null())
        && new.is_none_or(|v| v.is_array() || v.is_null());
    if is_object {
        let (o, n) = (
            old.and_then(Value::as_object),
            new.and_then(Value::as_object),
        );
        let empty = o.is_none_or(Map::is_empty) && n.is_none_or(Map::is_empty);
        if empty || schema.object_type() == ObjectType::Atomic {
            return leaf(old, new, path, c);
        }
        for (k, ov) in o.into_iter().flatten() {
            path.push(PathElement::Field(k.clone()));
            compare_at(schema.child(k), Some(ov), n.and_then(|n| n.get(k)), path, c);
            path.pop();
        }
        for (k, nv) in n.into_iter().flatten() {
            if o.is_some_and(|o| o.contains_key(k)) {
                continue;
            }
            path.push(PathElement::Field(k.clone()));
            compare_at(schema.child(k), None, Some(nv), path, c);
            path.pop();
        }
    } else if is_array {
        let (o, n) = (old.and_then(Value::as_array), new.and_then(Value::as_array));
        let empty = o.is_none_or(Vec::is_empty) && n.is_none_or(Vec::is_empty);
        let list = schema.list_type();
        if empty || list == ListType::Atomic {
            return leaf(old, new, path, c);
        }
        let o_items = o.map_or(&[][..], Vec::as_slice);
        let n_items = n.map_or(&[][..], Vec::as_slice);
        let (Some(o_pes), Some(n_pes)) = (
            elements(&schema, &list, o_items),
            elements(&schema, &list, n_items),
        ) else {
            return leaf(old, new, path, c);
        };
        let item_schema = schema.item();
        let n_index: HashMap<&PathElement, usize> =
            n_pes.iter().enumerate().map(|(i, pe)| (pe, i)).collect();
        let o_index: HashMap<&PathElement, usize> =
            o_pes.iter().enumerate().map(|(i, pe)| (pe, i)).collect();
        for (i, pe) in o_pes.iter().enumerate() {
            path.push(pe.clone());
            let nv = n_index.get(pe).map(|&j| &n_items[j]);
            compare_at(item_schema, Some(&o_items[i]), nv, path, c);
            path.pop();
        }
        for (j, pe) in n_pes.iter().enumerate() {
            if o_index.contains_key(pe) {
                continue;
            }
            path.push(pe.clone());
            compare_at(item_schema, None, Some(&n_items[j]), path, c);
            path.pop();
        }
    } else {
        return leaf(old, new, path, c);
    }
    // A granular map or list that appeared or went is itself added or removed.
    match (old, new) {
        (None, Some(_)) => c.added.insert(path),
        (Some(_), None) => c.removed.insert(path),
        _ => {}
    }
}

/// The live object with the applied configuration merged in: the configuration's values win;
/// granular maps merge key by key and associative lists item by item (live items keep their
/// places, new ones come where the configuration puts them); a `null` removes the field.
pub fn merge(
    schema: Schema<'_>,
    live: &Value,
    config: &Value,
) -> Result<Value, ManagedFieldsError> {
    match (live, config) {
        (Value::Object(l), Value::Object(r)) if schema.object_type() != ObjectType::Atomic => {
            let mut out = l.clone();
            for (k, rv) in r {
                if rv.is_null() {
                    out.remove(k);
                    continue;
                }
                let merged = match l.get(k) {
                    Some(lv) => merge(schema.child(k), lv, rv)?,
                    None => rv.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Ok(Value::Object(out))
        }
        (Value::Array(l), Value::Array(r)) => {
            let list = schema.list_type();
            if list == ListType::Atomic {
                return Ok(config.clone());
            }
            let item_schema = schema.item();
            let r_pes = elements(&schema, &list, r).ok_or_else(|| {
                ManagedFieldsError::Schema("the applied list has items without unique keys".into())
            })?;
            let Some(l_pes) = elements(&schema, &list, l) else {
                return Ok(config.clone());
            };
            merge_list(item_schema, l, &l_pes, r, &r_pes).map(Value::Array)
        }
        _ => Ok(config.clone()),
    }
}

/// structured-merge-diff's list merge order: walk both lists; an item in both comes where
/// the configuration has it relative to the other shared items, live-only items stay
/// where they were, configuration-only items come at their place in the configuration.
fn merge_list(
    item_schema: Schema<'_>,
    l: &[Value],
    l_pes: &[PathElement],
    r: &[Value],
    r_pes: &[PathElement],
) -> Result<Vec<Value>, ManagedFieldsError> {
    let l_index: HashMap<&PathElement, usize> =
        l_pes.iter().enumerate().map(|(i, pe)| (pe, i)).collect();
    let r_index: HashMap<&PathElement, usize> =
        r_pes.iter().enumerate().map(|(i, pe)| (pe, i)).collect();
    let shared: Vec<&PathElement> = r_pes.iter().filter(|pe| l_index.contains_key(pe)).collect();
    let mut next_shared = 0;
    let mut merged_r = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(l.len().max(r.len()));
    let (mut li, mut ri) = (0, 0);
    let take = |pe: &PathElement, out: &mut Vec<Value>| -> Result<(), ManagedFieldsError> {
        let rv = &r[r_index[pe]];
        out.push(match l_index.get(pe) {
            Some(&i) => merge(item_schema, &l[i], rv)?,
            None => rv.clone(),
        });
        Ok(())
    };
    while li < l.len() || ri < r.len() {
        if li < l.len() && ri < r.len() {
            let pe = &l_pes[li];
            if *pe == r_pes[ri] {
                merged_r.insert(pe);
                take(pe, &mut out)?;
                li += 1;
                ri += 1;
                if shared.get(next_shared) == Some(&pe) {
                    next_shared += 1;
                }
                continue;
            }
            if r_index.contains_key(pe) && shared.get(next_shared).is_some_and(|s| *s != pe) {
                li += 1; // a shared item, but not the one due now
                continue;
            }
        }
        if li < l.len() {
            let pe = &l_pes[li];
            if !r_index.contains_key(pe) {
                out.push(l[li].clone());
                li += 1;
                continue;
            }
            if merged_r.contains(pe) {
                li += 1;
                continue;
            }
        }
        if ri < r.len() {
            let pe = &r_pes[ri];
            if merged_r.insert(pe) {
                take(pe, &mut out)?;
            }
            ri += 1;
            if shared.get(next_shared) == Some(&pe) {
                next_shared += 1;
            }
        }
    }
    Ok(out)
}

/// Removes every member of `set` from `value` (a member's whole subtree goes).
pub fn remove_items(schema: Schema<'_>, value: &mut Value, set: &FieldSet) {
    if set.is_empty() {
        return;
    }
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !set.members.contains(&PathElement::Field(k.clone())));
            for (pe, child) in &set.children {
                if let PathElement::Field(k) = pe {
                    if let Some(v) = map.get_mut(k) {
                        remove_items(schema.child(k), v, child);
                    }
                }
            }
        }
        Value::Array(items) => {
            let list = schema.list_type();
            let Some(pes) = elements(&schema, &list, items) else {
                return;
            };
            let item_schema = schema.item();
            let mut kept = Vec::with_capacity(items.len());
            for (mut item, pe) in std::mem::take(items).into_iter().zip(pes) {
                if set.members.contains(&pe) {
                    continue;
                }
                if let Some(child) = set.children.get(&pe) {
                    remove_items(item_schema, &mut item, child);
                }
                kept.push(item);
            }
            *items = kept;
        }
        _ => {}
    }
}

/// The set with every declared (struct) field that has members under it made a member
/// too, so that pruning removes a field whose last owned child went
/// (`EnsureNamedFieldsAreMembers`).
pub fn ensure_named_fields_are_members(schema: Schema<'_>, set: &FieldSet) -> FieldSet {
    let mut out = FieldSet {
        members: set.members.clone(),
        children: Default::default(),
    };
    for (pe, child) in &set.children {
        let child_schema = match pe {
            PathElement::Field(k) => {
                if schema.declares(k) {
                    out.members.insert(pe.clone());
                }
                schema.child(k)
            }
            _ => schema.item(),
        };
        out.children.insert(
            pe.clone(),
            ensure_named_fields_are_members(child_schema, child),
        );
    }
    out
}
