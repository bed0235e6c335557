//! `additionalPrinterColumns` of a CRD version: the columns `kubectl get` shows and the
//! JSONPath subset (`.spec.x`, `.status.y`, `.metadata.z`, `.spec.list[0].f`) their cells
//! are read with.

use std::time::SystemTime;

use serde_json::{json, Value};

use crate::registry::PrinterColumn;
use crate::table;

/// One printer column with its JSONPath.
#[derive(Clone, Debug)]
pub struct CustomColumn {
    pub column: PrinterColumn,
    pub json_path: String,
}

/// The CRD version's columns; empty when it declares none (the table shows NAME and AGE).
pub fn parse(version: &Value) -> Vec<CustomColumn> {
    let declared: Vec<CustomColumn> = version
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            let text = |f: &str| c.get(f).and_then(Value::as_str).unwrap_or_default();
            let priority = c.get("priority").and_then(Value::as_i64).unwrap_or(0) as i32;
            CustomColumn {
                column: PrinterColumn::owned(
                    text("name").to_string(),
                    text("type").to_string(),
                    text("format").to_string(),
                    text("description").to_string(),
                    priority,
                ),
                json_path: text("jsonPath").to_string(),
            }
        })
        .collect();
    if declared.is_empty() {
        return declared;
    }
    let name = CustomColumn {
        column: table::NAME,
        json_path: ".metadata.name".into(),
    };
    std::iter::once(name).chain(declared).collect()
}

/// The cells of the columns other than `Name` (and kube's own `Age`), in order.
pub fn cells(columns: &[CustomColumn], obj: &Value, now: SystemTime) -> Vec<Value> {
    columns
        .iter()
        .filter(|c| c.column.format != "name" && c.column.name != "Age")
        .map(|c| {
            let Some(v) = lookup(obj, &c.json_path) else {
                return Value::Null;
            };
            match (c.column.type_.as_ref(), v) {
                ("date", Value::String(s)) => json!(table::since(Some(s), now)),
                (_, Value::String(_) | Value::Number(_) | Value::Bool(_)) => v.clone(),
                (_, other) => json!(other.to_string()),
            }
        })
        .collect()
}

/// Follows a simple JSONPath (`.a.b[0].c`, optionally in `{}`) into the object.
pub fn lookup<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut current = obj;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (field, indices) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !field.is_empty() {
            current = current.get(field)?;
        }
        for index in indices.split('[').filter(|s| !s.is_empty()) {
            let i: usize = index.trim_end_matches(']').parse().ok()?;
            current = current.get(i)?;
        }
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let obj = json!({"spec": {"a": [{"b": 3}]}});
        assert_eq!(lookup(&obj, ".spec.a[0].b"), Some(&json!(3)));
        assert_eq!(lookup(&obj, ".spec.x"), None);
    }
}
