//! API errors and their one mapping to the wire: a `metav1.Status` with the `reason`, `code`,
//! `details` and message wording kube-apiserver uses, so clients (kubectl, client-go,
//! the Python client, kube-rs) recognise them.

use serde_json::{json, Value};

use crate::field::FieldError;

/// The group-qualified resource an error is about, e.g. `pods` or `deployments.apps`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl GroupResource {
    pub fn new(group: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            group: group.into(),
            resource: resource.into(),
        }
    }
}

impl std::fmt::Display for GroupResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}", self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// An error the API answers with.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ApiError {
    #[error("{resource} \"{name}\" not found")]
    NotFound {
        resource: GroupResource,
        name: String,
    },

    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists {
        resource: GroupResource,
        name: String,
    },

    /// Optimistic-concurrency and similar conflicts.
    #[error("Operation cannot be fulfilled on {resource} \"{name}\": {detail}")]
    Conflict {
        resource: GroupResource,
        name: String,
        detail: String,
    },

    /// Server-side apply changed fields other managers own: `causes` are (manager, field)
    /// pairs, each a `FieldManagerConflict` cause.
    #[error("{message}")]
    ApplyConflict {
        message: String,
        causes: Vec<(String, String)>,
    },

    /// Validation failed; `kind` is the object's Kind (e.g. `Pod`).
    #[error("{}", invalid_message(.group, .kind, .name, .errors))]
    Invalid {
        group: String,
        kind: String,
        name: String,
        errors: Vec<FieldError>,
    },

    #[error("{0}")]
    BadRequest(String),

    #[error("Unauthorized")]
    Unauthorized,

    /// `message` is the whole sentence kube-apiserver writes.
    #[error("{message}")]
    Forbidden {
        resource: GroupResource,
        name: String,
        message: String,
    },

    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,

    /// A resource or path the server does not serve.
    #[error("the server could not find the requested resource")]
    NoSuchResource,

    /// A resourceVersion older than the compacted history (reason `Expired`, 410).
    #[error("{0}")]
    Expired(String),

    /// The watch's resourceVersion is too old (reason `Gone`, 410).
    #[error("{0}")]
    Gone(String),

    #[error("{0}")]
    NotAcceptable(String),

    #[error("{0}")]
    UnsupportedMediaType(String),

    #[error("Request entity too large: {0}")]
    RequestEntityTooLarge(String),

    #[error("{0}")]
    MethodNotSupported(String),

    #[error("Internal error occurred: {0}")]
    Internal(String),

    /// A plain Go error kube-apiserver passes through: 500, no reason, the message as is
    /// (server-side apply's "failed to create typed patch object ...").
    #[error("{0}")]
    Unclassified(String),
    /// 429: e.g. an eviction a PodDisruptionBudget does not allow; `causes` go to details.
    #[error("{message}")]
    TooManyRequests { message: String, causes: Vec<Value> },

    #[error("{0}")]
    ServiceUnavailable(String),
}

fn invalid_message(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> String {
    let qualified = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let list = match errors {
        [one] => one.to_string(),
        many => format!(
            "[{}]",
            many.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!("{qualified} \"{name}\" is invalid: {list}")
}

impl ApiError {
    pub fn not_found(resource: GroupResource, name: impl Into<String>) -> Self {
        Self::NotFound {
            resource,
            name: name.into(),
        }
    }

    /// The optimistic-concurrency conflict of a stale `resourceVersion`.
    pub fn stale(resource: GroupResource, name: impl Into<String>) -> Self {
        Self::Conflict {
            resource,
            name: name.into(),
            detail: "the object has been modified; please apply your changes to the latest version and try again".into(),
        }
    }

    pub fn invalid(group: &str, kind: &str, name: &str, errors: Vec<FieldError>) -> Self {
        Self::Invalid {
            group: group.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            errors,
        }
    }

    /// HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            Self::NotFound { .. } | Self::NoSuchResource => 404,
            Self::AlreadyExists { .. } | Self::Conflict { .. } | Self::ApplyConflict { .. } => 409,
            Self::Invalid { .. } => 422,
            Self::BadRequest(_) => 400,
            Self::Unauthorized => 401,
            Self::Forbidden { .. } => 403,
            Self::MethodNotAllowed | Self::MethodNotSupported(_) => 405,
            Self::Expired(_) | Self::Gone(_) => 410,
            Self::NotAcceptable(_) => 406,
            Self::UnsupportedMediaType(_) => 415,
            Self::RequestEntityTooLarge(_) => 413,
            Self::Internal(_) | Self::Unclassified(_) => 500,
            Self::TooManyRequests { .. } => 429,
            Self::ServiceUnavailable(_) => 503,
        }
    }

    /// `metav1.StatusReason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotFound { .. } | Self::NoSuchResource => "NotFound",
            Self::AlreadyExists { .. } => "AlreadyExists",
            Self::Conflict { .. } | Self::ApplyConflict { .. } => "Conflict",
            Self::Invalid { .. } => "Invalid",
            Self::BadRequest(_) => "BadRequest",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden { .. } => "Forbidden",
            Self::MethodNotAllowed | Self::MethodNotSupported(_) => "MethodNotAllowed",
            Self::Expired(_) => "Expired",
            Self::Gone(_) => "Gone",
            Self::NotAcceptable(_) => "NotAcceptable",
            Self::UnsupportedMediaType(_) => "UnsupportedMediaType",
            Self::RequestEntityTooLarge(_) => "RequestEntityTooLarge",
            Self::Internal(_) => "InternalError",
            Self::Unclassified(_) => "",
            Self::TooManyRequests { .. } => "TooManyRequests",
            Self::ServiceUnavailable(_) => "ServiceUnavailable",
        }
    }

    /// The `metav1.Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code(),
        });
        let details = match self {
            Self::NotFound { resource, name }
            | Self::AlreadyExists { resource, name }
            | Self::Conflict { resource, name, .. }
            | Self::Forbidden { resource, name, .. } => {
                Some(group_details(&resource.group, &resource.resource, name))
            }
            Self::Invalid {
                group,
                kind,
                name,
                errors,
            } => {
                let mut d = group_details(group, kind, name);
                d["causes"] = errors.iter().map(FieldError::cause).collect();
                Some(d)
            }
            Self::Internal(message) => Some(json!({"causes": [{"message": message}]})),
            Self::ApplyConflict { causes, .. } => Some(json!({"causes": causes
                .iter()
                .map(|(manager, field)| json!({
                    "type": "FieldManagerConflict",
                    "message": format!("conflict with {manager}"),
                    "field": field,
                }))
                .collect::<Vec<_>>()})),
            Self::TooManyRequests { causes, .. } if !causes.is_empty() => {
                Some(json!({"causes": causes}))
            }
            _ => None,
        };
        if let Some(details) = details {
            status["details"] = details;
        }
        if self.reason().is_empty() {
            if let Some(m) = status.as_object_mut() {
                m.remove("reason");
            }
        }
        status
    }
}

fn group_details(group: &str, kind: &str, name: &str) -> Value {
    let mut d = serde_json::Map::new();
    if !name.is_empty() {
        d.insert("name".into(), name.into());
    }
    if !group.is_empty() {
        d.insert("group".into(), group.into());
    }
    d.insert("kind".into(), kind.into());
    Value::Object(d)
}

/// The `metav1.Status` of a successful delete of a collection-less object (used when the
/// deleted object is not returned).
pub fn success_status(details: Option<Value>) -> Value {
    let mut status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
    });
    if let Some(d) = details {
        status["details"] = d;
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{FieldError, FieldPath};

    #[test]
    fn not_found_matches_kube_apiserver() {
        let e = ApiError::not_found(GroupResource::new("apps", "deployments"), "web");
        let s = e.to_status();
        assert_eq!(s["message"], "deployments.apps \"web\" not found");
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["code"], 404);
        assert_eq!(
            s["details"],
            json!({"name": "web", "group": "apps", "kind": "deployments"})
        );
        let e = ApiError::not_found(GroupResource::new("", "pods"), "p");
        assert_eq!(
            e.to_status()["details"],
            json!({"name": "p", "kind": "pods"})
        );
    }

    #[test]
    fn invalid_lists_causes() {
        let e = ApiError::invalid(
            "",
            "Pod",
            "p",
            vec![
                FieldError::required(FieldPath::root("spec").child("containers"), ""),
                FieldError::invalid(
                    FieldPath::root("metadata").child("name"),
                    json!("P"),
                    "must be lowercase",
                ),
            ],
        );
        let s = e.to_status();
        assert_eq!(
            s["message"],
            "Pod \"p\" is invalid: [spec.containers: Required value, metadata.name: Invalid value: \"P\": must be lowercase]"
        );
        assert_eq!(s["code"], 422);
        assert_eq!(
            s["details"]["causes"][0],
            json!({"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"})
        );
    }

    #[test]
    fn conflict_wording() {
        let e = ApiError::stale(GroupResource::new("", "configmaps"), "c");
        assert_eq!(
            e.to_string(),
            "Operation cannot be fulfilled on configmaps \"c\": the object has been modified; please apply your changes to the latest version and try again"
        );
    }
}
