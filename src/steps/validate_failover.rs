//! ValidateFailover: may this bucket fail over to its DR copy, and what would that do? Reads
//! only, and only in the DR region (and the MRAP control plane when an access point is named):
//! it must answer while the source's region fails.
//!
//! Input: `{"bucket": "<source>", "force"?: bool, "drill"?: bool, "mrap"?: "<MRAP ARN>"}`.
//!
//! AWS calls: GetBucketLocation and GetBucketTagging of the destination (DR region); with an
//! access point, GetMultiRegionAccessPointRoutes in a failover-control Region other than the
//! source's. GetBucketLocation of the source through the DR region's endpoint, for the source's
//! region (an error there is expected in an outage: the region is then "unknown").
//!
//! Refused, changing nothing: a bucket without a destination of ours, or whose destination was
//! detached (`NotProtected`), one
//! failed over already (`AlreadyFailedOver`), a DR copy whose last verification found objects
//! missing unless `force` (`DrCopyIncomplete`), an access point without a route to both buckets
//! (`InvalidInput`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bucket;
use crate::error::DrError;
use crate::failover::{self, Readiness, Route};
use crate::steps::StepContext;
use crate::verify;

/// A verification older than this is a caveat: the weekly one, and a day's grace.
const VERIFIED_WITHIN_SECONDS: i64 = verify::OVERDUE_SECONDS;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub bucket: String,
    pub destination: String,
    pub dr_region: String,
    /// None when the source's region does not answer.
    pub source_region: Option<String>,
    pub force: bool,
    /// A rehearsal: PromoteDestination reports what it would do and writes nothing.
    pub drill: bool,
    pub mrap: Option<String>,
    /// The access point's routes now, when one is named.
    #[serde(default)]
    pub routes: Vec<Route>,
    pub readiness: Readiness,
    /// What an application that addresses the bucket directly must change.
    pub application_changes: Vec<String>,
}

pub async fn run(context: &StepContext<'_>, input: &Value) -> Result<Plan, DrError> {
    let request = Request::parse(input)?;
    let config = context.config;
    let (destination, destination_tags) = failover::our_destination(context.clients, config, &request.bucket).await?;
    let dr = context.clients.s3(&config.dr_region);
    if destination_tags.iter().any(|t| t.key == crate::detach::DETACHED_AT_TAG) {
        // Detached: no longer replicated, however old its last object is.
        return Err(DrError::NotProtected { bucket: request.bucket.clone(), match_tag: config.match_tag.to_string() });
    }
    if failover::is_failed_over(&destination_tags) {
        let since = failover::record(&destination_tags).map(str::to_owned);
        return Err(DrError::AlreadyFailedOver {
            bucket: request.bucket.clone(),
            destination,
            since: since.unwrap_or_default(),
        });
    }
    let now = verify::unix_seconds(std::time::SystemTime::now());
    let readiness = failover::readiness(verify::recorded(&destination_tags).as_ref(), now, VERIFIED_WITHIN_SECONDS);
    if let (Some(why), false) = (&readiness.known_incomplete, request.force) {
        return Err(DrError::DrCopyIncomplete { bucket: request.bucket.clone(), destination, detail: why.clone() });
    }
    // The source's region, if its metadata still answers through the DR region's endpoint
    // (else the access point's route for it says).
    let mut source_region = bucket::region(&dr, &request.bucket).await.ok().flatten();
    let routes = match &request.mrap {
        Some(mrap) => {
            let routes =
                crate::mrap::read_routes(context.clients, source_region.as_deref(), mrap, &request.bucket).await?;
            if source_region.is_none() {
                source_region = routes.iter().find(|r| r.bucket == request.bucket).map(|r| r.region.clone());
            }
            for wanted in [&request.bucket, &destination] {
                if !routes.iter().any(|r| &r.bucket == wanted) {
                    return Err(DrError::InvalidInput(format!(
                        "Multi-Region Access Point {mrap} has no route to bucket {wanted} (its buckets: {}); name the access point of {} and {destination}, or none",
                        routes.iter().map(|r| r.bucket.as_str()).collect::<Vec<_>>().join(", "),
                        request.bucket
                    )));
                }
            }
            routes
        }
        None => Vec::new(),
    };
    Ok(Plan {
        application_changes: failover::application_changes(
            &request.bucket,
            source_region.as_deref(),
            &destination,
            &config.dr_region,
        ),
        bucket: request.bucket,
        destination,
        dr_region: config.dr_region.clone(),
        source_region,
        force: request.force,
        drill: request.drill,
        mrap: request.mrap,
        routes,
        readiness,
    })
}

struct Request {
    bucket: String,
    force: bool,
    drill: bool,
    mrap: Option<String>,
}

impl Request {
    fn parse(input: &Value) -> Result<Request, DrError> {
        let bad = |what: String| DrError::InvalidInput(format!("failover: {what}"));
        let shape = r#"{"bucket": "<source bucket>", "force"?: bool, "drill"?: bool, "mrap"?: "<arn>"}"#;
        let bucket = failover::bucket_field(input, shape).map_err(bad)?;
        let flag = |name: &str| match input.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(value)) => Ok(*value),
            Some(other) => Err(bad(format!("{name} is true or false, got {other}"))),
        };
        let mrap = failover::mrap_field(input).map_err(bad)?;
        Ok(Request { bucket: bucket.to_owned(), force: flag("force")?, drill: flag("drill")?, mrap })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_request_is_checked_before_anything_is_read() {
        let ok = Request::parse(
            &json!({"bucket": "photos", "force": true, "mrap": "arn:aws:s3::123456789012:accesspoint/a.mrap"}),
        )
        .unwrap();
        assert_eq!((ok.bucket.as_str(), ok.force, ok.drill), ("photos", true, false));
        for bad in [
            json!({}),
            json!({"bucket": "x/y"}),
            json!({"bucket": "photos", "force": "yes"}),
            json!({"bucket": "photos", "mrap": "arn:aws:s3:us-east-1:1:accesspoint/x"}),
            json!({"bucket": "photos", "mrap": 7}),
        ] {
            assert_eq!(Request::parse(&bad).err().map(|e| e.error_type()), Some("InvalidInput"), "{bad}");
        }
    }
}
