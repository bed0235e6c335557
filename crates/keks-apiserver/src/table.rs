//! Table output (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`): the server-side
//! printing kubectl asks for, with the resource's printer columns and NAME/AGE cells.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use crate::registry::{PrinterColumn, ResourceDescriptor};
use crate::rest::meta;

/// What each row carries besides its cells (`includeObject`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    #[default]
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(text: &str) -> Self {
        match text {
            "None" => Self::None,
            "Object" => Self::Object,
            _ => Self::Metadata,
        }
    }
}

/// The `Name` column every default table starts with.
pub const NAME: PrinterColumn = PrinterColumn::full("Name", "string", "name", "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names", 0);
/// The `Age` column, computed from `metadata.creationTimestamp`.
pub const AGE: PrinterColumn = PrinterColumn::full("Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata", 0);

/// The columns of a resource: its own list, or NAME and AGE.
pub fn columns(d: &ResourceDescriptor) -> Vec<PrinterColumn> {
    if d.printer_columns.is_empty() {
        vec![NAME, AGE]
    } else {
        d.printer_columns.clone()
    }
}

/// Renders a list (or a single object) as a `meta.k8s.io/v1` Table. `Name` and `Age` cells
/// are generic; the strategy gives the other cells, in column order.
pub fn render(
    d: &ResourceDescriptor,
    objects: &[Value],
    resource_version: Option<&str>,
    continue_token: Option<&str>,
    include: IncludeObject,
    now: SystemTime,
) -> Value {
    let columns = columns(d);
    let definitions: Vec<Value> = columns.iter().map(column).collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let mut own = d.strategy.table_cells(obj, now).into_iter();
            let cells: Vec<Value> = columns
                .iter()
                .map(|c| match (c.name.as_ref(), c.format.as_ref()) {
                    (_, "name") => obj.pointer("/metadata/name").cloned().unwrap_or(json!("")),
                    ("Age", _) => json!(age(obj, now)),
                    _ => own.next().unwrap_or(json!("<none>")),
                })
                .collect();
            let mut row = json!({"cells": cells});
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => {
                    row["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata").cloned().unwrap_or(json!({}))});
                }
                IncludeObject::Object => row["object"] = obj.clone(),
            }
            row
        })
        .collect();
    let mut metadata = json!({});
    if let Some(rv) = resource_version {
        metadata["resourceVersion"] = json!(rv);
    }
    if let Some(c) = continue_token {
        metadata["continue"] = json!(c);
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "columnDefinitions": definitions, "rows": rows})
}

/// How long ago a timestamp was, as kubectl prints ages; `<unknown>` if absent.
pub fn since(timestamp: Option<&str>, now: SystemTime) -> String {
    let Some(then) = timestamp.and_then(meta::parse) else {
        return "<unknown>".into();
    };
    match now.duration_since(then) {
        Ok(d) => human_duration(d),
        Err(_) => "0s".into(),
    }
}

fn column(c: &PrinterColumn) -> Value {
    json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority})
}

fn age(obj: &Value, now: SystemTime) -> String {
    since(
        obj.pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str),
        now,
    )
}

/// kubectl's `duration.HumanDuration`: `45s`, `3m20s`, `15m`, `5h3m`, `20h`, `3d4h`, `40d`,
/// `2y30d`.
pub fn human_duration(d: Duration) -> String {
    let seconds = d.as_secs();
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = (hours / 24) % 365;
        return if days == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{days}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        let s = Duration::from_secs;
        assert_eq!(human_duration(s(45)), "45s");
        assert_eq!(human_duration(s(119)), "119s");
        assert_eq!(human_duration(s(200)), "3m20s");
        assert_eq!(human_duration(s(15 * 60)), "15m");
        assert_eq!(human_duration(s(5 * 3600 + 180)), "5h3m");
        assert_eq!(human_duration(s(20 * 3600)), "20h");
        assert_eq!(human_duration(s(76 * 3600)), "3d4h");
        assert_eq!(human_duration(s(40 * 86400)), "40d");
        assert_eq!(human_duration(s(760 * 86400)), "2y30d");
    }
}
