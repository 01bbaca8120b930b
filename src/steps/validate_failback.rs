//! ValidateFailback: may this bucket fail back, now? Reads only.
//!
//! Input: `{"bucket": "<source>", "since"?: "<YYYYMMDDTHHMMSSZ>", "mrap"?: "<MRAP ARN>"}`.
//!
//! AWS calls: GetBucketLocation and GetBucketTagging of the destination (DR region);
//! GetBucketVersioning and GetObjectLockConfiguration of the source in its region (the proof
//! that the region answers again); with an access point (named, or the one the failover
//! switched), GetMultiRegionAccessPointRoutes in a failover-control Region.
//!
//! Refused, changing nothing: a bucket without a destination of ours (`NotProtected`), one not
//! failed over (`NotFailedOver`), one whose region still fails (`SourceRegionUnavailable`), a
//! failover record that does not say when without a `since` (`InvalidInput`).

use serde_json::Value;

use crate::bucket;
use crate::error::DrError;
use crate::failback::{self, Plan};
use crate::failover;
use crate::steps::StepContext;

pub async fn run(context: &StepContext<'_>, input: &Value) -> Result<Plan, DrError> {
    let request = Request::parse(input)?;
    let config = context.config;
    let bucket = request.bucket;
    let (destination, destination_tags) = failover::our_destination(context.clients, config, &bucket).await?;
    let dr = context.clients.s3(&config.dr_region);
    let Some(record) = failover::record(&destination_tags).map(str::to_owned) else {
        return Err(DrError::NotFailedOver { bucket, destination });
    };
    let parsed = failover::FailedOver::parse(&record);
    let Some(window) = failback::Window::new(parsed.as_ref().map(|r| r.at), request.since) else {
        return Err(DrError::InvalidInput(format!(
            "failback: the failover record on {destination} ({record:?}) does not say when; give \"since\" (YYYYMMDDTHHMMSSZ): DR's objects written from then on are brought home"
        )));
    };
    // The source's region: the record's, else its metadata through the DR region's endpoint.
    let source_region = match parsed.as_ref().and_then(|r| r.from_region.clone()) {
        Some(region) => region,
        None => bucket::region(&dr, &bucket)
            .await?
            .ok_or_else(|| DrError::SourceBucketNotFound { bucket: bucket.clone() })?,
    };
    let source = context.clients.s3(&source_region);
    let unavailable = |error: DrError| match error {
        DrError::TransientAwsError { detail, .. } => DrError::SourceRegionUnavailable {
            bucket: bucket.clone(),
            destination: destination.clone(),
            region: source_region.clone(),
            detail,
        },
        other => other,
    };
    // The region answers again: its bucket reads succeed (a transient failure here is the
    // outage going on, refused by name rather than retried for minutes).
    let (source_versioning, object_lock) =
        tokio::try_join!(bucket::versioning(&source, &bucket), bucket::object_lock(&source, &bucket))
            .map_err(unavailable)?;
    let mrap = request.mrap.or_else(|| parsed.and_then(|r| r.mrap));
    let routes = match &mrap {
        Some(mrap) => crate::mrap::read_routes(context.clients, None, mrap, &bucket).await?,
        None => Vec::new(),
    };
    Ok(Plan {
        bucket,
        source_region,
        destination,
        dr_region: config.dr_region.clone(),
        record,
        window,
        source_versioning,
        source_locked: object_lock.is_some_and(|c| c.object_lock_enabled().is_some()),
        mrap,
        routes,
    })
}

const REQUEST_FIELDS: [&str; 4] = ["bucket", "since", "mrap", "requestedBy"];

struct Request {
    bucket: String,
    since: Option<i64>,
    mrap: Option<String>,
}

impl Request {
    fn parse(input: &Value) -> Result<Request, DrError> {
        let bad = |what: String| DrError::InvalidInput(format!("failback: {what}"));
        // The request's fields sit beside the steps' results in the workflow's state: a field
        // named as a step would be read as its result.
        if let Some(unknown) = input.as_object().and_then(|o| o.keys().find(|k| !REQUEST_FIELDS.contains(&k.as_str())))
        {
            return Err(bad(format!("unknown field {unknown:?} (known: {})", REQUEST_FIELDS.join(", "))));
        }
        let shape = r#"{"bucket": "<source bucket>", "since"?: "YYYYMMDDTHHMMSSZ", "mrap"?: "<arn>"}"#;
        let bucket = failover::bucket_field(input, shape).map_err(bad)?;
        let since = match input.get("since") {
            None | Some(Value::Null) => None,
            Some(Value::String(stamp)) => Some(crate::clock::parse_second_stamp(stamp).ok_or_else(|| {
                bad(format!("since is a UTC time as YYYYMMDDTHHMMSSZ (20261126T031500Z), got {stamp:?}"))
            })?),
            Some(other) => return Err(bad(format!("since is a string YYYYMMDDTHHMMSSZ, got {other}"))),
        };
        let mrap = failover::mrap_field(input).map_err(bad)?;
        Ok(Request { bucket: bucket.to_owned(), since, mrap })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_request_is_checked_before_anything_is_read() {
        let ok = Request::parse(&json!({"bucket": "photos", "since": "20261126T031500Z"})).unwrap();
        assert_eq!((ok.bucket.as_str(), ok.since.is_some(), ok.mrap), ("photos", true, None));
        for bad in [
            json!({}),
            json!({"bucket": "x/y"}),
            json!({"bucket": "photos", "since": "yesterday"}),
            json!({"bucket": "photos", "since": 7}),
            json!({"bucket": "photos", "RouteHome": {}}),
            json!({"bucket": "photos", "mrap": "arn:aws:s3:us-east-1:1:accesspoint/x"}),
        ] {
            assert_eq!(Request::parse(&bad).err().map(|e| e.error_type()), Some("InvalidInput"), "{bad}");
        }
    }
}
