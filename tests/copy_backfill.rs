//! The `copy` backfill through the real workflow, on 2,000 objects of mixed sizes (three of them
//! above the multipart threshold, which this stack sets to S3's 5 MiB part minimum), some with
//! metadata and tags. An interrupted run is resumed without copying anything twice.

mod common;

use std::collections::BTreeMap;

use common::*;
use futures::StreamExt;
use s3_dr::backfill::state::{Heartbeat, Work};
use s3_dr::steps::Step;
use serde_json::{json, Value};

const OBJECTS: usize = MIXED_OBJECTS;
const PAGE: usize = 500;
const LAMBDA_ENV: &[(&str, &str)] =
    &[("S3DR_BACKFILL", "copy"), ("S3DR_COPY_MULTIPART_THRESHOLD", "5242880"), ("S3DR_COPY_PAGE_SIZE", "500")];

/// Key -> (size, number of versions) of a bucket.
async fn versions(s3: &aws_sdk_s3::Client, bucket: &str) -> BTreeMap<String, (i64, usize)> {
    let mut found: BTreeMap<String, (i64, usize)> = BTreeMap::new();
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .unwrap();
        for version in page.versions() {
            let entry = found.entry(version.key().unwrap().to_owned()).or_insert((0, 0));
            if version.is_latest() == Some(true) {
                entry.0 = version.size().unwrap();
            }
            entry.1 += 1;
        }
        if page.is_truncated() != Some(true) {
            return found;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
    }
}

/// The steps of a protect run up to the first page of the backfill, then nothing: as if the
/// execution had died there. Run in this process through the same dispatcher the Lambda uses,
/// named as a Step Functions execution would be (the next run asks whether it still runs).
async fn interrupted_run(stack: &Stack, bucket: &str) -> Value {
    let lambda = InProcess::new(stack, LAMBDA_ENV).await;
    let first_page = Step::PROTECT.iter().position(|s| *s == Step::CheckBackfill).unwrap() + 1;
    lambda.steps("interrupted-run", &Step::PROTECT[..first_page], json!({ "bucket": bucket })).await
}

#[tokio::test]
async fn copy_backfill_resumes_an_interrupted_run_and_copies_every_object_once_with_its_metadata() {
    let stack = stack_with(LAMBDA_ENV);
    let source = unique("backfill");
    let destination = format!("{source}-dr");
    seed_mixed_objects(stack, &source).await;
    tag_bucket(&stack.s3(SOURCE_REGION).await, &source, &[("dr", "true")]).await;

    // A run that died after its first page.
    let first = interrupted_run(stack, &source).await;
    let first_page = &first["CheckBackfill"];
    assert_eq!((first_page["objectsCopied"].as_u64(), first_page["done"].as_bool()), (Some(PAGE as u64), Some(false)));

    // The run left its cursor on the destination (its heartbeat): the next execution resumes
    // after it, and copies the rest once.
    let last_of_first_page = first_page["continueAfter"].as_str().unwrap().to_owned();
    let dr = stack.s3(DR_REGION).await;
    let heartbeat = s3_dr::backfill::state::BackfillTags::read(&s3_dr::bucket::tags(&dr, &destination).await.unwrap());
    assert!(
        matches!(&heartbeat.progress, Some(Heartbeat { writer, work: Work::Copy { after }, .. })
            if *after == s3_dr::backfill::state::cursor_prefix(&last_of_first_page) && writer == "interrupted-run"),
        "{heartbeat:?}"
    );
    assert_eq!(heartbeat.marker, None);
    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_succeeded();
    let backfill = run.step("CheckBackfill");
    assert_eq!(
        run.step("StartBackfill")["resumedAfter"],
        s3_dr::backfill::state::cursor_prefix(&last_of_first_page).as_str()
    );
    assert_eq!(backfill["objectsCopied"].as_u64(), Some((OBJECTS - PAGE) as u64), "{backfill}");
    // A cursor cut short at a character a tag cannot hold lists a few keys again: skipped.
    assert!(backfill["objectsSkipped"].as_u64().unwrap() < 10, "{backfill}");
    assert_eq!(backfill["objectsFailed"], 0);
    assert_eq!(backfill["pages"].as_u64(), Some(((OBJECTS - PAGE) / PAGE) as u64));

    // Same keys and sizes, and exactly one version each: nothing was copied twice.
    let s3 = stack.s3(SOURCE_REGION).await;
    let (source_objects, copies) = (versions(&s3, &source).await, versions(&dr, &destination).await);
    assert_eq!(copies.len(), OBJECTS);
    assert_eq!(copies, source_objects, "keys, sizes and one version per key");

    // Metadata, content type, cache control and tags travel, for single and multipart copies.
    let decorated: Vec<String> = mixed_objects().into_iter().filter(|o| o.2).map(|o| o.0).collect();
    futures::stream::iter(decorated)
        .map(|key| {
            let (s3, dr, source, destination) = (&s3, &dr, &source, &destination);
            async move {
                let (original, copy) = (
                    s3.head_object().bucket(source).key(&key).send().await.unwrap(),
                    dr.head_object().bucket(destination).key(&key).send().await.unwrap(),
                );
                assert_eq!(copy.metadata(), original.metadata(), "{key}");
                assert_eq!(copy.metadata().and_then(|m| m.get("origin")).map(String::as_str), Some("seed"));
                assert_eq!(copy.content_type(), Some("application/x-test"), "{key}");
                assert_eq!(copy.cache_control(), original.cache_control(), "{key}");
                assert_eq!(copy.content_length(), original.content_length(), "{key}");
                let tags = dr.get_object_tagging().bucket(destination).key(&key).send().await.unwrap();
                let tags: BTreeMap<&str, &str> = tags.tag_set().iter().map(|t| (t.key(), t.value())).collect();
                let expected = BTreeMap::from([("class", "decorated"), ("owner", "team a")]);
                // LocalStack defect (localstack-core 4.14.0): a CopyObject from another region
                // drops the tags (its tag store is per region) though AWS's default directive is
                // COPY. Multipart copies set the tags themselves. If this fails, it was fixed:
                // remove this branch.
                let single_part = !copy.e_tag().unwrap_or_default().contains('-');
                if strict_s3() && single_part {
                    assert!(tags.is_empty(), "{key}: LocalStack now copies tags across regions: {tags:?}");
                } else {
                    assert_eq!(tags, expected, "{key}");
                }
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    let big = dr.head_object().bucket(&destination).key("big/eleven").send().await.unwrap();
    assert!(big.e_tag().unwrap().contains("-3"), "11 MiB in 5 MiB parts: {:?}", big.e_tag());

    // The destination is marked as backfilled, and a second run does not look again: no
    // backfill call at all, no write anywhere.
    let tags = s3_dr::backfill::state::BackfillTags::read(&s3_dr::bucket::tags(&dr, &destination).await.unwrap());
    assert_eq!((tags.marker, tags.progress), (Some(format!("copy {}", s3_dr::clock::today())), None));
    let again = stack.run_protect(json!({ "bucket": source })).await;
    again.assert_succeeded();
    assert_no_backfill_and_no_write(&again);
    assert_eq!(versions(&dr, &destination).await.values().map(|v| v.1).sum::<usize>(), OBJECTS);

    // The operator can ask for a new one: every object is looked at again, none copied twice.
    let forced = stack.run_protect(json!({ "bucket": source, "backfill": "force" })).await;
    forced.assert_succeeded();
    let backfill = forced.step("CheckBackfill");
    assert_eq!(
        (backfill["objectsCopied"].as_u64(), backfill["objectsSkipped"].as_u64()),
        (Some(0), Some(OBJECTS as u64))
    );
    assert_eq!(versions(&dr, &destination).await.values().map(|v| v.1).sum::<usize>(), OBJECTS);
}

#[tokio::test]
async fn backfill_off_in_the_request_copies_nothing_and_says_so() {
    let stack = stack_with(LAMBDA_ENV);
    let source = unique("nobackfill");
    source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    let run = stack.run_protect(json!({ "bucket": source, "backfill": "off" })).await;
    run.assert_succeeded();
    assert_eq!(run.step("StartBackfill")["strategy"], "off");
    assert_eq!(run.step("StartBackfill")["done"], true);
    let names: Vec<&str> = run.steps.iter().map(|(n, _)| n.as_str()).collect();
    assert!(!names.contains(&"CheckBackfill"), "{names:?}");
    let dr = stack.s3(DR_REGION).await;
    assert!(s3_dr::bucket::is_empty(&dr, &format!("{source}-dr")).await.unwrap());

    // A typo changes nothing: refused before the first write.
    let other = unique("typo");
    let s3 = source_bucket(stack, &other, SOURCE_REGION, &[("dr", "true")]).await;
    let refused = stack.run_protect(json!({ "bucket": other, "backfill": "rsync" })).await;
    refused.assert_failed_with("InvalidInput");
    assert_eq!(versioning(&s3, &other).await, "Off");
}
