//! Error paths no emulator produces (throttling, 5xx, access denied), with aws-smithy-mocks:
//! each AWS fault becomes the right `errorType`, which decides retry or terminal failure in
//! the state machine.

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::operation::get_bucket_versioning::GetBucketVersioningOutput;
use aws_sdk_s3::types::BucketVersioningStatus;
use aws_sdk_s3::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use s3_dr::bucket::{self, Presence};
use s3_dr::DrError;

fn s3_error(code: &str, message: &str) -> Option<String> {
    Some(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>R1</RequestId></Error>"#
    ))
}

#[tokio::test]
async fn slow_down_is_transient() {
    let rule = mock!(Client::get_bucket_versioning)
        .sequence()
        .http_status(503, s3_error("SlowDown", "Please reduce your request rate."))
        .build();
    let s3 = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], |b| b.retry_config(RetryConfig::disabled()));
    let error = bucket::versioning(&s3, "photos").await.unwrap_err();
    assert_eq!(error.error_type(), "TransientAwsError");
    assert!(error.is_transient());
    let message = error.to_string();
    assert!(
        message.contains("photos") && message.contains("GetBucketVersioning") && message.contains("SlowDown"),
        "{message}"
    );
}

#[tokio::test]
async fn internal_errors_and_throttling_are_transient() {
    for (status, code) in
        [(500, "InternalError"), (503, "ServiceUnavailable"), (400, "RequestTimeout"), (429, "TooManyRequests")]
    {
        let rule =
            mock!(Client::get_bucket_tagging).sequence().http_status(status, s3_error(code, "try again")).build();
        let s3 = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], |b| b.retry_config(RetryConfig::disabled()));
        let error = bucket::tags(&s3, "photos").await.unwrap_err();
        assert_eq!(error.error_type(), "TransientAwsError", "{status} {code}: {error}");
    }
}

/// An object in an archive tier answers 403 with `InvalidObjectState` (GetObject) or
/// `ObjectNotInActiveTierError` (CopyObject): not a permission problem, so never
/// `AccessDenied` ("grant the role ..." would send the operator the wrong way).
#[tokio::test]
async fn an_archived_object_is_its_own_answer_not_access_denied() {
    for code in ["InvalidObjectState", "ObjectNotInActiveTierError"] {
        let rule = mock!(Client::get_bucket_tagging).sequence().http_status(403, s3_error(code, "archived")).build();
        let s3 = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], |b| b.retry_config(RetryConfig::disabled()));
        let error = bucket::tags(&s3, "photos").await.unwrap_err();
        assert!(matches!(&error, DrError::ObjectArchived { code: c, .. } if c == code), "{code}: {error:?}");
        assert_eq!(error.error_type(), "ObjectArchived");
        assert!(!error.is_transient());
    }
}

#[tokio::test]
async fn access_denied_is_terminal_and_says_what_to_grant() {
    let rule = mock!(Client::get_bucket_replication)
        .sequence()
        .http_status(403, s3_error("AccessDenied", "Access Denied"))
        .build();
    let s3 = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], |b| b.retry_config(RetryConfig::disabled()));
    let error = bucket::replication(&s3, "photos").await.unwrap_err();
    assert_eq!(error.error_type(), "AccessDenied");
    assert!(!error.is_transient());
    let message = error.to_string();
    assert!(
        message.contains("GetBucketReplication") && message.contains("photos") && message.contains("Grant"),
        "{message}"
    );
    // What to grant is the IAM action, which for this call has another name.
    assert!(message.contains("Grant the s3-dr Lambda role s3:GetReplicationConfiguration on it"), "{message}");
    assert_eq!(s3_dr::error::iam_actions("HeadBucket"), "s3:ListBucket");
    assert_eq!(s3_dr::error::iam_actions("PutBucketVersioning"), "s3:PutBucketVersioning");
}

#[tokio::test]
async fn other_service_errors_are_terminal_with_their_code() {
    let rule = mock!(Client::get_bucket_encryption)
        .sequence()
        .http_status(400, s3_error("InvalidBucketState", "nope"))
        .build();
    let s3 = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], |b| b.retry_config(RetryConfig::disabled()));
    let error = bucket::default_encryption(&s3, "photos").await.unwrap_err();
    assert!(
        matches!(&error, DrError::AwsRequestFailed { code, operation: "GetBucketEncryption", .. } if code == "InvalidBucketState"),
        "{error:?}"
    );
}

#[tokio::test]
async fn absent_settings_are_none_not_errors() {
    let tags = mock!(Client::get_bucket_tagging)
        .sequence()
        .http_status(404, s3_error("NoSuchTagSet", "The TagSet does not exist"))
        .build();
    let replication = mock!(Client::get_bucket_replication)
        .sequence()
        .http_status(404, s3_error("ReplicationConfigurationNotFoundError", "none"))
        .build();
    let encryption = mock!(Client::get_bucket_encryption)
        .sequence()
        .http_status(404, s3_error("ServerSideEncryptionConfigurationNotFoundError", "none"))
        .build();
    let location =
        mock!(Client::get_bucket_location).sequence().http_status(404, s3_error("NoSuchBucket", "none")).build();
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&tags, &replication, &encryption, &location], |b| b
        .retry_config(RetryConfig::disabled()));
    assert_eq!(bucket::tags(&s3, "b").await.unwrap(), vec![]);
    assert_eq!(bucket::replication(&s3, "b").await.unwrap(), None);
    assert_eq!(bucket::default_encryption(&s3, "b").await.unwrap(), None);
    assert_eq!(bucket::region(&s3, "b").await.unwrap(), None);
}

#[tokio::test]
async fn head_bucket_status_codes_tell_absent_taken_and_elsewhere() {
    for (status, expected) in [(404, Presence::Absent), (403, Presence::Forbidden), (301, Presence::ElsewhereRegion)] {
        let rule = mock!(Client::head_bucket).sequence().http_status(status, None).build();
        let s3 = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], |b| b.retry_config(RetryConfig::disabled()));
        assert_eq!(bucket::presence(&s3, "photos-dr", Some("123456789012")).await.unwrap(), expected, "{status}");
    }
}

#[tokio::test]
async fn the_sdk_retries_a_brief_throttle_before_the_workflow_sees_it() {
    // With the default retry policy (as in the Lambda), two 503s then success is a success.
    let rule = mock!(Client::get_bucket_versioning)
        .sequence()
        .http_status(503, s3_error("SlowDown", "slow"))
        .times(2)
        .output(|| GetBucketVersioningOutput::builder().status(BucketVersioningStatus::Enabled).build())
        .build();
    let s3 = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule]);
    assert_eq!(bucket::versioning(&s3, "photos").await.unwrap(), "Enabled");
    assert_eq!(rule.num_calls(), 3);
}

#[test]
fn every_error_maps_to_its_stable_error_type() {
    let diagnostic: lambda_runtime::Diagnostic =
        DrError::BucketNameTaken { bucket: "a".into(), destination: "a-dr".into() }.into();
    assert_eq!(diagnostic.error_type, "BucketNameTaken");
    assert!(diagnostic.error_message.contains("a-dr"));
    let samples = [
        DrError::InvalidInput(String::new()),
        DrError::InvalidConfig(String::new()),
        DrError::SourceBucketNotFound { bucket: "b".into() },
        DrError::SourceInDrRegion { bucket: "b".into(), region: "r".into() },
        DrError::SourceIsDestination { bucket: "b".into(), origin: "o".into() },
        DrError::BucketNameTaken { bucket: "b".into(), destination: "d".into() },
        DrError::DestinationConflict { bucket: "b".into(), destination: "d".into(), reason: String::new() },
        DrError::KmsKeyMissing { bucket: "b".into(), region: "r".into(), detail: String::new() },
        DrError::ReplicationConflict { bucket: "b".into(), detail: String::new() },
        DrError::InvalidSourcePolicy { bucket: "b".into(), detail: String::new() },
        DrError::SettingsNotCloned { bucket: "b".into(), destination: "d".into(), failures: String::new() },
        DrError::BackfillFailed { bucket: "b".into(), destination: "d".into(), detail: String::new() },
        DrError::NotProtected { bucket: "b".into(), match_tag: "dr=true".into() },
        DrError::InventoryMissing { bucket: "b".into(), location: "l".into() },
        DrError::InventoryInvalid { bucket: "b".into(), location: "l".into(), reason: String::new() },
        DrError::AlreadyFailedOver { bucket: "b".into(), destination: "d".into(), since: String::new() },
        DrError::DrCopyIncomplete { bucket: "b".into(), destination: "d".into(), detail: String::new() },
        DrError::NotFailedOver { bucket: "b".into(), destination: "d".into() },
        DrError::SourceRegionUnavailable {
            bucket: "b".into(),
            destination: "d".into(),
            region: "r".into(),
            detail: String::new(),
        },
        DrError::FailbackIncomplete { bucket: "b".into(), destination: "d".into(), detail: String::new() },
        DrError::VerificationFailed { bucket: "b".into(), problems: String::new() },
        DrError::ObjectArchived { bucket: "b".into(), operation: "Op", code: String::new() },
        DrError::AccessDenied { bucket: "b".into(), operation: "Op", message: String::new() },
        DrError::AwsRequestFailed { bucket: "b".into(), operation: "Op", code: String::new(), message: String::new() },
        DrError::TransientAwsError { bucket: "b".into(), operation: "Op", detail: String::new() },
        DrError::Internal(String::new()),
    ];
    let types: Vec<&str> = samples.iter().map(DrError::error_type).collect();
    assert_eq!(types, DrError::ALL_ERROR_TYPES);
    // These names are the API: the ASL files match them. Derived from the variants, except
    // the bug's, which must not read as S3's transient `InternalError`.
    assert_eq!(types[0], "InvalidInput");
    assert_eq!(types.last(), Some(&"S3DrInternalError"));
}
