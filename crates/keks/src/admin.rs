//! keks' own administrative endpoints on the AWS-side listener, for the keks CLI: creating a
//! development cluster (`keks dev cluster`) and an EKS cluster in one step (`keks create
//! cluster`). Every call needs the admin token that `keks up` generates and writes to
//! env.sh.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use keks_apiserver::{ClusterError, Clusters};
use serde::{Deserialize, Serialize};

/// The Kubernetes minor version a cluster gets when none is asked for.
pub const DEFAULT_KUBERNETES_VERSION: &str = "1.33";

#[derive(Clone)]
pub struct AdminState {
    pub clusters: Arc<Clusters>,
    /// SHA-256 of the admin token.
    pub token_sha256: [u8; 32],
    pub kube_url: String,
    pub ca_pem: String,
    pub quick: crate::quick_cluster::QuickClusters,
}

#[derive(Deserialize)]
pub struct CreateDevCluster {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
}

/// What the CLI needs to write a kubeconfig.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DevCluster {
    pub name: String,
    pub server: String,
    pub certificate_authority_pem: String,
    pub token: String,
}

pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/_keks/dev/clusters", post(create_dev_cluster))
        .route("/_keks/eks/clusters", post(create_eks_cluster))
        .with_state(state)
}

/// Refuses a call without the admin token.
fn check_token(state: &AdminState, headers: &HeaderMap) -> Result<(), (StatusCode, String)> {
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let hash: [u8; 32] = keks_apiserver::authn::StaticTokens::hash(presented);
    if presented.is_empty() || hash != state.token_sha256 {
        return Err((
            StatusCode::UNAUTHORIZED,
            "a valid keks admin token is required (KEKS_ADMIN_TOKEN in env.sh)".into(),
        ));
    }
    Ok(())
}

async fn create_eks_cluster(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Json(req): Json<crate::quick_cluster::Request>,
) -> Result<Json<DevCluster>, (StatusCode, String)> {
    check_token(&state, &headers)?;
    state.quick.create(req).await.map(Json).map_err(|e| {
        use keks_eks::EksError;
        let status = match &e {
            crate::quick_cluster::QuickError::Eks(EksError::ResourceInUse { .. }) => {
                StatusCode::CONFLICT
            }
            crate::quick_cluster::QuickError::Eks(
                EksError::InvalidParameter { .. } | EksError::InvalidRequest { .. },
            ) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, e.to_string())
    })
}

async fn create_dev_cluster(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Json(req): Json<CreateDevCluster>,
) -> Result<Json<DevCluster>, (StatusCode, String)> {
    check_token(&state, &headers)?;
    let version = req
        .version
        .unwrap_or_else(|| DEFAULT_KUBERNETES_VERSION.to_string());
    match state.clusters.create(&req.name, &version).await {
        Ok((record, token)) => Ok(Json(DevCluster {
            server: format!(
                "{}{}",
                state.kube_url,
                keks_apiserver::cluster_path(&record.name)
            ),
            name: record.name,
            certificate_authority_pem: state.ca_pem.clone(),
            token,
        })),
        Err(e @ ClusterError::AlreadyExists(_)) => Err((StatusCode::CONFLICT, e.to_string())),
        Err(e @ ClusterError::InvalidName(..)) => Err((StatusCode::BAD_REQUEST, e.to_string())),
        Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}
