//! The per-resource strategy, as kube-apiserver's: stateless hooks that shape objects of one
//! resource on create and update (defaults, status/spec split, generation), validate them,
//! and render their table rows. The generic REST code does everything common to all
//! resources (metadata, concurrency, storage); a strategy does only what differs.

use serde_json::Value;

use crate::field::FieldError;

/// How an object's name is validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// A DNS-1123 subdomain (most resources).
    Subdomain,
    /// A DNS-1123 label (namespaces, services).
    Label,
    /// Any path segment: not `.` or `..`, no `/` or `%` (RBAC objects: `system:...`).
    PathSegment,
}

/// Hooks one resource's objects go through.
pub trait Strategy: Send + Sync {
    /// How names are validated.
    fn name_rule(&self) -> NameRule {
        NameRule::Subdomain
    }

    /// The structural `openAPIV3Schema` of a custom resource (server-side apply merges by
    /// its list and map types); `None` for built-in kinds.
    fn structural_schema(&self) -> Option<&serde_json::Value> {
        None
    }

    /// Whether `status` is a separate subresource: writes to the main resource keep the old
    /// status, writes to `/status` keep everything else.
    fn has_status_subresource(&self) -> bool {
        false
    }

    /// Whether a create through the main resource drops the status the client sent (most
    /// spec/status resources); nodes keep it.
    fn drops_status_on_create(&self) -> bool {
        self.has_status_subresource()
    }

    /// Whether `metadata.generation` tracks changes to the object's desired state.
    fn tracks_generation(&self) -> bool {
        false
    }

    /// Whether a delete answers with the deleted object (pods, namespaces) rather than a
    /// `Status`.
    fn returns_deleted_object(&self) -> bool {
        false
    }

    /// The grace period a delete gives the object (pods), during which it stays with a
    /// deletionTimestamp until its node confirms it is gone; `None` deletes at once.
    /// `requested` is the request's `gracePeriodSeconds`.
    fn deletion_grace_period(&self, _obj: &Value, _requested: Option<i64>) -> Option<i64> {
        None
    }

    /// Whether something besides `metadata.finalizers` still holds an object being deleted
    /// (a namespace's `spec.finalizers`).
    fn deletion_held(&self, _obj: &Value) -> bool {
        false
    }

    /// Changes to an object when its deletion starts (a namespace turns Terminating).
    fn prepare_for_delete(&self, _obj: &mut Value) {}

    /// Fills in defaulted fields.
    fn default(&self, _obj: &mut Value) {}

    /// Resource-specific changes before a create (after generic metadata handling).
    fn prepare_for_create(&self, _obj: &mut Value) {}

    /// Resource-specific changes before an update.
    fn prepare_for_update(&self, _new: &mut Value, _old: &Value) {}

    /// Validates a new object.
    fn validate(&self, _obj: &Value) -> Vec<FieldError> {
        Vec::new()
    }

    /// Validates an update; by default the new object as if created.
    fn validate_update(&self, new: &Value, _old: &Value) -> Vec<FieldError> {
        self.validate(new)
    }

    /// Cells of the object's table row: one per printer column of the descriptor, in order,
    /// skipping `Name` and `Age` (the table fills those).
    fn table_cells(&self, _obj: &Value, _now: std::time::SystemTime) -> Vec<Value> {
        Vec::new()
    }

    /// The value of a field for field selectors, beyond `metadata.name` and
    /// `metadata.namespace` which every resource supports.
    fn selectable_field(&self, _obj: &Value, _field: &str) -> Option<String> {
        None
    }

    /// Fields this resource supports in field selectors beyond the metadata ones.
    fn selectable_fields(&self) -> &'static [&'static str] {
        &[]
    }
}

/// The strategy of resources with no special rules, configured by flags.
#[derive(Clone, Copy, Debug, Default)]
pub struct GenericStrategy {
    pub status_subresource: bool,
    pub generation: bool,
}

impl GenericStrategy {
    /// A plain object with no status or generation (ConfigMap, Secret, Role, ...).
    pub const PLAIN: Self = Self {
        status_subresource: false,
        generation: false,
    };

    /// A spec/status object (Deployment, Job, ...).
    pub const SPEC_STATUS: Self = Self {
        status_subresource: true,
        generation: true,
    };
}

impl Strategy for GenericStrategy {
    fn has_status_subresource(&self) -> bool {
        self.status_subresource
    }

    fn tracks_generation(&self) -> bool {
        self.generation
    }
}
