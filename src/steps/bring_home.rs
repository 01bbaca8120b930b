//! BringHome: copy the objects written in DR during the failover to the source, page after
//! page until done or the invocation's deadline nears (the state machine loops until `done`).
//! Pass 1 runs while the application may still write in DR; once RouteHome has switched the
//! routing back, pass 2 takes what reached DR meanwhile.
//!
//! A copy takes the source bucket's default encryption and the object's metadata, tags,
//! checksum, retention and legal hold (`backfill::copy`, pointed the other way with
//! `CopyRule::BringHome`). An object is copied once: its copy is newer than it, so a retried
//! or repeated pass skips it (and a key written at the source since is left as the source has
//! it). Interrupted, failback is run again: it starts over and skips what is home.
//!
//! Each copy is written only if the source still holds what the page listed there (If-Match
//! its ETag, or If-None-Match `*`): a write the application makes at home meanwhile is newer,
//! and S3's 412 skips the copy.
//!
//! AWS calls: per page, ListObjectsV2 of DR and of the source over the same keys, then per
//! object to bring home HeadObject (DR) and CopyObject (or a multipart copy) at the source.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::backfill::copy::{copy_page, CopyJob, CopyRule, START_MARGIN};
use crate::backfill::{Progress, Strategy};
use crate::error::DrError;
use crate::failback::Plan;
use crate::steps::{previous_turn, Step, StepContext};

/// A new page is not started with less than this left: a page's last object may take
/// [`START_MARGIN`] to copy.
const PAGE_MARGIN: Duration = Duration::from_secs(2 * START_MARGIN.as_secs());

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    /// 1 before the routing goes home, 2 after.
    pub pass: u32,
    /// Objects pass 1 brought home (in pass 2's output).
    #[serde(default)]
    pub first_pass_copied: u64,
    #[serde(flatten)]
    pub progress: Progress,
}

pub async fn run(context: &StepContext<'_>, plan: &Plan, input: &Value) -> Result<Output, DrError> {
    let previous: Option<Output> = previous_turn(Step::BringHome, input)?;
    let routed_home = input.get("RouteHome").is_some_and(|r| !r.is_null());
    let fresh = |pass| Output {
        pass,
        progress: Progress { strategy: Some(Strategy::Copy), ..Progress::default() },
        ..Output::default()
    };
    let mut output = match previous {
        None => fresh(1),
        Some(done) if done.progress.done && routed_home && done.pass < 2 => {
            Output { first_pass_copied: done.progress.objects_copied, ..fresh(2) }
        }
        Some(done) if done.progress.done => {
            return Ok(Output { progress: Progress { changed: false, ..done.progress }, ..done })
        }
        Some(going) => going,
    };
    output.progress.changed = false;
    let source = context.clients.s3(&plan.source_region);
    let dr = context.clients.s3(&plan.dr_region);
    let job = CopyJob {
        // The application's writes go home in the class a write takes by default; the
        // source's lifecycle moves them on as it moves the rest.
        storage_class: "STANDARD",
        destination_locked: plan.source_locked,
        ..CopyJob::configured(
            context,
            (&dr, &plan.destination),
            (&source, &plan.bucket),
            CopyRule::BringHome(plan.window),
        )
    };
    output.progress.turns += 1;
    let copied_before = output.progress.objects_copied;
    loop {
        copy_page(&job, &mut output.progress).await?;
        if output.progress.done || !crate::clock::time_left(context.deadline, PAGE_MARGIN) {
            break;
        }
    }
    let p = &output.progress;
    if p.done && p.objects_failed > 0 {
        return Err(DrError::FailbackIncomplete {
            bucket: plan.bucket.clone(),
            destination: plan.destination.clone(),
            detail: format!(
                "{} objects written in {} could not be copied home (first: {}); {} were",
                p.objects_failed,
                plan.destination,
                p.failures.join("; "),
                p.objects_copied
            ),
        });
    }
    let earlier = match output.pass {
        1 => "before the routing goes home".to_owned(),
        _ => format!("after the routing came home; {} before", output.first_pass_copied),
    };
    let summary = format!(
        "pass {} ({earlier}): {} objects ({} bytes) brought home to {}, {} already there or not written during the failover{}{}",
        output.pass,
        p.objects_copied,
        p.bytes_copied,
        plan.bucket,
        p.objects_skipped,
        match p.objects_not_replicable {
            0 => String::new(),
            n => format!(", {n} that S3 cannot copy (archived or SSE-C: {})", p.not_replicable.join("; ")),
        },
        if p.done { "" } else { "; continuing" }
    );
    tracing::info!(pass = output.pass, copied = p.objects_copied - copied_before, "brought home");
    output.progress.summary = summary;
    Ok(output)
}
