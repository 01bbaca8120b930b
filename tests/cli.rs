//! The `s3-dr` binary against the local stack, as an operator runs it.

mod common;

use std::process::{Command, Output};

use common::*;
use serde_json::Value;
use tokio::sync::RwLock;

/// The sweep protects every tagged bucket of the account, so the tests that need a tagged bucket
/// to stay unprotected hold this for reading while the sweep test holds it for writing.
static SWEEP: RwLock<()> = RwLock::const_new(());

fn s3_dr(stack: &Stack, args: &[&str]) -> Output {
    s3_dr_with(stack, args, &[])
}

/// The CLI with the stack's environment, plus `extra` over it.
fn s3_dr_with(stack: &Stack, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let mut command = Command::new(cli_binary());
    command.args(args).env_remove("S3DR_STATE_MACHINE_ARN");
    for (key, value) in &stack.env {
        command.env(key, value);
    }
    for (key, value) in extra {
        command.env(key, value);
    }
    command.output().expect("run s3-dr")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn protect_wait_prints_each_step_and_status_reports_protection() {
    // A sweep meanwhile would protect the new tagged bucket first (this run would find it done).
    let _no_sweep = SWEEP.read().await;
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
    let row = table_text.lines().nth(1).unwrap();
    assert!(row.contains("matching  yes") && row.contains(&format!("copy {}", s3_dr::clock::today())), "{table_text}");
    // Not verified yet: the last column says so.
    assert!(row.ends_with("  -"), "{table_text}");
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

/// Bucket arguments are checked by the Lambda's own rule before anything starts: a usage error
/// (exit 2) naming the rule. (`Bad_Name` and a 70-character name are legal legacy us-east-1
/// names, so they pass: S3 answers for them.)
#[test]
fn bad_bucket_names_are_usage_errors_before_anything_starts() {
    for (args, rule) in [
        (vec!["protect", ""], "3 to 63 characters"),
        (vec!["detach", "ab"], "3 to 63 characters"),
        (vec!["status", "has space"], "' '"),
        (vec!["plan", "a/b"], "'/'"),
        (vec!["protect", "photos", "--copy-shards", "17"], "17 is not in 1..=16"),
    ] {
        let output = Command::new(cli_binary())
            .args(&args)
            .args(
                ["--state-machine-arn", "arn:aws:states:us-east-1:123456789012:stateMachine:x"]
                    .iter()
                    .filter(|_| matches!(args[0], "protect" | "detach")),
            )
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output.stderr));
        assert!(text(&output.stderr).contains(rule), "{args:?}: {}", text(&output.stderr));
    }
}

/// `detach` of a tagged bucket and `protect` of an untagged one would succeed having done
/// nothing: refused before anything starts, saying what to do.
#[tokio::test]
async fn detach_of_a_tagged_bucket_and_protect_of_an_untagged_one_are_refused() {
    let stack = stack();
    let tagged = unique("cli-tagged");
    source_bucket(stack, &tagged, SOURCE_REGION, &[("dr", "true")]).await;
    let untagged = unique("cli-untagged");
    source_bucket(stack, &untagged, SOURCE_REGION, &[]).await;
    let detach_arn = stack.workflow_arn("detach");
    for (args, says) in [
        (vec!["detach", tagged.as_str(), "--state-machine-arn", detach_arn.as_str()], "remove the tag first"),
        (vec!["protect", untagged.as_str()], "tag it first"),
    ] {
        let output = s3_dr(stack, &args);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {}", text(&output.stdout));
        let stderr = text(&output.stderr);
        assert!(stderr.contains(says) && stderr.contains("nothing started"), "{args:?}: {stderr}");
        assert!(!text(&output.stdout).contains("started"), "{args:?}: {}", text(&output.stdout));
    }
}

/// Asking about a bucket that does not exist is a problem like any other: non-zero, named.
#[tokio::test]
async fn status_of_a_missing_bucket_fails_naming_it() {
    let stack = stack();
    let missing = unique("cli-missing");
    let status = s3_dr(stack, &["status", &missing]);
    assert!(!status.status.success(), "{}", text(&status.stdout));
    let stderr = text(&status.stderr);
    assert!(stderr.contains(&missing) && stderr.contains("no such bucket"), "{stderr}");
}

/// Output fits where it goes: piped (as here), no escape codes from the CLI's logs, and the
/// local scripts' headings are plain when piped or with NO_COLOR.
#[tokio::test]
async fn piped_output_has_no_escape_codes() {
    let stack = stack();
    let source = unique("cli-pipe");
    source_bucket(stack, &source, SOURCE_REGION, &[]).await;
    let logged = s3_dr_with(stack, &["status", &source], &[("RUST_LOG", "debug")]);
    assert!(!logged.stderr.is_empty(), "debug logs expected on stderr");
    assert!(!logged.stderr.contains(&0x1b) && !logged.stdout.contains(&0x1b), "{}", text(&logged.stderr));
    for no_color in [None, Some("1")] {
        let mut heading = Command::new("bash");
        heading.current_dir(repo_root()).args(["-c", ". local/term.sh; step hello"]);
        if let Some(value) = no_color {
            heading.env("NO_COLOR", value);
        }
        let output = heading.output().unwrap();
        assert_eq!(text(&output.stdout), "\n== hello\n", "NO_COLOR={no_color:?}");
    }
}

#[tokio::test]
async fn a_failed_bucket_gives_a_non_zero_exit_and_a_one_line_reason() {
    let _no_sweep = SWEEP.read().await;
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

/// `s3-dr config check`, as `make synth` runs it on the environment the CDK stack generates.
#[test]
fn config_check_accepts_what_the_lambda_accepts_and_names_what_it_refuses() {
    let dir = std::env::temp_dir().join(format!("s3dr-config-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let check = |settings: Value| {
        let file = dir.join("env.json");
        std::fs::write(&file, settings.to_string()).unwrap();
        Command::new(cli_binary()).args(["config", "check", "--env-file"]).arg(&file).output().unwrap()
    };
    let good = check(serde_json::json!({"S3DR_DR_REGION": "us-east-2", "S3DR_DESTINATION_SUFFIX": "-dr"}));
    assert!(good.status.success(), "{}", text(&good.stderr));
    assert_eq!(text(&good.stdout).trim(), "ok");
    let bad = check(serde_json::json!({"S3DR_DESTINATION_SUFFIX": "-dr-"}));
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("S3DR_DESTINATION_SUFFIX"), "{}", text(&bad.stderr));
    // From the environment: the Lambda's settings only (the CLI's own S3DR_* are not checked).
    let from_env = Command::new(cli_binary())
        .args(["config", "check"])
        .env("S3DR_STORAGE_CLASS", "COLD")
        .env("S3DR_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:x")
        .output()
        .unwrap();
    assert!(text(&from_env.stderr).contains("S3DR_STORAGE_CLASS"), "{}", text(&from_env.stderr));
    std::fs::remove_dir_all(&dir).ok();
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

    let sweep = {
        let _only_sweep = SWEEP.write().await;
        s3_dr(stack, &["sweep", "--wait"])
    };
    let stdout = text(&sweep.stdout);
    assert!(sweep.status.success(), "{stdout}{}", text(&sweep.stderr));
    assert!(stdout.contains("all-buckets:   - Sweep: "), "{stdout}");
    assert!(stdout.contains("buckets scanned"), "{stdout}");
}

#[tokio::test]
async fn plan_reports_what_protect_would_change_and_changes_nothing() {
    let _no_sweep = SWEEP.read().await;
    let stack = stack();
    let source = unique("cli-plan");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true"), ("team", "media")]).await;

    let plan = s3_dr(stack, &["plan", &source]);
    let stdout = text(&plan.stdout);
    assert!(plan.status.success(), "{stdout}{}", text(&plan.stderr));
    assert!(stdout.contains(&format!("{source}:   - EnableSourceVersioning: would change")), "{stdout}");
    assert!(stdout.contains("EnsureDestination: would change (created, tags, versioning"), "{stdout}");
    assert!(stdout.contains("EnableReplication: would change (add rule s3-dr)"), "{stdout}");
    assert!(stdout.contains("CheckBackfill: would copy 2 objects"), "{stdout}");
    // Nothing was written.
    assert_eq!(versioning(&s3, &source).await, "Off");
    assert!(s3_dr::bucket::replication(&s3, &source).await.unwrap().is_none());
    let home = stack.s3(HOME_REGION).await;
    assert_eq!(s3_dr::bucket::region(&home, &format!("{source}-dr")).await.unwrap(), None);

    // After protection, the plan is empty.
    assert!(s3_dr(stack, &["protect", &source, "--wait"]).status.success());
    let again = s3_dr(stack, &["plan", &source]);
    let stdout = text(&again.stdout);
    assert!(stdout.contains(&format!("{source}: plan: 0 step(s) would change something")), "{stdout}");

    // With the AWS default, batch: the plan names the job it would start (no S3 Control call).
    let batch = unique("cli-plan-batch");
    source_bucket(stack, &batch, SOURCE_REGION, &[("dr", "true")]).await;
    let batch_env = [
        ("S3DR_BACKFILL", "batch"),
        ("S3DR_BATCH_ROLE_ARN", "arn:aws:iam::123456789012:role/s3-dr-batch"),
        ("S3DR_BATCH_REPORT_BUCKET", "s3-dr-reports-{region}"),
    ];
    let planned = s3_dr_with(stack, &["plan", &batch], &batch_env);
    let stdout = text(&planned.stdout);
    assert!(planned.status.success(), "{stdout}{}", text(&planned.stderr));
    assert!(stdout.contains("StartBackfill: batch: would start an S3 Batch Replication job"), "{stdout}");

    // A refusal is reported as the workflow would raise it, with a non-zero exit.
    let in_dr = unique("cli-plan-dr");
    source_bucket(stack, &in_dr, DR_REGION, &[("dr", "true")]).await;
    let refused = s3_dr(stack, &["plan", &in_dr]);
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("SourceInDrRegion"), "{}", text(&refused.stderr));
}

#[tokio::test]
async fn status_all_lists_every_bucket_and_fails_on_a_tagged_unprotected_one() {
    let _no_sweep = SWEEP.read().await;
    let stack = stack();
    let protected = unique("cli-all-ok");
    source_bucket(stack, &protected, SOURCE_REGION, &[("dr", "true")]).await;
    assert!(s3_dr(stack, &["protect", &protected, "--wait"]).status.success());
    let report_of = |output: &Output| -> Vec<Value> { serde_json::from_slice(&output.stdout).unwrap() };

    let all = s3_dr(stack, &["status", "--all", "--output", "json"]);
    let report = report_of(&all);
    let find = |name: &str| report.iter().find(|b| b["bucket"] == name).cloned();
    let entry = find(&protected).expect("the protected bucket is listed");
    assert_eq!(entry["protected"], true);
    assert!(entry["backfill"].as_str().is_some_and(|b| b.starts_with("copy ")), "{entry}");
    let destination = find(&format!("{protected}-dr")).expect("its destination is listed");
    assert_eq!(destination["destinationOf"], protected.as_str());

    // Tagged but not protected: a non-zero exit with one line naming it.
    let pending = unique("cli-all-pending");
    source_bucket(stack, &pending, SOURCE_REGION, &[("dr", "true")]).await;
    let status = s3_dr(stack, &["status", &pending, &protected]);
    assert!(!status.status.success());
    let stderr = text(&status.stderr);
    assert!(stderr.contains(&format!("{pending}: tagged but not protected")), "{stderr}");
    assert!(!stderr.contains(&format!("{protected}:")), "{stderr}");
}
