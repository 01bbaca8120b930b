//! The sweep over 80 buckets in every state s3-dr can find them in, through the real sweep
//! workflow; the protect and detach executions it starts run on the same stack. A second sweep
//! starts nothing. (The sweep at the scale of thousands of buckets: tests/sweep_shards.rs.)

mod common;

use std::time::Duration;

use aws_sdk_s3::types::BucketVersioningStatus;
use aws_sdk_sfn::types::ExecutionStatus;
use common::*;
use futures::StreamExt;
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Healthy,
    NoReplication,
    SourceSuspended,
    DestinationSuspended,
    RuleAltered,
    LeftoverRule,
    Clean,
    /// Configured, but the destination carries no backfill marker and no heartbeat.
    BackfillNotStarted,
    /// A copy heartbeat an hour old: the execution that copied died.
    BackfillStalled,
    /// A fresh copy heartbeat of an unnamed writer: a backfill under way, left alone.
    BackfillRunning,
    /// A fresh heartbeat whose execution Step Functions does not know (it ended): resumed.
    BackfillWriterEnded,
}

const LAYOUT: [(Kind, usize); 11] = [
    (Kind::Healthy, 20),
    (Kind::NoReplication, 5),
    (Kind::SourceSuspended, 5),
    (Kind::DestinationSuspended, 5),
    (Kind::RuleAltered, 5),
    (Kind::LeftoverRule, 12),
    (Kind::Clean, 12),
    (Kind::BackfillNotStarted, 4),
    (Kind::BackfillStalled, 4),
    (Kind::BackfillRunning, 4),
    (Kind::BackfillWriterEnded, 4),
];

/// How many buckets of these kinds the layout holds.
fn count(kinds: &[Kind]) -> usize {
    LAYOUT.iter().filter(|(kind, _)| kinds.contains(kind)).map(|(_, n)| n).sum()
}

/// The kinds a sweep repairs (a protect run each).
const REPAIRED: [Kind; 7] = [
    Kind::NoReplication,
    Kind::SourceSuspended,
    Kind::DestinationSuspended,
    Kind::RuleAltered,
    Kind::BackfillNotStarted,
    Kind::BackfillStalled,
    Kind::BackfillWriterEnded,
];

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A bucket made protected directly (7 calls instead of a workflow run), then broken in the
/// way `kind` says.
async fn make(stack: &Stack, source: &str, kind: Kind) {
    let s3 = stack.s3(SOURCE_REGION).await;
    if kind == Kind::Clean {
        create_bucket(&s3, source, SOURCE_REGION).await;
        tag_bucket(&s3, source, &[("team", "media")]).await;
        return;
    }
    let storage_class = if kind == Kind::RuleAltered { "GLACIER" } else { "STANDARD" };
    let tags: &[(&str, &str)] = if kind == Kind::LeftoverRule { &[("team", "media")] } else { &[("dr", "true")] };
    make_protected_bucket(stack, source, storage_class, tags).await;
    let destination = format!("{source}-dr");
    match kind {
        Kind::NoReplication => s3.delete_bucket_replication().bucket(source).send().await.map(|_| ()).unwrap(),
        Kind::SourceSuspended => set_versioning(&s3, source, BucketVersioningStatus::Suspended).await,
        Kind::DestinationSuspended => {
            set_versioning(&stack.s3(DR_REGION).await, &destination, BucketVersioningStatus::Suspended).await
        }
        Kind::BackfillNotStarted => {
            tag_bucket(&stack.s3(DR_REGION).await, &destination, &[("s3-dr:source", source)]).await
        }
        Kind::BackfillStalled | Kind::BackfillRunning | Kind::BackfillWriterEnded => {
            let (at, writer) = match kind {
                Kind::BackfillStalled => (now() - 2 * 3600, "protect-gone-long-ago"),
                Kind::BackfillRunning => (now(), ""),
                _ => (now(), "protect-that-ended"),
            };
            let heartbeat = format!("copy:{at}:{writer}:data/0042");
            tag_bucket(
                &stack.s3(DR_REGION).await,
                &destination,
                &[("s3-dr:source", source), ("s3-dr:backfill-progress", &heartbeat)],
            )
            .await
        }
        _ => {}
    }
}

/// How many protect and detach executions there are once all have ended, each succeeded.
async fn wait_for_all_executions(stack: &Stack) -> usize {
    let all = settled_executions(stack, &["protect", "detach"], "", Duration::from_secs(600)).await;
    for (name, status) in &all {
        assert_eq!(*status, ExecutionStatus::Succeeded, "{name}");
    }
    all.len()
}

#[tokio::test]
async fn a_sweep_repairs_and_detaches_exactly_the_right_buckets_and_a_second_starts_nothing() {
    // Without the weekly verification: the counts below are the repairs' alone.
    let stack = stack_with(&[("S3DR_VERIFY_STATE_MACHINE_ARN", "")]);
    let buckets: Vec<(String, Kind)> =
        LAYOUT.iter().flat_map(|(kind, count)| (0..*count).map(move |i| (unique(&format!("sw{i}")), *kind))).collect();
    futures::stream::iter(buckets.clone())
        .for_each_concurrent(16, |(name, kind)| async move { make(stack, &name, kind).await })
        .await;

    let sweep = stack.run_workflow("sweep", json!({})).await;
    sweep.assert_succeeded();
    let report = sweep.step("Sweep");
    let sources = buckets.len();
    let destinations = sources - count(&[Kind::Clean]);
    let (repaired, detached, running) =
        (count(&REPAIRED), count(&[Kind::LeftoverRule]), count(&[Kind::BackfillRunning]));
    assert_eq!(report["scanned"], sources + destinations, "{report}");
    assert_eq!(report["tagged"], sources - count(&[Kind::Clean, Kind::LeftoverRule]), "{report}");
    assert_eq!(report["protected"], count(&[Kind::Healthy]), "{report}");
    assert_eq!(report["repaired"], repaired, "{report}");
    assert_eq!(report["backfilling"], running, "{report}");
    assert_eq!(report["detached"], detached, "{report}");
    assert_eq!((report["failed"].as_u64(), report["alreadyStarted"].as_u64()), (Some(0), Some(0)), "{report}");
    // Exactly the drifted and the leftover buckets, by name.
    let mut expected: Vec<String> = buckets
        .iter()
        .filter(|(_, kind)| !matches!(kind, Kind::Healthy | Kind::Clean | Kind::BackfillRunning))
        .map(|(name, kind)| format!("{name}: {}", if *kind == Kind::LeftoverRule { "detach" } else { "protect" }))
        .collect();
    expected.sort();
    let started: Vec<String> = report["started"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().split(" (").next().unwrap().to_owned())
        .collect();
    assert_eq!(started, expected);

    assert_eq!(wait_for_all_executions(stack).await, repaired + detached);
    let clients = stack.clients().await;
    let config = protect_config("STANDARD");
    for (name, kind) in &buckets {
        let status = s3_dr::status::inspect(&clients, &config, name).await.unwrap();
        match kind {
            Kind::LeftoverRule | Kind::Clean => {
                assert_eq!((status.protected, status.rule), (false, "missing"), "{name} {kind:?}")
            }
            // Configured, and its backfill under way: not protected until it is done.
            Kind::BackfillRunning => {
                assert!(status.configured && !status.protected, "{name}: {status:?}");
                assert!(status.backfill_state.as_deref().unwrap().starts_with("backfill running"), "{status:?}");
            }
            _ => assert!(status.protected, "{name} {kind:?}: {status:?}"),
        }
    }

    let again = stack.run_workflow("sweep", json!({})).await;
    again.assert_succeeded();
    let report = again.step("Sweep");
    let protected = count(&[Kind::Healthy]) + repaired;
    assert_eq!(
        (report["protected"].as_u64(), report["backfilling"].as_u64()),
        (Some(protected as u64), Some(running as u64)),
        "{report}"
    );
    for count in ["repaired", "detached", "alreadyStarted", "failed"] {
        assert_eq!(report[count], 0, "{count}: {report}");
    }
    assert_eq!(wait_for_all_executions(stack).await, repaired + detached, "the second sweep started nothing");
}
