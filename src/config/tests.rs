use super::*;
use std::collections::HashMap;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn config(vars: &[(&str, &str)]) -> Result<Config, DrError> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(|name| map.get(name).cloned())
}

#[test]
fn defaults_apply_when_nothing_is_set() -> TestResult {
    let c = config(&[])?;
    assert_eq!(c.dr_region, "us-east-2");
    assert_eq!(c.destination_suffix, "-dr");
    assert_eq!(Some(c.match_tag.clone()), MatchTag::parse("dr=true"));
    assert_eq!(c.storage_class, "STANDARD");
    assert_eq!(c.replication_role_arn, None);
    assert_eq!(c.dr_kms_key, DEFAULT_DR_KMS_KEY);
    assert_eq!((c.history_event_budget, c.copy_page_bytes, c.step_role_arn.as_deref()), (20_000, 50 << 30, None));
    assert!(!c.replication_time_control);
    assert!(matches!(c.require_replication_role(), Err(DrError::InvalidConfig(_))));
    Ok(())
}

#[test]
fn every_setting_is_read() -> TestResult {
    let c = config(&[
        ("S3DR_DR_REGION", "eu-west-1"),
        ("S3DR_DESTINATION_SUFFIX", "-replica"),
        ("S3DR_MATCH_TAG", "Backup=Yes"),
        ("S3DR_REPLICATION_ROLE_ARN", "arn:aws:iam::123456789012:role/s3-dr-replication"),
        ("S3DR_STORAGE_CLASS", "standard_ia"),
        ("S3DR_DR_KMS_KEY", "alias/s3-dr-custom"),
        ("S3DR_RTC", "on"),
    ])?;
    assert_eq!(c.dr_region, "eu-west-1");
    assert_eq!(c.destination_suffix, "-replica");
    assert_eq!(c.storage_class, "STANDARD_IA");
    assert_eq!(c.dr_kms_key, "alias/s3-dr-custom");
    assert!(c.replication_time_control);
    assert_eq!(c.require_replication_role()?, "arn:aws:iam::123456789012:role/s3-dr-replication");
    Ok(())
}

#[test]
fn backfill_settings_are_read() -> TestResult {
    let c = config(&[])?;
    assert_eq!((c.backfill, c.public_access), (Strategy::Batch, PublicAccess::BlockAll));
    assert_eq!((c.copy_multipart_threshold, c.copy_page_size, c.copy_concurrency), (5 << 30, 1000, 16));
    let c = config(&[
        ("S3DR_BACKFILL", "Copy"),
        ("S3DR_PUBLIC_ACCESS", "same-as-source"),
        ("S3DR_BATCH_ROLE_ARN", "arn:aws:iam::123456789012:role/s3-dr-batch"),
        ("S3DR_BATCH_REPORT_BUCKET", "s3-dr-reports-{region}"),
        ("S3DR_BATCH_REPORT_PREFIX", "/reports/"),
        ("S3DR_COPY_MULTIPART_THRESHOLD", "5242880"),
        ("S3DR_COPY_PAGE_SIZE", "250"),
        ("S3DR_COPY_CONCURRENCY", "4"),
    ])?;
    assert_eq!((c.backfill, c.public_access), (Strategy::Copy, PublicAccess::SameAsSource));
    assert_eq!(c.batch_report_bucket_in("eu-west-1", "1").as_deref(), Some("s3-dr-reports-eu-west-1"));
    let per_account = Config::from_lookup(|name| match name {
        "S3DR_BATCH_REPORT_BUCKET" => Some("s3-dr-reports-{account}-{region}".to_owned()),
        "S3DR_BATCH_ROLE_ARN" => Some("arn:aws:iam::123456789012:role/s3-dr-batch".to_owned()),
        _ => None,
    })?;
    assert_eq!(per_account.require_batch("eu-west-1", Some("123456789012"))?.1, "s3-dr-reports-123456789012-eu-west-1");
    assert!(matches!(per_account.require_batch("eu-west-1", None), Err(DrError::InvalidConfig(_))));
    // Valid only as a template: filled in, it would be longer than 63 characters.
    let too_long = Config::from_lookup(|name| {
        (name == "S3DR_BATCH_REPORT_BUCKET").then(|| format!("{}-{{account}}-{{region}}", "r".repeat(40)))
    });
    assert!(matches!(too_long, Err(DrError::InvalidConfig(_))));
    assert_eq!(c.batch_report_prefix, "reports");
    assert_eq!((c.copy_multipart_threshold, c.copy_page_size, c.copy_concurrency), (5 << 20, 250, 4));
    Ok(())
}

#[test]
fn invalid_values_name_the_variable() {
    for (name, value) in [
        ("S3DR_DR_REGION", "nowhere"),
        ("S3DR_DESTINATION_SUFFIX", "_DR"),
        ("S3DR_MATCH_TAG", "=true"),
        ("S3DR_REPLICATION_ROLE_ARN", "my-role"),
        ("S3DR_STORAGE_CLASS", "TAPE"),
        ("S3DR_DR_KMS_KEY", "arn:aws:kms:us-west-2:123456789012:key/abc"),
        ("S3DR_RTC", "maybe"),
        ("S3DR_PUBLIC_ACCESS", "open"),
        ("S3DR_BACKFILL", "rsync"),
        ("S3DR_BATCH_ROLE_ARN", "batch"),
        ("S3DR_BATCH_REPORT_BUCKET", "Reports_Bucket"),
        ("S3DR_COPY_MULTIPART_THRESHOLD", "1024"),
        ("S3DR_COPY_PAGE_SIZE", "5000"),
        ("S3DR_COPY_CONCURRENCY", "0"),
        ("S3DR_DETACH_STATE_MACHINE_ARN", "detach-bucket"),
        ("S3DR_SWEEP_CONCURRENCY", "100"),
        ("S3DR_COPY_PAGE_BYTES", "10"),
        ("S3DR_HISTORY_EVENT_BUDGET", "30000"),
        ("S3DR_STEP_ROLE_ARN", "s3-dr-step"),
    ] {
        match config(&[(name, value)]) {
            Err(DrError::InvalidConfig(message)) => {
                assert!(message.contains(name), "{message}")
            }
            other => panic!("{name}={value} gave {other:?}"),
        }
    }
}

#[test]
fn config_check_applies_the_lambdas_rules_and_flags_unknown_settings() -> Result<(), DrError> {
    let check = |value: serde_json::Value| check_settings(value.as_object().unwrap_or(&Default::default()));
    let generated = serde_json::json!({
        "S3DR_DR_REGION": "us-east-2",
        "S3DR_BACKFILL": "batch",
        "S3DR_BATCH_ROLE_ARN": "arn:aws:iam::123456789012:role/s3-dr-batch-us-east-1",
        "S3DR_BATCH_REPORT_BUCKET": "s3-dr-reports-{account}-{region}",
        "AWS_LAMBDA_LOG_FORMAT": "JSON"
    });
    assert_eq!(check(generated)?.backfill, Strategy::Batch);
    for (bad, named) in [
        (serde_json::json!({"S3DR_DESTINATION_SUFFIX": "-dr-"}), "S3DR_DESTINATION_SUFFIX"),
        (serde_json::json!({"S3DR_STORAGE_CLASS": "COLD"}), "S3DR_STORAGE_CLASS"),
        (serde_json::json!({"S3DR_BACKFIL": "copy"}), "S3DR_BACKFIL"),
        (serde_json::json!({"S3DR_RTC": true}), "S3DR_RTC"),
    ] {
        let error = check(bad.clone()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains(named), "{bad}: {error}");
    }
    Ok(())
}
