//! PromoteDestination: the DR bucket becomes the primary. With an access point, its routing is
//! switched to the DR bucket (100) and away from every other bucket (0) through a
//! failover-control Region other than the source's (the next one when one does not answer); then the destination records the failover (tag
//! `s3-dr:failover`, which `status` shows and the sweep respects). A drill writes nothing and
//! says what it would do.
//!
//! AWS calls: SubmitMultiRegionAccessPointRoutes unless the routes already send everything to
//! DR (ValidateFailover read them); GetBucketTagging + PutBucketTagging of the destination.
//! Nothing in the source's region.

use serde::Serialize;

use crate::bucket;
use crate::error::DrError;
use crate::failover::{self, FailedOver};
use crate::steps::validate_failover::Plan;
use crate::steps::StepContext;
use crate::tags::Tag;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub bucket: String,
    pub destination: String,
    pub dr_region: String,
    pub drill: bool,
    /// The record on the destination (written, or that a failover would write).
    pub record: String,
    /// The access point switched, if one was named.
    pub mrap: Option<String>,
    /// Routes submitted to the access point (or that a failover would submit); empty without one
    /// or when it already routed to DR.
    pub routes: Vec<failover::Route>,
    pub application_changes: Vec<String>,
    /// What the caller should know: caveats of the DR copy, a forced failover.
    pub warnings: Vec<String>,
    pub summary: String,
    pub changed: bool,
}

pub async fn run(context: &StepContext<'_>, plan: &Plan) -> Result<Output, DrError> {
    let config = context.config;
    let now = crate::verify::unix_seconds(std::time::SystemTime::now());
    let record = FailedOver { at: now, from_region: plan.source_region.clone(), mrap: plan.mrap.clone() };
    // Every route but DR's to 0 (the source's, and any other bucket of the access point).
    let wanted_routes = match &plan.mrap {
        Some(_) => failover::all_to(&plan.routes, &plan.destination, &config.dr_region),
        None => Vec::new(),
    };
    let route_needed = plan.mrap.is_some() && !failover::routed_to(&plan.routes, &plan.destination);
    let mut warnings = plan.readiness.caveats.clone();
    if let (Some(why), true) = (&plan.readiness.known_incomplete, plan.force) {
        warnings.push(format!("forced: {why}"));
    }
    let mut output = Output {
        bucket: plan.bucket.clone(),
        destination: plan.destination.clone(),
        dr_region: config.dr_region.clone(),
        drill: plan.drill,
        record: record.tag_value(),
        mrap: plan.mrap.clone(),
        routes: if route_needed { wanted_routes.clone() } else { Vec::new() },
        application_changes: plan.application_changes.clone(),
        warnings,
        summary: String::new(),
        changed: false,
    };
    if plan.drill || context.dry_run {
        output.summary = format!(
            "drill: failover of {} to {} ({}) would succeed: it would {}record the failover on {}; nothing was changed",
            plan.bucket,
            plan.destination,
            config.dr_region,
            if route_needed { "switch the access point's routing to DR, " } else { "" },
            plan.destination
        );
        return Ok(output);
    }
    if let (Some(mrap), true) = (&plan.mrap, route_needed) {
        let failed = plan.source_region.as_deref();
        crate::mrap::submit_routes(context.clients, failed, mrap, &wanted_routes, &plan.bucket).await?;
    }
    let dr = context.clients.s3(&config.dr_region);
    let value = output.record.clone();
    let wrote = bucket::update_tags(&dr, &plan.destination, |tags| {
        if failover::is_failed_over(tags) {
            // A retry after the write took effect: keep the first record.
            return tags.to_vec();
        }
        let mut tags = tags.to_vec();
        tags.push(Tag::new(failover::FAILOVER_TAG, value.as_str()));
        tags
    })
    .await?;
    output.changed = wrote || route_needed;
    output.summary = format!(
        "{} failed over: {} ({}) is the primary{}",
        plan.bucket,
        plan.destination,
        config.dr_region,
        match (&plan.mrap, route_needed) {
            (Some(mrap), true) =>
                format!("; access point {mrap} now routes to it (S3 applies it within about 2 minutes)"),
            (Some(mrap), false) => format!("; access point {mrap} already routed to it"),
            (None, _) => "; no access point: the application must change to it (see applicationChanges)".to_owned(),
        }
    );
    Ok(output)
}
