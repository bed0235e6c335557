//! `keks up`: takes the data directory, opens the store, serves the AWS-side listener (keks'
//! health and admin endpoints) and the Kubernetes API listener until SIGINT/SIGTERM, then
//! shuts down cleanly (listeners closed, store flushed, env.sh removed).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use keks_apiserver::authn::{AuthenticatorChain, StaticTokens};
use keks_apiserver::authz::Authorizer;
use keks_apiserver::{ApiServer, Clusters, Pki, Registry};
use keks_core::RealClock;
use keks_store::{DirLock, EmbeddedOptions, EmbeddedStore, Store};
use tokio::net::TcpListener;

use crate::admin::{self, AdminState};
use crate::cli::UpArgs;
use crate::datadir::DataDir;
use crate::env_file::{self, EnvVar};
use crate::{aws, credentials, health};

pub fn run(args: UpArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("keks")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args))
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the {what} listener to {addr}"))?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

async fn serve(args: UpArgs) -> anyhow::Result<()> {
    let dir = DataDir::new(args.data_dir.resolve()?);
    let _lock = DirLock::acquire(dir.root())?;
    let clock = RealClock::shared();
    let store = Arc::new(EmbeddedStore::open(
        dir.store(),
        EmbeddedOptions::default(),
    )?);
    let opened = store.opened().clone();
    tracing::info!(
        data_dir = %dir.root().display(),
        revision = opened.revision,
        keys = opened.keys,
        snapshot = ?opened.snapshot_revision,
        replayed = opened.replayed_records,
        "store opened"
    );
    if let Some(torn) = &opened.torn_tail {
        tracing::warn!(%torn, "the log ended in a torn write (an interrupted, unacknowledged write); it was cut off");
    }
    let admin_token = credentials::load_or_generate(&dir.admin_token())?;
    let account = keks_aws::Account::load_or_create(store.as_ref()).await?;
    let pki = Pki::load_or_create(&dir.pki())?;

    let shared_store: Arc<dyn Store> = store.clone();
    let iam = keks_aws::Iam::load(shared_store.clone(), account.clone()).await?;
    let network =
        keks_cloud::Network::load_or_create(shared_store.clone(), &args.region, &account.id)
            .await?;
    // The simulated EC2 fleet and its Auto Scaling groups, on the same timing profile as
    // EKS.
    let (fleet_timing, asg_config) = match args.timing.as_str() {
        "realistic" => (
            keks_cloud::FleetTiming::REALISTIC,
            keks_cloud::AutoScalingConfig::REALISTIC,
        ),
        _ => (
            keks_cloud::FleetTiming::FAST,
            keks_cloud::AutoScalingConfig::FAST,
        ),
    };
    let fleet = keks_cloud::Fleet::load(
        shared_store.clone(),
        network.clone(),
        clock.clone(),
        fleet_timing,
        keks_cloud::Faults::new(),
    )
    .await?;
    let autoscaling =
        keks_cloud::AutoScaling::load(shared_store.clone(), fleet.clone(), asg_config).await?;
    keks_apiserver::lifecycle::compactor::spawn(
        shared_store.clone(),
        clock.clone(),
        keks_apiserver::lifecycle::compactor::COMPACTION_INTERVAL,
    );
    let registry = Arc::new(Registry::with_builtins());
    let fargate = keks_eks::EksAddon::new();
    let tokens = Arc::new(StaticTokens::default());
    let authorizer = Arc::new(Authorizer::new(shared_store.clone()));
    let clusters = Arc::new(
        Clusters::load(
            shared_store.clone(),
            registry,
            clock.clone(),
            tokens.clone(),
            authorizer.clone(),
            vec![
                Arc::new(keks_controllers::Controllers::new(
                    keks_controllers::Config::default(),
                )),
                Arc::new(fargate.clone()),
            ],
        )
        .await?,
    );

    let (aws_listener, aws_addr) =
        bind(SocketAddr::new(args.listen_address, args.aws_port), "AWS").await?;
    let (kube_listener, kube_addr) = bind(
        SocketAddr::new(args.listen_address, args.kube_port),
        "Kubernetes API",
    )
    .await?;
    let endpoint = format!("http://{aws_addr}");
    let kube_url = format!("https://{kube_addr}");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let control = keks_eks::ControlPlane::load(
        keks_eks::ControlPlaneConfig {
            region: args.region.clone(),
            account_id: account.id.clone(),
            kube_url: kube_url.clone(),
            ca_pem: pki.ca_cert_pem.clone(),
            timing: keks_eks::TimingProfile::parse(&args.timing).unwrap_or_default(),
            cluster_quota: args.eks_cluster_quota,
        },
        shared_store.clone(),
        clock.clone(),
        clusters.clone(),
        network.clone(),
    )
    .await?;
    authorizer.set_grants(control.clone());
    control.set_autoscaling(autoscaling.clone());
    fargate.connect(&control);
    control.set_principals(Arc::new(iam.clone()));
    let eks_tokens = Arc::new(keks_aws::eks_token::EksTokenAuthenticator {
        iam: iam.clone(),
        control: control.clone(),
        clock: clock.clone(),
    });
    let app = health::router(shared_store.clone()).merge(admin::router(AdminState {
        clusters: clusters.clone(),
        token_sha256: StaticTokens::hash(&admin_token),
        kube_url: kube_url.clone(),
        ca_pem: pki.ca_cert_pem.clone(),
        autoscaling: autoscaling.clone(),
        quick: crate::quick_cluster::QuickClusters {
            control: control.clone(),
            clusters: clusters.clone(),
            iam: iam.clone(),
            network: network.clone(),
            clock: clock.clone(),
            kube_url: kube_url.clone(),
            ca_pem: pki.ca_cert_pem.clone(),
        },
    }));
    let aws_front = Arc::new(keks_aws::AwsFront {
        account: account.clone(),
        iam,
        network,
        fleet: Some(autoscaling.clone()),
        eks: Some(Arc::new(keks_aws::eks::EksFront::new(control))),
    });
    let app = app.merge(
        axum::Router::new()
            .fallback(aws::handle)
            .with_state(aws::AwsState {
                front: aws_front,
                clock: clock.clone(),
            }),
    );
    let aws_serve = axum::serve(aws_listener, app).with_graceful_shutdown(stopped(stop_rx.clone()));
    let aws_server = tokio::spawn(async move { aws_serve.await });
    let sa_tokens =
        keks_apiserver::sa_tokens::ServiceAccountTokens::load(store.as_ref(), clock.clone())
            .await?;
    sa_tokens.connect(&clusters);
    let api = Arc::new(ApiServer {
        clusters: clusters.clone(),
        authn: AuthenticatorChain::default()
            .with(tokens)
            .with(eks_tokens)
            .with(sa_tokens.clone()),
        authorizer,
        clock: clock.clone(),
        sa_tokens,
    });
    let kube_server = tokio::spawn(keks_apiserver::serve(
        kube_listener,
        pki.server_config()?,
        api,
        stopped(stop_rx.clone()),
    ));

    env_file::write(
        &dir,
        &[
            EnvVar {
                name: "KEKS_DATA_DIR",
                value: dir.root().display().to_string(),
            },
            EnvVar {
                name: "KEKS_ENDPOINT_URL",
                value: endpoint.clone(),
            },
            EnvVar {
                name: "KEKS_KUBE_URL",
                value: kube_url.clone(),
            },
            EnvVar {
                name: "KEKS_ADMIN_TOKEN",
                value: admin_token,
            },
            EnvVar {
                name: "AWS_ENDPOINT_URL",
                value: endpoint.clone(),
            },
            EnvVar {
                name: "AWS_ACCESS_KEY_ID",
                value: account.root.access_key_id.clone(),
            },
            EnvVar {
                name: "AWS_SECRET_ACCESS_KEY",
                value: account.root.secret_access_key.clone(),
            },
            EnvVar {
                name: "AWS_DEFAULT_REGION",
                value: args.region.clone(),
            },
            EnvVar {
                name: "AWS_REGION",
                value: args.region.clone(),
            },
        ],
    )?;
    println!("keks {} is up", env!("CARGO_PKG_VERSION"));
    println!("  data dir:        {}", dir.root().display());
    println!("  endpoint:        {endpoint}  (health: {endpoint}/_keks/health)");
    println!("  Kubernetes APIs: {kube_url}/clusters/<name>");
    println!(
        "  AWS account:     {} (region {}, EKS timing {})",
        account.id, args.region, args.timing
    );
    println!(
        "  credentials:     AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
        account.root.access_key_id, account.root.secret_access_key
    );
    println!("  env:             source {}", dir.env_file().display());

    wait_for_signal().await?;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    aws_server.await.context("joining the AWS listener")??;
    kube_server
        .await
        .context("joining the Kubernetes API listener")?;
    env_file::remove(&dir);
    store.close();
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    Ok(())
}
