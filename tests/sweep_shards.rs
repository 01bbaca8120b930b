//! The sweep at fleet scale, on the local stack: a few thousand buckets swept by the real
//! sweep workflow (an ASL Map over shards, each shard a loop of SweepShard invocations handing
//! a ListBuckets cursor over), with a tiny page (100 buckets) and a tiny invocation budget (one
//! page each), so that every shard crosses many hand-overs. Each bucket is read exactly once,
//! by the shard its name hashes to, and each bucket that needs a repair gets exactly one start.
//! The protect workflow is a stand-in here (a Pass state machine): the starts are what is
//! counted, and real protect runs would add buckets (destinations) while the sweep lists.

mod common;

use std::collections::BTreeMap;

use common::*;
use futures::StreamExt;
use serde_json::{json, Value};

const SHARDS: u32 = 3;
const PAGE: usize = 100;
const PLAIN: usize = 2000;
const TAGGED: usize = 12;
const STAND_IN: &str = "s3-dr-test-protect-stand-in";

fn stand_in_arn() -> String {
    format!("arn:aws:states:{HOME_REGION}:{ACCOUNT_ID}:stateMachine:{STAND_IN}")
}

#[tokio::test]
async fn a_sharded_sweep_reads_every_bucket_once_across_hand_overs_and_repairs_each_once() {
    let protect = stand_in_arn();
    let shards = SHARDS.to_string();
    let page = PAGE.to_string();
    let stack = start_stack(
        &[
            ("S3DR_SWEEP_SHARDS", shards.as_str()),
            ("S3DR_SWEEP_PAGE_SIZE", page.as_str()),
            ("S3DR_SWEEP_INVOCATION_SECONDS", "0"),
            ("S3DR_SWEEP_START_RATE", "50"),
            ("S3DR_PROTECT_STATE_MACHINE_ARN", protect.as_str()),
            ("S3DR_VERIFY_STATE_MACHINE_ARN", ""),
        ],
        &[],
    );
    let sfn = stack.sfn().await;
    sfn.create_state_machine()
        .name(STAND_IN)
        .definition(r#"{"StartAt": "Started", "States": {"Started": {"Type": "Pass", "End": true}}}"#)
        .role_arn(format!("arn:aws:iam::{ACCOUNT_ID}:role/s3-dr-states"))
        .send()
        .await
        .expect("the stand-in protect workflow");

    let s3 = stack.s3(SOURCE_REGION).await;
    let plain: Vec<String> = (0..PLAIN).map(|i| unique(&format!("fleet{i}"))).collect();
    let tagged: Vec<String> = (0..TAGGED).map(|i| unique(&format!("fleet-dr{i}"))).collect();
    futures::stream::iter(plain.iter().chain(&tagged))
        .for_each_concurrent(16, |name| {
            let s3 = &s3;
            async move { create_bucket(s3, name, SOURCE_REGION).await }
        })
        .await;
    for name in &tagged {
        tag_bucket(&s3, name, &[("dr", "true")]).await;
    }
    // Every bucket of the account (the stack's report buckets too), and the shard each is in.
    let all: Vec<String> = s3_dr::bucket::list_all(&stack.s3(HOME_REGION).await)
        .await
        .unwrap()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let mut per_shard = BTreeMap::new();
    for name in &all {
        *per_shard.entry(s3_dr::steps::sweep::shard_of(name, SHARDS, "-dr")).or_insert(0u64) += 1;
    }
    let pages = all.len().div_ceil(PAGE) as u64;

    let run = stack.run_workflow("sweep", json!({ "requestedBy": "fleet test" })).await;
    run.assert_succeeded();
    let report = run.step("Sweep");
    assert_eq!(report["scanned"].as_u64(), Some(all.len() as u64), "{report}");
    assert_eq!(report["repaired"].as_u64(), Some(TAGGED as u64), "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    // Per shard: exactly the buckets its hash owns, over every page of the listing, one page per
    // invocation (so one hand-over per page but the last).
    let shard_reports: Vec<&Value> = report["shards"].as_array().expect("per-shard reports").iter().collect();
    assert_eq!(shard_reports.len(), SHARDS as usize);
    for shard in shard_reports {
        let index = shard["shard"].as_u64().unwrap() as u32;
        assert_eq!(shard["scanned"].as_u64(), per_shard.get(&index).copied(), "{shard}");
        assert_eq!((shard["pages"].as_u64(), shard["invocations"].as_u64()), (Some(pages), Some(pages)), "{shard}");
    }
    assert!(pages >= 20, "the listing crossed {pages} pages");

    // One start per bucket that needed it, no other.
    let mut started: BTreeMap<String, usize> = BTreeMap::new();
    let executions = sfn.list_executions().state_machine_arn(&protect).max_results(1000).send().await.unwrap();
    for execution in executions.executions() {
        let described = sfn.describe_execution().execution_arn(execution.execution_arn()).send().await.unwrap();
        let input: Value = serde_json::from_str(described.input().unwrap_or("{}")).unwrap();
        *started.entry(input["bucket"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> = tagged.iter().map(|name| (name.clone(), 1)).collect();
    assert_eq!(started, expected);
}
