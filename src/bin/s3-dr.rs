//! `s3-dr`, the operator CLI: parse arguments, run, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    s3_dr::cli::run(s3_dr::cli::Cli::parse()).await
}
