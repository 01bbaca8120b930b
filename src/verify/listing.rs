//! The I/O of [`super::Merge`]: two buckets' current object versions listed in key order, each
//! by a task of its own one page ahead, and merged as the pages arrive (memory: a few pages,
//! whatever the size). VerifyData compares the source with DR; failback compares DR with the
//! source.

use std::time::SystemTime;

use tokio::sync::mpsc;

use super::{Entry, Merge, Next, Sides};
use crate::error::{AwsResultExt, DrError};

/// Pages read ahead per listing.
const READ_AHEAD: usize = 1;

/// One side of a merge.
#[derive(Clone, Copy)]
pub struct Listing<'a> {
    pub s3: &'a aws_sdk_s3::Client,
    pub bucket: &'a str,
}

/// What a merge found, and how far it got.
pub struct Merged<S> {
    pub sides: S,
    /// Both listings were read to the end.
    pub complete: bool,
    /// The last source key compared, when the merge stopped early.
    pub stopped_after: Option<String>,
    /// It stopped because a side passed `max_objects`.
    pub over_bound: bool,
}

/// Merge `source` and `dr` from after the key `after` (both sides), until both end, either side
/// has given `max_objects`, or `stop_at` comes.
pub async fn merge<S: Sides>(
    source: Listing<'_>,
    dr: Listing<'_>,
    mut merge: Merge<S>,
    after: Option<&str>,
    max_objects: u64,
    stop_at: Option<SystemTime>,
) -> Result<Merged<S>, DrError> {
    let mut source_pages = pages(source.s3.clone(), source.bucket.to_owned(), after.map(str::to_owned));
    let mut dr_pages = pages(dr.s3.clone(), dr.bucket.to_owned(), after.map(str::to_owned));
    let (mut source_read, mut dr_read) = (0u64, 0u64);
    loop {
        let over_bound = source_read >= max_objects || dr_read >= max_objects;
        let out_of_time = stop_at.is_some_and(|at| SystemTime::now() >= at);
        let side = merge.next();
        if side == Next::Done || over_bound || out_of_time {
            let complete = side == Next::Done;
            let (sides, last) = merge.finish_early();
            let stopped_after = if complete { None } else { last };
            return Ok(Merged { sides, complete, stopped_after, over_bound: over_bound && !complete });
        }
        let (receiver, read) = match side {
            Next::Source => (&mut source_pages, &mut source_read),
            _ => (&mut dr_pages, &mut dr_read),
        };
        let page = receiver.recv().await.unwrap_or_else(|| {
            Err(DrError::Internal(format!(
                "the listing of {} or {} ended without its last page",
                source.bucket, dr.bucket
            )))
        })?;
        *read += page.entries.len() as u64;
        if side == Next::Source {
            merge.add_source(page.entries, page.last);
        } else {
            merge.add_dr(page.entries, page.last);
        }
    }
}

struct Page {
    entries: Vec<Entry>,
    last: bool,
}

/// A bucket's ListObjectsV2 pages, read by a task of their own one page ahead; it ends when
/// the receiver is dropped.
fn pages(s3: aws_sdk_s3::Client, bucket: String, after: Option<String>) -> mpsc::Receiver<Result<Page, DrError>> {
    let (sender, receiver) = mpsc::channel(READ_AHEAD);
    tokio::spawn(async move {
        let mut pages = s3.list_objects_v2().bucket(&bucket).set_start_after(after).into_paginator().send();
        let mut next = pages.next().await;
        let mut sent = false;
        while let Some(page) = next {
            sent = true;
            let page = page.aws(&bucket, "ListObjectsV2");
            let failed = page.is_err();
            next = if failed { None } else { pages.next().await };
            let page = page.map(|output| Page {
                entries: output.contents().iter().filter_map(entry).collect(),
                last: next.is_none(),
            });
            if sender.send(page).await.is_err() || failed {
                return;
            }
        }
        if !sent {
            // No page at all (S3 answers an empty bucket with one empty page): say it ended.
            let _ = sender.send(Ok(Page { entries: Vec::new(), last: true })).await;
        }
    });
    receiver
}

fn entry(object: &aws_sdk_s3::types::Object) -> Option<Entry> {
    Some(Entry {
        key: object.key()?.to_owned(),
        size: object.size().unwrap_or(0).max(0) as u64,
        last_modified: object.last_modified().map_or(0, |t| t.secs()),
    })
}
