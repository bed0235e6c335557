//! keks-controllers: what runs inside every keks cluster besides the API — the shared
//! informers and work queues, the scheduler, the simulated kubelet, and the workload
//! controllers (ReplicaSet, Deployment, DaemonSet, Job, CronJob, StatefulSet) — all in-process over the cluster's `ClusterApi`.

pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod endpoints;
pub mod endpointslice;
pub mod events;
pub mod expectations;
pub mod informer;
pub mod job;
pub mod kubelet;
pub mod node_lifecycle;
pub mod podutil;
pub mod quantity;
pub mod queue;
pub mod replicaset;
pub mod scheduler;
pub mod slow_start;
pub mod statefulset;
pub mod ttl_after_finished;
pub mod volume_binder;

use std::sync::Arc;
use std::time::Duration;

use keks_apiserver::status::ApiError;
use keks_apiserver::{ClusterAddon, ClusterApi};

use informer::Informer;

/// How a controller's reconcile failed; the key is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{0}")]
    Invalid(String),
}

/// Settings of the controllers of every cluster.
#[derive(Clone, Debug)]
pub struct Config {
    /// How long a bound pod stays Pending before its containers run.
    pub pod_startup_delay: Duration,
    /// How often the simulated kubelet renews each node's Lease (kubelet: 10 s).
    pub lease_renew_interval: Duration,
    /// How often a node's status is reported when nothing changes (kubelet: 5 min).
    pub node_status_report_interval: Duration,
    /// Workers of the ReplicaSet, Deployment, DaemonSet, Job and StatefulSet controllers
    /// (kube-controller-manager: 5).
    pub workers: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            pod_startup_delay: Duration::ZERO,
            lease_renew_interval: Duration::from_secs(10),
            node_status_report_interval: Duration::from_secs(5 * 60),
            workers: 5,
        }
    }
}

/// The informers shared by every controller of one cluster.
pub struct Informers {
    pub pods: Arc<Informer>,
    pub nodes: Arc<Informer>,
    pub replicasets: Arc<Informer>,
    pub deployments: Arc<Informer>,
    pub budgets: Arc<Informer>,
    pub daemonsets: Arc<Informer>,
    pub jobs: Arc<Informer>,
    pub cronjobs: Arc<Informer>,
    pub statefulsets: Arc<Informer>,
    pub controllerrevisions: Arc<Informer>,
    pub services: Arc<Informer>,
    pub endpoints: Arc<Informer>,
    pub endpointslices: Arc<Informer>,
}

impl Informers {
    fn new(api: &Arc<ClusterApi>) -> Self {
        use informer::{by_controller_uid, by_namespace, by_node, by_orphan_namespace, by_uid};
        let make = |g: &str, p: &str, idx: Vec<(&'static str, informer::IndexFn)>| {
            Informer::new(api.clone(), g, "v1", p, idx).expect("built-in resource")
        };
        Self {
            pods: make(
                "",
                "pods",
                vec![
                    ("node", by_node),
                    ("owner", by_controller_uid),
                    ("namespace", by_namespace),
                    ("orphans", by_orphan_namespace),
                ],
            ),
            nodes: make("", "nodes", vec![]),
            replicasets: make(
                "apps",
                "replicasets",
                vec![
                    ("owner", by_controller_uid),
                    ("namespace", by_namespace),
                    ("uid", by_uid),
                ],
            ),
            deployments: make(
                "apps",
                "deployments",
                vec![("namespace", by_namespace), ("uid", by_uid)],
            ),
            daemonsets: make("apps", "daemonsets", vec![]),
            cronjobs: make("batch", "cronjobs", vec![]),
            statefulsets: make("apps", "statefulsets", vec![]),
            services: make("", "services", vec![("namespace", by_namespace)]),
            endpoints: make("", "endpoints", vec![]),
            endpointslices: make(
                "discovery.k8s.io",
                "endpointslices",
                vec![("service", endpointslice::by_managed_service)],
            ),
            controllerrevisions: make(
                "apps",
                "controllerrevisions",
                vec![("owner", by_controller_uid)],
            ),
            jobs: make(
                "batch",
                "jobs",
                vec![
                    ("owner", by_controller_uid),
                    ("namespace", by_namespace),
                    ("uid", by_uid),
                ],
            ),
            budgets: make(
                "policy",
                "poddisruptionbudgets",
                vec![("namespace", by_namespace)],
            ),
        }
    }

    fn start(&self) {
        for i in [
            &self.pods,
            &self.nodes,
            &self.replicasets,
            &self.deployments,
            &self.budgets,
            &self.daemonsets,
            &self.jobs,
            &self.cronjobs,
            &self.statefulsets,
            &self.controllerrevisions,
            &self.services,
            &self.endpoints,
            &self.endpointslices,
        ] {
            i.start();
        }
    }
}

/// The cluster add-on that runs the scheduler, the simulated kubelet and the workload
/// controllers in every cluster.
#[derive(Default)]
pub struct Controllers {
    config: Config,
}

impl Controllers {
    pub fn new(config: Config) -> Self {
        Self { config }
    }
}

impl ClusterAddon for Controllers {
    fn start(&self, api: Arc<ClusterApi>) {
        let informers = Informers::new(&api);
        // Handlers are registered before the informers start, so none misses the first list.
        scheduler::Scheduler::start(&api, &informers.pods, &informers.nodes);
        kubelet::Kubelet::start(&api, &informers, &self.config);
        replicaset::ReplicaSetController::start(&api, &informers, &self.config);
        deployment::DeploymentController::start(&api, &informers, &self.config);
        disruption::DisruptionController::start(&api, &informers);
        daemonset::DaemonSetController::start(&api, &informers, &self.config);
        job::JobController::start(&api, &informers, &self.config);
        ttl_after_finished::TtlAfterFinishedController::start(&api, &informers);
        cronjob::CronJobController::start(&api, &informers);
        statefulset::StatefulSetController::start(&api, &informers, &self.config);
        endpoints::EndpointsController::start(&api, &informers);
        endpointslice::EndpointSliceController::start(&api, &informers);
        volume_binder::VolumeBinder::start(&api);
        node_lifecycle::NodeLifecycleController::start(&api, &informers);
        informers.start();
    }
}
