//! Failover's pure decisions: the destination's record of a failover, whether the DR copy is
//! known complete enough to fail over to, the Multi-Region Access Point routes, and what an
//! application without an access point must change.
//!
//! Everything failover reads and writes is in the DR region (the destination's tags) or a
//! global control plane (MRAP routes), never in the source's region: it must work while that
//! region's APIs fail.

use serde::{Deserialize, Serialize};

use crate::tags::Tag;
use crate::verify::Verified;

/// The destination's record that it is the primary: `20261126T203015Z from us-west-2` (and
/// ` mrap <arn>` when routing was switched), which `status` shows and the sweep respects.
pub const FAILOVER_TAG: &str = "s3-dr:failover";

/// The Regions whose S3 failover-control endpoints accept MRAP route changes
/// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_SubmitMultiRegionAccessPointRoutes.html).
pub const MRAP_CONTROL_REGIONS: [&str; 5] = ["us-east-1", "us-west-2", "ap-southeast-2", "ap-northeast-1", "eu-west-1"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedOver {
    /// Unix seconds.
    pub at: i64,
    /// The source's region, when known.
    pub from_region: Option<String>,
    /// The Multi-Region Access Point whose routing was switched, if any.
    pub mrap: Option<String>,
}

impl FailedOver {
    pub fn tag_value(&self) -> String {
        let stamp =
            crate::clock::second_stamp(std::time::UNIX_EPOCH + std::time::Duration::from_secs(self.at.max(0) as u64));
        let mut value = format!("{stamp} from {}", self.from_region.as_deref().unwrap_or("unknown"));
        if let Some(mrap) = &self.mrap {
            value.push_str(&format!(" mrap {mrap}"));
        }
        value
    }

    pub fn parse(value: &str) -> Option<FailedOver> {
        let mut words = value.split_whitespace();
        let at = crate::clock::parse_second_stamp(words.next()?)?;
        let (mut from_region, mut mrap) = (None, None);
        while let Some(word) = words.next() {
            match word {
                "from" => from_region = words.next().filter(|r| *r != "unknown").map(str::to_owned),
                "mrap" => mrap = words.next().map(str::to_owned),
                _ => return None,
            }
        }
        Some(FailedOver { at, from_region, mrap })
    }
}

/// The failover record among a destination's tags, as written.
pub fn record(tags: &[Tag]) -> Option<&str> {
    tags.iter().find(|t| t.key == FAILOVER_TAG).map(|t| t.value.as_str())
}

/// The failover record among a destination's tags, parsed.
pub fn recorded(tags: &[Tag]) -> Option<FailedOver> {
    record(tags).and_then(FailedOver::parse)
}

/// Whether a destination is the primary now (a record that does not parse still counts: the
/// sweep must not "repair" a bucket someone failed over by hand).
pub fn is_failed_over(tags: &[Tag]) -> bool {
    record(tags).is_some()
}

/// What the last verification says about failing over to the DR copy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    /// The copy is known incomplete: objects were found missing. Failover refuses without force.
    pub known_incomplete: Option<String>,
    /// What is not known: never verified, verified in part, or long ago. Reported, not refused.
    pub caveats: Vec<String>,
}

/// How far to trust the DR copy, from its last verification (`max_age_seconds`: older is a
/// caveat).
pub fn readiness(last: Option<&Verified>, now: i64, max_age_seconds: i64) -> Readiness {
    let Some(last) = last else {
        return Readiness { known_incomplete: None, caveats: vec!["the DR copy was never verified".to_owned()] };
    };
    let mut found = Readiness::default();
    if last.missing_in_dr > 0 {
        found.known_incomplete = Some(format!(
            "its last verification ({}) found {} objects missing in DR (recovery point {})",
            crate::clock::date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(last.at.max(0) as u64)),
            last.missing_in_dr,
            crate::verify::duration(last.recovery_point_seconds)
        ));
    }
    if !last.complete {
        found.caveats.push("its last verification covered part of the bucket only".to_owned());
    }
    if now - last.at > max_age_seconds {
        found
            .caveats
            .push(format!("its last verification is {} old", crate::verify::duration((now - last.at).max(0) as u64)));
    }
    found
}

/// One route of a Multi-Region Access Point: a bucket, its region, its traffic dial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub bucket: String,
    pub region: String,
    pub traffic_dial_percentage: i32,
}

/// The routes that send all of an access point's traffic to `active`: every other route of
/// `current` at 0 (AWS keeps the dial of a route a request does not name), `active` first.
pub fn all_to(current: &[Route], active: &str, active_region: &str) -> Vec<Route> {
    let mut routes =
        vec![Route { bucket: active.to_owned(), region: active_region.to_owned(), traffic_dial_percentage: 100 }];
    routes.extend(
        current.iter().filter(|r| r.bucket != active).map(|r| Route { traffic_dial_percentage: 0, ..r.clone() }),
    );
    routes
}

/// Whether `current` routes already send everything to `active`: it at 100, every other at 0.
pub fn routed_to(current: &[Route], active: &str) -> bool {
    current.iter().any(|r| r.bucket == active && r.traffic_dial_percentage == 100)
        && current.iter().all(|r| r.bucket == active || r.traffic_dial_percentage == 0)
}

/// The failover-control Regions to try, in order: the five, the failed one (if known) left out.
pub fn control_regions(failed: Option<&str>) -> Vec<&'static str> {
    MRAP_CONTROL_REGIONS.iter().copied().filter(|r| Some(*r) != failed).collect()
}

/// The account that owns an MRAP (its ARN's fifth field): S3 Control's x-amz-account-id.
pub fn mrap_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
}

/// An MRAP ARN (`arn:aws:s3::<account>:accesspoint/<alias>.mrap`), or why not.
pub fn check_mrap_arn(arn: &str) -> Result<(), String> {
    let valid = arn.starts_with("arn:")
        && arn.split(':').nth(2) == Some("s3")
        && arn.split(':').nth(3) == Some("")
        && mrap_account(arn).is_some()
        && arn.split(':').nth(5).is_some_and(|r| r.starts_with("accesspoint/") && r.len() > "accesspoint/".len())
        && arn.len() <= 200;
    if valid {
        Ok(())
    } else {
        Err(format!("{arn:?} is not a Multi-Region Access Point ARN (arn:aws:s3::<account>:accesspoint/<alias>)"))
    }
}

/// The destination of `bucket` as protect made it (its name, in the DR region, tagged
/// `s3-dr:source=<bucket>`), and its tags; else NotProtected. Failover and failback find it so,
/// not through the source's replication configuration, which is in the region that fails.
pub async fn our_destination(
    clients: &crate::clients::Clients,
    config: &crate::config::Config,
    bucket: &str,
) -> Result<(String, Vec<Tag>), crate::error::DrError> {
    let destination = crate::naming::destination_bucket_name(bucket, &config.destination_suffix);
    let dr = clients.s3(&config.dr_region);
    let not_protected =
        || crate::error::DrError::NotProtected { bucket: bucket.to_owned(), match_tag: config.match_tag.to_string() };
    match crate::bucket::region(&dr, &destination).await? {
        Some(region) if region == config.dr_region => {}
        _ => return Err(not_protected()),
    }
    let tags = crate::bucket::tags(&dr, &destination).await?;
    if crate::tags::destination_of(&tags) != Some(bucket) {
        return Err(not_protected());
    }
    Ok((destination, tags))
}

/// The `"bucket"` of a failover or failback request (`shape`: the request expected, for the
/// message), or why it is not one.
pub fn bucket_field<'a>(input: &'a serde_json::Value, shape: &str) -> Result<&'a str, String> {
    let bucket = input
        .get("bucket")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| format!("expected {shape}, got {}", crate::error::abbreviated(&input.to_string(), 200)))?;
    match crate::naming::why_not_a_bucket_name(bucket) {
        Some(rule) => Err(format!("{:?} is not a bucket name: {rule}", crate::error::abbreviated(bucket, 100))),
        None => Ok(bucket),
    }
}

/// The `"mrap"` of a failover or failback request: none, or a Multi-Region Access Point ARN.
pub fn mrap_field(input: &serde_json::Value) -> Result<Option<String>, String> {
    match input.get("mrap") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(arn)) => check_mrap_arn(arn).map(|()| Some(arn.clone())),
        Some(other) => Err(format!("mrap is an ARN string, got {other}")),
    }
}

/// What an application that addresses the bucket directly must change to use DR.
pub fn application_changes(
    source: &str,
    source_region: Option<&str>,
    destination: &str,
    dr_region: &str,
) -> Vec<String> {
    vec![
        format!("bucket name: {source} -> {destination}"),
        format!(
            "region (endpoint): {} -> {dr_region} (https://s3.{dr_region}.amazonaws.com)",
            source_region.unwrap_or("the source's")
        ),
        format!("ARN (IAM policies, event sources): arn:aws:s3:::{source} -> arn:aws:s3:::{destination}"),
        format!("KMS: objects in {destination} are encrypted with the DR key; readers need kms:Decrypt on it"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_round_trips() {
        let record = FailedOver {
            at: 1_795_000_000,
            from_region: Some("us-west-2".into()),
            mrap: Some("arn:aws:s3::1:accesspoint/a.mrap".into()),
        };
        assert_eq!(FailedOver::parse(&record.tag_value()), Some(record.clone()));
        let bare = FailedOver { from_region: None, mrap: None, ..record };
        assert_eq!(FailedOver::parse(&bare.tag_value()), Some(bare));
        assert_eq!(FailedOver::parse("yesterday"), None);
        assert!(is_failed_over(&[Tag::new(FAILOVER_TAG, "by hand")]));
        assert_eq!(recorded(&[Tag::new(FAILOVER_TAG, "by hand")]), None);
    }

    #[test]
    fn only_missing_objects_refuse_a_failover_the_unknown_is_a_caveat() {
        let now = 1_795_000_000;
        let week = 8 * 86_400;
        let clean =
            Verified { at: now - 3600, recovery_point_seconds: 0, missing_in_dr: 0, in_flight: 2, complete: true };
        assert_eq!(readiness(Some(&clean), now, week), Readiness::default());
        let never = readiness(None, now, week);
        assert_eq!((never.known_incomplete, never.caveats.len()), (None, 1));
        let missing = Verified { missing_in_dr: 3, recovery_point_seconds: 7200, ..clean.clone() };
        assert!(readiness(Some(&missing), now, week)
            .known_incomplete
            .unwrap()
            .contains("3 objects missing in DR (recovery point 2h 0m)"));
        let partial = Verified { complete: false, ..clean.clone() };
        assert!(readiness(Some(&partial), now, week).caveats[0].contains("part of the bucket"));
        let old = Verified { at: now - 9 * 86_400, ..clean };
        assert!(readiness(Some(&old), now, week).caveats[0].contains("9d"));
    }

    #[test]
    fn routes_send_everything_to_the_active_bucket() {
        let route = |bucket: &str, region: &str, dial| Route {
            bucket: bucket.into(),
            region: region.into(),
            traffic_dial_percentage: dial,
        };
        let routes = all_to(&[route("p", "us-west-2", 100), route("p-dr", "us-east-2", 0)], "p-dr", "us-east-2");
        assert_eq!(routes, [route("p-dr", "us-east-2", 100), route("p", "us-west-2", 0)]);
        assert!(routed_to(&routes, "p-dr"));
        assert!(!routed_to(&routes, "p"));
        // A third bucket of the access point is turned down too: nothing but DR takes traffic.
        let three = [route("p", "us-west-2", 100), route("p-dr", "us-east-2", 0), route("p-eu", "eu-west-1", 100)];
        assert!(!routed_to(&three, "p-dr"));
        let wanted = all_to(&three, "p-dr", "us-east-2");
        assert_eq!(wanted.iter().map(|r| r.traffic_dial_percentage).collect::<Vec<_>>(), [100, 0, 0]);
        assert!(routed_to(&wanted, "p-dr"));
        assert_eq!(control_regions(Some("us-east-1"))[0], "us-west-2");
        assert_eq!(control_regions(None).len(), 5);
        assert_eq!(mrap_account("arn:aws:s3::123456789012:accesspoint/a.mrap"), Some("123456789012"));
        assert!(check_mrap_arn("arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap").is_ok());
        assert!(check_mrap_arn("arn:aws:s3:us-east-1:123456789012:accesspoint/x").is_err());
        assert!(check_mrap_arn("mrap").is_err());
    }
}
