//! A Lambda started with an invalid configuration fails every execution with InvalidConfig,
//! naming the variable, and changes nothing.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn an_invalid_setting_fails_the_execution_with_invalid_config() {
    let stack = stack_with(&[("S3DR_DR_REGION", "moon-base-1a")]);
    let source = unique("badconfig");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_failed_with("InvalidConfig");
    assert!(run.cause.as_deref().unwrap().contains("S3DR_DR_REGION"), "{run:?}");
    assert_eq!(versioning(&s3, &source).await, "Off");
}
