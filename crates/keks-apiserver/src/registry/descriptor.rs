//! What the API knows about one resource: its names, scope, verbs, subresources and printer
//! columns (as discovery and `kubectl` see them) and the strategy that shapes its objects.

use std::borrow::Cow;
use std::sync::Arc;

use super::strategy::Strategy;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Namespaced,
    Cluster,
}

/// A column of the resource's table output (`kubectl get`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrinterColumn {
    pub name: Cow<'static, str>,
    /// OpenAPI type: string, integer, number, boolean, date.
    pub type_: Cow<'static, str>,
    pub format: Cow<'static, str>,
    pub description: Cow<'static, str>,
    /// 0 for the default columns; higher ones only with `-o wide`.
    pub priority: i32,
}

impl PrinterColumn {
    pub const fn new(name: &'static str, type_: &'static str, priority: i32) -> Self {
        Self {
            name: Cow::Borrowed(name),
            type_: Cow::Borrowed(type_),
            format: Cow::Borrowed(""),
            description: Cow::Borrowed(""),
            priority,
        }
    }

    /// A column with every detail, usable in constants.
    pub const fn full(
        name: &'static str,
        type_: &'static str,
        format: &'static str,
        description: &'static str,
        priority: i32,
    ) -> Self {
        Self {
            name: Cow::Borrowed(name),
            type_: Cow::Borrowed(type_),
            format: Cow::Borrowed(format),
            description: Cow::Borrowed(description),
            priority,
        }
    }

    pub fn described(mut self, format: &'static str, description: &'static str) -> Self {
        self.format = Cow::Borrowed(format);
        self.description = Cow::Borrowed(description);
        self
    }

    /// A column defined at run time (a CRD's `additionalPrinterColumns`).
    pub fn owned(
        name: String,
        type_: String,
        format: String,
        description: String,
        priority: i32,
    ) -> Self {
        Self {
            name: Cow::Owned(name),
            type_: Cow::Owned(type_),
            format: Cow::Owned(format),
            description: Cow::Owned(description),
            priority,
        }
    }
}

/// One served resource of one group-version.
#[derive(Clone)]
pub struct ResourceDescriptor {
    /// Empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The URL segment: `pods`.
    pub plural: String,
    /// `pod`.
    pub singular: String,
    pub scope: Scope,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub verbs: Vec<&'static str>,
    /// Served subresources, e.g. `status`, `scale`, `binding`.
    pub subresources: Vec<String>,
    pub printer_columns: Vec<PrinterColumn>,
    pub strategy: Arc<dyn Strategy>,
}

/// The verbs of an ordinary resource.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

impl std::fmt::Debug for ResourceDescriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceDescriptor")
            .field("group", &self.group)
            .field("version", &self.version)
            .field("plural", &self.plural)
            .finish_non_exhaustive()
    }
}

impl ResourceDescriptor {
    pub fn namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }

    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn group_resource(&self) -> crate::status::GroupResource {
        crate::status::GroupResource::new(self.group.clone(), self.plural.clone())
    }

    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.iter().any(|s| s == name)
    }
}
