//! What EKS runs and writes inside each of its clusters, as one cluster add-on: the Fargate
//! admission step, fargate-scheduler, the managed node groups' node sync, and the objects
//! EKS installs in a new cluster (CoreDNS, kube-proxy, aws-node, `aws-auth`).

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use futures::future::BoxFuture;
use keks_apiserver::admission::Admission;
use keks_apiserver::status::ApiError;
use keks_apiserver::{ClusterAddon, ClusterApi};
use keks_core::ClockExt;

use crate::control_plane::ControlPlane;

/// How long a cluster's boot waits for the control plane to be connected (it always is
/// once keks serves requests; clusters load before it exists).
const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// EKS's add-on of every cluster. Created before the control plane exists (clusters load
/// first) and connected to it once it does.
#[derive(Clone, Default)]
pub struct EksAddon {
    control: Arc<OnceLock<Weak<ControlPlane>>>,
}

impl EksAddon {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn connect(&self, control: &Arc<ControlPlane>) {
        let _ = self.control.set(Arc::downgrade(control));
    }

    pub(crate) fn control(&self) -> Option<Arc<ControlPlane>> {
        self.control.get().and_then(Weak::upgrade)
    }

    /// The control plane, waiting (on the cluster's clock) for it to be connected.
    async fn connected(&self, api: &ClusterApi, wait: Duration) -> Option<Arc<ControlPlane>> {
        let mut waited = Duration::ZERO;
        loop {
            if let Some(c) = self.control() {
                return Some(c);
            }
            if waited >= wait {
                return None;
            }
            api.clock.sleep(Duration::from_millis(20)).await;
            waited += Duration::from_millis(20);
        }
    }
}

impl ClusterAddon for EksAddon {
    /// Starts the cluster's fargate-scheduler and managed node group node sync once the
    /// control plane is connected.
    fn start(&self, api: Arc<ClusterApi>) {
        let addon = self.clone();
        let spawner = api.clone();
        spawner.spawn(async move {
            let Some(control) = addon.connected(&api, Duration::MAX).await else {
                return;
            };
            // They hold the control plane weakly: it owns the clusters, not the reverse.
            let control = Arc::downgrade(&control);
            crate::fargate::scheduler::FargateScheduler::start(api.clone(), control.clone());
            crate::nodegroups::sync::NodeSync::start(api, control);
        });
    }

    fn admission(&self) -> Vec<Arc<dyn Admission>> {
        vec![Arc::new(crate::fargate::admission::FargateAdmission(
            self.clone(),
        ))]
    }

    /// EKS's objects in a new cluster. Clusters keks did not create through EKS (`keks dev
    /// cluster`) have no EKS document and get none.
    fn boot(&self, api: Arc<ClusterApi>) -> BoxFuture<'static, Result<(), ApiError>> {
        let addon = self.clone();
        Box::pin(async move {
            let Some(control) = addon.connected(&api, CONNECT_WAIT).await else {
                return Err(ApiError::Internal(
                    "the EKS control plane is not connected".into(),
                ));
            };
            let Some(doc) = control.get(&api.cluster) else {
                return Ok(());
            };
            crate::bootstrap::install(&api, &doc, &control.config.region).await
        })
    }
}
