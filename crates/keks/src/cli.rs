//! The command line: `keks up`, `keks env`, `keks version`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "keks",
    version,
    about = "EKS on one machine: the EKS API, Kubernetes API servers and simulated compute"
)]
pub struct Cli {
    /// Log filter (tracing EnvFilter syntax, e.g. `info,keks_store=debug`); default from
    /// KEKS_LOG, else `info`.
    #[arg(long, global = true)]
    pub log: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run keks in the foreground until SIGINT or SIGTERM.
    Up(UpArgs),
    /// Print the shell `export` lines of a running keks (the contents of DIR/env.sh).
    Env(EnvArgs),
    /// Print the version.
    Version,
    /// Development helpers for a running keks.
    #[command(subcommand)]
    Dev(DevCommand),
    /// Create things on a running keks in one step.
    #[command(subcommand)]
    Create(CreateCommand),
}

#[derive(Debug, Subcommand)]
pub enum CreateCommand {
    /// Create an EKS cluster as `eksctl create cluster` would (IAM role, the default VPC's
    /// private subnets, waiting until ACTIVE) and write a kubeconfig for it; `--fargate` adds
    /// a Fargate profile for `default` and `kube-system` and moves CoreDNS onto it.
    Cluster(CreateClusterArgs),
}

#[derive(Debug, Args)]
pub struct CreateClusterArgs {
    /// The cluster's name.
    pub name: String,

    /// The kubeconfig file to write (merged if it exists; the new context becomes current).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: PathBuf,

    /// Kubernetes minor version (default: EKS's default).
    #[arg(long, value_name = "1.N")]
    pub kubernetes_version: Option<String>,

    /// A Fargate-only cluster: a profile for `default` and `kube-system`, CoreDNS on Fargate.
    #[arg(long)]
    pub fargate: bool,

    /// A managed node group `ng-default` of this many nodes (like `eksctl create cluster
    /// --managed --nodes N`).
    #[arg(long, value_name = "N", conflicts_with = "fargate")]
    pub nodes: Option<u32>,

    /// The instance type of `--nodes`.
    #[arg(
        long,
        default_value = "t3.medium",
        value_name = "TYPE",
        requires = "nodes"
    )]
    pub node_type: String,

    #[command(flatten)]
    pub data_dir: DataDirArg,
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Create a bare cluster (Kubernetes API only) and write a kubeconfig for it with an
    /// admin token. The EKS API (`aws eks create-cluster`) is the way for EKS clusters.
    Cluster(DevClusterArgs),
}

#[derive(Debug, Args)]
pub struct DevClusterArgs {
    /// The cluster's name (a DNS label).
    pub name: String,

    /// The kubeconfig file to write (merged if it exists; the new context becomes current).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: PathBuf,

    /// Kubernetes minor version the cluster reports.
    #[arg(long, value_name = "1.N")]
    pub kubernetes_version: Option<String>,

    #[command(flatten)]
    pub data_dir: DataDirArg,
}

#[derive(Debug, Clone, Args)]
pub struct DataDirArg {
    /// Where keks keeps its state, credentials and env.sh.
    #[arg(long, env = "KEKS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl DataDirArg {
    /// The data directory: the flag, else KEKS_DATA_DIR, else `~/.keks`.
    pub fn resolve(&self) -> anyhow::Result<PathBuf> {
        match &self.data_dir {
            Some(dir) => Ok(dir.clone()),
            None => {
                let home = std::env::var_os("HOME")
                    .ok_or_else(|| anyhow::anyhow!("HOME is not set; pass --data-dir"))?;
                Ok(PathBuf::from(home).join(".keks"))
            }
        }
    }
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub data_dir: DataDirArg,

    /// Address every listener binds to.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub listen_address: IpAddr,

    /// Port of the AWS-side HTTP listener (and keks' health endpoint); 0 picks a free port.
    #[arg(long, default_value_t = 7600, value_name = "PORT")]
    pub aws_port: u16,

    /// The AWS region keks presents (credential scopes, ARNs, endpoints).
    #[arg(long, default_value = "us-east-1", value_name = "REGION")]
    pub region: String,

    /// How long EKS's asynchronous work takes: `fast` (done in well under a second, still
    /// asynchronous) or `realistic` (EKS's usual minutes, for rehearsing waiters).
    #[arg(long, default_value = "fast", value_name = "PROFILE", value_parser = ["fast", "realistic"])]
    pub timing: String,

    /// EKS clusters allowed per Region (EKS's default quota is 100).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub eks_cluster_quota: usize,

    /// Port of the HTTPS listener serving every cluster's Kubernetes API; 0 picks a free port.
    #[arg(long, default_value_t = 7643, value_name = "PORT")]
    pub kube_port: u16,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    #[command(flatten)]
    pub data_dir: DataDirArg,
}
