//! Errors of decoding and encoding Kubernetes protobuf, each naming where it happened.

/// Why a protobuf body could not be decoded, or a JSON object encoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtobufError {
    #[error("the body does not start with the Kubernetes protobuf prefix \"k8s\\x00\"")]
    MissingMagic,
    #[error("the runtime.Unknown envelope has no apiVersion and kind")]
    MissingTypeMeta,
    #[error("the runtime.Unknown envelope has content encoding {0:?}; only unencoded bodies are supported")]
    UnsupportedEncoding(String),
    #[error("no protobuf message is known for apiVersion {api_version:?}, kind {kind:?}")]
    UnknownKind { api_version: String, kind: String },
    #[error("malformed protobuf{}: {reason}", at(path))]
    Malformed { path: String, reason: String },
    #[error("invalid value{}: {reason}", at(path))]
    Invalid { path: String, reason: String },
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" in {path}")
    }
}

impl ProtobufError {
    pub(super) fn malformed(reason: impl Into<String>) -> Self {
        ProtobufError::Malformed {
            path: String::new(),
            reason: reason.into(),
        }
    }

    pub(super) fn invalid(reason: impl Into<String>) -> Self {
        ProtobufError::Invalid {
            path: String::new(),
            reason: reason.into(),
        }
    }

    /// Prefixes the path of a malformed or invalid value with a field name (or `[i]`).
    pub(super) fn within(mut self, segment: &str) -> Self {
        if let ProtobufError::Malformed { path, .. } | ProtobufError::Invalid { path, .. } =
            &mut self
        {
            let separator = if path.is_empty() || path.starts_with('[') {
                ""
            } else {
                "."
            };
            *path = format!("{segment}{separator}{path}");
        }
        self
    }
}
