//! Multi-Region Access Point routing (S3 Control), the one control plane failover may call
//! besides the DR region: each read and write of a route configuration. moto does not model
//! these; tests/failover_mocks.rs pins the requests and answers with aws-smithy-mocks.

use aws_sdk_s3control::types::MultiRegionAccessPointRoute;
use aws_sdk_s3control::Client;

use crate::clients::Clients;
use crate::error::{AwsResultExt, DrError};
use crate::failover::{self, Route};

/// Runs `call` against each failover-control Region in turn (the failed one left out) until one
/// answers (a Region whose endpoint fails transiently is the next one's turn), and its answer.
async fn in_any_control_region<T, F, Fut>(clients: &Clients, failed: Option<&str>, mut call: F) -> Result<T, DrError>
where
    F: FnMut(Client) -> Fut,
    Fut: std::future::Future<Output = Result<T, DrError>>,
{
    let mut last = None;
    for region in failover::control_regions(failed) {
        match call(clients.s3control(region)).await {
            Ok(answer) => return Ok(answer),
            Err(error) if error.is_transient() => last = Some(error),
            Err(error) => return Err(error),
        }
    }
    Err(last.unwrap_or_else(|| DrError::Internal("no failover-control Region to call".to_owned())))
}

/// The access point's routes, read through the failover controls of any Region but `failed`.
pub async fn read_routes(
    clients: &Clients,
    failed: Option<&str>,
    mrap: &str,
    bucket: &str,
) -> Result<Vec<Route>, DrError> {
    let account = failover::mrap_account(mrap).unwrap_or_default();
    in_any_control_region(clients, failed, |control| async move { routes(&control, account, mrap, bucket).await }).await
}

/// Submit `wanted` through the failover controls of any Region but `failed`.
pub async fn submit_routes(
    clients: &Clients,
    failed: Option<&str>,
    mrap: &str,
    wanted: &[Route],
    bucket: &str,
) -> Result<(), DrError> {
    let account = failover::mrap_account(mrap).unwrap_or_default();
    in_any_control_region(
        clients,
        failed,
        |control| async move { submit(&control, account, mrap, wanted, bucket).await },
    )
    .await?;
    Ok(())
}

/// The access point's routes (GetMultiRegionAccessPointRoutes), named for errors by `bucket`.
pub async fn routes(s3control: &Client, account: &str, mrap: &str, bucket: &str) -> Result<Vec<Route>, DrError> {
    let output = s3control
        .get_multi_region_access_point_routes()
        .account_id(account)
        .mrap(mrap)
        .send()
        .await
        .aws(bucket, "GetMultiRegionAccessPointRoutes")?;
    Ok(output
        .routes()
        .iter()
        .map(|r| Route {
            bucket: r.bucket().unwrap_or_default().to_owned(),
            region: r.region().unwrap_or_default().to_owned(),
            traffic_dial_percentage: r.traffic_dial_percentage(),
        })
        .collect())
}

/// Submits `routes` (SubmitMultiRegionAccessPointRoutes). S3 applies them within about two
/// minutes; the routes not named keep theirs.
pub async fn submit(
    s3control: &Client,
    account: &str,
    mrap: &str,
    routes: &[Route],
    bucket: &str,
) -> Result<(), DrError> {
    let updates = routes
        .iter()
        .map(|r| {
            MultiRegionAccessPointRoute::builder()
                .bucket(&r.bucket)
                .region(&r.region)
                .traffic_dial_percentage(r.traffic_dial_percentage)
                .build()
                .map_err(|e| DrError::Internal(format!("building an MRAP route: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    s3control
        .submit_multi_region_access_point_routes()
        .account_id(account)
        .mrap(mrap)
        .set_route_updates(Some(updates))
        .send()
        .await
        .aws(bucket, "SubmitMultiRegionAccessPointRoutes")?;
    Ok(())
}
