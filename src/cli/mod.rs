//! The `s3-dr` operator CLI. Same binary against AWS (standard credential chain, `--region`)
//! and the local stack (`AWS_ENDPOINT_URL`).

mod drill;
mod failback;
mod failover;
mod plan;
mod progress;
mod protect;
mod results;
mod status;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::clients::Clients;
use crate::config::Config;

#[derive(Debug, Parser)]
#[command(name = "s3-dr", version, about = "Protect S3 buckets with cross-region replication")]
pub struct Cli {
    /// Home region (where the state machines run); defaults to the SDK's region chain.
    #[arg(long, global = true)]
    pub region: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start one protect execution per bucket.
    Protect {
        #[arg(required = true, value_parser = bucket_name)]
        buckets: Vec<String>,
        /// Wait for the executions and print each step as it finishes.
        #[arg(long)]
        wait: bool,
        /// How to copy the objects that exist already, for this run: batch, copy or off (else
        /// S3DR_BACKFILL), or force: a new backfill with the configured strategy even if the
        /// destination is marked as backfilled.
        #[arg(long, value_parser = ["batch", "copy", "off", "force"])]
        backfill: Option<String>,
        /// `copy`: split a bucket of more than one page into this many key ranges, copied by
        /// Lambdas at once, for this run (1 to 16; else S3DR_COPY_SHARDS).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::config::MAX_COPY_SHARDS)))]
        copy_shards: Option<u32>,
        #[arg(long, env = "S3DR_STATE_MACHINE_ARN")]
        state_machine_arn: String,
    },
    /// Start one detach execution per bucket (removes the s3-dr rule of an untagged bucket,
    /// marks its destination; deletes no data).
    Detach {
        #[arg(required = true, value_parser = bucket_name)]
        buckets: Vec<String>,
        #[arg(long)]
        wait: bool,
        #[arg(long, env = "S3DR_DETACH_STATE_MACHINE_ARN")]
        state_machine_arn: String,
    },
    /// Run the sweep now: check every bucket, start protect or detach where needed.
    Sweep {
        #[arg(long)]
        wait: bool,
        /// Shards to run at once this time (1 to 40; default: the Lambda's S3DR_SWEEP_SHARDS).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=40))]
        shards: Option<u32>,
        #[arg(long, env = "S3DR_SWEEP_STATE_MACHINE_ARN")]
        state_machine_arn: String,
    },
    /// A dry run of the protect workflow: every read it makes, no write, and what each step
    /// would change. Reads the same S3DR_* settings as the Lambda.
    Plan {
        #[arg(required = true, value_parser = bucket_name)]
        buckets: Vec<String>,
    },
    /// Show each bucket's DR state (reads only); non-zero exit if a tagged bucket is not
    /// protected.
    Status {
        #[arg(required_unless_present = "all", conflicts_with = "all", value_parser = bucket_name)]
        buckets: Vec<String>,
        /// Every bucket of the account.
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Is the data in DR? Lists each bucket and its DR bucket, prints what is missing in DR and
    /// the recovery point (the age of the oldest object not in DR), and records the result on
    /// the DR bucket (`status` shows it). Non-zero exit if anything is missing.
    Verify {
        #[arg(required_unless_present = "all", conflicts_with = "all", value_parser = bucket_name)]
        buckets: Vec<String>,
        /// Every protected bucket of the account.
        #[arg(long)]
        all: bool,
        /// auto: the S3 Inventory reports where s3-dr configured them (large buckets), else a
        /// listing; list: always list (bounded by S3DR_VERIFY_MAX_OBJECTS); inventory:
        /// configure the inventories if needed and compare their latest reports.
        #[arg(long, value_enum, default_value_t = crate::steps::verify_data::Method::Auto)]
        method: crate::steps::verify_data::Method,
        #[arg(long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Fail over to DR: the DR bucket becomes the primary (the failover-bucket workflow). It
    /// calls only the DR region (and, with --mrap, the access point's failover controls), so it
    /// works while the source's region fails. Refuses a DR copy whose last verification found
    /// objects missing unless --force. --drill rehearses in this process and changes nothing;
    /// --here runs the steps in this process (when the home region is the one that failed).
    Failover {
        #[arg(required = true, value_parser = bucket_name)]
        buckets: Vec<String>,
        #[arg(long)]
        wait: bool,
        #[arg(long)]
        force: bool,
        #[arg(long)]
        drill: bool,
        /// The Multi-Region Access Point of the source and its DR bucket: its routing is
        /// switched to DR (arn:aws:s3::<account>:accesspoint/<alias>).
        #[arg(long)]
        mrap: Option<String>,
        #[arg(long, conflicts_with = "wait")]
        here: bool,
        #[arg(long, env = "S3DR_FAILOVER_STATE_MACHINE_ARN")]
        state_machine_arn: Option<String>,
    },
    /// Fail back once the source's region answers again (the failback-bucket workflow): the
    /// objects written in DR during the failover are copied home, the source is verified to
    /// hold them all, the access point's routing (if the failover switched one) goes home, and
    /// one-way protection resumes. Without an access point, point the application back at the
    /// source first. Refuses a bucket not failed over, or whose region still fails.
    Failback {
        #[arg(required = true, value_parser = bucket_name)]
        buckets: Vec<String>,
        #[arg(long)]
        wait: bool,
        /// DR's objects written from this UTC time on go home (YYYYMMDDTHHMMSSZ); by default
        /// from 15 minutes before the failover record.
        #[arg(long)]
        since: Option<String>,
        /// The Multi-Region Access Point to route home, if not the one the failover switched.
        #[arg(long)]
        mrap: Option<String>,
        /// Run the steps in this process instead of the workflow.
        #[arg(long, conflicts_with = "wait")]
        here: bool,
        #[arg(long, env = "S3DR_FAILBACK_STATE_MACHINE_ARN")]
        state_machine_arn: Option<String>,
    },
    /// A restore test: reads a random sample of the source's objects from the DR bucket and
    /// compares each with the source (content SHA-256, content type, user metadata, tags);
    /// prints pass/fail per object and the DR read times. Reads only; non-zero exit on a failure.
    Drill {
        #[arg(value_parser = bucket_name)]
        bucket: String,
        /// Objects to read (1 to 1000).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=1000))]
        sample: u16,
        /// Repeat a drill's sample (printed by each drill).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// The Lambda's settings, checked by the Lambda's own rules (no AWS call).
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Check S3DR_* settings: from --env-file (a JSON object of variable -> value, the
    /// environment a deployment gives the Lambda; `make synth` checks the CDK stack's this way),
    /// else from this process's environment. Prints `ok`, or the problem and exits non-zero.
    Check {
        #[arg(long)]
        env_file: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

pub async fn run(cli: Cli) -> ExitCode {
    if let Command::Config { action: ConfigAction::Check { env_file } } = &cli.command {
        return exit_code(check_config(env_file.as_deref()));
    }
    let clients = Clients::from_env(cli.region.clone()).await;
    let result = match cli.command {
        Command::Protect { buckets, wait, backfill, copy_shards, state_machine_arn } => {
            match check_tags(&clients, &buckets, Wanted::Tagged).await {
                Ok(()) => {
                    let backfill = backfill.map(|value| ("backfill", serde_json::Value::from(value)));
                    let shards = copy_shards.map(|n| ("copyShards", serde_json::Value::from(n)));
                    let extra: Vec<_> = backfill.into_iter().chain(shards).collect();
                    protect::run(&clients, "protect", &state_machine_arn, &buckets, &extra, wait).await
                }
                Err(reason) => Err(reason),
            }
        }
        Command::Detach { buckets, wait, state_machine_arn } => {
            match check_tags(&clients, &buckets, Wanted::Untagged).await {
                Ok(()) => protect::run(&clients, "detach", &state_machine_arn, &buckets, &[], wait).await,
                Err(reason) => Err(reason),
            }
        }
        Command::Sweep { wait, shards, state_machine_arn } => {
            let inputs =
                [("all-buckets".to_owned(), serde_json::json!({ "requestedBy": "s3-dr CLI", "shards": shards }))];
            protect::start_and_follow(&clients, "sweep", &state_machine_arn, &inputs, wait).await
        }
        Command::Plan { buckets } => match Config::from_env() {
            Ok(config) => plan::run(&clients, &config, &buckets).await,
            Err(error) => Err(error.to_string()),
        },
        Command::Status { buckets, all, output } => {
            match (Config::from_env(), named_or_all(&clients, buckets, all).await) {
                (Ok(config), Ok(buckets)) => status::run(&clients, &config, &buckets, output).await,
                (Err(error), _) => Err(error.to_string()),
                (_, Err(error)) => Err(error),
            }
        }
        Command::Verify { buckets, all, method, output } => {
            match (Config::from_env(), named_or_all(&clients, buckets, all).await) {
                (Ok(config), Ok(buckets)) => verify::run(&clients, &config, &buckets, all, method, output).await,
                (Err(error), _) => Err(error.to_string()),
                (_, Err(error)) => Err(error),
            }
        }
        Command::Failover { buckets, wait, force, drill, mrap, here, state_machine_arn } => {
            match (drill || here, state_machine_arn, Config::from_env()) {
                (true, _, Ok(config)) => {
                    let request = failover::Request { force, drill, mrap: mrap.as_deref() };
                    failover::run_here(&clients, &config, &buckets, request).await
                }
                (true, _, Err(error)) => Err(error.to_string()),
                (false, Some(arn), _) => {
                    let inputs: Vec<(String, serde_json::Value)> = buckets
                        .iter()
                        .map(|b| (b.clone(), serde_json::json!({ "bucket": b, "force": force, "mrap": mrap, "requestedBy": "s3-dr CLI" })))
                        .collect();
                    protect::start_and_follow(&clients, "failover", &arn, &inputs, wait).await
                }
                (false, None, _) => Err("failover needs the failover workflow's ARN (--state-machine-arn or S3DR_FAILOVER_STATE_MACHINE_ARN), or --here to run it in this process".to_owned()),
            }
        }
        Command::Failback { buckets, wait, since, mrap, here, state_machine_arn } => {
            let input = |bucket: &str| serde_json::json!({ "bucket": bucket, "since": since, "mrap": mrap, "requestedBy": "s3-dr CLI" });
            match (here, state_machine_arn, Config::from_env()) {
                (true, _, Ok(config)) => {
                    let inputs: Vec<serde_json::Value> = buckets.iter().map(|b| input(b)).collect();
                    failback::run_here(&clients, &config, &inputs).await
                }
                (true, _, Err(error)) => Err(error.to_string()),
                (false, Some(arn), _) => {
                    let inputs: Vec<(String, serde_json::Value)> = buckets.iter().map(|b| (b.clone(), input(b))).collect();
                    protect::start_and_follow(&clients, "failback", &arn, &inputs, wait).await
                }
                (false, None, _) => Err("failback needs the failback workflow's ARN (--state-machine-arn or S3DR_FAILBACK_STATE_MACHINE_ARN), or --here to run it in this process".to_owned()),
            }
        }
        Command::Drill { bucket, sample, seed } => match Config::from_env() {
            Ok(config) => drill::run(&clients, &config, &bucket, usize::from(sample), seed).await,
            Err(error) => Err(error.to_string()),
        },
        Command::Config { .. } => Ok(()),
    };
    exit_code(result)
}

/// The buckets named, or with `--all` every bucket of the account (`status`, `verify`).
async fn named_or_all(clients: &Clients, named: Vec<String>, all: bool) -> Result<Vec<String>, String> {
    match all {
        true => status::all_buckets(clients).await,
        false => Ok(named),
    }
}

/// What `protect` and `detach` need of a bucket's tags for their workflow to do anything.
#[derive(Clone, Copy, PartialEq)]
enum Wanted {
    Tagged,
    Untagged,
}

/// The tag decides what the workflows do: `protect` of an untagged bucket and `detach` of a
/// tagged one would end "SUCCEEDED" having done nothing (and a detached bucket that is still
/// tagged is protected again by the next event or sweep). Refused before anything starts, each
/// bucket named with what to do. A bucket that does not exist is left to the workflow, which
/// names it.
async fn check_tags(clients: &Clients, buckets: &[String], wanted: Wanted) -> Result<(), String> {
    use futures::StreamExt;
    let config = Config::from_env().map_err(|error| error.to_string())?;
    let tag = &config.match_tag;
    let home = clients.s3(&clients.home_region());
    // Two reads per bucket, 16 buckets at once (as the sweep reads them).
    let checked: Vec<Result<Option<String>, String>> = futures::stream::iter(buckets)
        .map(|bucket| {
            let home = &home;
            async move {
                let Some(region) = crate::bucket::region(home, bucket).await.map_err(|e| e.to_string())? else {
                    return Ok(None);
                };
                let tags = crate::bucket::tags(&clients.s3(&region), bucket).await.map_err(|e| e.to_string())?;
                Ok(match (tag.matches(&tags), wanted) {
                    (false, Wanted::Tagged) => Some(format!(
                        "{bucket}: not tagged {tag}, so protect would do nothing; tag it first (that alone protects it: the tagging event starts the workflow)"
                    )),
                    (true, Wanted::Untagged) => Some(format!(
                        "{bucket}: still tagged {tag}, so detach would do nothing (and the next event or sweep protects it again); remove the tag first (that alone detaches it)"
                    )),
                    _ => None,
                })
            }
        })
        .buffered(16)
        .collect()
        .await;
    let mut refused = Vec::new();
    for outcome in checked {
        refused.extend(outcome?);
    }
    match refused.is_empty() {
        true => Ok(()),
        false => Err(format!("nothing started:\n{}", refused.join("\n"))),
    }
}

/// A bucket argument, by the rule the Lambda applies to its input: a bad one is a usage error
/// (exit 2) before anything is started.
fn bucket_name(name: &str) -> Result<String, String> {
    match crate::naming::why_not_a_bucket_name(name) {
        None => Ok(name.to_owned()),
        Some(rule) => Err(rule),
    }
}

fn exit_code(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("s3-dr: {reason}");
            ExitCode::FAILURE
        }
    }
}

fn check_config(env_file: Option<&std::path::Path>) -> Result<(), String> {
    let values = match env_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(serde_json::Value::Object(values)) => values,
                _ => return Err(format!("{} is not a JSON object of variable -> value", path.display())),
            }
        }
        // This shell's S3DR_* may include the CLI's own (S3DR_STATE_MACHINE_ARN): only the
        // Lambda's settings are checked.
        None => std::env::vars()
            .filter(|(name, _)| crate::config::SETTINGS.iter().any(|(known, _, _)| known == name))
            .map(|(name, value)| (name, value.into()))
            .collect(),
    };
    crate::config::check_settings(&values).map_err(|error| error.to_string())?;
    println!("ok");
    Ok(())
}
