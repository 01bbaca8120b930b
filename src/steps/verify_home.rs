//! VerifyHome: does the source now hold everything written in DR during the failover? Both
//! buckets' current versions are listed in key order and merged (`verify::listing`, as
//! VerifyData compares, with DR as the side that must be held), each DR object judged by
//! failback's rule (`failback::brings_home`): one it still says to bring home is not home.
//!
//! Bounded by the deadline only: a run that stops there says `complete: false` and where, and
//! the state machine calls it again to go on from there with the figures so far.
//!
//! AWS calls: ListObjectsV2 of both buckets, 1,000 keys a page.
//!
//! Refused: objects not home once the comparison is complete (`FailbackIncomplete`, naming
//! them): nothing is switched back.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::DrError;
use crate::failback::{Homecoming, Plan};
use crate::steps::{previous_turn, Step, StepContext};
use crate::verify::listing::{self, Listing};
use crate::verify::Merge;

/// Time kept after the listings for the answer.
const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    /// Both listings were read to the end (over one or more runs).
    pub complete: bool,
    /// Where the next run goes on from, when not complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_after: Option<String>,
    #[serde(flatten)]
    pub found: Homecoming,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub changed: bool,
}

pub async fn run(context: &StepContext<'_>, plan: &Plan, input: &Value) -> Result<Output, DrError> {
    let previous: Option<Output> = previous_turn(Step::VerifyHome, input)?;
    let (mut found, after) = match previous {
        Some(earlier) if !earlier.complete => (earlier.found, earlier.continue_after),
        _ => (Homecoming::new(plan.window), None),
    };
    let dr = context.clients.s3(&plan.dr_region);
    let home = context.clients.s3(&plan.source_region);
    let stop_at = context.deadline.and_then(|d| d.checked_sub(DEADLINE_MARGIN));
    let merged = listing::merge(
        Listing { s3: &dr, bucket: &plan.destination },
        Listing { s3: &home, bucket: &plan.bucket },
        Merge::over(Homecoming::new(plan.window)),
        after.as_deref(),
        u64::MAX,
        stop_at,
    )
    .await?;
    found.add(&merged.sides);
    if merged.complete && !found.is_home() {
        return Err(DrError::FailbackIncomplete {
            bucket: plan.bucket.clone(),
            destination: plan.destination.clone(),
            detail: format!(
                "{} objects ({} bytes) written in {} during the failover are not in {} (first: {})",
                found.not_home,
                found.not_home_bytes,
                plan.destination,
                plan.bucket,
                found.examples.join(", ")
            ),
        });
    }
    let summary = match merged.complete {
        true => format!(
            "{} holds all {} objects written in {} during the failover ({} kept newer at home; {} only at home, {} older only in DR: left as they are)",
            plan.bucket, found.written_in_dr, plan.destination, found.newer_at_home, found.only_at_home, found.older_only_in_dr
        ),
        false => format!("compared up to {:?}; continuing", merged.stopped_after.as_deref().unwrap_or_default()),
    };
    Ok(Output {
        complete: merged.complete,
        // Stopped before its first key: go on from where this run began.
        continue_after: if merged.complete { None } else { merged.stopped_after.or(after) },
        found,
        summary,
        changed: false,
    })
}
