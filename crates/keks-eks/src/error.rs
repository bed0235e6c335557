//! The errors of the EKS control plane, named as EKS names them. The AWS front maps each to
//! its wire form (code, HTTP status, modelled members) in one place.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EksError {
    #[error("{message}")]
    InvalidParameter {
        message: String,
        cluster: Option<String>,
    },
    #[error("{message}")]
    InvalidRequest {
        message: String,
        cluster: Option<String>,
    },
    #[error("{message}")]
    ResourceNotFound {
        message: String,
        cluster: Option<String>,
    },
    #[error("{message}")]
    ResourceInUse {
        message: String,
        cluster: Option<String>,
    },
    #[error("{message}")]
    ResourceLimitExceeded {
        message: String,
        cluster: Option<String>,
    },
    /// The tagging API's "no such resource".
    #[error("{0}")]
    NotFound(String),
    /// The tagging API's invalid input.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Server(String),
    /// An operation keks routes but does not implement.
    #[error("{0}")]
    NotImplemented(String),
}

impl EksError {
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::InvalidParameter {
            message: message.into(),
            cluster: None,
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            message: message.into(),
            cluster: None,
        }
    }

    /// `No cluster found for name: X.`, as EKS words it.
    pub fn no_cluster(name: &str) -> Self {
        Self::ResourceNotFound {
            message: format!("No cluster found for name: {name}."),
            cluster: Some(name.to_string()),
        }
    }

    /// The cluster the error is about, for the `clusterName` member.
    pub fn cluster(&self) -> Option<&str> {
        match self {
            Self::InvalidParameter { cluster, .. }
            | Self::InvalidRequest { cluster, .. }
            | Self::ResourceNotFound { cluster, .. }
            | Self::ResourceInUse { cluster, .. }
            | Self::ResourceLimitExceeded { cluster, .. } => cluster.as_deref(),
            _ => None,
        }
    }

    /// The same error, about `cluster`.
    pub fn for_cluster(self, name: &str) -> Self {
        let set = |c: Option<String>| c.or_else(|| Some(name.to_string()));
        match self {
            Self::InvalidParameter { message, cluster } => Self::InvalidParameter {
                message,
                cluster: set(cluster),
            },
            Self::InvalidRequest { message, cluster } => Self::InvalidRequest {
                message,
                cluster: set(cluster),
            },
            Self::ResourceInUse { message, cluster } => Self::ResourceInUse {
                message,
                cluster: set(cluster),
            },
            other => other,
        }
    }
}

impl From<keks_store::StoreError> for EksError {
    fn from(e: keks_store::StoreError) -> Self {
        Self::Server(format!("storage: {e}"))
    }
}
