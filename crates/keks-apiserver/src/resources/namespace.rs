//! Namespaces: `spec.finalizers` holds `kubernetes` until the namespace is emptied, and
//! `status.phase` is Active or Terminating.

use serde_json::{json, Value};

use crate::registry::{NameRule, PrinterColumn, Strategy};
use crate::table::{AGE, NAME};

pub struct NamespaceStrategy;

pub fn columns() -> Vec<PrinterColumn> {
    vec![
        NAME,
        PrinterColumn::new("Status", "string", 0).described("", "The status of the namespace"),
        AGE,
    ]
}

impl Strategy for NamespaceStrategy {
    fn name_rule(&self) -> NameRule {
        NameRule::Label
    }

    fn has_status_subresource(&self) -> bool {
        true
    }

    fn returns_deleted_object(&self) -> bool {
        true
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = json!({"phase": "Active"});
        let finalizers = obj.pointer("/spec/finalizers").cloned();
        if finalizers.is_none() {
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
        }
        self.prepare_labels(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        self.prepare_labels(new);
        // A terminating namespace stays terminating.
        if old.pointer("/metadata/deletionTimestamp").is_some() {
            new["status"]["phase"] = json!("Terminating");
        }
    }

    fn deletion_held(&self, ns: &Value) -> bool {
        ns.pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
    }

    fn prepare_for_delete(&self, ns: &mut Value) {
        ns["status"]["phase"] = json!("Terminating");
    }

    fn table_cells(&self, obj: &Value, _now: std::time::SystemTime) -> Vec<Value> {
        vec![obj.pointer("/status/phase").cloned().unwrap_or(json!(""))]
    }

    fn selectable_field(&self, obj: &Value, field: &str) -> Option<String> {
        (field == "status.phase").then(|| {
            obj.pointer("/status/phase")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        })
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &["status.phase"]
    }
}

impl NamespaceStrategy {
    /// Every namespace carries its own name as the `kubernetes.io/metadata.name` label.
    fn prepare_labels(&self, obj: &mut Value) {
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            let labels = meta.entry("labels").or_insert_with(|| json!({}));
            if let Some(labels) = labels.as_object_mut() {
                labels.insert("kubernetes.io/metadata.name".into(), json!(name));
            }
        }
    }
}
