use crate::clients::Clients;
use crate::config::Config;
use std::time::{Duration, UNIX_EPOCH};

use crate::status::{inspect, problems, BucketStatus};
use crate::verify::Verified;

use super::progress::each_bucket;

use super::Output;

/// Buckets inspected at once; each inspection makes about six calls, some concurrent.
const CONCURRENCY: usize = 8;

pub async fn run(clients: &Clients, config: &Config, buckets: &[String], output: Output) -> Result<(), String> {
    let results = each_bucket(buckets, CONCURRENCY, "buckets read", |bucket| inspect(clients, config, bucket)).await;
    let mut statuses = Vec::new();
    let mut failures = Vec::new();
    for (bucket, result) in results {
        match result {
            Ok(status) => statuses.push(status),
            Err(error) => failures.push(format!("{bucket}: {error}")),
        }
    }
    match output {
        Output::Json => {
            let text = serde_json::to_string_pretty(&statuses).map_err(|e| e.to_string())?;
            println!("{text}");
        }
        Output::Table => print!("{}", table(&statuses)),
    }
    failures.extend(problems(&statuses));
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} bucket(s) not protected or unreadable:\n  {}", failures.len(), failures.join("\n  ")))
    }
}

/// Every bucket of the account, by name (for `status --all`).
pub async fn all_buckets(clients: &Clients) -> Result<Vec<String>, String> {
    let buckets = crate::bucket::list_all(&clients.s3(&clients.home_region())).await.map_err(|e| e.to_string())?;
    Ok(buckets.into_iter().map(|(name, _)| name).collect())
}

pub fn table(statuses: &[BucketStatus]) -> String {
    let header = [
        "BUCKET",
        "REGION",
        "TAGGED",
        "VERSIONING",
        "DESTINATION",
        "DEST REGION",
        "DEST VERSIONING",
        "RULE",
        "PROTECTED",
        "BACKFILL",
        "LAST VERIFIED",
    ];
    let rows: Vec<[String; 11]> = statuses
        .iter()
        .map(|s| {
            let destination = s.destination.as_ref();
            [
                s.bucket.clone(),
                s.region.clone().unwrap_or_else(|| "(missing)".into()),
                yes_no(s.tagged),
                s.versioning.clone().unwrap_or_else(|| "-".into()),
                match (&s.destination_of, destination) {
                    (Some(source), _) => format!("(is the destination of {source})"),
                    (None, None) => "-".into(),
                    (None, Some(d)) => format!(
                        "{}{}",
                        d.bucket,
                        if d.state == "present" { String::new() } else { format!(" ({})", d.state) }
                    ),
                },
                destination.map_or("-".into(), |d| d.region.clone()),
                destination.and_then(|d| d.versioning.clone()).unwrap_or_else(|| "-".into()),
                if s.drift.is_empty() { s.rule.to_owned() } else { format!("{}: {}", s.rule, s.drift.join("; ")) },
                match (s.protected, &s.not_replicable) {
                    (true, Some(found)) => format!("yes, {}", found.describe()),
                    (protected, _) => yes_no(protected),
                },
                match (&s.backfill, &s.backfill_state) {
                    (Some(marker), _) => marker.clone(),
                    (None, Some(state)) => state.clone(),
                    (None, None) => "-".into(),
                },
                verification_cell(s.last_verification.as_ref()),
            ]
        })
        .collect();
    aligned(&header, &rows)
}

/// A header and rows as columns padded to their widest cell.
pub fn aligned<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut text = line(header.to_vec());
    for row in rows {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    text
}

/// The last verification in a cell: `2026-11-26, complete` or `2026-11-26, 3 missing, rp 2d 1h`.
fn verification_cell(verified: Option<&Verified>) -> String {
    let Some(v) = verified else { return "-".into() };
    let date = crate::clock::date(UNIX_EPOCH + Duration::from_secs(v.at.max(0) as u64));
    let partial = if v.complete { "" } else { ", partial" };
    match (v.missing_in_dr, v.in_flight) {
        (0, 0) => format!("{date}, complete{partial}"),
        (missing, in_flight) => format!(
            "{date}, {missing} missing, {in_flight} in flight, rp {}{partial}",
            crate::verify::duration(v.recovery_point_seconds)
        ),
    }
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}
