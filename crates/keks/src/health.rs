//! keks' own health endpoint, `GET /_keks/health`, on the AWS-side listener.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use keks_store::Store;
use serde::Serialize;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    store: StoreHealth,
}

#[derive(Serialize)]
struct StoreHealth {
    revision: i64,
    compacted: i64,
}

pub fn router(store: Arc<dyn Store>) -> Router {
    Router::new()
        .route("/_keks/health", get(health))
        .with_state(store)
}

async fn health(
    State(store): State<Arc<dyn Store>>,
) -> Result<Json<Health>, (axum::http::StatusCode, String)> {
    let revisions = store.revisions().await.map_err(|e| {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("store: {e}"),
        )
    })?;
    Ok(Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        store: StoreHealth {
            revision: revisions.current,
            compacted: revisions.compacted,
        },
    }))
}
