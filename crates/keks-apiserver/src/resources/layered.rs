//! A resource's own rules on top of another strategy (usually `GenericStrategy`): defaults,
//! creation steps and validation added to the inner strategy's, everything else the inner
//! strategy's. One wrapper, so that every `Strategy` method is forwarded in one place.

use std::sync::Arc;

use serde_json::Value;

use crate::field::FieldError;
use crate::registry::{NameRule, Strategy};

/// What a resource adds to the strategy it wraps.
pub trait Layer: Send + Sync {
    /// Runs before the inner strategy's defaults.
    fn default(&self, _obj: &mut Value) {}
    /// Runs before the inner strategy's creation step.
    fn prepare_for_create(&self, _obj: &mut Value) {}
    /// Errors besides the inner strategy's.
    fn validate(&self, _obj: &Value) -> Vec<FieldError> {
        Vec::new()
    }
    /// Update errors besides the inner strategy's.
    fn validate_update(&self, _new: &Value, _old: &Value) -> Vec<FieldError> {
        Vec::new()
    }
}

pub struct Layered<L> {
    pub inner: Arc<dyn Strategy>,
    pub layer: L,
}

impl<L: Layer> Strategy for Layered<L> {
    fn name_rule(&self) -> NameRule {
        self.inner.name_rule()
    }
    fn structural_schema(&self) -> Option<&Value> {
        self.inner.structural_schema()
    }
    fn has_status_subresource(&self) -> bool {
        self.inner.has_status_subresource()
    }
    fn drops_status_on_create(&self) -> bool {
        self.inner.drops_status_on_create()
    }
    fn tracks_generation(&self) -> bool {
        self.inner.tracks_generation()
    }
    fn returns_deleted_object(&self) -> bool {
        self.inner.returns_deleted_object()
    }
    fn deletion_grace_period(&self, obj: &Value, requested: Option<i64>) -> Option<i64> {
        self.inner.deletion_grace_period(obj, requested)
    }
    fn deletion_held(&self, obj: &Value) -> bool {
        self.inner.deletion_held(obj)
    }
    fn prepare_for_delete(&self, obj: &mut Value) {
        self.inner.prepare_for_delete(obj)
    }
    fn default(&self, obj: &mut Value) {
        self.layer.default(obj);
        self.inner.default(obj)
    }
    fn prepare_for_create(&self, obj: &mut Value) {
        self.layer.prepare_for_create(obj);
        self.inner.prepare_for_create(obj)
    }
    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        self.inner.prepare_for_update(new, old)
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errors = self.inner.validate(obj);
        errors.extend(self.layer.validate(obj));
        errors
    }
    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errors = self.inner.validate_update(new, old);
        errors.extend(self.layer.validate_update(new, old));
        errors
    }
    fn table_cells(&self, obj: &Value, now: std::time::SystemTime) -> Vec<Value> {
        self.inner.table_cells(obj, now)
    }
    fn selectable_field(&self, obj: &Value, field: &str) -> Option<String> {
        self.inner.selectable_field(obj, field)
    }
    fn selectable_fields(&self) -> &'static [&'static str] {
        self.inner.selectable_fields()
    }
}
