//! The one place EKS errors become wire errors: each `EksError` to its EKS error code and
//! modelled members (the HTTP status comes from the model).

use keks_eks::EksError;

use crate::rest_json::WireError;

pub fn to_wire(e: &EksError) -> WireError {
    let code = match e {
        EksError::InvalidParameter { .. } => "InvalidParameterException",
        EksError::InvalidRequest { .. } => "InvalidRequestException",
        EksError::ResourceNotFound { .. } => "ResourceNotFoundException",
        EksError::ResourceInUse { .. } => "ResourceInUseException",
        EksError::ResourceLimitExceeded { .. } => "ResourceLimitExceededException",
        EksError::NotFound(_) => "NotFoundException",
        EksError::BadRequest(_) => "BadRequestException",
        EksError::Server(_) => "ServerException",
        EksError::NotImplemented(_) => "NotImplementedException",
    };
    let wire = WireError::new(code, e.to_string());
    match e.cluster() {
        Some(cluster) => wire.with("clusterName", cluster),
        None => wire,
    }
}

/// Adds the `nodegroupName` member to the errors whose shapes have it.
pub fn with_nodegroup(wire: WireError, e: &EksError, nodegroup: Option<&str>) -> WireError {
    let modelled = matches!(
        e,
        EksError::InvalidParameter { .. }
            | EksError::InvalidRequest { .. }
            | EksError::ResourceNotFound { .. }
            | EksError::ResourceInUse { .. }
            | EksError::ResourceLimitExceeded { .. }
            | EksError::Server(_)
    );
    match nodegroup {
        Some(name) if modelled => wire.with("nodegroupName", name),
        _ => wire,
    }
}
