//! MarkDestinationDetached: tag the destination `s3-dr:status=detached` and
//! `s3-dr:detached-at=<date>`, keeping its other tags, its data and every version. A bucket
//! that is not marked as this source's destination is left alone.
//!
//! AWS calls: GetBucketTagging; PutBucketTagging only if not marked yet.

use serde::Serialize;

use crate::bucket;
use crate::bucket::put_tags;
use crate::clock::today;
use crate::detach::detached_tags;
use crate::detach::DetachPlan;
use crate::error::DrError;
use crate::steps::StepContext;
use crate::tags;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub destination: Option<String>,
    /// `marked`, `already marked`, or why it was left alone.
    pub result: String,
    pub changed: bool,
}

pub async fn run(context: &StepContext<'_>, plan: &DetachPlan) -> Result<Output, DrError> {
    let (Some(destination), Some(region)) = (plan.destination.as_deref(), plan.destination_region.as_deref()) else {
        return Ok(Output { destination: None, result: "no destination bucket".to_owned(), changed: false });
    };
    let s3 = context.clients.s3(region);
    let current = bucket::tags(&s3, destination).await?;
    let output = |result: String, changed: bool| Output { destination: Some(destination.to_owned()), result, changed };
    if tags::destination_of(&current) != Some(plan.bucket.as_str()) {
        return Ok(output(format!("left alone: not tagged {}={}", tags::SOURCE_TAG, plan.bucket), false));
    }
    match detached_tags(&current, &today()) {
        None => Ok(output("already marked".to_owned(), false)),
        Some(marked) => {
            put_tags(&s3, destination, &marked).await?;
            Ok(output("marked".to_owned(), true))
        }
    }
}
