//! Errors of the OpenAPI endpoints, and their `metav1.Status` form.

use crate::status::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    /// No document at that path.
    #[error("the server could not find the requested resource")]
    NotFound,

    /// The client accepts none of the media types the document is served as.
    #[error("only the following media types are accepted: {0}")]
    NotAcceptable(&'static str),

    #[error("serialising an OpenAPI document: {0}")]
    Serialize(#[source] serde_json::Error),
}

impl From<OpenApiError> for ApiError {
    fn from(e: OpenApiError) -> Self {
        match e {
            OpenApiError::NotFound => ApiError::NoSuchResource,
            OpenApiError::NotAcceptable(_) => ApiError::NotAcceptable(e.to_string()),
            OpenApiError::Serialize(_) => ApiError::Internal(e.to_string()),
        }
    }
}
