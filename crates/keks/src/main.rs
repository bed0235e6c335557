//! keks: EKS on one machine. The command-line entry point.

mod admin;
mod aws;
mod cli;
mod credentials;
mod datadir;
mod dev;
mod env_file;
mod health;
mod quick_cluster;
mod up;

use clap::Parser;

use crate::cli::{Cli, Command, CreateCommand, DevCommand};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log.as_deref());
    match run(cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // One line with the whole cause chain; a backtrace helps no user here.
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Up(args) => up::run(args),
        Command::Env(args) => env_file::print(&args.data_dir.resolve()?),
        Command::Dev(DevCommand::Cluster(args)) => dev::create_cluster(args),
        Command::Create(CreateCommand::Cluster(args)) => quick_cluster::run(args),
        Command::Version => {
            println!("keks {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    }
}

fn init_tracing(filter: Option<&str>) {
    let filter = filter
        .map(tracing_subscriber::EnvFilter::new)
        .unwrap_or_else(|| {
            tracing_subscriber::EnvFilter::try_from_env("KEKS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
        });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
