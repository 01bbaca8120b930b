//! CopyShard: one turn of one shard of a split copy backfill (the protect workflow's
//! `CopyShards` Map): copy the next page of the shard's key range. The shard loops until its
//! range is done or it has made this round's turns; then CheckBackfill adds the shards up,
//! writes the heartbeat and starts the next round.
//!
//! AWS calls: those of a page of the copy backfill (`backfill::copy`). No tag is written here:
//! the shards run at once, and a bucket's tags take one writer at a time.

use serde_json::Value;

use crate::backfill::copy::{copy_page, CopyJob};
use crate::backfill::shards::MAX_ROUND_SECONDS;
use crate::backfill::{unix_now, Progress};
use crate::error::DrError;
use crate::plan::{DestinationPlan, SourcePlan};
use crate::steps::StepContext;

pub async fn run(
    context: &StepContext<'_>,
    plan: &SourcePlan,
    destination: &DestinationPlan,
    input: &Value,
) -> Result<Progress, DrError> {
    let mut shard = latest(input)?;
    if shard.done {
        return Ok(shard);
    }
    let source = context.clients.s3(&plan.region);
    let dr = context.clients.s3(&destination.region);
    let job = CopyJob::backfill(context, plan, destination, &source, &dr)?;
    copy_page(&job, &mut shard).await?;
    shard.turns += 1;
    // The round ends after its pages, or once it has run long enough that the heartbeat written
    // before it would soon look stalled (the Map waits for its slowest shard).
    let round_began = shard.heartbeat_at.unwrap_or_else(unix_now);
    shard.handover =
        !shard.done && (shard.turns >= shard.round_turns.max(1) || unix_now() - round_began >= MAX_ROUND_SECONDS);
    // The whole keeps the first failures; a shard one of each, so that the state stays small.
    shard.failures.truncate(1);
    shard.not_replicable.truncate(1);
    shard.summary.clear();
    Ok(shard)
}

/// The shard as its last turn left it (`$.CopyShard`), or as the Map handed it (`$.shard`).
fn latest(input: &Value) -> Result<Progress, DrError> {
    let found = input.get("CopyShard").or_else(|| input.get("shard")).ok_or_else(|| {
        DrError::InvalidInput("step CopyShard needs the shard at input.shard (the CopyShards Map's item)".to_owned())
    })?;
    let shard: Progress = serde_json::from_value(found.clone())
        .map_err(|e| DrError::InvalidInput(format!("step CopyShard: the shard in the input is malformed: {e}")))?;
    if !shard.shards.is_empty() {
        return Err(DrError::InvalidInput("step CopyShard: a shard holds no shards".to_owned()));
    }
    Ok(shard)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_latest_turn_wins_and_bad_shards_are_refused() -> Result<(), Box<dyn std::error::Error>> {
        let input = json!({
            "shard": {"strategy": "copy", "done": false, "changed": false, "continueAfter": "a", "until": "m"},
            "CopyShard": {"strategy": "copy", "done": false, "changed": true, "continueAfter": "f", "until": "m", "turns": 1}
        });
        let shard = latest(&input)?;
        assert_eq!((shard.continue_after.as_deref(), shard.until.as_deref(), shard.turns), (Some("f"), Some("m"), 1));
        assert_eq!(latest(&json!({})).unwrap_err().error_type(), "InvalidInput");
        assert_eq!(latest(&json!({"shard": {"strategy": 7}})).unwrap_err().error_type(), "InvalidInput");
        let nested = json!({"shard": {"strategy": "copy", "done": false, "changed": false, "shards": [{"done": true, "changed": false, "strategy": "copy"}]}});
        assert_eq!(latest(&nested).unwrap_err().error_type(), "InvalidInput");
        Ok(())
    }
}
