//! Sets of field paths (structured-merge-diff's `fieldpath.Set`): a trie of path elements
//! where a node may itself be a member (a leaf, a list item, a map created whole), with
//! union, difference and intersection, read from and written as `FieldsV1` JSON.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::path::PathElement;
use super::ManagedFieldsError;

/// A set of paths. `members` are the paths ending here; `children` the subsets under each
/// element. Both stay sorted (structured-merge-diff's order), and a child is never empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    pub(super) members: BTreeSet<PathElement>,
    pub(super) children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    /// Adds a path (a non-empty one; the empty path is no member).
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                if !self.members.contains(last) {
                    self.members.insert(last.clone());
                }
            }
            // Look up before inserting: most inserts walk existing nodes, and cloning the
            // element for `entry` would allocate on every step (this is the create path).
            [first, rest @ ..] => match self.children.get_mut(first) {
                Some(child) => child.insert(rest),
                None => {
                    let mut child = FieldSet::new();
                    child.insert(rest);
                    self.children.insert(first.clone(), child);
                }
            },
        }
    }

    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// The subset under `pe` (empty when none).
    pub fn child(&self, pe: &PathElement) -> Option<&FieldSet> {
        self.children.get(pe)
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.union_with(other);
        out
    }

    pub fn union_with(&mut self, other: &FieldSet) {
        self.members.extend(other.members.iter().cloned());
        for (pe, child) in &other.children {
            self.children
                .entry(pe.clone())
                .or_default()
                .union_with(child);
        }
    }

    /// The paths of `self` that are not in `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            let c = match other.children.get(pe) {
                Some(o) => child.difference(o),
                None => child.clone(),
            };
            if !c.is_empty() {
                children.insert(pe.clone(), c);
            }
        }
        FieldSet { members, children }
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.intersection(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, child) in &self.children {
            if let Some(o) = other.children.get(pe) {
                let c = child.intersection(o);
                if !c.is_empty() {
                    children.insert(pe.clone(), c);
                }
            }
        }
        FieldSet { members, children }
    }

    /// Every member path in structured-merge-diff's iteration order: this level's members,
    /// then each child's.
    pub fn paths(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        for pe in &self.members {
            prefix.push(pe.clone());
            out.push(prefix.clone());
            prefix.pop();
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    /// The `FieldsV1` JSON: `{"f:spec": {"f:replicas": {}}}`, a member that also has
    /// children marked by `".": {}` inside.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        for pe in &self.members {
            if !self.children.contains_key(pe) {
                map.insert(pe.to_fields_v1(), Value::Object(Map::new()));
            }
        }
        for (pe, child) in &self.children {
            let mut inner = child.to_fields_v1();
            if self.members.contains(pe) {
                if let Some(m) = inner.as_object_mut() {
                    m.insert(".".into(), Value::Object(Map::new()));
                }
            }
            map.insert(pe.to_fields_v1(), inner);
        }
        Value::Object(map)
    }

    /// Reads `FieldsV1` JSON.
    pub fn from_fields_v1(v: &Value) -> Result<FieldSet, ManagedFieldsError> {
        let Some(map) = v.as_object() else {
            return Err(ManagedFieldsError::FieldsV1(format!(
                "expected an object, got {v}"
            )));
        };
        let mut set = FieldSet::new();
        for (key, inner) in map {
            if key == "." {
                continue; // read by the parent
            }
            let pe = PathElement::from_fields_v1(key).ok_or_else(|| {
                ManagedFieldsError::FieldsV1(format!("invalid path element {key:?}"))
            })?;
            let inner_map = inner.as_object().ok_or_else(|| {
                ManagedFieldsError::FieldsV1(format!("expected an object under {key:?}"))
            })?;
            if inner_map.is_empty() || inner_map.contains_key(".") {
                set.members.insert(pe.clone());
            }
            let child = FieldSet::from_fields_v1(inner)?;
            if !child.is_empty() {
                set.children.insert(pe, child);
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(name: &str) -> PathElement {
        PathElement::Field(name.into())
    }

    fn set(v: Value) -> FieldSet {
        FieldSet::from_fields_v1(&v).unwrap()
    }

    #[test]
    fn fields_v1_round_trips_with_dot_members() {
        let v = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}, "f:name": {}}}},
        });
        let s = set(v.clone());
        assert!(s.has(&[f("metadata"), f("labels")]));
        assert!(s.has(&[f("metadata"), f("labels"), f("app")]));
        assert!(!s.has(&[f("metadata")]));
        assert_eq!(s.to_fields_v1(), v);
        assert_eq!(s.paths().len(), 5);
    }

    #[test]
    fn union_difference_intersection() {
        let a = set(json!({"f:a": {}, "f:b": {"f:c": {}, "f:d": {}}}));
        let b = set(json!({"f:b": {"f:d": {}, "f:e": {}}, "f:x": {}}));
        assert_eq!(
            a.union(&b),
            set(json!({"f:a": {}, "f:b": {"f:c": {}, "f:d": {}, "f:e": {}}, "f:x": {}}))
        );
        assert_eq!(
            a.difference(&b),
            set(json!({"f:a": {}, "f:b": {"f:c": {}}}))
        );
        assert_eq!(a.intersection(&b), set(json!({"f:b": {"f:d": {}}})));
        assert!(a.difference(&a).is_empty());
        // A member and a child of the same element are independent.
        let m = set(json!({"f:b": {}}));
        assert_eq!(a.difference(&m), a);
        assert_eq!(
            m.union(&a).to_fields_v1(),
            json!({"f:a": {}, "f:b": {".": {}, "f:c": {}, "f:d": {}}})
        );
    }

    #[test]
    fn malformed_fields_v1_is_an_error() {
        assert!(FieldSet::from_fields_v1(&json!([])).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"x": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"f:a": 1})).is_err());
    }
}
