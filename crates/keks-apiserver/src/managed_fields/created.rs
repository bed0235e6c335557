//! The fields a create sets, as `FieldsV1` JSON in one walk: what `compare` against the
//! kind's empty object followed by `to_fields_v1` gives, without building a field set
//! (creates are the hot path).

use serde_json::{Map, Value};

use super::schema::{ListType, ObjectType, Schema};
use super::walk::elements;

/// `{}` for a member without children, `{".": {}, ...}` with, `{...}` for a path that is
/// only a prefix; `None` when nothing was added or changed at or under it.
pub fn added_fields_v1(schema: Schema<'_>, old: Option<&Value>, new: &Value) -> Option<Value> {
    let leaf = || match old {
        Some(o) if o == new => None,
        _ => Some(Value::Object(Map::new())),
    };
    let old_is = |f: fn(&Value) -> bool| old.is_none_or(|o| f(o) || o.is_null());
    let mut out = Map::new();
    match new {
        Value::Object(n) if old_is(Value::is_object) => {
            let o = old.and_then(Value::as_object);
            let empty = n.is_empty() && o.is_none_or(Map::is_empty);
            if empty || schema.object_type() == ObjectType::Atomic {
                return leaf();
            }
            for (k, v) in n {
                if let Some(j) = added_fields_v1(schema.child(k), o.and_then(|o| o.get(k)), v) {
                    out.insert(format!("f:{k}"), j);
                }
            }
        }
        Value::Array(n) if old_is(Value::is_array) => {
            let o = old.and_then(Value::as_array);
            let list = schema.list_type();
            let empty = n.is_empty() && o.is_none_or(Vec::is_empty);
            if empty || list == ListType::Atomic {
                return leaf();
            }
            let o_items = o.map_or(&[][..], Vec::as_slice);
            let (Some(n_pes), Some(o_pes)) = (
                elements(&schema, &list, n),
                elements(&schema, &list, o_items),
            ) else {
                return leaf();
            };
            let item_schema = schema.item();
            for (item, pe) in n.iter().zip(&n_pes) {
                let before = o_pes.iter().position(|p| p == pe).map(|i| &o_items[i]);
                if let Some(j) = added_fields_v1(item_schema, before, item) {
                    out.insert(pe.to_fields_v1(), j);
                }
            }
        }
        _ => return leaf(),
    }
    if old.is_none() {
        out.insert(".".into(), Value::Object(Map::new()));
        if out.len() == 1 {
            out.clear(); // a member without children is `{}`
        }
    } else if out.is_empty() {
        return None;
    }
    Some(Value::Object(out))
}

/// Drops what no manager owns from a create's fields (see `owned_part`): the type, the
/// object's identity and bookkeeping, and status when the kind has a status subresource.
pub fn owned_json(mut fields: Value, status_split: bool) -> Value {
    if let Some(root) = fields.as_object_mut() {
        root.remove("f:apiVersion");
        root.remove("f:kind");
        if status_split {
            root.remove("f:status");
        }
        if let Some(meta) = root.get_mut("f:metadata").and_then(Value::as_object_mut) {
            meta.remove(".");
            for f in [
                "f:name",
                "f:namespace",
                "f:creationTimestamp",
                "f:selfLink",
                "f:uid",
                "f:clusterName",
                "f:generation",
                "f:managedFields",
                "f:resourceVersion",
            ] {
                meta.remove(f);
            }
            if meta.is_empty() {
                root.remove("f:metadata");
            }
        }
    }
    fields
}
