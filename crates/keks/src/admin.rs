//! keks' own administrative endpoints on the AWS-side listener, for the keks CLI and tests:
//! creating a development cluster (`keks dev cluster`) and an EKS cluster in one step
//! (`keks create cluster`), and injecting faults into the simulated EC2 fleet
//! (`/_keks/faults`, `/_keks/spot-interruptions`). Every call needs the admin token that
//! `keks up` generates and writes to env.sh.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
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
    /// The fleet's Auto Scaling groups (and through them the fleet and its faults).
    pub autoscaling: keks_cloud::AutoScaling,
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
        .route("/_keks/costs", get(costs))
        .route(
            "/_keks/faults",
            get(list_faults).post(add_fault).delete(remove_fault),
        )
        .route("/_keks/spot-interruptions", post(interrupt_spot))
        .with_state(state)
}

/// `GET /_keks/costs[?cluster=NAME]`: cost so far — every Fargate pod (per pod, namespace,
/// profile and cluster) and the EC2 fleet's instances.
async fn costs(
    State(state): State<AdminState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Result<Json<serde_json::Value>, (StatusCode, String)> {
    authorize(&state, &headers)?;
    let cluster = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|p| p.strip_prefix("cluster="))
        .map(str::to_string);
    let control = &state.quick.control;
    let mut report = control
        .fargate_meter
        .report(cluster.as_deref(), control.now());
    report["ec2"] = serde_json::json!({"usd": state.autoscaling.fleet().total_cost()});
    Ok(Json(report))
}

async fn create_eks_cluster(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Json(req): Json<crate::quick_cluster::Request>,
) -> Result<Json<DevCluster>, (StatusCode, String)> {
    authorize(&state, &headers)?;
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
    authorize(&state, &headers)?;
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

/// Checks the request carries the admin token.
fn authorize(state: &AdminState, headers: &HeaderMap) -> Result<(), (StatusCode, String)> {
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

/// `GET /_keks/faults`: the standing faults.
async fn list_faults(
    State(state): State<AdminState>,
    headers: HeaderMap,
) -> Result<Json<Vec<keks_cloud::Fault>>, (StatusCode, String)> {
    authorize(&state, &headers)?;
    Ok(Json(state.autoscaling.fleet().faults().list()))
}

/// `POST /_keks/faults` with a fault, e.g. `{"kind":"insufficientCapacity",
/// "instanceType":"m5.large","availabilityZone":"us-east-1a"}` or
/// `{"kind":"subnetExhausted","subnetId":"subnet-…"}`.
async fn add_fault(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Json(fault): Json<keks_cloud::Fault>,
) -> Result<(StatusCode, Json<Vec<keks_cloud::Fault>>), (StatusCode, String)> {
    authorize(&state, &headers)?;
    let faults = state.autoscaling.fleet().faults();
    faults.add(fault);
    Ok((StatusCode::CREATED, Json(faults.list())))
}

/// `DELETE /_keks/faults` with a fault removes it; with no body, every fault. Groups
/// retry their launches at once.
async fn remove_fault(
    State(state): State<AdminState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Vec<keks_cloud::Fault>>, (StatusCode, String)> {
    authorize(&state, &headers)?;
    let faults = state.autoscaling.fleet().faults();
    if body.iter().all(u8::is_ascii_whitespace) {
        faults.clear();
    } else {
        let fault: keks_cloud::Fault = serde_json::from_slice(&body)
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("not a fault: {e}")))?;
        if !faults.remove(&fault) {
            return Err((StatusCode::NOT_FOUND, "no such fault".into()));
        }
    }
    state.autoscaling.reconcile_soon();
    Ok(Json(faults.list()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpotInterruption {
    instance_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpotInterruptionNotice {
    instance_id: String,
    /// Unix seconds.
    terminate_at: f64,
}

/// `POST /_keks/spot-interruptions` `{"instanceId":"i-…"}`: a two-minute interruption
/// notice for a spot instance, then its termination.
async fn interrupt_spot(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Json(req): Json<SpotInterruption>,
) -> Result<Json<SpotInterruptionNotice>, (StatusCode, String)> {
    authorize(&state, &headers)?;
    match state
        .autoscaling
        .fleet()
        .interrupt_spot(&req.instance_id)
        .await
    {
        Ok(terminate_at) => Ok(Json(SpotInterruptionNotice {
            instance_id: req.instance_id,
            terminate_at,
        })),
        Err(e @ keks_cloud::InstanceError::NotFound(_)) => {
            Err((StatusCode::NOT_FOUND, e.to_string()))
        }
        Err(e @ keks_cloud::InstanceError::NotSpot(_)) => {
            Err((StatusCode::BAD_REQUEST, e.to_string()))
        }
        Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}
