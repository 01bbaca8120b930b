//! The `s3-dr` binary against the local stack, as an operator runs it.

mod common;

use std::process::{Command, Output};

use common::*;
use serde_json::Value;

fn s3_dr(stack: &Stack, args: &[&str]) -> Output {
    let mut command = Command::new(cli_binary());
    command.args(args).env_remove("S3DR_STATE_MACHINE_ARN");
    for (key, value) in &stack.env {
        command.env(key, value);
    }
    command.output().expect("run s3-dr")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn protect_wait_prints_each_step_and_status_reports_protection() {
    let stack = stack();
    let source = unique("cli");
    source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;

    let protect = s3_dr(stack, &["protect", &source, "--wait"]);
    let stdout = text(&protect.stdout);
    assert!(protect.status.success(), "{stdout}{}", text(&protect.stderr));
    for step in
        ["ValidateSource", "EnableSourceVersioning", "EnsureDestination", "EnableReplication", "VerifyProtection"]
    {
        assert!(stdout.contains(&format!("{source}:   - {step}: ")), "no line for {step}:\n{stdout}");
    }
    assert!(stdout.contains(&format!("{source}: started protect-{source}-")), "{stdout}");
    assert!(stdout.contains("EnsureDestination: changed (created"), "{stdout}");
    assert!(
        stdout.contains(&format!("SUCCEEDED, protected: {source} (us-west-2) -> {source}-dr (us-east-2)")),
        "{stdout}"
    );

    let status = s3_dr(stack, &["status", &source, "--output", "json"]);
    assert!(status.status.success(), "{}", text(&status.stderr));
    let report: Value = serde_json::from_slice(&status.stdout).unwrap();
    let bucket = &report[0];
    assert_eq!(bucket["bucket"], source.as_str());
    assert_eq!(bucket["region"], SOURCE_REGION);
    assert_eq!(bucket["tagged"], true);
    assert_eq!(bucket["versioning"], "Enabled");
    assert_eq!(bucket["destination"]["bucket"], format!("{source}-dr"));
    assert_eq!(bucket["destination"]["region"], DR_REGION);
    assert_eq!(bucket["destination"]["versioning"], "Enabled");
    assert_eq!(bucket["rule"], "matching");
    assert_eq!(bucket["protected"], true);

    let table = s3_dr(stack, &["status", &source]);
    let table_text = text(&table.stdout);
    assert!(table_text.starts_with("BUCKET"), "{table_text}");
    assert!(table_text.lines().nth(1).unwrap().ends_with("matching  yes"), "{table_text}");
}

#[tokio::test]
async fn status_shows_an_unprotected_bucket_as_such() {
    let stack = stack();
    let source = unique("cli-plain");
    source_bucket(stack, &source, SOURCE_REGION, &[]).await;
    let status = s3_dr(stack, &["status", &source, "--output", "json"]);
    assert!(status.status.success());
    let report: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(report[0]["tagged"], false);
    assert_eq!(report[0]["versioning"], "Off");
    assert_eq!(report[0]["destination"]["state"], "absent");
    assert_eq!(report[0]["rule"], "missing");
    assert_eq!(report[0]["protected"], false);
}

#[tokio::test]
async fn a_failed_bucket_gives_a_non_zero_exit_and_a_one_line_reason() {
    let stack = stack();
    let good = unique("cli-good");
    let missing = unique("cli-missing");
    source_bucket(stack, &good, SOURCE_REGION, &[("dr", "true")]).await;

    let protect = s3_dr(stack, &["protect", &good, &missing, "--wait"]);
    assert!(!protect.status.success());
    let stderr = text(&protect.stderr);
    assert!(stderr.contains("1 bucket(s) failed"), "{stderr}");
    assert!(
        stderr.contains(&format!("{missing}: SourceBucketNotFound: source bucket {missing} does not exist")),
        "{stderr}"
    );
    assert!(text(&protect.stdout).contains(&format!("{good}: SUCCEEDED")));
}

#[test]
fn protect_without_a_state_machine_is_a_usage_error() {
    let output =
        Command::new(cli_binary()).args(["protect", "photos"]).env_remove("S3DR_STATE_MACHINE_ARN").output().unwrap();
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("--state-machine-arn"), "{}", text(&output.stderr));
}

#[tokio::test]
async fn detach_and_sweep_run_their_workflows_and_say_what_happened() {
    let stack = stack();
    let source = unique("cli-detach");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    assert!(s3_dr(stack, &["protect", &source, "--wait"]).status.success());
    tag_bucket(&s3, &source, &[("team", "media")]).await;

    let detach = s3_dr(stack, &["detach", &source, "--wait"]);
    let stdout = text(&detach.stdout);
    assert!(detach.status.success(), "{stdout}{}", text(&detach.stderr));
    assert!(stdout.contains(&format!("{source}:   - DetachReplication: changed")), "{stdout}");
    assert!(stdout.contains(&format!("SUCCEEDED, detached: {source} no longer replicates to {source}-dr")), "{stdout}");

    let sweep = s3_dr(stack, &["sweep", "--wait"]);
    let stdout = text(&sweep.stdout);
    assert!(sweep.status.success(), "{stdout}{}", text(&sweep.stderr));
    assert!(stdout.contains("all-buckets:   - Sweep: "), "{stdout}");
    assert!(stdout.contains("buckets scanned"), "{stdout}");
}
