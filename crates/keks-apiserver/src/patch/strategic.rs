//! Strategic merge patch (`application/strategic-merge-patch+json`), applied as
//! kube-apiserver applies it: apimachinery's `strategicpatch.StrategicMergeMapPatch` with the
//! kind's Go type as schema, merging parallel lists and ignoring unmatched nulls.
//!
//! Objects merge key by key and `null` deletes a key. A list is replaced unless its field has
//! the `merge` strategy: then lists of objects merge element by element on the field's merge
//! key and lists of scalars merge as sets. Directives: `$patch: replace | delete` (on an object
//! or a list element), `$deleteFromPrimitiveList/<field>`, `$setElementOrder/<field>` and
//! `$retainKeys`. Lists are handled in `strategic_list.rs`.

use serde_json::{Map, Value};

use super::go::{GoType, SmpError, ERR_PRIMITIVE_LIST, ERR_RETAIN_KEYS, ERR_SET_ELEMENT_ORDER};
use super::schema::{self, Ty};
use super::strategic_list::{self as list, merge_slice};

pub(super) const DIRECTIVE: &str = "$patch";
pub(super) const DELETE: &str = "delete";
pub(super) const REPLACE: &str = "replace";
pub(super) const MERGE: &str = "merge";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

/// Applies a strategic merge patch to an object of a built-in kind. Kinds without a Go type
/// (see [`schema::supports`]) fail with apimachinery's `ErrUnsupportedStrategicMergePatchFormat`.
pub fn apply(
    original: &Value,
    patch: &Value,
    group: &str,
    version: &str,
    kind: &str,
) -> Result<Value, SmpError> {
    let ty = schema::root(group, version, kind)
        .ok_or_else(|| SmpError::new("strategic merge patch format is not supported"))?;
    let patch = match patch {
        Value::Object(patch) => patch.clone(),
        // Go decodes `null` into a nil map: nothing to merge.
        Value::Null => return Ok(original.clone()),
        other => {
            let what = match other {
                Value::Array(_) => "array",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                _ => "bool",
            };
            return Err(SmpError(format!(
                "json: cannot unmarshal {what} into Go value of type map[string]interface {{}}"
            )));
        }
    };
    let original = original.as_object().cloned().unwrap_or_default();
    merge_map(original, patch, ty).map(Value::Object)
}

/// apimachinery's `mergeMap`: merges `patch` into `original`, an object of type `ty`.
pub(super) fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    ty: Ty,
) -> Result<Map<String, Value>, SmpError> {
    if let Some(directive) = patch.remove(DIRECTIVE) {
        return directive_in_map(directive, patch);
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_set_element_order(&mut original, &mut patch, ty)?;

    for (key, patch_v) in patch {
        let (key, is_delete_list) = match key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            true => (extract_key(&key, DELETE_FROM_PRIMITIVE_LIST)?, true),
            false => (key, false),
        };
        if patch_v.is_null() {
            original.remove(&key);
            continue;
        }
        let Some(current) = original.get_mut(&key) else {
            if !is_delete_list {
                set_patch_value(&mut original, key, patch_v);
            }
            continue;
        };
        if GoType::of(current) != GoType::of(&patch_v) {
            if !is_delete_list {
                set_patch_value(&mut original, key, patch_v);
            }
            continue;
        }
        match patch_v {
            Value::Object(p) => {
                let Some((sub, meta)) = ty.lookup_struct(&key)? else {
                    set_patch_value(&mut original, key, Value::Object(p));
                    continue;
                };
                let strategy = meta.strategy()?;
                let Value::Object(o) = current.take() else {
                    unreachable!("types compared equal")
                };
                *current = Value::Object(if strategy == REPLACE {
                    p
                } else {
                    merge_map(o, p, sub)?
                });
            }
            Value::Array(p) => {
                let Some((elem, meta)) = ty.lookup_slice(&key)? else {
                    if !is_delete_list {
                        set_patch_value(&mut original, key, Value::Array(p));
                    }
                    continue;
                };
                let strategy = meta.strategy()?;
                let Value::Array(o) = current.take() else {
                    unreachable!("types compared equal")
                };
                *current = Value::Array(match strategy == MERGE || is_delete_list {
                    true => merge_slice(o, p, elem, meta.merge_key, is_delete_list, None)?,
                    false => p,
                });
            }
            scalar => match remove_directives(scalar) {
                Some(v) => *current = v,
                None => {
                    original.remove(&key);
                }
            },
        }
    }
    Ok(original)
}

/// `$patch` on an object: `replace` takes the patch as it is, `delete` empties the object.
fn directive_in_map(
    directive: Value,
    patch: Map<String, Value>,
) -> Result<Map<String, Value>, SmpError> {
    match directive.as_str() {
        Some(REPLACE) => Ok(patch),
        Some(DELETE) => Ok(Map::new()),
        _ => {
            let mut shown = patch;
            shown.insert(DIRECTIVE.into(), directive.clone());
            Err(SmpError::bad_patch_type(&directive, &Value::Object(shown)))
        }
    }
}

/// Sets a key the original lacks (or holds with another type) to the patch's value, without
/// its nulls and without objects that carry a `$patch` directive.
fn set_patch_value(original: &mut Map<String, Value>, key: String, mut value: Value) {
    discard_nulls(&mut value);
    match remove_directives(value) {
        Some(v) => {
            original.insert(key, v);
        }
        None => {
            original.remove(&key);
        }
    }
}

/// apimachinery's `discardNullValuesFromPatch`.
fn discard_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(discard_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// apimachinery's `removeDirectives`: drops every object that carries `$patch` (`None` when
/// the value itself is one).
pub(super) fn remove_directives(value: Value) -> Option<Value> {
    match value {
        Value::Object(map) if map.contains_key(DIRECTIVE) => None,
        Value::Object(map) => Some(Value::Object(
            map.into_iter()
                .filter_map(|(k, v)| remove_directives(v).map(|v| (k, v)))
                .collect(),
        )),
        Value::Array(items) => Some(Value::Array(
            items.into_iter().filter_map(remove_directives).collect(),
        )),
        other => Some(other),
    }
}

/// `$retainKeys`: the original keeps only the listed keys, and the patch may set no others.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), SmpError> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(SmpError::new(ERR_RETAIN_KEYS));
    };
    let listed = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || k.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !listed(k) {
            return Err(SmpError::new(ERR_RETAIN_KEYS));
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// The field a `$deleteFromPrimitiveList/<field>` or `$setElementOrder/<field>` key names.
fn extract_key(key: &str, prefix: &str) -> Result<String, SmpError> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix => Ok(field.to_string()),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST => Err(SmpError::new(ERR_PRIMITIVE_LIST)),
        _ => Err(SmpError::new(ERR_SET_ELEMENT_ORDER)),
    }
}

/// apimachinery's `mergePatchIntoOriginal`: merges each list that has a
/// `$setElementOrder/<field>` and orders it: the directive's order first, then the order of
/// the patch, then the order of the current list.
fn merge_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    ty: Ty,
) -> Result<(), SmpError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in keys {
        let Some(order) = patch.remove(&key) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(SmpError::bad_arg_type(GoType::Slice, &order));
        };
        let field = extract_key(&key, SET_ELEMENT_ORDER)?;
        let original_list = list_at(original, &field)?;
        let patch_list = list_at(patch, &field)?;
        let (elem, meta) = ty
            .lookup_slice(&field)?
            .ok_or_else(|| ty.unknown_field(&field))?;
        let strategy = meta.strategy()?;
        let merge_key = meta.merge_key;
        list::validate_against_order(patch_list.as_deref().unwrap_or_default(), &order, merge_key)?;
        let kind = list::element_type(&[
            original_list.as_deref().unwrap_or_default(),
            patch_list.as_deref().unwrap_or_default(),
        ]);

        let (merged, server_order) = match (original_list, patch_list) {
            (Some(o), None) => (o.clone(), o),
            (None, Some(p)) => match remove_directives(Value::Array(p)) {
                Some(Value::Array(p)) => (p, Vec::new()),
                _ => continue,
            },
            (Some(o), Some(p)) if strategy == MERGE => {
                // Go merges in the original's backing array: keep what its slice shows after.
                let mut view = o.clone();
                let merged = merge_slice(o, p, elem, merge_key, false, Some(&mut view))?;
                (merged, view)
            }
            (Some(o), Some(p)) => (p, o),
            (None, None) => continue,
        };
        let (in_order, server_only) = match merge_key.is_empty() {
            true => list::partition_scalars(merged, &order),
            false => list::partition_maps(merged, &order, merge_key)?,
        };
        let kind = kind?;
        let both = list::normalize_element_order(
            in_order,
            server_only,
            &order,
            &server_order,
            merge_key,
            kind,
        )?;
        original.insert(field.clone(), Value::Array(both));
        patch.remove(&field);
    }
    Ok(())
}

/// The list at `key`, if any; anything else there is an error.
fn list_at(map: &Map<String, Value>, key: &str) -> Result<Option<Vec<Value>>, SmpError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items.clone())),
        Some(other) => Err(SmpError::bad_arg_type(GoType::Slice, other)),
    }
}
