//! A large bucket's copy backfill split into key ranges that Lambdas copy at once: the protect
//! workflow's CopyShards Map, run by the local stack's Step Functions against the real Lambda.
//! Small pages (20 objects) make a few hundred objects a bucket of many pages. A split backfill
//! that hands over to new executions between rounds: tests/handover.rs.

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::{json, Value};

const LAMBDA_ENV: &[(&str, &str)] = &[
    ("S3DR_BACKFILL", "copy"),
    ("S3DR_COPY_PAGE_SIZE", "20"),
    ("S3DR_COPY_SHARDS", "4"),
    ("S3DR_COPY_CONCURRENCY", "8"),
];

/// Keys spread over 16 hex first characters (as hashed keys are), and the edges of the split:
/// a key that is exactly a unit (`8`), keys beyond ASCII and with spaces, nested prefixes.
fn keys(count: usize) -> Vec<String> {
    let mut keys: Vec<String> = (0..count).map(|i| format!("{:x}/obj {i:04}", (i * 7) % 16)).collect();
    keys.extend(["8".to_owned(), "é/ü 1".to_owned(), "f".to_owned(), "0/0/0/deep".to_owned()]);
    keys
}

async fn assert_each_key_copied_once(stack: &Stack, source: &str, keys: &[String]) {
    let dr = stack.s3(DR_REGION).await;
    let copies = versions(&dr, &format!("{source}-dr")).await;
    let expected: BTreeMap<String, usize> = keys.iter().map(|k| (k.clone(), 1)).collect();
    assert_eq!(copies, expected, "each key exactly once in DR");
    for key in ["8", "é/ü 1", "0/0/0/deep"] {
        let body = dr.get_object().bucket(format!("{source}-dr")).key(key).send().await.unwrap().body;
        assert_eq!(body.collect().await.unwrap().into_bytes().as_ref(), key.as_bytes(), "{key}");
    }
}

#[tokio::test]
async fn a_split_backfill_copies_every_object_once_with_one_lambda_per_shard() {
    let stack = stack_with(LAMBDA_ENV);
    let keys = keys(300);
    let source = tagged_source_with_keys(stack, "copy-shards", &keys).await;

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_succeeded();
    let backfill = run.step("CheckBackfill");
    assert_eq!(backfill["done"], true, "{backfill}");
    assert_eq!(
        (backfill["objectsCopied"].as_u64(), backfill["objectsSkipped"].as_u64(), backfill["objectsFailed"].as_u64()),
        (Some(keys.len() as u64), Some(0), Some(0)),
        "every object copied once, none listed twice: {backfill}"
    );
    // 17 first characters (0-f, é) in 4 runs: every shard had work, and CopyShard turns ran.
    let shards = backfill["shards"].as_array().expect("the backfill was split");
    assert_eq!(shards.len(), 4, "{backfill}");
    for shard in shards {
        assert!(shard["objectsCopied"].as_u64().unwrap_or(0) >= 30, "an even split: {shard}");
        assert_eq!(shard["done"], true);
    }
    let shard_turns = run.steps.iter().filter(|(name, _)| name == "CopyShard").count();
    assert!(shard_turns >= 4 * 3, "each shard copies several pages: {shard_turns} turns");
    assert!(backfill["summary"].as_str().unwrap_or_default().contains("4 shards at once"), "{backfill}");
    assert_eq!(run.step("VerifyProtection")["protected"], true);
    assert_each_key_copied_once(stack, &source, &keys).await;

    // The marker replaced the heartbeat; a second run copies nothing.
    let tags = stack.s3(DR_REGION).await.get_bucket_tagging().bucket(format!("{source}-dr")).send().await.unwrap();
    let names: Vec<&str> = tags.tag_set().iter().map(|t| t.key()).collect();
    assert!(names.contains(&"s3-dr:backfill") && !names.contains(&"s3-dr:backfill-progress"), "{names:?}");
    let again = stack.run_protect(json!({ "bucket": source })).await;
    again.assert_succeeded();
    assert!(again.steps.iter().all(|(name, _)| name != "CopyShard"), "no copy on a backfilled destination");

    // A request may ask for another number of shards; a wrong one changes nothing.
    let bad = stack.run_protect(json!({ "bucket": source, "copyShards": 0 })).await;
    bad.assert_failed_with("InvalidInput");
    assert!(bad.cause.as_deref().unwrap_or_default().contains("copyShards"), "{bad:#?}");
}

/// Keys crowded under one prefix: the first split finds three first characters (`a`, `b`, `z`)
/// with nearly every key under `b`. After the first round the shards of `a` and `z` are done and
/// their Lambdas go to `b`'s remaining range, split again inside `big/`.
#[tokio::test]
async fn a_skewed_bucket_is_split_again_inside_the_crowded_prefix() {
    let stack = stack_with(LAMBDA_ENV);
    let mut keys: Vec<String> = (0..400).map(|i| format!("big/{i:03}")).collect();
    keys.extend((0..5).map(|i| format!("a/{i}")));
    keys.extend((0..5).map(|i| format!("z/{i}")));
    // `big/` itself, a folder marker: a key that is a prefix of the units split inside it.
    keys.extend(["8", "é/ü 1", "0/0/0/deep", "big/"].map(str::to_owned));
    let source = tagged_source_with_keys(stack, "copy-shards", &keys).await;

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_succeeded();
    let backfill = run.step("CheckBackfill");
    assert_eq!(
        (backfill["objectsCopied"].as_u64(), backfill["objectsSkipped"].as_u64(), backfill["objectsFailed"].as_u64()),
        (Some(keys.len() as u64), Some(0), Some(0)),
        "every object copied once: {backfill}"
    );
    let shards = backfill["shards"].as_array().expect("the backfill was split");
    let inside: Vec<&Value> =
        shards.iter().filter(|s| s["continueAfter"].as_str().is_some_and(|c| c.starts_with("big/"))).collect();
    assert!(shards.len() > 4 && inside.len() >= 3, "split again inside big/: {backfill}");
    assert_each_key_copied_once(stack, &source, &keys).await;
}
