//! VerifyData: is the data in DR? Both buckets' current object versions are listed in key
//! order and merged as the pages arrive ([`crate::verify`]); the result says what the loss of
//! the source region now would lose: objects and bytes missing in DR, objects still in flight,
//! and the recovery point (the age of the oldest source object not in DR; 0 when complete).
//!
//! AWS calls: GetBucketLocation and GetBucketReplication of the source (its s3-dr rule names
//! the destination); ListObjectsV2 of both buckets, a page of 1,000 at a time, both listings
//! running at once with a page read ahead (memory: a few pages, whatever the size);
//! HeadObject of the first missing objects in the source (at most 20: their replication
//! status, FAILED or PENDING); then GetBucketTagging + PutBucketTagging of the destination's
//! `s3-dr:verified` record (which `status` shows) and, with a report bucket configured, one
//! PutObject of the JSON report. A dry run writes neither.
//!
//! Bounded: at most `S3DR_VERIFY_MAX_OBJECTS` objects per bucket per run, and the Lambda's
//! deadline. A run stopped there says `complete: false` and where it stopped; what it did not
//! read is never counted as present.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::types::ReplicationStatus;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bucket;
use crate::error::{AwsResultExt, DrError};
use crate::inventory::{
    self,
    compare::{Budget, Failure, Side},
    INVENTORY_ID,
};
use crate::replication::our_destination;
use crate::steps::StepContext;
use crate::tags::Tag;
use crate::verify::listing::{self, Listing, Merged};
use crate::verify::{duration, unix_seconds, Comparison, Merge, StatusCounts, Verified, VERIFIED_TAG};

/// Time kept after the listings for the status checks and the record.
const DEADLINE_MARGIN: Duration = Duration::from_secs(30);
/// HeadObject calls at once.
const HEAD_CONCURRENCY: usize = 8;

/// How VerifyData compares: `auto` (the default) uses the S3 Inventory reports when s3-dr has
/// configured them on the bucket and they exist, else lists; `list` always lists (bounded);
/// `inventory` configures the inventories if needed and compares the reports (an error if
/// there are none yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    #[default]
    Auto,
    List,
    Inventory,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub bucket: String,
    pub destination: String,
    pub destination_region: String,
    /// Unix seconds.
    pub verified_at: i64,
    /// How the buckets were compared: `list` or `inventory`.
    pub method: Method,
    /// Unix seconds: the state compared is as of this time (the run's for a listing; the DR
    /// report's scan for the inventory). The recovery point is measured at it.
    pub as_of: i64,
    /// Both listings (or every inventory partition) were read to the end.
    pub complete: bool,
    /// The last source key compared, when a listing did not complete: the figures cover the
    /// keys up to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_after: Option<String>,
    /// The reports compared, when `method` is `inventory`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory: Option<InventoryUsed>,
    /// Buckets on which this run configured the s3-dr inventory (the source's listing passed
    /// its bound, or `inventory` was asked for).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inventory_configured: Vec<String>,
    #[serde(flatten)]
    pub comparison: Comparison,
    pub recovery_point_seconds: u64,
    /// Replication status of the missing objects: of the first examples (HeadObject) after a
    /// listing, of every one (the report's field) from the inventory.
    pub replication_status: StatusCounts,
    /// Where the JSON report was written (`s3://bucket/key`), if a report bucket is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    pub summary: String,
    /// Verification changes no setting (it records its result on the destination).
    pub changed: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryUsed {
    pub source_manifest: String,
    pub dr_manifest: String,
    /// Unix seconds: when S3 began each report's scan.
    pub source_taken_at: i64,
    pub dr_taken_at: i64,
    /// Hash partitions of DR's keys (one pass over both reports each), and those compared.
    pub partitions: u64,
    pub partitions_done: u64,
}

/// What one way of comparing found.
struct Compared {
    comparison: Comparison,
    statuses: StatusCounts,
    complete: bool,
    stopped_after: Option<String>,
    as_of: i64,
    method: Method,
    inventory: Option<InventoryUsed>,
}

pub async fn run(context: &StepContext<'_>, input: &Value) -> Result<Output, DrError> {
    let (bucket, method) = request(input)?;
    let config = context.config;
    let home = context.clients.s3(&context.clients.home_region());
    let region = bucket::region(&home, &bucket)
        .await?
        .ok_or_else(|| DrError::SourceBucketNotFound { bucket: bucket.clone() })?;
    let source = context.clients.s3(&region);
    let replication = bucket::replication(&source, &bucket).await?;
    let destination = our_destination(replication.as_ref())
        .ok_or_else(|| DrError::NotProtected { bucket: bucket.clone(), match_tag: config.match_tag.to_string() })?;
    let dr = context.clients.s3(&config.dr_region);
    let pair = Pair { source: &source, bucket: &bucket, dr: &dr, destination: &destination };
    let account = context.account_id.as_deref();
    let report_buckets = account.and_then(|a| {
        Some(ReportBuckets {
            source: config.batch_report_bucket_in(&region, a)?,
            dr: config.batch_report_bucket_in(&config.dr_region, a)?,
            account: a.to_owned(),
        })
    });

    let now = SystemTime::now();
    let stop_at = context.deadline.map(|d| d.checked_sub(DEADLINE_MARGIN).unwrap_or(d));
    let mut inventory_configured = Vec::new();
    let from_inventory = match (method, &report_buckets) {
        (Method::List, _) => None,
        (Method::Inventory, None) => return Err(DrError::InvalidConfig(
            "verifying from S3 Inventory needs a report bucket in each region: set S3DR_BATCH_REPORT_BUCKET (the CDK app's default, s3-dr-reports-{account}-{region}, is made with backfill batch)".into(),
        )),
        (Method::Inventory, Some(reports)) => {
            if !context.dry_run {
                inventory_configured = ensure_inventories(&pair, reports).await?;
            }
            Some(compare_inventories(&pair, reports, config, stop_at, true).await?.ok_or_else(|| {
                DrError::Internal("the inventory comparison returned nothing where reports are required".into())
            })?)
        }
        (Method::Auto, Some(reports)) => {
            let wanted = inventory::reports::wanted(&reports.source, Some(&reports.account))?;
            match bucket::inventory_configuration(&source, &bucket, INVENTORY_ID).await? {
                Some(current) if inventory::reports::is_current(Some(&current), &wanted) => {
                    compare_inventories(&pair, reports, config, stop_at, false).await?
                }
                // Changed by someone (a filter, another schedule): its reports may cover part
                // of the bucket. Put back; list this time.
                Some(_) if !context.dry_run => {
                    inventory_configured = ensure_inventories(&pair, reports).await?;
                    None
                }
                _ => None,
            }
        }
        (Method::Auto, None) => None,
    };
    let compared = match from_inventory {
        Some(compared) => compared,
        None => {
            let listed = compare(&pair, config, unix_seconds(now), stop_at).await?;
            // Too large to list in a run: from now on, compare the daily inventories.
            if listed.over_bound && !context.dry_run {
                if let Some(reports) = &report_buckets {
                    inventory_configured = ensure_inventories(&pair, reports).await?;
                }
            }
            let statuses = replication_statuses(&source, &bucket, &listed.sides).await?;
            Compared {
                comparison: listed.sides,
                statuses,
                complete: listed.complete,
                stopped_after: listed.stopped_after,
                as_of: unix_seconds(now),
                method: Method::List,
                inventory: None,
            }
        }
    };

    let verified_at = unix_seconds(now);
    let recovery_point_seconds = compared.comparison.recovery_point_seconds(compared.as_of);
    let verified = Verified {
        // The state compared is as of this time: a report's scan, or now.
        at: compared.as_of.min(verified_at),
        recovery_point_seconds,
        missing_in_dr: compared.comparison.missing_in_dr,
        in_flight: compared.comparison.in_flight,
        complete: compared.complete,
    };
    let mut output = Output {
        summary: summary(&compared, recovery_point_seconds, &inventory_configured),
        bucket: bucket.clone(),
        destination: destination.clone(),
        destination_region: config.dr_region.clone(),
        verified_at,
        method: compared.method,
        as_of: compared.as_of,
        complete: compared.complete,
        stopped_after: compared.stopped_after,
        inventory: compared.inventory,
        changed: !inventory_configured.is_empty(),
        inventory_configured,
        comparison: compared.comparison,
        recovery_point_seconds,
        replication_status: compared.statuses,
        report: None,
    };
    if context.dry_run {
        return Ok(output);
    }
    let record = verified.tag_value();
    bucket::update_tags(&dr, &destination, |tags| {
        let mut tags: Vec<Tag> = tags.iter().filter(|t| t.key != VERIFIED_TAG).cloned().collect();
        tags.push(Tag::new(VERIFIED_TAG, record.as_str()));
        tags
    })
    .await?;
    if let Some(reports) = &report_buckets {
        let (report_bucket, key) = (&reports.source, report_key(&bucket, now));
        let body = serde_json::to_vec_pretty(&output)
            .map_err(|e| DrError::Internal(format!("serializing the verification report: {e}")))?;
        context
            .clients
            .s3(&region)
            .put_object()
            .bucket(report_bucket)
            .key(&key)
            .content_type("application/json")
            .body(body.into())
            .send()
            .await
            .aws(report_bucket, "PutObject")?;
        output.report = Some(format!("s3://{report_bucket}/{key}"));
    }
    Ok(output)
}

/// The source bucket and its destination, with their regions' clients.
struct Pair<'a> {
    source: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    dr: &'a aws_sdk_s3::Client,
    destination: &'a str,
}

/// The report bucket of each side's region (S3 delivers an inventory only within its region).
struct ReportBuckets {
    source: String,
    dr: String,
    account: String,
}

/// The s3-dr inventory on both buckets: the ones this call configured.
async fn ensure_inventories(pair: &Pair<'_>, reports: &ReportBuckets) -> Result<Vec<String>, DrError> {
    let (source, dr) = futures::try_join!(
        inventory::reports::ensure(
            pair.source,
            pair.bucket,
            inventory::reports::wanted(&reports.source, Some(&reports.account))?
        ),
        inventory::reports::ensure(
            pair.dr,
            pair.destination,
            inventory::reports::wanted(&reports.dr, Some(&reports.account))?
        ),
    )?;
    Ok([(source, pair.bucket), (dr, pair.destination)]
        .into_iter()
        .filter(|(wrote, _)| *wrote)
        .map(|(_, b)| b.to_owned())
        .collect())
}

/// The two latest reports compared, on a blocking thread (gunzip and CSV are CPU work). None
/// when a report is missing and `required` is false (the caller lists instead).
async fn compare_inventories(
    pair: &Pair<'_>,
    reports: &ReportBuckets,
    config: &crate::config::Config,
    stop_at: Option<SystemTime>,
    required: bool,
) -> Result<Option<Compared>, DrError> {
    let (source_manifest, dr_manifest) = futures::try_join!(
        inventory::reports::latest_manifest(pair.source, &reports.source, pair.bucket, true),
        inventory::reports::latest_manifest(pair.dr, &reports.dr, pair.destination, false),
    )?;
    let missing = |report_bucket: &str, bucket: &str| DrError::InventoryMissing {
        bucket: pair.bucket.to_owned(),
        location: format!("s3://{report_bucket}/{}", inventory::reports_prefix(bucket)),
    };
    let ((source_key, source_manifest), (dr_key, dr_manifest)) = match (source_manifest, dr_manifest) {
        (Some(source), Some(dr)) => (source, dr),
        _ if !required => return Ok(None),
        (None, _) => return Err(missing(&reports.source, pair.bucket)),
        (Some(_), None) => return Err(missing(&reports.dr, pair.destination)),
    };
    let now = unix_seconds(SystemTime::now());
    if let Some(why) = inventory::staleness(now, source_manifest.taken_at, dr_manifest.taken_at) {
        if !required {
            return Ok(None);
        }
        let older = if source_manifest.taken_at <= dr_manifest.taken_at {
            (&reports.source, &source_key)
        } else {
            (&reports.dr, &dr_key)
        };
        return Err(DrError::InventoryInvalid {
            bucket: pair.bucket.to_owned(),
            location: format!("s3://{}/{}", older.0, older.1),
            reason: why,
        });
    }
    for (manifest, bucket, report_bucket, key) in [
        (&source_manifest, pair.bucket, &reports.source, &source_key),
        (&dr_manifest, pair.destination, &reports.dr, &dr_key),
    ] {
        if manifest.source_bucket != bucket {
            return Err(DrError::InventoryInvalid {
                bucket: pair.bucket.to_owned(),
                location: format!("s3://{report_bucket}/{key}"),
                reason: format!("it is the report of {}, not of {bucket}", manifest.source_bucket),
            });
        }
    }
    let used = InventoryUsed {
        source_manifest: format!("s3://{}/{source_key}", reports.source),
        dr_manifest: format!("s3://{}/{dr_key}", reports.dr),
        source_taken_at: source_manifest.taken_at,
        dr_taken_at: dr_manifest.taken_at,
        partitions: 0,
        partitions_done: 0,
    };
    // Source objects younger than the threshold when DR's report was taken are in flight.
    let as_of = dr_manifest.taken_at;
    let deadline = stop_at.map(|at| Instant::now() + at.duration_since(SystemTime::now()).unwrap_or_default());
    let runtime = tokio::runtime::Handle::current();
    let (source, dr) = (pair.source.clone(), pair.dr.clone());
    let (source_reports, dr_reports) = (reports.source.clone(), reports.dr.clone());
    let budget = Budget(config.verify_inventory_rows.min(usize::MAX as u64) as usize);
    let threshold = config.verify_threshold_seconds;
    let outcome = tokio::task::spawn_blocking(move || {
        inventory::compare::compare(&source_manifest, &dr_manifest, budget, as_of, threshold, deadline, |side, file| {
            let (client, report_bucket) = match side {
                Side::Source => (&source, &source_reports),
                Side::Dr => (&dr, &dr_reports),
            };
            inventory::reports::open_blocking(&runtime, client, report_bucket, &file.key)
        })
    })
    .await
    .map_err(|e| DrError::Internal(format!("the inventory comparison's thread: {e}")))?;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(Failure::Open(error)) => return Err(error),
        Err(Failure::Invalid { side, file, what }) => {
            let report_bucket = if side == Side::Source { &reports.source } else { &reports.dr };
            return Err(DrError::InventoryInvalid {
                bucket: pair.bucket.to_owned(),
                location: format!("s3://{report_bucket}/{file}"),
                reason: what,
            });
        }
    };
    Ok(Some(Compared {
        comparison: outcome.tally.finish(),
        statuses: outcome.statuses,
        complete: outcome.complete,
        stopped_after: None,
        as_of,
        method: Method::Inventory,
        inventory: Some(InventoryUsed {
            partitions: outcome.partitions,
            partitions_done: outcome.partitions_done,
            ..used
        }),
    }))
}

/// `{"bucket": "<name>"}` (and optionally `"method": "auto" | "list" | "inventory"`), as the
/// verify workflow, the sweep and the CLI pass it.
fn request(input: &Value) -> Result<(String, Method), DrError> {
    let bucket = input.get("bucket").and_then(Value::as_str).ok_or_else(|| {
        DrError::InvalidInput(format!(
            "VerifyData expects {{\"bucket\": \"<source bucket>\"}}, got {}",
            crate::error::abbreviated(&input.to_string(), 200)
        ))
    })?;
    let method = match input.get("method") {
        None | Some(Value::Null) => Method::Auto,
        Some(value) => serde_json::from_value(value.clone()).map_err(|_| {
            DrError::InvalidInput(format!(
                "VerifyData's method is auto, list or inventory, got {}",
                crate::error::abbreviated(&value.to_string(), 100)
            ))
        })?,
    };
    if let Some(rule) = crate::naming::why_not_a_bucket_name(bucket) {
        return Err(DrError::InvalidInput(format!(
            "{:?} is not a bucket name: {rule}",
            crate::error::abbreviated(bucket, 100)
        )));
    }
    Ok((bucket.to_owned(), method))
}

/// Where the reports go in the report bucket (the step role may write only there).
pub const REPORT_PREFIX: &str = "s3-dr/verify-reports";

/// The report's key in the source region's report bucket:
/// `s3-dr/verify-reports/<bucket>/<YYYYMMDDTHHMMSSZ>.json`.
fn report_key(bucket: &str, now: SystemTime) -> String {
    format!("{REPORT_PREFIX}/{bucket}/{}.json", crate::clock::second_stamp(now))
}

/// Both listings, merged page by page, within the object bound and the deadline.
async fn compare(
    pair: &Pair<'_>,
    config: &crate::config::Config,
    now: i64,
    stop_at: Option<SystemTime>,
) -> Result<Merged<Comparison>, DrError> {
    let source = Listing { s3: pair.source, bucket: pair.bucket };
    let dr = Listing { s3: pair.dr, bucket: pair.destination };
    let merge = Merge::new(now, config.verify_threshold_seconds);
    let merged = listing::merge(source, dr, merge, None, config.verify_max_objects, stop_at).await?;
    let Merged { sides, complete, stopped_after, over_bound } = merged;
    Ok(Merged { sides: sides.finish(), complete, stopped_after, over_bound })
}

/// HeadObject of the missing examples: why replication did not carry them.
pub async fn replication_statuses(
    source: &aws_sdk_s3::Client,
    bucket: &str,
    comparison: &Comparison,
) -> Result<StatusCounts, DrError> {
    let heads: Vec<Result<Option<ReplicationStatus>, DrError>> = futures::stream::iter(&comparison.examples)
        .map(|example| async move {
            match source.head_object().bucket(bucket).key(&example.key).send().await.aws(bucket, "HeadObject") {
                Ok(head) => Ok(head.replication_status().cloned()),
                // Deleted since the listing, or unreadable: no status to report.
                Err(error) if !error.is_transient() => Ok(None),
                Err(error) => Err(error),
            }
        })
        .buffer_unordered(HEAD_CONCURRENCY)
        .collect()
        .await;
    let mut counts = StatusCounts::default();
    for status in heads {
        counts.count(status?.as_ref().map_or("", ReplicationStatus::as_str));
    }
    Ok(counts)
}

fn summary(compared: &Compared, recovery_point: u64, inventory_configured: &[String]) -> String {
    let comparison = &compared.comparison;
    let mut scope = match (&compared.inventory, compared.complete) {
        (Some(used), true) => format!(
            " (S3 Inventory reports of {})",
            crate::clock::date(UNIX_EPOCH + Duration::from_secs(used.dr_taken_at.max(0) as u64))
        ),
        (Some(used), false) => format!(
            " (partial: {} of {} hash partitions of the S3 Inventory reports before the deadline)",
            used.partitions_done, used.partitions
        ),
        (None, true) => String::new(),
        (None, false) => " (partial: the run stopped before the end of the bucket)".to_owned(),
    };
    if !inventory_configured.is_empty() {
        scope.push_str(&format!(
            "; S3 Inventory configured on {} (daily reports; the next runs compare them)",
            inventory_configured.join(" and ")
        ));
    }
    if comparison.missing_in_dr == 0 && comparison.in_flight == 0 {
        return format!("complete: all {} objects are in DR{scope}", comparison.source_objects);
    }
    let failed = if compared.statuses.failed > 0 {
        format!(", {} marked FAILED", compared.statuses.failed)
    } else {
        String::new()
    };
    format!(
        "{} of {} objects missing in DR ({} bytes{failed}), {} in flight; recovery point {}{scope}",
        comparison.missing_in_dr,
        comparison.source_objects,
        comparison.missing_bytes,
        comparison.in_flight,
        duration(recovery_point)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_request_names_one_bucket_and_maybe_a_method() {
        assert_eq!(request(&json!({"bucket": "photos"})).ok(), Some(("photos".to_owned(), Method::Auto)));
        assert_eq!(
            request(&json!({"bucket": "photos", "method": "inventory"})).ok(),
            Some(("photos".to_owned(), Method::Inventory))
        );
        let bad = [
            json!({}),
            json!({"bucket": 3}),
            json!({"bucket": "a"}),
            json!({"bucket": "x/y"}),
            json!({"bucket": "photos", "method": "sample"}),
        ];
        for bad in bad {
            assert_eq!(request(&bad).map_err(|e| e.error_type()), Err("InvalidInput"), "{bad}");
        }
    }
}
