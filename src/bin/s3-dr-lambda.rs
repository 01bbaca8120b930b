//! The s3-dr step Lambda: init tracing, read configuration once, build clients, serve.

// The future of `main` (lambda_runtime service stack around the SDK calls) is deeper than
// rustc's default layout query limit in non-test builds.
#![recursion_limit = "256"]

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use s3_dr::clients::Clients;
use s3_dr::config::Config;
use s3_dr::lambda::Handler;
use serde_json::value::RawValue;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON logs when AWS_LAMBDA_LOG_FORMAT=JSON (set by the CDK stack).
    lambda_runtime::tracing::init_default_subscriber();
    let handler = Handler { config: Config::from_env(), clients: Clients::from_env(None).await };
    if let Err(error) = &handler.config {
        tracing::error!(%error, "invalid configuration: every invocation will fail with InvalidConfig");
    }
    let handler = &handler;
    run(service_fn(move |event: LambdaEvent<Box<RawValue>>| async move { handler.handle(event).await })).await
}
