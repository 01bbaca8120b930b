//! Multi-Region Access Point routing, which no emulator models: S3 Control's
//! GetMultiRegionAccessPointRoutes and SubmitMultiRegionAccessPointRoutes, answered by
//! aws-smithy-mocks as AWS documents them
//! (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_SubmitMultiRegionAccessPointRoutes.html).
//! Route changes take no request token (unlike creating an access point), so there is no
//! asynchronous operation to poll: S3 applies them within about two minutes.

use aws_sdk_s3control::operation::get_multi_region_access_point_routes::GetMultiRegionAccessPointRoutesOutput;
use aws_sdk_s3control::operation::submit_multi_region_access_point_routes::SubmitMultiRegionAccessPointRoutesOutput;
use aws_sdk_s3control::types::MultiRegionAccessPointRoute;
use aws_sdk_s3control::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::retry::RetryConfig;
use s3_dr::failover::{all_to, control_regions, routed_to, Route};

const ACCOUNT: &str = "123456789012";
const MRAP: &str = "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap";

fn route(bucket: &str, region: &str, dial: i32) -> MultiRegionAccessPointRoute {
    MultiRegionAccessPointRoute::builder().bucket(bucket).region(region).traffic_dial_percentage(dial).build().unwrap()
}

fn control_error(code: &str) -> Option<String> {
    Some(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><ErrorResponse><Error><Code>{code}</Code><Message>{code}</Message></Error><RequestId>R1</RequestId></ErrorResponse>"#
    ))
}

#[tokio::test]
async fn failover_reads_the_routes_then_sends_all_traffic_to_dr_with_dr_listed_first() {
    let get = mock!(Client::get_multi_region_access_point_routes)
        .match_requests(|r| r.account_id() == Some(ACCOUNT) && r.mrap() == Some(MRAP))
        .then_output(|| {
            GetMultiRegionAccessPointRoutesOutput::builder()
                .mrap(MRAP)
                .routes(route("photos", "us-west-2", 100))
                .routes(route("photos-dr", "us-east-2", 0))
                .build()
        });
    let submit = mock!(Client::submit_multi_region_access_point_routes)
        .match_requests(|r| {
            r.account_id() == Some(ACCOUNT)
                && r.mrap() == Some(MRAP)
                && r.route_updates() == [route("photos-dr", "us-east-2", 100), route("photos", "us-west-2", 0)]
        })
        .then_output(|| SubmitMultiRegionAccessPointRoutesOutput::builder().build());
    let client = mock_client!(aws_sdk_s3control, RuleMode::MatchAny, [&get, &submit]);

    let routes = s3_dr::mrap::routes(&client, ACCOUNT, MRAP, "photos").await.unwrap();
    assert!(!routed_to(&routes, "photos-dr"));
    let wanted = all_to(&routes, "photos-dr", "us-east-2");
    s3_dr::mrap::submit(&client, ACCOUNT, MRAP, &wanted, "photos").await.unwrap();
    assert_eq!((get.num_calls(), submit.num_calls()), (1, 1));
    // Asked of the failover-control Regions that are not the failed one, in turn.
    assert_eq!(control_regions(Some("us-west-2")), ["us-east-1", "ap-southeast-2", "ap-northeast-1", "eu-west-1"]);
}

#[tokio::test]
async fn a_denied_route_change_names_the_action_and_a_throttled_one_is_retried() {
    let denied = mock!(Client::submit_multi_region_access_point_routes)
        .sequence()
        .http_status(403, control_error("AccessDenied"))
        .build();
    let client =
        mock_client!(aws_sdk_s3control, RuleMode::Sequential, [&denied], |b| b.retry_config(RetryConfig::disabled()));
    let routes = [Route { bucket: "photos-dr".into(), region: "us-east-2".into(), traffic_dial_percentage: 100 }];
    let error = s3_dr::mrap::submit(&client, ACCOUNT, MRAP, &routes, "photos").await.unwrap_err();
    assert_eq!(error.error_type(), "AccessDenied");
    assert!(error.to_string().contains("s3:SubmitMultiRegionAccessPointRoutes"), "{error}");

    let busy = mock!(Client::get_multi_region_access_point_routes)
        .sequence()
        .http_status(503, control_error("ServiceUnavailable"))
        .build();
    let client =
        mock_client!(aws_sdk_s3control, RuleMode::Sequential, [&busy], |b| b.retry_config(RetryConfig::disabled()));
    let error = s3_dr::mrap::routes(&client, ACCOUNT, MRAP, "photos").await.unwrap_err();
    assert!(error.is_transient(), "{error}");
}

#[tokio::test]
async fn failback_sends_all_traffic_home_with_the_source_listed_first() {
    let get = mock!(Client::get_multi_region_access_point_routes)
        .match_requests(|r| r.account_id() == Some(ACCOUNT) && r.mrap() == Some(MRAP))
        .then_output(|| {
            GetMultiRegionAccessPointRoutesOutput::builder()
                .mrap(MRAP)
                .routes(route("photos-dr", "us-east-2", 100))
                .routes(route("photos", "us-west-2", 0))
                .build()
        });
    let submit = mock!(Client::submit_multi_region_access_point_routes)
        .match_requests(|r| {
            r.account_id() == Some(ACCOUNT)
                && r.route_updates() == [route("photos", "us-west-2", 100), route("photos-dr", "us-east-2", 0)]
        })
        .then_output(|| SubmitMultiRegionAccessPointRoutesOutput::builder().build());
    let client = mock_client!(aws_sdk_s3control, RuleMode::MatchAny, [&get, &submit]);

    let routes = s3_dr::mrap::routes(&client, ACCOUNT, MRAP, "photos").await.unwrap();
    assert!(routed_to(&routes, "photos-dr") && !routed_to(&routes, "photos"));
    let home = all_to(&routes, "photos", "us-west-2");
    s3_dr::mrap::submit(&client, ACCOUNT, MRAP, &home, "photos").await.unwrap();
    assert!(routed_to(&home, "photos"));
    assert_eq!((get.num_calls(), submit.num_calls()), (1, 1));
    // Any failover-control Region will do once the source's region is back.
    assert_eq!(control_regions(None).len(), 5);
}
