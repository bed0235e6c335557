//! `keks up`: takes the data directory, opens the store, serves until SIGINT/SIGTERM, and
//! shuts down cleanly (listeners closed, store flushed, env.sh removed).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use keks_store::{DirLock, EmbeddedOptions, EmbeddedStore, Store};
use tokio::net::TcpListener;

use crate::cli::UpArgs;
use crate::datadir::DataDir;
use crate::env_file::{self, EnvVar};
use crate::health;

pub fn run(args: UpArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("keks")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: UpArgs) -> anyhow::Result<()> {
    let dir = DataDir::new(args.data_dir.resolve()?);
    let _lock = DirLock::acquire(dir.root())?;
    let store = Arc::new(EmbeddedStore::open(dir.store(), EmbeddedOptions::default())?);
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

    let aws_addr = SocketAddr::new(args.listen_address, args.aws_port);
    let aws_listener = TcpListener::bind(aws_addr)
        .await
        .with_context(|| format!("binding the AWS listener to {aws_addr}"))?;
    let aws_addr = aws_listener.local_addr()?;
    let endpoint = format!("http://{aws_addr}");

    let app = health::router(store.clone() as Arc<dyn Store>);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut stopped = stop_rx.clone();
    let server = tokio::spawn(async move {
        axum::serve(aws_listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
    });

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
        ],
    )?;
    println!("keks {} is up", env!("CARGO_PKG_VERSION"));
    println!("  data dir:  {}", dir.root().display());
    println!("  endpoint:  {endpoint}  (health: {endpoint}/_keks/health)");
    println!("  env:       source {}", dir.env_file().display());

    wait_for_signal().await?;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    drop(stop_rx);
    server.await.context("joining the AWS listener")??;
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
