//! RouteHome: with an access point, its routing goes back to the source (100) and away from
//! every other bucket (0), through any failover-control Region (the source's region answers
//! again). Without one, nothing: the application was pointed home by the operator (the
//! runbook's order). The state machine then waits `settleSeconds` (S3 applies a route change
//! within about 2 minutes) before BringHome's second pass takes what reached DR meanwhile.
//!
//! AWS calls: SubmitMultiRegionAccessPointRoutes unless the routes already send everything to
//! the source (ValidateFailback read them).

use serde::Serialize;

use crate::error::DrError;
use crate::failback::{Plan, ROUTES_SETTLE_SECONDS};
use crate::failover::{self, Route};
use crate::steps::StepContext;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub mrap: Option<String>,
    /// The routes submitted; empty without an access point or when it already routed home.
    pub routes: Vec<Route>,
    /// How long the state machine waits before the last pass.
    pub settle_seconds: u64,
    pub summary: String,
    pub changed: bool,
}

pub async fn run(context: &StepContext<'_>, plan: &Plan) -> Result<Output, DrError> {
    let Some(mrap) = &plan.mrap else {
        return Ok(Output {
            mrap: None,
            routes: Vec::new(),
            settle_seconds: 0,
            summary: format!("no access point: the application addresses {} directly again", plan.bucket),
            changed: false,
        });
    };
    if failover::routed_to(&plan.routes, &plan.bucket) {
        return Ok(Output {
            mrap: Some(mrap.clone()),
            routes: Vec::new(),
            settle_seconds: 0,
            summary: format!("access point {mrap} already routes to {}", plan.bucket),
            changed: false,
        });
    }
    let routes = failover::all_to(&plan.routes, &plan.bucket, &plan.source_region);
    if !context.dry_run {
        crate::mrap::submit_routes(context.clients, None, mrap, &routes, &plan.bucket).await?;
    }
    Ok(Output {
        summary: format!(
            "access point {mrap} now routes to {} ({}); S3 applies it within about 2 minutes",
            plan.bucket, plan.source_region
        ),
        mrap: Some(mrap.clone()),
        routes,
        settle_seconds: ROUTES_SETTLE_SECONDS,
        changed: !context.dry_run,
    })
}
